"""The recorded CPU runs in fixtures/runs: classification of their raw traces gives these exact
figures, and the committed kernel tables are what the current rules say (else run
`python fixtures/record_runs.py --reclassify`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernelscope.runs.store import Run, load_run
from kernelscope.vocabulary import Device
from tests.helpers import RUNS, PhaseFigures, assert_phase_figures, assert_table_is_current, classify_recorded

NAMES = ["bf16", "int8-torchao", "int4-torchao", "nf4-bitsandbytes", "kv-int4-quanto"]

EXPECTED: dict[str, PhaseFigures] = {
    "int8-torchao": (4968, {"prefill": (1283, 0.0, 19812.197, 0.0, 4245.127),
                            "decode": (3684, 0.0, 12309.492, 0.0, 9321.332)}),
    "int4-torchao": (3400, {"prefill": (891, 4380.281, 0.0, 0.0, 2910.82),
                            "decode": (2508, 2900.67, 0.0, 0.0, 6055.564)}),
    "kv-int4-quanto": (5032, {"prefill": (1431, 0.0, 0.0, 0.0, 28674.578),
                              "decode": (3600, 0.0, 7638.155, 0.0, 9076.516)}),
}


def run_of(name: str) -> Run:
    return load_run(RUNS / name)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_figures_from_the_recorded_trace(name: str) -> None:
    table, doc = classify_recorded(run_of(name), Device.CPU)
    assert_phase_figures(table, doc, EXPECTED[name])


@pytest.mark.parametrize("name", NAMES)
def test_committed_tables_are_current(name: str) -> None:
    assert_table_is_current(run_of(name), Device.CPU)


def test_recorded_runs_are_complete_and_small() -> None:
    for name in NAMES:
        run = run_of(name)
        assert run.complete, name
        assert sum(p.stat().st_size for p in Path(run.path).iterdir()) < 600_000
