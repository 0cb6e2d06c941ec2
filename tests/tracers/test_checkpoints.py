"""Checkpoints as shipped: small checkpoints of the embedded model built at test time in each format,
profiled with no --quant, their verdicts asserted; a model of another architecture gets the same
verdicts from its saved checkpoint as from the same recipe applied on the fly."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torchao.quantization as ao

from kernelscope.cli import main
from kernelscope.fixtures_path import fixture_model_dir
from kernelscope.report.aggregate import check_invariants, summarize_run
from kernelscope.report.documents import Summary
from kernelscope.runs.store import load_run
from tests.helpers import assert_one_line_error, ks
from tests.tracers import checkpoints as build
from tests.tracers.conftest import SMALL_WORKLOAD, has_avx512_bf16

NAT, DQ, FB, UQ = "native-quantized", "dequant-then-compute", "fallback", "unquantized"
SOURCE = Path(fixture_model_dir())

BUILDERS: dict[str, Callable[[Path, Path], Path]] = {
    "torchao-int8": build.torchao(ao.Int8WeightOnlyConfig()),
    "torchao-w8a8": build.torchao(ao.Int8DynamicActivationInt8WeightConfig()),
    "torchao-int4": build.torchao(ao.IntxWeightOnlyConfig(weight_dtype=torch.int4)),
    "bnb-nf4": build.bitsandbytes(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16),
    "bnb-int8": build.bitsandbytes(load_in_8bit=True),
    "quanto-int8": build.quanto_int8,
    "ct-w8a8": build.compressed("w8a8"),
    "ct-w4a16": build.compressed("w4a16"),
    "ct-fp8": build.compressed("fp8"),
    "fp8-block": build.fp8_blockwise,
    "gguf-q8": build.gguf_q8,
}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Summary]:
    root = tmp_path_factory.mktemp("ckpt")
    done: dict[str, Summary] = {}

    def profile(name: str) -> Summary:
        if name not in done:
            folder = BUILDERS[name](SOURCE, root / name)
            out = root / f"run-{name}"
            assert main(["profile", str(folder), *SMALL_WORKLOAD, "--out", str(out)]) == 0
            run = load_run(out)
            done[name] = summarize_run(run)
            check_invariants(run.table, done[name])
        return done[name]

    return profile


def paths(doc: Summary, phase: str) -> dict[str, str]:
    return {s.module: s.path for s in doc.sites if s.phase == phase and s.kind == "linear"}


def quantized_paths(doc: Summary, phase: str) -> set[str]:
    return {p for m, p in paths(doc, phase).items() if m != "lm_head"}


EXPECTED = {  # name -> (method, mode, {phase: path of every quantized Linear})
    "torchao-int8": ("torchao", "int8", {"prefill": DQ, "decode": DQ}),
    "torchao-w8a8": ("torchao", "w8a8", {"prefill": NAT, "decode": NAT}),
    "torchao-int4": ("torchao", "int4", {"prefill": DQ, "decode": DQ}),
    "quanto-int8": ("quanto", "int8", {"prefill": NAT, "decode": NAT}),
    # compressed-tensors in transformers (no vLLM): the weights stay compressed and every call emulates the
    # scheme in floats (fake-quantized activations, a dense bf16 GEMM): the library's portable path
    "ct-w8a8": ("compressed-tensors", "w8a8", {"prefill": FB, "decode": FB}),
    "ct-w4a16": ("compressed-tensors", "int4", {"prefill": FB, "decode": FB}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_checkpoint_is_profiled_as_shipped(name: str, shipped: Callable[[str], Summary]) -> None:
    doc = shipped(name)
    method, mode, verdicts = EXPECTED[name]
    cfg = doc.config
    assert cfg.checkpoint is not None and cfg.checkpoint.what == "quantized checkpoint"
    assert (cfg.checkpoint.method, cfg.quant, cfg.backend) == (method, mode, method)
    assert cfg.checkpoint.loaded_as.startswith("kept quantized in memory (28 of 29 Linears)")
    assert "lm_head" in cfg.checkpoint.kept_in_high_precision and cfg.checkpoint.parameters
    assert cfg.quantized.weights
    for phase, path in verdicts.items():
        assert quantized_paths(doc, phase) == {path}
        assert paths(doc, phase)["lm_head"] == UQ


def test_bitsandbytes_checkpoints_follow_the_cpu(shipped: Callable[[str], Summary]) -> None:
    nf4, int8 = shipped("bnb-nf4"), shipped("bnb-int8")
    assert nf4.config.checkpoint is not None and nf4.config.checkpoint.parameters["bnb_4bit_quant_type"] == "nf4"
    assert nf4.config.quant == "nf4" and int8.config.quant == "int8"
    for phase in ("prefill", "decode"):  # the same as the recipes applied on the fly (test_capture_modes.py)
        assert quantized_paths(nf4, phase) == ({NAT} if has_avx512_bf16() else {DQ})
        assert quantized_paths(int8, phase) == (
            {NAT} if torch.backends.cpu.get_cpu_capability() == "AVX512" else {FB})


@pytest.mark.parametrize("name", ["fp8-block", "gguf-q8"])
def test_a_checkpoint_dequantized_at_load_never_looks_quantized(name: str, shipped: Callable[[str], Summary]) -> None:
    """FP8 on a machine without an FP8 GPU, and GGUF always, are dequantized by transformers as they load:
    the model runs as dense bf16, and every verdict says so."""
    doc = shipped(name)
    assert doc.config.checkpoint is not None and doc.config.checkpoint.loaded_as.startswith("dequantized at load")
    assert doc.config.quant == "bf16" and doc.config.quantized.weights == ""
    for phase in ("prefill", "decode"):
        assert set(paths(doc, phase).values()) == {UQ}
        assert doc.phases[phase].time_by_path[NAT] == doc.phases[phase].time_by_path[DQ] == 0.0
    if name == "gguf-q8":
        assert "Q8_0 (29)" in doc.config.checkpoint.parameters["tensor_types"]


def test_compressed_fp8_decode_is_emulated(shipped: Callable[[str], Summary]) -> None:
    """Decode only: at prefill the activations' fp8 round trip is as large as a weight, and the conversion
    rules read it as a weight's dequantize (a known misreading, noted in the README)."""
    doc = shipped("ct-fp8")
    assert doc.config.quantized.weights.startswith("float8 channel") and doc.config.quantized.activations
    assert quantized_paths(doc, "decode") == {FB}


@pytest.mark.parametrize(("method", "extra"), [({"quant_method": "gptq", "bits": 4, "group_size": 128}, "gptq"),
                                               ({"quant_method": "awq", "bits": 4, "group_size": 128}, "awq")])
def test_a_missing_loader_library_is_one_line_naming_the_extra(method: dict[str, Any], extra: str,
                                                               tmp_path: Path) -> None:
    if importlib.util.find_spec("gptqmodel") is not None:
        pytest.skip("gptqmodel is installed here")
    folder = build.declared_only(method)(SOURCE, tmp_path / extra)
    assert_one_line_error(ks("profile", str(folder), *SMALL_WORKLOAD, "--out", str(tmp_path / "r")), 2,
                          f"pip install 'kernelscope[{extra}]'")


def test_a_weight_mode_on_a_quantized_checkpoint_is_refused(tmp_path: Path) -> None:
    folder = build.declared_only({"quant_method": "bitsandbytes", "load_in_4bit": True})(SOURCE, tmp_path / "c")
    result = ks("profile", str(folder), "--quant", "int4", *SMALL_WORKLOAD, "--out", str(tmp_path / "r"))
    assert_one_line_error(result, 2, "is a quantized checkpoint (bitsandbytes")
    assert not (tmp_path / "r").exists()
    result = ks("profile", str(folder), "--quality", *SMALL_WORKLOAD, "--out", str(tmp_path / "q"))
    assert_one_line_error(result, 2, "--baseline MODEL")


def test_an_hqq_checkpoint_says_why_it_cannot_load(tmp_path: Path) -> None:
    """transformers 5 cannot load HQQ checkpoints yet: its own reason, in one line."""
    folder = build.declared_only({"quant_method": "hqq", "quant_config": {"nbits": 4, "group_size": 64}})(
        SOURCE, tmp_path / "hqq")
    result = ks("profile", str(folder), *SMALL_WORKLOAD, "--out", str(tmp_path / "r"))
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("kernelscope: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr and "hqq" in lines[0].lower() + str(folder)


def test_another_architecture_saved_by_the_library_matches_the_recipe_on_the_fly(tmp_path: Path) -> None:
    from torchao.quantization import Int8WeightOnlyConfig

    model = build.other_architecture(tmp_path / "qwen2-tiny", SOURCE)
    saved = build.torchao(Int8WeightOnlyConfig())(model, tmp_path / "qwen2-tiny-int8")
    docs = []
    for folder, extra in ((model, ["--quant", "int8", "--backend", "torchao"]), (saved, [])):
        out = tmp_path / f"run-{folder.name}"
        assert main(["profile", str(folder), *extra, *SMALL_WORKLOAD, "--out", str(out)]) == 0
        docs.append(summarize_run(load_run(out)))
    on_the_fly, as_shipped = docs
    assert as_shipped.config.checkpoint is not None and on_the_fly.config.checkpoint is None
    for phase in ("prefill", "decode"):
        fly, ship = paths(on_the_fly, phase), paths(as_shipped, phase)
        assert set(fly) == set(ship) and len(fly) == 3 * 7 + 1
        # torchao's quantize_ through transformers also quantizes lm_head unless told not to; on the fly
        # kernelscope leaves it: compare the Linears both quantized
        both = [m for m in fly if m != "lm_head"]
        assert {m: fly[m] for m in both} == {m: ship[m] for m in both} and set(fly[m] for m in both) == {DQ}
    assert json.loads(json.dumps(as_shipped.config.checkpoint.parameters))["quant_type.default.type"] == \
        "Int8WeightOnlyConfig"


def test_a_checkpoint_lines_up_with_its_parent(tmp_path: Path, capture: Callable[..., Any]) -> None:
    """--baseline PARENT: the quality baseline, and the fixed 'model' compare lines the runs up by."""
    from kernelscope.report.compare import compare_runs

    folder = BUILDERS["torchao-int8"](SOURCE, tmp_path / "ckpt")
    out = tmp_path / "run"
    assert main(["profile", str(folder), "--baseline", str(SOURCE), "--quality", "--quality-windows", "2",
                 *SMALL_WORKLOAD, "--out", str(out)]) == 0
    run = load_run(out)
    assert run.config.checkpoint is not None and run.config.checkpoint.path == str(folder.resolve())
    assert run.config.model.path == str(SOURCE.resolve()) and run.config.checkpoint.hash != run.config.model.hash
    quality = run.metrics.quality
    assert quality is not None and quality.kld_mean is not None and quality.kld_mean > 0
    parent = capture("--quant", "bf16").run
    rows = compare_runs([parent, run]).rows  # no --allow-mismatch: the same fixed variables
    assert rows[1].quant == "int8" and rows[1].dequant_path_share == 1.0
