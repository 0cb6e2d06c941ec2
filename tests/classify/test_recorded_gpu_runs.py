"""The recorded CUDA runs in fixtures/runs-cuda (an H200, torch 2.11 + CUDA 13.0; fixtures/record_gpu_runs.py,
provenance in fixtures/runs-cuda/RECORDED.md): the verdict every quantized site got in each phase, exact
figures from the raw traces, and the committed kernel tables equal what the current rules say (else run
`python fixtures/record_runs.py --reclassify`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kernelscope.classify.pipeline import classify_trace
from kernelscope.classify.rules.order import default_classifier
from kernelscope.runs.documents import Attribution
from kernelscope.runs.store import Run, load_run
from kernelscope.trace.reader import load_trace
from kernelscope.vocabulary import Device, KernelClass
from tests.helpers import GPU_RUNS, PhaseFigures, assert_phase_figures, assert_table_is_current, classify_recorded

NAT, DQ, UQ = "native-quantized", "dequant-then-compute", "unquantized"

# run -> {(phase, site kind): the path of every quantized site}, as the libraries' own code predicts
VERDICTS: dict[str, dict[tuple[str, str], str]] = {
    "bf16": {},
    # torchao int8 weight-only in eager: the int8 weight is cast to bf16 and a cuBLAS GEMM computes
    "int8-torchao": {("prefill", "linear"): DQ, ("decode", "linear"): DQ},
    # torchao int4: ATen's tinygemm kernel at every M
    "int4-torchao": {("prefill", "linear"): NAT, ("decode", "linear"): NAT},
    "medium-int4-torchao": {("prefill", "linear"): NAT, ("decode", "linear"): NAT},
    # bitsandbytes 0.50 nf4: its fused gemm_4bit kernel up to an M threshold per GPU and shape (32 rows
    # here), dequantize + cuBLAS above it (768 rows; 512 rows of the medium model)
    "nf4-bitsandbytes": {("prefill", "linear"): NAT, ("decode", "linear"): NAT},
    "nf4-bitsandbytes-long-prefill": {("prefill", "linear"): DQ, ("decode", "linear"): NAT},
    "medium-nf4-bitsandbytes": {("prefill", "linear"): DQ, ("decode", "linear"): NAT},
    # LLM.int8: int8 activations (kInt8VectorQuant) x int8 weights in a CUTLASS int8 GEMM
    "int8-bitsandbytes": {("prefill", "linear"): NAT, ("decode", "linear"): NAT},
    # torchao w8a8: aten::_int_mm (CUTLASS s8) at prefill; at decode (M <= 16) _int_mm refuses, and torchao
    # runs an fp32 matmul on dequantized operands instead
    "medium-w8a8-torchao": {("prefill", "linear"): NAT, ("decode", "linear"): DQ},
    # quantized KV caches: prefill attends over fresh K/V (the cache is only written); decode dequantizes it
    "kv-int4-hqq": {("prefill", "attention"): UQ, ("decode", "attention"): DQ},
    "kv-int4-quanto": {("prefill", "attention"): UQ, ("decode", "attention"): DQ},
    "medium-bf16": {},
}

EXPECTED: dict[str, PhaseFigures] = {
    "medium-int4-torchao": (477, {"prefill": (119, 4553.097, 0.0, 0.0, 303.841),
                                  "decode": (357, 246.754, 0.0, 0.0, 442.626)}),
    "medium-w8a8-torchao": (3143, {"prefill": (1225, 4648.908, 0.0, 0.0, 306.718),
                                   "decode": (1917, 0.0, 6018.3, 0.0, 450.36)}),
    "nf4-bitsandbytes-long-prefill": (590, {"prefill": (215, 0.0, 129.5, 0.0, 350.601),
                                            "decode": (374, 131.903, 0.0, 0.0, 417.402)}),
    "kv-int4-hqq": (3625, {"prefill": (2883, 0.0, 0.0, 0.0, 4369.405),
                           "decode": (741, 0.0, 479.815, 0.0, 581.883)}),
}


def run_of(name: str) -> Run:
    return load_run(GPU_RUNS / name)


def test_every_recorded_run_has_its_verdicts() -> None:
    assert {p.name for p in GPU_RUNS.iterdir() if (p / "manifest.json").is_file()} == set(VERDICTS)


@pytest.mark.parametrize("name", list(VERDICTS))
def test_each_quantized_site_takes_the_expected_path(name: str) -> None:
    run = run_of(name)
    assert run.complete and run.config.device == "cuda"
    _, doc = classify_recorded(run, Device.GPU)
    assert doc.attribution == Attribution(phase_source="kernelscope", graph_replayed_share=0.0)
    seen: dict[tuple[str, str], Counter[str]] = {}
    for site in doc.sites:
        if site.rule != "path.not-requested":
            seen.setdefault((site.phase, site.kind), Counter())[site.path] += 1
    assert {key: set(paths) for key, paths in seen.items()} == {key: {p} for key, p in VERDICTS[name].items()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_figures_from_the_recorded_gpu_trace(name: str) -> None:
    table, doc = classify_recorded(run_of(name), Device.GPU)
    assert_phase_figures(table, doc, EXPECTED[name])


def test_a_refused_int_mm_is_not_taken_for_cpu_compute() -> None:
    """At decode torchao's aten::_int_mm launches nothing (it refuses M <= 16) and an fp32 matmul follows on
    the GPU: no row may say the linear's compute ran on the CPU."""
    table, _ = classify_recorded(run_of("medium-w8a8-torchao"), Device.GPU)
    cpu = table.device.mask(Device.CPU.value)
    assert not cpu.any()
    decode = table.phase.mask("decode")
    assert (table.op.mask("aten::_int_mm") & decode).sum() == 0
    quantized = table.path.mask(DQ) & table.site_kind.mask("linear")
    fp32_mm = (decode & quantized & table.op.mask("aten::mm") & table.in_types.mask("fp32, fp32")
               & table.kernel_class.mask(KernelClass.DENSE.value))
    fp32_calls = {(table.site.values[table.site.codes[i]], int(table.step[i]))
                  for i in np.flatnonzero(fp32_mm)}
    assert len(fp32_calls) == 14 * 3  # every quantized linear, every recorded decode step


@pytest.mark.parametrize("name", list(VERDICTS))
def test_committed_gpu_tables_are_current(name: str) -> None:
    assert_table_is_current(run_of(name), Device.GPU)


def kernel_names() -> list[tuple[str, str]]:
    lines = (GPU_RUNS / "kernel-names.tsv").read_text().splitlines()
    return [tuple(line.split("\t")) for line in lines if line]  # type: ignore[misc]


def test_every_kernel_seen_on_the_h200_has_a_rule() -> None:
    classifier = default_classifier()
    names = kernel_names()
    assert len(names) == 130
    unknown = [name for name, _ in names if classifier.explain_name(name).rule == "unknown"]
    assert unknown == []


# the quantization-relevant kernels seen on the H200, and what their names alone say
SEEN_CLASSES = {
    "gemm_4bit_simt<__nv_bfloat16, 1>": KernelClass.NATIVE,  # bitsandbytes 0.50 nf4, decode
    "gemm_4bit_simt<__nv_bfloat16, 8>": KernelClass.NATIVE,  # bitsandbytes 0.50 nf4, 32-row prefill
    "kDequantizeBlockwise<__nv_bfloat16, 512, 64, 8, 2>": KernelClass.DEQUANT,  # nf4 long prefill
    "tinygemm_m16n8k16_chunk_kernel": KernelClass.NATIVE,  # torchao int4
    "cutlass_80_tensorop_i16832gemm_s8": KernelClass.NATIVE,  # torchao w8a8 prefill (aten::_int_mm)
    "cutlass_80_wmma_tensorop_i161616gemm_s8": KernelClass.NATIVE,  # bitsandbytes LLM.int8
    "kInt8VectorQuant<__half, 1024, 1>": KernelClass.QUANTIZE,
    "kdequant_mm_int32_fp16": KernelClass.OTHER,  # LLM.int8's int32 -> fp16 epilogue, not a weight dequant
    "unpack_4bit_kernel": KernelClass.DEQUANT,  # quanto's CUDA extension, KV cache
    "nvjet_sm90_tst_": KernelClass.DENSE,
    "cudnn::fusion::lean_reduction_kernel": KernelClass.DENSE,  # cuDNN SDPA split-KV combine
    "cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16": KernelClass.DENSE,
}


@pytest.mark.parametrize("fragment", list(SEEN_CLASSES))
def test_seen_kernel_names_classify_as_their_role(fragment: str) -> None:
    classifier = default_classifier()
    matching = [name for name, _ in kernel_names() if fragment in name]
    assert matching, fragment
    for name in matching:
        assert classifier.explain_name(name).kernel_class is SEEN_CLASSES[fragment], name


def test_recorded_gpu_runs_are_small() -> None:
    total = sum(f.stat().st_size for f in Path(GPU_RUNS).rglob("*") if f.is_file())
    assert total < 4_000_000


# torch.compile traces (fixtures/record_gpu_compiled.py): per phase, the rule of every GEMM row's verdict
COMPILED: dict[str, dict[str, set[str]]] = {
    # prefill (M = 32): Inductor keeps ATen's int8-weight kernel; decode (M = 1): it fuses the int8 -> bf16
    # conversion into a GEMV of its own, which reads the int8 weight directly (lm_head stays bf16)
    "int8": {"prefill": {"aten-cuda.int8pack_mm"}, "decode": {"inductor.fused-mm-lowp", "inductor.fused-mm"}},
    # int4 stays ATen's tinygemm, an extern kernel Inductor does not fuse
    "int4": {"prefill": {"aten-cuda.tinygemm"}, "decode": {"aten-cuda.tinygemm"}},
}


@pytest.mark.parametrize("mode", list(COMPILED))
def test_compiled_quantized_gemms_are_native(mode: str) -> None:
    trace = load_trace(GPU_RUNS / "compiled" / f"compiled-{mode}.json.gz")
    table = classify_trace(trace).table
    gemm = table.role.mask("gemm")
    for phase, rules in COMPILED[mode].items():
        in_phase = gemm & table.phase.mask(phase)
        assert {table.rule.values[c] for c in np.unique(table.rule.codes[in_phase])} == rules
        quantized = in_phase & ~table.rule.mask("inductor.fused-mm")
        assert quantized.any() and table.kernel_class.mask(KernelClass.NATIVE.value)[quantized].all()
    assert not table.kernel_class.mask(KernelClass.DEQUANT.value).any()
