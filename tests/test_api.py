"""The Python API: the names of `kernelscope.__all__`, loaded lazily, doing what the README shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kernelscope
from tests.helpers import RUNS


def test_every_public_name_resolves() -> None:
    for name in kernelscope.__all__:
        assert getattr(kernelscope, name) is not None, name
    with pytest.raises(AttributeError):
        _ = kernelscope.nothing_here  # type: ignore[attr-defined]


def test_importing_the_package_loads_no_stage() -> None:
    code = ("import sys, kernelscope\n"
            "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'pyarrow', 'kernelscope.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_summarize_compare() -> None:
    runs = [kernelscope.load_run(RUNS / n) for n in ("bf16", "int4-torchao")]
    summary = kernelscope.summarize(runs[1])
    assert summary.phases["decode"].time_by_path[kernelscope.SitePath.NATIVE.value] > 0
    arrow = runs[1].table.to_arrow()
    assert arrow.num_rows == len(runs[1].table) and "path" in arrow.column_names
    comparison = kernelscope.compare(runs, gates="kld_mean<1e-9")
    assert [r.run for r in comparison.rows] == ["bf16", "int4-torchao"]
    assert comparison.exit_code() == 5 and comparison.breaches[0].gate == "kld_mean<1e-09"


def test_analyze_a_trace(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    trace.write_text('{"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, '
                     '"ts": 0, "dur": 5, "args": {"Input type": ["float", "float"], "Input Dims": [[4, 8], [8, 8]]}}]}')
    run = kernelscope.analyze(trace, tmp_path / "run")
    assert run.complete and run.table.rule.to_list() == ["aten.gemm-float"]
    with pytest.raises(kernelscope.BadInputError, match="no such trace"):
        kernelscope.analyze(tmp_path / "absent.json", tmp_path / "run2")
