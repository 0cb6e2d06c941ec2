"""A process that imports torch and transformers once, then forks a fresh child for each configuration of
a sweep: every `kernelscope profile` of the sweep starts with the libraries loaded (about 3 s of imports
saved per configuration) and still has a process of its own (its own memory peak, no state left over
from the configuration before it).

Protocol, one JSON line each way on stdin / stdout:
    -> {"ready": true}                                once the libraries are loaded
    <- {"argv": [...], "log": "path", "env": {...}}   run `kernelscope ARGV`, output to the log
    -> {"pid": N}                                     the child's pid (the sweep may kill it: --timeout)
    -> {"returncode": RC}                             when it has ended
Linux only (fork); the sweep falls back to one `python -m kernelscope` process per configuration.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from kernelscope.signals import die_with_parent


def preload() -> None:
    from kernelscope.tracers.env import quiet_imports

    quiet_imports()
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer, modeling_utils  # noqa: F401


def serve(stdin: Any, stdout: Any) -> None:
    die_with_parent()  # the sweep's process: when it dies, so do this server and (below) its children
    preload()
    _send(stdout, {"ready": True})
    for line in stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request["argv"], request["log"], request.get("env", {}))
        _send(stdout, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        _send(stdout, {"returncode": os.waitstatus_to_exitcode(status)})


def _send(stdout: Any, message: dict[str, Any]) -> None:
    stdout.write(json.dumps(message) + "\n")
    stdout.flush()


def _child(argv: list[str], log: str, env: dict[str, str]) -> None:
    """In the forked child: output to the log, the sweep's environment, `kernelscope ARGV`, exit."""
    code = 1
    try:
        die_with_parent()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        os.environ.update(env)
        from kernelscope.cli import main

        code = main(argv)
    except SystemExit as exc:  # argparse's --help / --version
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - whatever happens, the child reports and exits, never returns
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
