"""`kernelscope analyze` on hand-built traces, and on real traces from other projects' GPU runs
(../shared/traces beside the checkout; skipped cleanly where that folder is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernelscope.errors import BadInputError
from kernelscope.report.aggregate import check_invariants, summarize
from kernelscope.report.documents import Summary
from kernelscope.runs.ingest import analyze_to_run
from kernelscope.runs.store import load_run
from tests.trace_events import TraceBuilder

SHARED = Path(__file__).resolve().parents[3] / "shared" / "traces"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/traces is not beside this checkout")


def rank_trace(tmp: Path, rank: int, quantized: bool) -> Path:
    b = TraceBuilder()
    b.range("step[DECODE bs=4]", 0, 1000)
    ext = b.op("bitsandbytes::gemv_4bit" if quantized else "aten::mm", 10, 50,
               ["c10::BFloat16", "unsigned char" if quantized else "c10::BFloat16"], [[4, 256], [256, 256]])
    name = ("void kgemm_4bit_inference_naive<__nv_bfloat16, 128, 16>(int)" if quantized
            else "nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN")
    b.kernel(name, 100, 40, b.launch(12, ext), ext)
    return b.write(tmp / f"trace_rank{rank}.json", distributedInfo={"rank": rank, "world_size": 2})


def summary_of(run_dir: Path) -> Summary:
    run = load_run(run_dir)
    doc = summarize(run.manifest, run.metrics, run.table, str(run_dir))
    check_invariants(run.table, doc)
    return doc


def test_a_folder_of_rank_traces_analyses_per_rank_and_merged(tmp_path: Path) -> None:
    folder = tmp_path / "ranks"
    folder.mkdir()
    rank_trace(folder, 0, quantized=True)
    rank_trace(folder, 1, quantized=False)
    doc = summary_of(analyze_to_run(folder, tmp_path / "run"))
    assert doc.config.ranks == [0, 1]
    assert doc.attribution is not None and doc.attribution.phase_source == "sglang"
    per_rank = doc.attribution.per_rank
    assert set(per_rank) == {"0", "1"} and all(r.rows == 1 for r in per_rank.values())
    decode = doc.phases["decode"].time_by_path
    assert decode["native-quantized"] == 40.0 and decode["unquantized"] == 40.0
    view = doc.ranks  # the rank view of a foreign job's folder, as of `profile --tp`
    assert view is not None and view.ranks == [0, 1] and view.imbalance["decode"] == 1.0
    assert view.per_rank["0"]["decode"].time_by_path["native-quantized"] == 40.0
    assert view.per_rank["1"]["decode"].time_by_path["unquantized"] == 40.0
    run = load_run(tmp_path / "run")
    assert sorted(run.table.rank.tolist()) == [0, 1]
    assert (tmp_path / "run" / "trace.rank1.json").is_file()


def test_a_trace_without_anything_to_classify_is_an_error(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.python("x.py(1): f", 0, 5)
    with pytest.raises(BadInputError, match="no kernels and no CPU ops"):
        analyze_to_run(b.write(tmp_path / "empty.json"), tmp_path / "run")


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(BadInputError, match=r"holds no \.json"):
        analyze_to_run(tmp_path / "none", tmp_path / "run")


@needs_shared
def test_vllm_rocm_graph_execution_trace(tmp_path: Path) -> None:
    """vLLM on ROCm, piecewise HIP graphs, MXFP4 MoE: 413 kernels, most replayed from graphs."""
    doc = summary_of(analyze_to_run(SHARED / "tracelens-vllm-rocm-piecewise-mxfp4-graph-execution.json.gz",
                                    tmp_path / "run"))
    attribution = doc.attribution
    assert attribution is not None and attribution.phase_source == "vllm"
    assert attribution.graph_replayed_share == pytest.approx(0.960, abs=0.001)
    assert set(doc.phases) == {"prefill", "decode", "mixed"}  # execute_8192_context_9(...)_generation_37(...)
    mixed = doc.phases["mixed"]
    assert mixed.kernels == 423
    assert mixed.time_by_path["native-quantized"] == pytest.approx(122532.4, abs=0.5)  # the mxfp4 MoE GEMMs
    assert mixed.time_by_path["dequant-then-compute"] == 0.0
    run = load_run(tmp_path / "run")
    rules = {r: int(n) for r, n in zip(*_counts(run, "rule"), strict=True)}
    assert rules["triton.matmul_ogs-lowp"] == 48
    assert rules["rocm.tensile"] == 73  # bf16 hipBLASLt GEMMs
    assert rules["quant.kv-write"] == 24  # reshape_and_cache_flash with Fp8KVCacheDataType 0: a bf16 cache
    assert rules["attn.op-kv-float"] == 24
    assert rules.get("unknown", 0) == 0


@needs_shared
def test_hf_eager_h100_trace_is_dense_bf16(tmp_path: Path) -> None:
    doc = summary_of(analyze_to_run(SHARED / "tracelens-h100-qwen1.5-0.5b-hf-eager-bf16.json.gz", tmp_path / "run"))
    # one forward pass over 8944 tokens: every weight ran at one token count, so there is no decode to find
    # (an earlier heuristic invented a "decode" phase from one attention bmm at M = 32)
    assert doc.attribution is not None and doc.attribution.phase_source == "none"
    assert "no prefill / decode structure" in (doc.attribution.note or "")
    assert set(doc.phases) == {"prefill", "decode", "other"}
    assert doc.phases["decode"].kernels == 0 and doc.phases["prefill"].kernels == 0
    for block in doc.phases.values():
        assert block.time_by_path["native-quantized"] == 0.0
        assert block.time_by_path["dequant-then-compute"] == 0.0
    run = load_run(tmp_path / "run")
    rules = dict(zip(*_counts(run, "rule"), strict=True))
    assert rules["cublas.xmma"] == 241 and rules["attn.dense-typed"] == 34
    formats = dict(zip(*_counts(run, "format"), strict=True))
    assert formats["bf16"] == 241 + 34
    assert rules.get("unknown", 0) == 0


@needs_shared
def test_inductor_triton_example(tmp_path: Path) -> None:
    run_dir = analyze_to_run(SHARED / "hta-triton-example.json.gz", tmp_path / "run")
    run = load_run(run_dir)
    assert run.table.rule.to_list() == ["inductor.pointwise"]
    assert run.table.in_types.to_list() == ["fp32, fp32, fp32, scalar"]


def _counts(run, column: str):  # type: ignore[no-untyped-def]
    cat = run.table.category(column)
    import numpy as np

    counts = np.bincount(cat.codes, minlength=len(cat.values))
    return list(cat.values), counts.tolist()


def test_summary_json_of_an_analysed_trace_has_attribution(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    path = rank_trace(folder, 0, quantized=True)
    import contextlib
    import io

    from kernelscope.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["analyze", str(path), "--out", str(tmp_path / "run"), "--json"]) == 0
    doc = json.loads(out.getvalue())
    assert set(doc["attribution"]) >= {"phase_source", "graph_replayed_share"}
    assert doc["config"]["engine"]["name"].startswith("torch.profiler trace")


def unrelated_trace(folder: Path, name: str, gpu: str, **extra: object) -> Path:
    b = TraceBuilder()
    ext = b.op("aten::mm", 10, 50, ["c10::BFloat16", "c10::BFloat16"], [[4, 256], [256, 256]])
    b.kernel("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN", 100, 40, b.launch(12, ext), ext)
    return b.write(folder / name, deviceProperties=[{"name": gpu}], cuda_runtime_version=12080, **extra)


def test_a_folder_of_unrelated_traces_is_not_merged_as_ranks(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    unrelated_trace(folder, "a.json", "NVIDIA H100 80GB HBM3")
    unrelated_trace(folder, "b.json", "NVIDIA A100-SXM4-80GB")
    with pytest.raises(BadInputError, match=r"do not look like the ranks of one job: not every trace has "
                                            r"distributedInfo.*devices differ.*--as-ranks"):
        analyze_to_run(folder, tmp_path / "run")
    doc = summary_of(analyze_to_run(folder, tmp_path / "forced", as_ranks=True))
    assert doc.config.ranks == [0, 1]


def test_ranks_of_different_jobs_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    for rank, world in ((0, 2), (1, 4)):
        unrelated_trace(folder, f"trace_rank{rank}.json", "NVIDIA H100 80GB HBM3",
                        distributedInfo={"rank": rank, "world_size": world})
    with pytest.raises(BadInputError, match="world sizes differ"):
        analyze_to_run(folder, tmp_path / "run")


def test_a_hip_trace_is_labelled_hip(tmp_path: Path) -> None:
    b = TraceBuilder()
    ext = b.op("aten::mm", 10, 50, ["c10::BFloat16", "c10::BFloat16"], [[4, 256], [256, 256]])
    b.kernel("Cijk_Alik_Bljk_BBS_BH_MT128x128x64_MI16x16x1", 100, 40, b.launch(12, ext, name="hipLaunchKernel"), ext)
    path = b.write(tmp_path / "rocm.json", deviceProperties=[{"name": "AMD Instinct MI300X"}],
                   hip_runtime_version=60342)
    assert summary_of(analyze_to_run(path, tmp_path / "run")).config.device == "hip"
