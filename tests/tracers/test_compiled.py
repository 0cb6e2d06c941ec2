"""`profile --compile` on the CPU (Inductor): compilation apart from the timings, Inductor's C++ kernels
and extern GEMMs classified, every quantized site of the embedded model given its verdict through the
GEMM call order, and the compiled TPOT beside the eager one in compare. Compiling costs ~40-60 s a mode
on a cold cache: the runs are shared through the session's `capture` fixture."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kernelscope.report.compare import compare_runs
from kernelscope.runs.sweep import parse_configs
from tests.helpers import assert_one_line_error, ks
from tests.tracers.conftest import SMALL_WORKLOAD, Captured

NAT, UQ = "native-quantized", "unquantized"
# torchao on this CPU, compiled: Inductor lowers each to an extern ATen GEMM that reads the quantized weight
# (eager int8 weight-only instead casts the weight to bf16 and runs aten::mm: dequant-then-compute)
GEMM_OPS = {"int8": "aten::_weight_int8pack_mm", "int4": "aten::_weight_int4pack_mm_for_cpu", "w8a8": "aten::_int_mm"}


@pytest.mark.parametrize("mode", sorted(GEMM_OPS))
def test_every_quantized_site_has_its_verdict_when_compiled(mode: str, capture: Callable[..., Captured]) -> None:
    c = capture("--quant", mode, "--compile")
    doc, run = c.summary, c.run
    assert run.config.engine.compile == "inductor default"
    info = run.metrics.compile
    assert info is not None and info.graphs >= 1 and info.seconds > 0 and info.recompiled_while_timed == 0
    assert doc.attribution is not None and "matched to their Linear by call order" in (doc.attribution.note or "")
    assert "0 not" in (doc.attribution.note or "")
    requested = [n for n, s in run.manifest.sites.items() if s.requested]
    assert len(requested) == 28 and all(run.manifest.sites[n].order is not None for n in requested)
    for phase in ("prefill", "decode"):
        found = {s.module: s.path for s in doc.sites if s.phase == phase and s.kind == "linear"}
        assert {found[n] for n in requested} == {NAT}, phase  # every quantized site, no site left out
        assert found["lm_head"] == UQ
        gemms = {r["op"] for n in requested[:3] for r in c.rows(n, phase) if r["role"] == "gemm"}
        assert GEMM_OPS[mode] in gemms
    assert doc.coverage is not None and doc.coverage.total.unknown_us == 0.0  # cpp_fused_* and the runtime too
    names = set(run.table.name.to_list())
    assert any("cpp_fused_" in n for n in names) and "TorchDynamo Cache Lookup" in names


def test_compiled_tpot_beside_eager_in_compare(capture: Callable[..., Captured]) -> None:
    eager, compiled = capture("--quant", "int8"), capture("--quant", "int8", "--compile")
    cmp = compare_runs([eager.run, compiled.run])  # the same fixed variables: no --allow-mismatch needed
    rows = {r.compile: r for r in cmp.rows}
    assert set(rows) == {"", "inductor default"}
    assert all(r.tpot_p50_ms for r in rows.values()) and rows["inductor default"].tpot_ratio is not None
    assert rows[""].native_share == 0.0 and (rows["inductor default"].native_share or 0) > 0.9


def test_sweep_names_compiled_configurations() -> None:
    eager, compiled, tuned = parse_configs("int4,int4:compile,int8@torchao:compile=max-autotune-no-cudagraphs")
    assert eager.compile_mode is None and compiled.compile_mode == "default" and compiled.label == "int4-compile"
    assert tuned.profile_args()[:4] == ["--quant", "int8", "--compile-mode", "max-autotune-no-cudagraphs"]
    with pytest.raises(Exception, match="compile or compile=MODE"):
        parse_configs("int4:fast")


def test_cuda_graph_modes_need_a_gpu(tmp_path: object) -> None:
    result = ks("profile", "--quant", "bf16", "--compile-mode", "reduce-overhead", *SMALL_WORKLOAD,
                "--out", f"{tmp_path}/r")
    assert_one_line_error(result, 2, "captures CUDA graphs: it needs a GPU")
