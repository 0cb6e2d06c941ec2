"""Scoring a teacher-forced window in one forward gives the logits of token-by-token decoding where the
KV cache is not quantized and no token's activation quantization depends on the others: that is what lets
the quality pass of weight-only modes run one forward per window. KV-cache modes keep going through the
quantized cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from kernelscope.recipes import parse_quant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def windows() -> list[list[int]]:
    from kernelscope.tracers import loading

    ids, _ = loading.eval_token_ids(loading.load_tokenizer(loading.resolve_model(None)), None)
    return [ids[i * 96:(i + 1) * 96] for i in range(4)]


@pytest.fixture(scope="module")
def baseline(windows: list[list[int]]) -> np.ndarray:
    import torch
    from transformers import DynamicCache

    from kernelscope.tracers import loading, quality

    model = loading.load_model(loading.resolve_model(None), torch.float32, "cpu", {})
    with torch.inference_mode():
        scored = quality.score(model, windows, lambda: DynamicCache(config=model.config), "cpu", one_pass=True)
    return np.asarray(scored.logprobs.numpy())


def both_ways(quant: str, dtype: str, windows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The log-probs of one forward per window and of token-by-token decoding, same model."""
    import torch

    from kernelscope.tracers import loading, quality, quantize

    recipe = parse_quant(quant, None, None, dtype, None)
    model = loading.load_model(loading.resolve_model(None), quantize.TORCH_DTYPES[dtype], "cpu",
                               quantize.load_time_kwargs(recipe))
    quantize.apply_weight_recipe(model, recipe, "cpu")
    make_cache: Callable[[], Any] = quantize.make_cache_factory(model, recipe.kv)
    with torch.inference_mode():
        one = quality.score(model, windows, make_cache, "cpu", one_pass=True).logprobs.numpy()
        step = quality.score(model, windows, make_cache, "cpu", one_pass=False).logprobs.numpy()
    return np.asarray(one), np.asarray(step)


@pytest.mark.parametrize("quant", ["fp32", "int8", "int4"])
def test_in_fp32_one_forward_gives_the_logits_of_token_by_token_decoding(quant: str,
                                                                          windows: list[list[int]]) -> None:
    one, step = both_ways(quant, "fp32", windows)
    assert one.shape == step.shape == (4 * 48, one.shape[1])
    assert np.abs(one - step).max() < 1e-4  # fp32 rounding of different GEMM shapes, nothing more


@pytest.mark.parametrize("quant", ["int8", "int4", "nf4", "w8a8"])
def test_in_bf16_the_quality_figures_agree_within_one_standard_error(quant: str, windows: list[list[int]],
                                                                      baseline: np.ndarray) -> None:
    from kernelscope.report.quality import kld_from_logprobs

    one, step = both_ways(quant, "bf16", windows)
    kld_one, kld_step = (np.maximum(kld_from_logprobs(baseline, x), 0.0) for x in (one, step))
    se = kld_step.std(ddof=1) / np.sqrt(len(kld_step))
    assert abs(kld_one.mean() - kld_step.mean()) < se
    assert (one.argmax(-1) == step.argmax(-1)).mean() >= 0.99


def test_which_recipes_score_in_one_pass() -> None:
    cases = {
        ("bf16", None): True, ("int8", None): True, ("int4", None): True, ("nf4", None): True,  # weight-only
        ("w8a8", None): True,  # torchao: per-token activation scales
        ("int8", "bitsandbytes"): False,  # LLM.int8's outlier columns depend on every token in the batch
        ("w8a8", "torch"): False,  # per-tensor activation scale
        ("kv-int4", None): False, ("int4+kv-int4", None): False,  # the quantized cache must be decoded through
    }
    for (quant, backend), expected in cases.items():
        assert parse_quant(quant, backend, None, None, None).scores_in_one_pass is expected, (quant, backend)


def test_a_quanto_kv_cache_decodes_windows_batched_as_alone() -> None:
    """Each sequence's KV is quantized on its own: 3 windows decoded as one batch give the same logits. The
    windows are longer than the cache's 128-token full-precision residual, so quantized K/V are read."""
    import torch

    from kernelscope.tracers import loading, quality, quantize

    ids, _ = loading.eval_token_ids(loading.load_tokenizer(loading.resolve_model(None)), None)
    windows = [ids[i * 320:(i + 1) * 320] for i in range(3)]
    recipe = parse_quant("kv-int4", None, "quanto", None, None)
    assert recipe.scores_in_batches and not parse_quant("kv-int4", None, "hqq", None, None).scores_in_batches
    # fp32, so that only the cache's quantization could make batched and alone differ (bf16 GEMMs of another
    # shape round differently)
    model = loading.load_model(loading.resolve_model(None), torch.float32, "cpu", {})
    make_cache = quantize.make_cache_factory(model, recipe.kv)
    with torch.inference_mode():
        alone = quality.score(model, windows, make_cache, "cpu", one_pass=False).logprobs.numpy()
        batched = quality.score(model, windows, make_cache, "cpu", one_pass=False, batch=4).logprobs.numpy()
    assert np.abs(alone - batched).max() < 1e-4
    hqq = quantize.make_cache_factory(model, parse_quant("kv-int4", None, "hqq", None, None).kv)
    with torch.inference_mode():  # the reason HQQ's windows go one at a time: its scales span the batch
        hqq_alone = quality.score(model, windows, hqq, "cpu", one_pass=False).logprobs.numpy()
        hqq_batched = quality.score(model, windows, hqq, "cpu", one_pass=False, batch=3).logprobs.numpy()
    assert np.abs(hqq_alone - hqq_batched).max() > 1e-2
