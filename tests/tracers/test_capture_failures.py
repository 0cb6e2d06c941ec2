"""A run cut short stays readable: Ctrl-C during capture leaves an incomplete run that says what it lacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kernelscope.cli import main
from kernelscope.errors import EXIT_INTERRUPTED
from kernelscope.runs.store import KERNELS, METRICS, TRACE, load_run
from tests.tracers.conftest import SMALL_WORKLOAD

pytestmark = pytest.mark.slow


def interrupt_on_call(n: int) -> Any:
    from kernelscope.tracers import generate

    real = generate.run_request
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return flaky


def test_ctrl_c_in_the_timing_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("kernelscope.tracers.generate.run_request", interrupt_on_call(2))
    code = main(["profile", "--quant", "int8", *SMALL_WORKLOAD, "--out", str(tmp_path / "run")])
    assert code == EXIT_INTERRUPTED
    assert "incomplete run is at" in capsys.readouterr().err
    run = load_run(tmp_path / "run")
    assert not run.complete
    assert set(run.missing) == {METRICS, KERNELS, TRACE}
    assert (run.manifest.error or "").startswith("interrupted by SIGINT during timing:")
    assert run.config.quant == "int8"  # the fixed variables were recorded before the model ran


def test_ctrl_c_in_the_profiled_pass_keeps_the_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # warm-up 1 + timed 1 + KV measurement 1 + profiler warm-up = 4 calls, the 5th is interrupted
    monkeypatch.setattr("kernelscope.tracers.generate.run_request", interrupt_on_call(5))
    code = main(["profile", "--quant", "int4", *SMALL_WORKLOAD, "--out", str(tmp_path / "run")])
    assert code == EXIT_INTERRUPTED
    run = load_run(tmp_path / "run")
    assert not run.complete
    assert set(run.missing) == {KERNELS, TRACE}
    assert run.metrics.ttft_ms is not None and run.metrics.ttft_ms.n == 1
    assert (run.manifest.error or "").startswith("interrupted by SIGINT during profiling:")
