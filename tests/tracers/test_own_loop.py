"""The capture session around a hand-written loop (kernelscope.tracers.session): a run that summary, the
TUI, export and compare read like any `profile` run, with the verdicts of the model it was given."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from kernelscope.report.aggregate import check_invariants, summarize_run
from kernelscope.report.compare import compare_runs
from kernelscope.runs.codec import encode_document
from kernelscope.runs.store import load_run
from tests.helpers import ks
from tests.tracers.conftest import Captured


def _model(quantized: bool = True) -> Any:
    from torchao.quantization import Int8WeightOnlyConfig, quantize_
    from transformers import AutoModelForCausalLM

    from kernelscope.fixtures_path import fixture_model_dir

    model = AutoModelForCausalLM.from_pretrained(fixture_model_dir(), dtype=torch.bfloat16).eval()
    if quantized:
        quantize_(model, Int8WeightOnlyConfig(), filter_fn=lambda m, fqn: fqn != "lm_head"
                  and isinstance(m, torch.nn.Linear))
    return model


def my_loop(model: Any, out: Path, profile: bool, requests: int = 2, steps: int = 3) -> Path:
    """What a user writes: their own cache, their own sampling, their own loop."""
    from transformers import DynamicCache

    from kernelscope.tracers import session

    ids = torch.arange(5, 37)[None, :]
    with torch.inference_mode(), session(model, out=out, label="int8 torchao, my loop", profile=profile) as s:
        for r in range(requests):
            cache = DynamicCache()
            with s.prefill(request=r, tokens=ids.shape[1]):
                token = model(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1].argmax(-1)
            for i in range(steps):
                with s.decode(request=r, step=i):
                    logits = model(input_ids=token[:, None], past_key_values=cache, use_cache=True).logits
                    token = logits[:, -1].argmax(-1)
    return out


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("loops")
    model = _model()
    return {"profiled": my_loop(model, root / "profiled", True), "timing": my_loop(model, root / "timing", False)}


def _filled(doc: dict[str, Any], prefix: str = "") -> set[str]:
    """The keys whose value says something (not null, empty or ''), into config and metrics."""
    out = set()
    for key, value in doc.items():
        if value in (None, [], {}, ""):
            continue
        out.add(prefix + key)
        if key in ("config", "metrics") and isinstance(value, dict):
            out |= _filled(value, f"{key}.")
    return out


def test_the_session_run_reads_like_a_profile_run(loops: dict[str, Path], capture: Callable[..., Captured]) -> None:
    run = load_run(loops["profiled"])
    assert run.complete and run.has_table and run.trace_path.is_file()
    doc = summarize_run(run)
    check_invariants(run.table, doc)
    theirs = json.loads(encode_document(doc))
    ours = json.loads(encode_document(capture("--quant", "int8").summary))
    # summary --json: the same sections filled in, but what a user's loop cannot know (its seed, warm-ups,
    # sampling, eval set and tokenizer) and what only a session says (its label in the engine)
    unknowable = {"config.tokenizer", "config.eval_set", "metrics.kv_cache"}  # the cache is the user's
    assert _filled(ours) - unknowable - _filled(theirs) == set()
    assert _filled(theirs) - _filled(ours) <= {"config.checkpoint", "config.recipe"}
    assert doc.config.quant == "int8" and doc.config.backend == "torchao"
    assert doc.metrics.requests == 2 and doc.metrics.tpot_ms is not None and doc.metrics.tpot_ms.n == 2
    assert doc.phases["prefill"].steps == 2 and doc.phases["decode"].steps == 6
    # the model's own verdicts: torchao int8 weight-only dequantizes (CPU), lm_head was left in bf16
    for phase in ("prefill", "decode"):
        paths = {s.module: s.path for s in doc.sites if s.phase == phase and s.kind == "linear"}
        assert paths["lm_head"] == "unquantized" and len(paths) == len(run.manifest.sites) == 29
        assert {p for m, p in paths.items() if m != "lm_head"} == {"dequant-then-compute"}


def test_timing_only_has_no_profiler_and_no_table(loops: dict[str, Path]) -> None:
    run = load_run(loops["timing"])
    assert run.complete and not run.has_table
    assert run.metrics.timing is not None and "no profiler" in run.metrics.timing.clock
    assert "under torch.profiler" in load_run(loops["profiled"]).metrics.timing.clock  # type: ignore[union-attr]
    result = ks("summary", str(loops["timing"]))
    assert result.returncode == 0 and "timing pass, no profiler" in result.stdout


def test_every_view_reads_the_session_run(loops: dict[str, Path], tmp_path: Path,
                                          capture: Callable[..., Captured]) -> None:
    from kernelscope.tui.app import KernelscopeApp

    chrome = tmp_path / "t.json.gz"
    assert ks("export", str(loops["profiled"]), "--chrome", str(chrome)).returncode == 0
    cmp = compare_runs([capture("--quant", "int8").run, load_run(loops["profiled"])], allow_mismatch=True)
    assert cmp.rows[1].dequant_path_share is not None and cmp.rows[1].dequant_path_share > 0.5

    async def drive() -> None:
        app = KernelscopeApp([load_run(loops["profiled"]), load_run(loops["timing"])])
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            await pilot.press("right_square_bracket")  # the timing-only run: no table, no crash
            await pilot.pause()

    asyncio.run(drive())


def test_a_failing_block_leaves_an_incomplete_run(tmp_path: Path) -> None:
    from kernelscope.tracers import session

    model = _model(quantized=False)
    with pytest.raises(RuntimeError, match="my server fell over"), session(model, out=tmp_path / "r") as s:
        with s.prefill(request=0, tokens=4):
            model(input_ids=torch.arange(4)[None, :])
        raise RuntimeError("my server fell over")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and "my server fell over" in manifest["error"]
    from kernelscope.errors import KernelscopeError

    with pytest.raises(KernelscopeError, match="before its prefill"), session(model, out=tmp_path / "q",
                                                                              profile=False) as s:
        with s.decode(request=3, step=0):
            pass
