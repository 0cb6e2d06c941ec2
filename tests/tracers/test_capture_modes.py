"""Profile the fixture model on this CPU in each mode and assert the exact verdicts.

These are the kernel paths measured on CPU (torch 2.13, torchao 0.18, bitsandbytes 0.50.2,
optimum-quanto 0.2.7, hqq 0.2.8). bitsandbytes' 4-bit path depends on the CPU: with AVX512-BF16 it
repacks the weight and runs its fused gemv_4bit kernel; without, it dequantizes and runs a dense mm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kernelscope.runs.documents import PromptLen, Sampling
from kernelscope.vocabulary import Role, SitePath
from tests.tracers.conftest import Captured, has_avx512_bf16

pytestmark = pytest.mark.slow

N_LINEAR = 28  # 4 layers x (q, k, v, o, gate, up, down)


def single_verdict(c: Captured, phase: str, kind: str = "linear") -> tuple[str, str]:
    sites = c.sites(phase, kind)
    verdicts = {(s.path, s.rule) for s in sites}
    assert len(verdicts) == 1, verdicts
    return verdicts.pop()


def names(rows: list[dict[str, Any]], role: str | None = None) -> set[str]:
    return {r["name"] for r in rows if role is None or r["role"] == role}


def any_site(c: Captured, phase: str, kind: str = "linear") -> str:
    return c.sites(phase, kind)[0].module


def test_bf16_baseline_is_unquantized_everywhere(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "bf16")
    for phase in ("prefill", "decode"):
        block = c.summary.phases[phase]
        assert block.time_by_path[SitePath.UNQUANTIZED.value] == pytest.approx(block.total_us)
        assert block.dequant_share == 0.0
        assert {s.rule for s in c.summary.sites} == {"path.not-requested"}


def test_torchao_int8_weight_only_is_dequant_then_compute(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int8", "--backend", "torchao")
    for phase in ("prefill", "decode"):
        assert len(c.sites(phase)) == N_LINEAR
        assert single_verdict(c, phase) == (SitePath.DEQUANT.value, "path.dequant-then-dense")
        rows = c.rows(any_site(c, phase), phase)
        copies = [r for r in rows if r["rule"] == "aten.dtype-flow-dequant"]
        assert copies and all(r["name"] == "aten::copy_" and r["in_types"].startswith("bf16, int8") for r in copies)
        assert "aten::mm" in names(rows, Role.GEMM.value)
        assert c.summary.phases[phase].dequant_share > 0


def test_torchao_int4_cpu_layout_is_native(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int4", "--backend", "torchao")
    for phase in ("prefill", "decode"):
        assert single_verdict(c, phase) == (SitePath.NATIVE.value, "path.native")
        rows = c.rows(any_site(c, phase), phase)
        assert names(rows, Role.GEMM.value) == {"aten::_weight_int4pack_mm_for_cpu"}
        assert c.summary.phases[phase].dequant_share == 0.0


def test_torchao_w8a8_is_native_with_activation_quantize(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "w8a8", "--backend", "torchao")
    for phase in ("prefill", "decode"):
        assert single_verdict(c, phase) == (SitePath.NATIVE.value, "path.native")
        rows = c.rows(any_site(c, phase), phase)
        assert names(rows, Role.GEMM.value) == {"aten::_int_mm"}
        quantize = names(rows, Role.QUANTIZE.value)
        assert {"torchao::choose_qparams_affine", "torchao::quantize_affine"} <= quantize


def test_torch_dynamic_qint8_is_native(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "w8a8", "--backend", "torch")
    for phase in ("prefill", "decode"):
        assert single_verdict(c, phase) == (SitePath.NATIVE.value, "path.native")
        assert names(c.rows(any_site(c, phase), phase), Role.GEMM.value) == {"quantized::linear_dynamic"}


@pytest.mark.parametrize("mode", ["nf4", "fp4"])
def test_bitsandbytes_4bit_eval_follows_the_cpu(capture: Callable[..., Captured], mode: str) -> None:
    c = capture("--quant", mode)
    rows = c.rows(any_site(c, "decode"), "decode")
    if has_avx512_bf16():
        assert single_verdict(c, "decode") == (SitePath.NATIVE.value, "path.native")
        assert "bitsandbytes::gemv_4bit" in names(rows, Role.GEMM.value)
    else:
        assert single_verdict(c, "decode") == (SitePath.DEQUANT.value, "path.dequant-then-dense")
        assert "bitsandbytes::dequantize_4bit" in names(rows, Role.DEQUANT.value)
        assert "aten::mm" in names(rows, Role.GEMM.value)
    lm_head = [s for s in c.summary.sites if s.module == "lm_head"]
    assert {s.path for s in lm_head} == {SitePath.UNQUANTIZED.value}


def test_bitsandbytes_nf4_in_training_mode_dequantizes(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "nf4", "--train-mode")
    for phase in ("prefill", "decode"):
        assert single_verdict(c, phase) == (SitePath.DEQUANT.value, "path.dequant-then-dense")
        rows = c.rows(any_site(c, phase), phase)
        assert "bitsandbytes::dequantize_4bit" in names(rows, Role.DEQUANT.value)
        assert "aten::mm" in names(rows, Role.GEMM.value)


def test_bitsandbytes_int8_follows_the_cpu(capture: Callable[..., Captured]) -> None:
    """bitsandbytes runs its int8 GEMM with torch._int_mm only where torch reports AVX-512; elsewhere
    its portable backend widens both operands to fp32 and runs a dense mm: a library fallback."""
    import torch

    c = capture("--quant", "int8", "--backend", "bitsandbytes")
    for phase in ("prefill", "decode"):
        rows = c.rows(any_site(c, phase), phase)
        assert "bitsandbytes::int8_vectorwise_quant" in names(rows, Role.QUANTIZE.value)
        if torch.backends.cpu.get_cpu_capability() == "AVX512":
            assert single_verdict(c, phase) == (SitePath.NATIVE.value, "path.native")
            assert {r["rule"] for r in rows if r["name"] == "aten::_int_mm"} == {"bnb.int_mm"}
        else:
            assert single_verdict(c, phase) == (SitePath.FALLBACK.value, "path.library-fallback")
            assert {r["rule"] for r in rows if r["name"] == "aten::mm"} == {"bnb.fallback-int8-fp32-mm"}
    assert {s.path for s in c.summary.sites if s.module == "lm_head"} == {SitePath.UNQUANTIZED.value}


def test_quanto_int8_native_in_bf16_dequant_in_fp32(capture: Callable[..., Captured]) -> None:
    bf16 = capture("--quant", "int8", "--backend", "quanto")
    fp32 = capture("--quant", "int8", "--backend", "quanto", "--dtype", "fp32")
    assert single_verdict(bf16, "decode") == (SitePath.NATIVE.value, "path.native")
    assert names(bf16.rows(any_site(bf16, "decode"), "decode"), Role.GEMM.value) == {"aten::_weight_int8pack_mm"}
    assert single_verdict(fp32, "decode") == (SitePath.DEQUANT.value, "path.dequant-then-dense")
    rows = fp32.rows(any_site(fp32, "decode"), "decode")
    assert "aten::copy_" in names(rows, Role.DEQUANT.value)
    assert "aten::mm" in names(rows, Role.GEMM.value)


def test_quanto_int4_bf16_is_native(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int4", "--backend", "quanto")
    assert single_verdict(c, "decode") == (SitePath.NATIVE.value, "path.native")
    assert names(c.rows(any_site(c, "decode"), "decode"), Role.GEMM.value) == {"aten::_weight_int4pack_mm_for_cpu"}


def test_hqq_int4_is_dequant_then_compute(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int4", "--backend", "hqq")
    for phase in ("prefill", "decode"):
        assert single_verdict(c, phase) == (SitePath.DEQUANT.value, "path.dequant-then-dense")
        rows = c.rows(any_site(c, phase), phase)
        assert "aten::copy_" in names(rows, Role.DEQUANT.value)  # the uint8 -> bf16 copy of the unpacked weight
        assert "aten::mm" in names(rows, Role.GEMM.value)


@pytest.mark.parametrize("spec", [("--quant", "kv-int4"), ("--quant", "kv-int2"),
                                  ("--quant", "kv-int4", "--kv-backend", "hqq")])
def test_quantized_kv_cache_dequantizes_before_attention(capture: Callable[..., Captured], spec: tuple[str, ...]
                                                          ) -> None:
    c = capture(*spec)
    assert len(c.sites("decode", "attention")) == 4
    assert single_verdict(c, "decode", "attention") == (SitePath.DEQUANT.value, "path.dequant-then-dense")
    rows = c.rows(any_site(c, "decode", "attention"), "decode")
    assert names(rows, Role.ATTENTION.value) >= {"aten::_scaled_dot_product_flash_attention_for_cpu"}
    assert names(rows, Role.DEQUANT.value)
    # prefill attention reads the fresh K/V; the cache is only written (quantized)
    assert single_verdict(c, "prefill", "attention") == (SitePath.UNQUANTIZED.value, "path.kv-written-not-read")
    assert names(c.rows(any_site(c, "prefill", "attention"), "prefill"), Role.QUANTIZE.value)
    assert {s.path for s in c.sites("decode", "linear", requested=False)} == {SitePath.UNQUANTIZED.value}


def test_int4_weights_with_int4_kv(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int4+kv-int4")
    assert single_verdict(c, "decode") == (SitePath.NATIVE.value, "path.native")
    assert single_verdict(c, "decode", "attention") == (SitePath.DEQUANT.value, "path.dequant-then-dense")


def test_torchao_skipping_incompatible_groups_is_a_fallback(capture: Callable[..., Captured]) -> None:
    """torchao leaves a Linear whose in_features is not a multiple of group_size untouched (it only
    logs at INFO level). Asked for int4 with group 512, every Linear of the fixture (256 / 768 wide)
    stays bf16: kernelscope says so at once (a warning) and reports those sites as fallback."""
    c = capture("--quant", "int4", "--group-size", "512")
    sites = c.run.manifest.sites
    requested = [k for k, v in sites.items() if v.requested]
    assert len(requested) == N_LINEAR and not any(sites[k].quantized for k in requested)
    for phase in ("prefill", "decode"):
        assert single_verdict(c, phase) == (SitePath.FALLBACK.value, "path.requested-not-quantized")
        assert c.summary.phases[phase].time_by_path[SitePath.FALLBACK.value] > 0


def test_python_profile_is_saved_with_the_run(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int4", "--python-profile")
    assert c.run.manifest.extras["python_profile"] == "python-profile.html"
    html = (c.run.path / "python-profile.html").read_text()
    assert "pyinstrument" in html.lower()


def test_run_records_the_fixed_variables_and_metrics(capture: Callable[..., Captured]) -> None:
    c = capture("--quant", "int4", "--backend", "torchao")
    cfg = c.summary.config
    assert cfg.eval_set is not None and cfg.tokenizer is not None
    assert cfg.model.hash and cfg.eval_set.sha256 and cfg.tokenizer.vocab_size == 4096
    assert cfg.workload.prompt_len == PromptLen(min=32, max=32, distribution="fixed")
    assert cfg.workload.sampling == Sampling(strategy="greedy")
    assert cfg.hardware.cpu and cfg.versions["torch"].startswith("2.")
    m = c.summary.metrics
    for stats in (m.ttft_ms, m.tpot_ms):
        assert stats is not None and None not in (stats.mean, stats.p50, stats.p95, stats.p99)
    assert m.tokens_per_s is not None and (m.tokens_per_s.decode or 0) > 0
    mem = m.peak_memory
    assert mem is not None and mem.rss is not None and mem.nvml_device_used is not None
    assert mem.rss.available and (mem.rss.peak_bytes or 0) > 0
    assert mem.nvml_device_used.available is False and mem.nvml_device_used.reason
    hooks = m.hooks_overhead
    assert hooks is not None and hooks.calls > 0 and 0 < (hooks.share_of_profiled_wall or 0) < 1
    # layers x (K,V) x kv heads x head dim x bf16
    assert m.kv_cache is not None and m.kv_cache.bytes_per_token == 4 * 2 * 2 * 64 * 2
    assert c.summary.attribution is not None and c.summary.attribution.phase_source == "kernelscope"
    assert c.run.complete


def test_parameters_are_counted_as_the_checkpoint_counts_them(capture: Callable[..., Captured]) -> None:
    """A packed 4-bit weight holds half the elements (or fewer); the model still has the same parameters."""
    bf16 = capture("--quant", "bf16").run.config.model
    assert bf16.parameters is not None and bf16.max_positions == 1024
    for args in (("--quant", "nf4"), ("--quant", "int4", "--backend", "hqq"), ("--quant", "w8a8", "--backend", "torch"),
                 ("--quant", "int4", "--backend", "torchao")):
        assert capture(*args).run.config.model.parameters == bf16.parameters, args
