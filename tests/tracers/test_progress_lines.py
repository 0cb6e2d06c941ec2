"""`kernelscope profile` is never silent: a stage line on stderr as each stage starts; none with --json."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernelscope.cli import main
from tests.tracers.conftest import SMALL_WORKLOAD

pytestmark = pytest.mark.slow

STAGES = ["profile int8 of", "loading tiny-llama", "quantizing weights", "warm-up", "timing:", "quality:",
          "quality took", "profiling:", "exporting the trace", "classifying", "done in"]


def test_profile_prints_each_stage_in_order_with_its_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--quant", "int8", "--quality", "--quality-budget", "64", *SMALL_WORKLOAD,
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err.splitlines()
    positions = [next(i for i, line in enumerate(err) if stage in line) for stage in STAGES]
    assert positions == sorted(positions), err
    assert all(re.match(r"^\[\s*\d+\.\d+s\] ", line) for line in err), err
    assert any("quality window" in line for line in err) and any("estimated" in line for line in err)


def test_json_output_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--quant", "bf16", *SMALL_WORKLOAD, "--out", str(tmp_path / "run"), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.startswith("{")
