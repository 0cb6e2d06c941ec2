"""Coverage (report/coverage.py): how much of each phase's time a rule decided, and how; the unknown
names; communication as its own line; analyze's warning."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from kernelscope.cli import main
from kernelscope.report.aggregate import check_invariants, summarize
from kernelscope.report.documents import Summary
from kernelscope.runs.ingest import analyze_to_run
from kernelscope.runs.store import load_run
from tests.trace_events import TraceBuilder

# (kernel name, its launching op)
KNOWN = ("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN", "aten::mm")  # cuBLAS bf16 GEMM: a library rule
GENERIC = ("void custom_paged_attention_kernel<__nv_bfloat16, 128>(__nv_bfloat16*, __nv_bfloat16 const*)",
           "mylib::paged_attention")
UNKNOWN = ("my_custom_kernel_v2<float>(float*)", "mylib::custom")
ALLREDUCE = ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "c10d::allreduce_")


def trace(tmp: Path, kernels: list[tuple[tuple[str, str], float]]) -> Path:
    b = TraceBuilder()
    b.range("step[DECODE bs=4]", 0, 10_000)
    ts = 10.0
    for (name, op), dur in kernels:
        ext = b.op(op, ts, 5, ["c10::BFloat16", "c10::BFloat16"], [[4, 256], [256, 256]])
        b.kernel(name, ts + 100, dur, b.launch(ts + 1, ext), ext)
        ts += dur + 200
    return b.write(tmp / "trace.json")


def summary_of(run_dir: Path) -> Summary:
    run = load_run(run_dir)
    doc = summarize(run.manifest, run.metrics, run.table, str(run_dir))
    check_invariants(run.table, doc)
    return doc


def test_coverage_splits_each_phase_into_rule_generic_and_unknown(tmp_path: Path) -> None:
    path = trace(tmp_path, [(KNOWN, 60.0), (GENERIC, 30.0), (UNKNOWN, 10.0)])
    doc = summary_of(analyze_to_run(path, tmp_path / "run"))
    assert doc.coverage is not None
    decode = doc.coverage.phases["decode"]
    assert (decode.total_us, decode.rule_us, decode.generic_us, decode.unknown_us) == (100.0, 60.0, 30.0, 10.0)
    assert (decode.rule_share, decode.generic_share, decode.unknown_share) == (0.6, 0.3, 0.1)
    assert [(u.name, u.kernels, u.time_us) for u in decode.top_unknown] == [(UNKNOWN[0], 1, 10.0)]
    assert doc.coverage.total.unknown_us == 10.0


def test_communication_is_its_own_line_inside_the_unquantized_share(tmp_path: Path) -> None:
    path = trace(tmp_path, [(KNOWN, 60.0), (ALLREDUCE, 40.0)])
    doc = summary_of(analyze_to_run(path, tmp_path / "run"))
    decode = doc.phases["decode"]
    assert decode.communication_us == 40.0
    assert decode.time_by_path["unquantized"] == 100.0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["summary", str(tmp_path / "run")]) == 0
    assert "of which communication 40.0%" in out.getvalue()


@pytest.mark.parametrize("unknown_us, warned", [(10.0, True), (4.0, False)])
def test_analyze_warns_with_the_names_when_unknown_time_passes_5_percent(tmp_path: Path, unknown_us: float,
                                                                         warned: bool) -> None:
    path = trace(tmp_path, [(KNOWN, 100.0 - unknown_us), (UNKNOWN, unknown_us)])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["analyze", str(path), "--out", str(tmp_path / "run"), "--json"]) == 0
    assert ("matched no rule" in err.getvalue()) is warned
    assert (UNKNOWN[0] in err.getvalue()) is warned
    assert '"coverage"' in out.getvalue()
