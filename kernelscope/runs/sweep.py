"""`kernelscope sweep`: one `kernelscope profile` process per configuration (clean peak memory, no
cross-talk between backends), then one comparison over the runs that completed.

The parent never imports torch: it plans the configurations, runs the children, and reads their
saved runs, so a configuration that crashes (or is killed) leaves its error in the table and the
others still run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.recipes import parse_quant
from kernelscope.runs.atomic import atomic_write_bytes
from kernelscope.runs.codec import Doc, encode_document, read_document
from kernelscope.runs.documents import Manifest
from kernelscope.runs.store import MANIFEST
from kernelscope.signals import die_with_parent


@dataclass(frozen=True)
class SweepConfig:
    """One configuration of a sweep: `MODE[@BACKEND][:compile[=MODE]]`, e.g. `int4`, `int4@hqq`,
    `kv-int4@quanto`, `int4:compile` (the same configuration through torch.compile, Inductor's default mode),
    `int8:compile=max-autotune-no-cudagraphs`."""

    spec: str
    quant: str
    backend: str | None  # weight backend
    kv_backend: str | None
    repeat: int = 0  # which of --repeat N runs of this configuration (0: the only one)
    compile_mode: str | None = None

    @property
    def label(self) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.spec.replace("+", "_").replace("@", "-").replace(":", "-"))
        return f"{base}-r{self.repeat}" if self.repeat else base

    def profile_args(self) -> list[str]:
        args = ["--quant", self.quant]
        if self.compile_mode:
            args += ["--compile-mode", self.compile_mode]
        if self.backend:
            args += ["--backend", self.backend]
        if self.kv_backend:
            args += ["--kv-backend", self.kv_backend]
        return args


def parse_configs(text: str, dtype: str | None = None) -> list[SweepConfig]:
    """Comma-separated `MODE[@BACKEND]` items, each checked now (before anything runs)."""
    configs = []
    for item in (p.strip() for p in text.split(",") if p.strip()):
        configuration, _, compiled = item.partition(":")
        compile_mode = _compile_mode(item, compiled)
        quant, _, backend = configuration.partition("@")
        plain = parse_quant(quant, dtype=dtype)  # the mode's parts: '@BACKEND' goes to its weights, else to its KV
        weight_backend = (backend or None) if plain.weight else None
        kv_backend = (backend or None) if plain.kv and not plain.weight else None
        if backend and weight_backend is None and kv_backend is None:
            raise KernelscopeError(f"sweep config {item!r}: '@{backend}' needs a weight or KV-cache mode")
        parse_quant(quant, weight_backend, kv_backend, dtype)
        configs.append(SweepConfig(item, quant, weight_backend, kv_backend, compile_mode=compile_mode))
    if not configs:
        raise KernelscopeError("--quant is empty: give configurations such as bf16,int8,int4,kv-int4")
    labels = [c.label for c in configs]
    if len(set(labels)) != len(labels):
        raise KernelscopeError(f"--quant names a configuration twice: {text}")
    return configs


COMPILE_MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead", "max-autotune")


def _compile_mode(item: str, suffix: str) -> str | None:
    """`:compile` -> Inductor's default mode, `:compile=MODE` -> MODE; nothing -> eager."""
    if not suffix:
        return None
    word, _, mode = suffix.partition("=")
    if word != "compile" or (mode and mode not in COMPILE_MODES):
        raise KernelscopeError(f"sweep config {item!r}: after ':' say compile or compile=MODE "
                               f"(MODE: {', '.join(COMPILE_MODES)})")
    return mode or "default"


def interleaved(configs: Sequence[SweepConfig], repeat: int) -> list[SweepConfig]:
    """Each configuration `repeat` times, round after round (a b c a b c, not a a b b c c): a slow
    minute of a busy machine then lands on every configuration, not on one."""
    if repeat <= 1:
        return list(configs)
    return [dataclasses.replace(c, repeat=k) for k in range(1, repeat + 1) for c in configs]


@dataclass(frozen=True)
class ConfigResult:
    config: SweepConfig
    run_dir: Path
    returncode: int
    seconds: float
    error: str  # empty when the run completed

    def record(self) -> SweepOutcome:
        return SweepOutcome(config=self.config.spec, run=str(self.run_dir), returncode=self.returncode,
                            seconds=round(self.seconds, 2), error=self.error)


class SweepOutcome(Doc, frozen=True, kw_only=True):
    config: str
    run: str
    returncode: int
    seconds: float
    error: str


class SweepRecord(Doc, frozen=True, kw_only=True):
    """sweep.json: what was run, with which common arguments, and how each configuration ended."""

    model: str | None
    common_args: list[str]
    configs: list[SweepOutcome]


def last_error_line(log_text: str) -> str:
    """The child's one-line kernelscope error, else the last non-empty line of its output."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("kernelscope: error:"):
            return line.removeprefix("kernelscope: error:").strip()
    return lines[-1][:300] if lines else "no output"


CHILD_ENV = {"NO_COLOR": "1", "COLUMNS": "100"}


def run_config(config: SweepConfig, model: str | None, common: Sequence[str], out: Path,
               timeout_s: float | None, zygote: Zygote | None = None) -> ConfigResult:
    """Run one configuration as `kernelscope profile ...` in its own process: forked from the zygote (the
    libraries already loaded) where there is one, else `python -m kernelscope`."""
    run_dir = out / config.label
    log = out / f"{config.label}.log"
    args = ["profile", *([model] if model else []), *config.profile_args(), *common, "--out", str(run_dir),
            "--no-summary"]
    started = time.perf_counter()
    with log.open("w") as sink:
        sink.write(" ".join(["kernelscope", *args]) + "\n")
    rc = zygote.run(args, log, timeout_s) if zygote is not None else _run_process(args, log, timeout_s)
    if rc is None:
        return ConfigResult(config, run_dir, -9, time.perf_counter() - started,
                            f"killed after --timeout {timeout_s:g} s")
    seconds = time.perf_counter() - started
    complete = _status(run_dir) == "complete"
    error = "" if rc == 0 and complete else last_error_line(log.read_text(errors="replace"))
    if rc == 0 and not complete:
        error = f"the run in {run_dir} is incomplete"
    return ConfigResult(config, run_dir, rc, seconds, error)


def _run_process(args: list[str], log: Path, timeout_s: float | None) -> int | None:
    """`python -m kernelscope ARGS` with its output appended to the log; None when killed at the timeout."""
    with log.open("a") as sink:
        try:
            return subprocess.run([sys.executable, "-m", "kernelscope", *args], stdout=sink, stderr=subprocess.STDOUT,
                                  env={**os.environ, **CHILD_ENV}, timeout=timeout_s, check=False,
                                  preexec_fn=die_with_parent).returncode
        except subprocess.TimeoutExpired:
            return None


class Zygote:
    """kernelscope.tracers.zygote, running: forks each configuration's process with torch loaded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._pending = b""  # bytes read past the last whole line

    @classmethod
    def start(cls, ready_within_s: float = 300.0) -> Zygote | None:
        """A zygote, or None where there cannot be one (not Linux, KERNELSCOPE_SWEEP_FORK=0, it failed)."""
        if not sys.platform.startswith("linux") or os.environ.get("KERNELSCOPE_SWEEP_FORK") == "0":
            return None
        try:
            process = subprocess.Popen([sys.executable, "-m", "kernelscope.tracers.zygote"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                       start_new_session=True, preexec_fn=die_with_parent)  # noqa: PLW1509
        except OSError:
            return None
        zygote = cls(process)
        if zygote._receive(ready_within_s).get("ready") is not True:
            zygote.close()
            return None
        return zygote

    def run(self, args: list[str], log: Path, timeout_s: float | None) -> int | None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"argv": args, "log": str(log), "env": CHILD_ENV}) + "\n")
        self.process.stdin.flush()
        pid = self._receive(60.0).get("pid")
        if not isinstance(pid, int):
            raise KernelscopeError("the sweep's fork server stopped; run again with KERNELSCOPE_SWEEP_FORK=0")
        ended = self._receive(timeout_s)
        if "returncode" in ended:
            return int(ended["returncode"])
        os.kill(pid, signal.SIGKILL)  # past --timeout
        self._receive(60.0)
        return None

    def _receive(self, timeout_s: float | None) -> dict[str, Any]:
        """The next message, or {} when none came within the time (or the zygote ended). Read from the raw pipe
        with a buffer of its own: two lines arriving together must not leave one in a reader's buffer while
        select() waits on the empty pipe."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            chunk = os.read(fd, 1 << 16) if ready else b""
            if not chunk:
                return {}
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return dict(json.loads(line)) if line.strip() else {}

    def close(self) -> None:
        """End the zygote and anything it forked (one process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _status(run_dir: Path) -> str:
    try:
        return read_document(run_dir / MANIFEST, Manifest).status
    except BadInputError:
        return "unreadable"


def run_sweep(configs: Sequence[SweepConfig], model: str | None, common: Sequence[str], out: Path,
              timeout_s: float | None, on_start: Callable[[SweepConfig], None] = lambda c: None,
              on_done: Callable[[ConfigResult], None] = lambda r: None) -> list[ConfigResult]:
    if out.exists() and any(out.iterdir()):
        raise KernelscopeError(f"{out} exists and is not empty: give a new --out")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    zygote = Zygote.start()
    try:
        for config in configs:
            on_start(config)
            result = run_config(config, model, common, out, timeout_s, zygote)
            results.append(result)
            on_done(result)
    finally:
        if zygote is not None:
            zygote.close()
    record = SweepRecord(model=model, common_args=list(common), configs=[r.record() for r in results])
    atomic_write_bytes(out / "sweep.json", encode_document(record))
    return results
