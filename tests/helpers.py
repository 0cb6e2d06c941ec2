"""Helpers shared by the tests: the CLI in a subprocess, and the recorded fixture runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kernelscope.classify.pipeline import classify_trace
from kernelscope.classify.table import NULLABLE, NUMERIC_COLUMNS, STRING_COLUMNS, KernelTable
from kernelscope.fixtures_path import fixtures_dir
from kernelscope.report.aggregate import check_invariants, summarize
from kernelscope.report.documents import Summary
from kernelscope.runs.store import Run, load_run
from kernelscope.trace import Trace, load_trace
from kernelscope.vocabulary import Device

RUNS = fixtures_dir() / "runs"  # recorded CPU runs of the embedded model (fixtures/record_runs.py)
# recorded CUDA runs (fixtures/record_gpu_runs.py on an H200); in the repository only, not in the wheel
GPU_RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs-cuda"


def ks(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m kernelscope ARGS` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "kernelscope", *args], capture_output=True, text=True, timeout=300,
                          check=False)


PROGRESS_LINE = re.compile(r"^\[\s*\d+\.\d+s\] ")


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    """Exit `code`, and besides the progress lines of the stages that ran, one error line naming `fragment`."""
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not PROGRESS_LINE.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kernelscope: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def fixture_run(name: str) -> Run:
    return load_run(RUNS / name)


def copy_run(tmp_path: Path, name: str, config: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None,
             drop: tuple[str, ...] = (), target: str | None = None) -> Path:
    """A copy of a recorded run with edits: `config` maps dotted keys of manifest.config to new
    values, `manifest` updates top-level manifest keys, `drop` deletes files of the run."""
    out = tmp_path / (target or f"{name}-edited")
    shutil.copytree(RUNS / name, out)
    doc = json.loads((out / "manifest.json").read_text())
    for dotted, value in (config or {}).items():
        cur = doc["config"]
        *parents, last = dotted.split(".")
        for part in parents:
            cur = cur[part]
        cur[last] = value
    doc.update(manifest or {})
    (out / "manifest.json").write_text(json.dumps(doc))
    for file in drop:
        (out / file).unlink()
    return out


# (rows, {phase: (rows, native, dequant-then-compute, fallback, unquantized)}), times in microseconds
PhaseFigures = tuple[int, dict[str, tuple[int, float, float, float, float]]]


def classify_recorded(run: Run, device: Device) -> tuple[KernelTable, Summary]:
    """A recorded run's raw trace classified afresh, its summary, and the summary's invariants checked."""
    table = classify_trace(load_trace(run.trace_path), specs=run.site_specs(), model_device=device).table
    doc = summarize(run.manifest, run.metrics, table)
    check_invariants(table, doc)
    return table, doc


def assert_phase_figures(table: KernelTable, doc: Summary, expected: PhaseFigures) -> None:
    rows, phases = expected
    assert len(table) == rows
    for phase, (n, native, dequant, fallback, unquant) in phases.items():
        block = doc.phases[phase]
        got = block.time_by_path
        assert block.kernels == n
        assert (round(got["native-quantized"], 3), round(got["dequant-then-compute"], 3), round(got["fallback"], 3),
                round(got["unquantized"], 3)) == (native, dequant, fallback, unquant)


def assert_table_is_current(run: Run, device: Device) -> None:
    """The committed kernel table is what the current rules make of the raw trace."""
    fresh = classify_trace(load_trace(run.trace_path), specs=run.site_specs(), model_device=device).table
    stored = run.table
    assert len(stored) == len(fresh)
    for column in STRING_COLUMNS:
        assert stored.category(column).to_list() == fresh.category(column).to_list(), column
    for column in NUMERIC_COLUMNS:
        assert np.array_equal(stored.number(column), fresh.number(column), equal_nan=column in NULLABLE), column


def trace_digest(trace: Trace) -> dict[str, object]:
    """Every column of a trace, as plain Python values."""
    ops, k, launches = trace.ops, trace.kernels, trace.launches
    return {
        "ops": (ops.names.to_list(), ops.ts.tolist(), ops.end.tolist(), ops.thread.tolist(), ops.external_id.tolist(),
                [ops.args.types(i) for i in range(len(ops))], [ops.args.dims(i) for i in range(len(ops))],
                [ops.concrete[i] for i in range(len(ops))]),
        "ranges": (trace.ranges.names.to_list(), trace.ranges.ts.tolist(), trace.ranges.thread.tolist()),
        "launches": (launches.names.to_list(), launches.ts.tolist(), launches.correlation.tolist(),
                     launches.external_id.tolist(), launches.thread.tolist()),
        "kernels": (k.names.to_list(), k.kinds.to_list(), k.ts.tolist(), k.dur.tolist(), k.stream.tolist(),
                    k.device.tolist(), k.correlation.tolist(), k.external_id.tolist()),
        "threads": trace.threads,
        "dropped": trace.dropped_events,
        "meta": trace.meta,
    }
