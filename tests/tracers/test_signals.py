"""One signal policy: SIGINT, SIGTERM or SIGHUP at any stage of a profile leaves an incomplete run whose
manifest says which signal stopped it and in which stage, no temporary file or folder, and exit 128 + n.
A killed analyze leaves no child process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tracers.conftest import SMALL_WORKLOAD

pytestmark = pytest.mark.slow


def profile_until(stage: str, sig: signal.Signals, tmp: Path) -> tuple[int, str, Path, Path]:
    """Start a profile, send `sig` when its progress shows `stage`; (exit code, stderr, run, private tmp)."""
    scratch = tmp / "tmp"
    scratch.mkdir()
    run = tmp / "run"
    argv = [sys.executable, "-m", "kernelscope", "profile", "--quant", "int4", "--quality", *SMALL_WORKLOAD,
            "--requests", "6", "--out", str(run)]
    env = {**os.environ, "TMPDIR": str(scratch), "KERNELSCOPE_CACHE": str(tmp / "cache")}
    child = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if stage in line:
            time.sleep(0.2)
            child.send_signal(sig)
            break
    rest = child.stderr.read()
    return child.wait(timeout=120), "".join(seen) + rest, run, scratch


@pytest.mark.parametrize("stage, sig", [("timing:", signal.SIGTERM), ("quality:", signal.SIGHUP),
                                        ("profiling:", signal.SIGINT), ("warm-up", signal.SIGTERM)])
def test_a_signal_at_any_stage_is_recorded_and_cleans_up(stage: str, sig: signal.Signals, tmp_path: Path) -> None:
    code, stderr, run, scratch = profile_until(stage, sig, tmp_path)
    assert code == 128 + sig.value, stderr
    assert "Traceback" not in stderr
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["error"].startswith(f"interrupted by {sig.name} during ")
    assert f"the incomplete run is at {run}" in stderr
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []  # no half-written file
    # no temporary folder of ours left (torchinductor_<user> is torch's own cache, kept across runs on purpose)
    assert [p.name for p in scratch.iterdir() if not p.name.startswith("torchinductor_")] == []


def test_a_killed_analyze_leaves_no_child_behind(tmp_path: Path) -> None:
    """The two-process reader's child dies with its parent, even one killed by SIGKILL."""
    psutil = pytest.importorskip("psutil")
    trace = tmp_path / "big.json"
    subprocess.run([sys.executable, str(Path(__file__).parents[2] / "benchmarks" / "make_trace.py"), "--kernels",
                    "20000", "--out", str(trace)], check=True, capture_output=True)
    code = ("import sys; from pathlib import Path; from kernelscope.trace.reader import load_trace; "
            "load_trace(Path(sys.argv[1]), split=True)")
    parent = subprocess.Popen([sys.executable, "-c", code, str(trace)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    children: list[int] = []
    deadline = time.monotonic() + 60
    while not children and time.monotonic() < deadline and parent.poll() is None:
        children = [c.pid for c in psutil.Process(parent.pid).children()]
        time.sleep(0.01)
    if not children:
        parent.kill()
        pytest.skip("the reader finished before its child could be seen")
    parent.kill()
    parent.wait()
    gone = time.monotonic() + 10
    while time.monotonic() < gone and any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                                          for p in children):
        time.sleep(0.05)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in children)


def test_a_full_disk_is_recorded_and_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from kernelscope.cli import main
    from kernelscope.runs.store import RunWriter

    real = RunWriter.write_metrics

    def full(self: RunWriter, metrics: object) -> None:
        if metrics.quality is not None:  # type: ignore[attr-defined]
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path / "metrics.json"))
        real(self, metrics)  # type: ignore[arg-type]

    monkeypatch.setattr(RunWriter, "write_metrics", full)
    run = tmp_path / "run"
    code = main(["profile", "--quant", "bf16", "--quality", *SMALL_WORKLOAD, "--quality-budget", "32", "--out",
                 str(run)])
    err = capsys.readouterr().err
    assert code == 4 and "No space left on device" in err and "Traceback" not in err
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["error"].startswith("No space left on device during quality")


def test_the_cpu_allocator_running_out_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from kernelscope.cli import main
    from kernelscope.tracers import generate

    real = generate.run_request
    calls = {"n": 0}

    def starving(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: can't allocate memory: "
                               "you tried to allocate 1099511627776 bytes.\nmore detail")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(generate, "run_request", starving)
    run = tmp_path / "run"
    code = main(["profile", "--quant", "bf16", *SMALL_WORKLOAD, "--requests", "3", "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 4 and "can't allocate memory" in err and "Traceback" not in err
    manifest = json.loads((run / "manifest.json").read_text())
    assert "DefaultCPUAllocator" in manifest["error"] and "during timing:" in manifest["error"]


def test_a_signal_swallowed_by_a_finalizer_stops_the_work_at_the_next_stage() -> None:
    """A signal that lands inside a `__del__` raises there, where Python can only print and ignore it:
    kernelscope keeps it and raises it again at the next progress line, with no traceback printed."""
    code = """
import gc, io, os, signal, sys
from kernelscope import signals
from kernelscope.progress import Progress
signals.install()
class Slow:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10**6):
            pass
Slow()
gc.collect()
progress = Progress(io.StringIO())
try:
    progress.stage("next")
except signals.Terminated as exc:
    sys.exit(signals.exit_code(exc))
sys.exit(0)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 143, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
