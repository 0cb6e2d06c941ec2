from __future__ import annotations

from kernelscope.classify.attribute import PhaseSource, attribute
from kernelscope.classify.link import build_rows, op_tree
from kernelscope.trace.reader import parse_trace
from kernelscope.vocabulary import Phase
from tests.trace_events import TraceBuilder


def _attribute(b: TraceBuilder, decode_max_tokens: int = 32):  # type: ignore[no-untyped-def]
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    return trace, rows, attribute(trace, rows, decode_max_tokens)


def test_kernelscope_ranges_give_phase_step_request_and_module() -> None:
    b = TraceBuilder()
    b.range("ks/prefill/r0", 0, 100)
    b.range("ks/module/model.layers.0.mlp", 10, 50)
    b.range("ks/module/model.layers.0.mlp.up_proj", 20, 10)
    b.op("aten::mm", 21, 5)
    b.op("aten::silu", 40, 5)
    b.range("ks/decode/r0/s3", 200, 100)
    b.op("aten::mm", 210, 5)
    b.op("aten::argmax", 400, 5)  # between steps
    b.range("ks/kv/dequantize", 205, 2)
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.KERNELSCOPE
    assert att.phase.to_list() == [Phase.PREFILL, Phase.PREFILL, Phase.DECODE, Phase.OTHER]
    assert att.step.tolist() == [-1, -1, 3, -1]
    assert att.request.tolist() == [0, 0, 0, -1]
    assert att.module.to_list() == ["model.layers.0.mlp.up_proj", "model.layers.0.mlp", "", ""]
    assert att.marks.to_list() == ["", "", "", ""]


def test_kv_marks_are_attributed() -> None:
    b = TraceBuilder()
    b.range("ks/decode/r0/s0", 0, 100)
    b.range("ks/kv/dequantize", 10, 20)
    b.op("aten::bitwise_and", 12, 3)
    _, _, att = _attribute(b)
    assert att.marks.to_list() == ["ks/kv/dequantize"]


def test_vllm_step_annotations() -> None:
    b = TraceBuilder()
    b.range("execute_context_2(sq64sk64)_generation_0(sq0sk0)", 0, 100)
    b.op("aten::mm", 10, 5)
    b.range("execute_8192_context_0(sq0sk0)_generation_37(sq37sk34489sqsq37sqsk34489)", 200, 100)
    b.op("aten::mm", 210, 5)
    b.range("execute_8192_context_9(sq8155sk8430)_generation_37(sq37sk34489)", 400, 100)
    b.op("aten::mm", 410, 5)
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.VLLM
    assert att.phase.to_list() == [Phase.PREFILL, Phase.DECODE, Phase.MIXED]


def test_sglang_step_annotations() -> None:
    b = TraceBuilder()
    b.range("step[EXTEND bs=4 toks=512]", 0, 100)
    b.op("aten::mm", 10, 5)
    b.range("step[DECODE bs=4]", 200, 100)
    b.op("aten::mm", 210, 5)
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.SGLANG
    assert att.phase.to_list() == [Phase.PREFILL, Phase.DECODE]


def test_other_user_annotations_saying_prefill_or_decode() -> None:
    b = TraceBuilder()
    b.range("my_prefill", 0, 100)
    b.op("aten::mm", 10, 5)
    b.range("decode_loop", 200, 100)
    b.op("aten::mm", 210, 5)
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.ANNOTATION
    assert att.phase.to_list() == [Phase.PREFILL, Phase.DECODE]


def test_kernelscope_ranges_outrank_engine_annotations() -> None:
    b = TraceBuilder()
    b.range("execute_context_2(sq64sk64)_generation_0(sq0sk0)", 0, 100)
    b.range("ks/decode/r1/s0", 5, 50)
    b.op("aten::mm", 10, 5)
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.KERNELSCOPE
    assert att.phase.to_list() == [Phase.DECODE]


def test_heuristic_from_gemm_tokens_fills_forward() -> None:
    b = TraceBuilder()
    b.op("aten::mm", 0, 5, ["c10::BFloat16", "c10::BFloat16"], [[512, 256], [256, 256]])
    b.op("aten::silu", 10, 5, ["c10::BFloat16"], [[512, 256]])
    b.op("aten::mm", 20, 5, ["c10::BFloat16", "c10::BFloat16"], [[4, 256], [256, 256]])
    b.op("aten::add", 30, 5, ["c10::BFloat16"], [[4, 256]])
    _, _, att = _attribute(b, decode_max_tokens=32)
    assert att.phase_source is PhaseSource.HEURISTIC
    assert att.phase.to_list() == [Phase.PREFILL, Phase.PREFILL, Phase.DECODE, Phase.DECODE]
    assert att.decode_max_tokens == 32


def test_no_annotations_and_no_gemm_shapes_says_none() -> None:
    b = TraceBuilder()
    b.op("aten::add", 0, 5)
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.NONE
    assert att.phase.to_list() == [Phase.OTHER]


def test_the_engine_behind_step_annotations_comes_from_its_op_namespaces() -> None:
    """SGLang runs some of vLLM's ops; an annotation's style alone does not name the engine."""
    for op, engine in (("sgl_kernel::fused_add_rmsnorm", PhaseSource.SGLANG), ("_C::rms_norm", PhaseSource.VLLM),
                       ("aten::add", PhaseSource.VLLM)):
        b = TraceBuilder()
        b.range("execute_context_2(sq64sk64)_generation_0(sq0sk0)", 0, 100)
        b.op("aten::mm", 10, 5)
        b.op(op, 20, 5)
        _, _, att = _attribute(b)
        assert att.phase_source is engine, op
        assert "vLLM's execute_context_N_generation_M style" in att.note
    b = TraceBuilder()
    b.range("step[DECODE bs=4]", 0, 100)
    b.op("vllm::unified_attention", 10, 5)
    b.op("sglang::moe_align", 20, 5)
    assert _attribute(b)[2].phase_source is PhaseSource.SGLANG


def test_a_trace_without_generation_structure_gets_no_invented_decode() -> None:
    """A diffusion step: the image tokens' GEMMs run at M = 4096, the timestep embedding at M = 2 on a weight
    of its own. No weight ran at both counts, so there is no prefill and no decode."""
    b = TraceBuilder()
    for step in range(3):
        t = step * 100
        b.op("aten::addmm", t, 5, ["c10::BFloat16"] * 3, [[1280], [2, 320], [320, 1280]])  # timestep MLP
        b.op("aten::mm", t + 10, 5, ["c10::BFloat16"] * 2, [[4096, 1280], [1280, 1280]])
        b.op("aten::silu", t + 20, 5, ["c10::BFloat16"], [[4096, 1280]])
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.NONE
    assert set(att.phase.to_list()) == {Phase.OTHER}
    assert "no prefill / decode structure" in att.note


def test_the_activation_of_addmm_is_its_second_input_not_the_bias() -> None:
    b = TraceBuilder()
    b.op("aten::addmm", 0, 5, ["c10::BFloat16"] * 3, [[256], [300, 256], [256, 256]])  # prefill
    b.op("aten::addmm", 10, 5, ["c10::BFloat16"] * 3, [[256], [1, 256], [256, 256]])  # decode, same weight
    b.op("aten::baddbmm", 20, 5, ["c10::BFloat16"] * 3, [[1, 1, 64], [1, 1, 64], [1, 64, 64]])
    _, _, att = _attribute(b)
    assert att.phase_source is PhaseSource.HEURISTIC
    assert att.phase.to_list() == [Phase.PREFILL, Phase.DECODE, Phase.DECODE]
