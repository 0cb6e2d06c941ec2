"""The recorded CPU runs in fixtures/runs: classification of their raw traces gives these exact
figures, and the committed kernel tables are what the current rules say (else run
`python fixtures/record_runs.py --reclassify`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kernelscope.aggregate import check_invariants, summarize
from kernelscope.analysis import classify_trace
from kernelscope.model import Device
from kernelscope.run import Run, load_run
from kernelscope.table import NUMERIC_COLUMNS, STRING_COLUMNS
from kernelscope.trace import load_trace
from tests.helpers import RUNS

NAMES = ["bf16", "int8-torchao", "int4-torchao", "nf4-bitsandbytes", "kv-int4-quanto"]

# (rows, {phase: (rows, native, dequant-then-compute, fallback, unquantized)}) in microseconds
EXPECTED = {
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
    run = run_of(name)
    classified = classify_trace(load_trace(run.trace_path), specs=run.site_specs(), model_device=Device.CPU)
    doc = summarize(run.manifest, run.metrics, classified.table)
    check_invariants(classified.table, doc)
    rows, phases = EXPECTED[name]
    assert len(classified.table) == rows
    for phase, (n, native, dequant, fallback, unquant) in phases.items():
        block = doc["phases"][phase]
        got = block["time_by_path"]
        assert block["kernels"] == n
        assert (round(got["native-quantized"], 3), round(got["dequant-then-compute"], 3), round(got["fallback"], 3),
                round(got["unquantized"], 3)) == (native, dequant, fallback, unquant)


@pytest.mark.parametrize("name", NAMES)
def test_committed_tables_are_current(name: str) -> None:
    run = run_of(name)
    fresh = classify_trace(load_trace(run.trace_path), specs=run.site_specs(), model_device=Device.CPU).table
    stored = run.table
    assert len(stored) == len(fresh)
    for column in STRING_COLUMNS:
        assert stored.s(column).to_list() == fresh.s(column).to_list(), column
    for column in NUMERIC_COLUMNS:
        assert np.array_equal(stored.numbers[column], fresh.numbers[column]), column


def test_recorded_runs_are_complete_and_small() -> None:
    for name in NAMES:
        run = run_of(name)
        assert run.complete, name
        assert sum(p.stat().st_size for p in Path(run.path).iterdir()) < 600_000
