"""What a capture checks before it loads a model (tracers/guards.py)."""

from __future__ import annotations

import io

import pytest

from kernelscope.errors import KernelscopeError
from kernelscope.progress import Progress
from kernelscope.recipes import parse_quant
from kernelscope.runs.documents import QualitySpec, SiteEntry
from kernelscope.tracers.capture import CaptureRequest
from kernelscope.tracers.guards import check_model_limits, warn_if_nothing_quantized
from kernelscope.tracers.workload import Workload
from kernelscope.vocabulary import SiteKind


def request(prompt: int, gen: int, context: int | None = None) -> CaptureRequest:
    workload = Workload(prompt_len=(prompt, prompt), gen_len=gen, batch=1, requests=1, warmup=0, seed=0)
    return CaptureRequest(model=None, recipe=parse_quant("bf16"), device="cpu", workload=workload, out=None,  # type: ignore[arg-type]
                          quality=QualitySpec(context=context) if context else None)


def test_a_workload_past_the_models_positions_is_refused_before_loading() -> None:
    check_model_limits(1024, request(1000, 24))
    check_model_limits(None, request(10**6, 1))  # a model that does not say: nothing to check
    with pytest.raises(KernelscopeError, match="1025 tokens, more than the model's 1024 positions"):
        check_model_limits(1024, request(1000, 25))
    with pytest.raises(KernelscopeError, match="--quality-context 2048"):
        check_model_limits(1024, request(16, 2, context=2048))


def test_a_mode_that_quantized_nothing_says_so_at_once() -> None:
    out = io.StringIO()
    asked = {f"l{i}": SiteEntry(kind=SiteKind.LINEAR, requested=True, quantized=False, format="bf16",
                                note="asked for int4 but still a dense Linear") for i in range(3)}
    warn_if_nothing_quantized(asked, parse_quant("int4", group_size=512), Progress(out, quiet=True))
    assert "int4 (torchao) with group size 512 quantized none of the 3 Linear layers" in out.getvalue()
    out = io.StringIO()
    some = {**asked, "l9": SiteEntry(kind=SiteKind.LINEAR, requested=True, quantized=True, format="int4")}
    warn_if_nothing_quantized(some, parse_quant("int4"), Progress(out))
    assert out.getvalue() == ""
