"""Every CPU rule, decided on a hand-built context; and a check that no rule goes untested."""

from __future__ import annotations

import pytest

from kernelscope.classify.engine import Classifier
from kernelscope.classify.ranges import KV_DEQUANTIZE, KV_QUANTIZE
from kernelscope.classify.rules.base import KernelContext
from kernelscope.classify.rules.order import MARKS, OP_TABLES
from kernelscope.vocabulary import Device, KernelClass, Role


def cpu(name: str, types: tuple[str, ...] = (), dims: tuple[tuple[int, ...] | None, ...] = (),
        within: tuple[str, ...] = (), converts_to: str = "", marked: str = "") -> KernelContext:
    return KernelContext(name=name, device=Device.CPU, op=name, within=within, in_types=types, in_dims=dims,
                         converts_to=converts_to, marked=marked)


W = (256, 256)  # a weight-sized 2-D shape
ACT = (1, 64, 256)

CASES: list[tuple[KernelContext, str, Role, KernelClass]] = [
    # torch.distributed on the host (profile --tp on a CPU: gloo)
    (cpu("c10d::allreduce_", ("list", "none")), "dist.collective", Role.COMMUNICATION, KernelClass.OTHER),
    (cpu("gloo:all_reduce", ("bf16",), ((1, 32, 256),)), "dist.collective", Role.COMMUNICATION, KernelClass.OTHER),
    (cpu("_c10d_functional::wait_tensor", ("bf16",)), "dist.collective", Role.COMMUNICATION, KernelClass.OTHER),
    (cpu("Redistribute"), "dist.redistribute", Role.COMMUNICATION, KernelClass.OTHER),
    (cpu("PythonSubclass"), "subclass.dispatch", Role.OTHER, KernelClass.OTHER),
    # Inductor's C++ kernels and torch.compile's runtime (profile --compile on a CPU)
    (cpu("Torch-Compiled Region: 0/1"), "inductor-cpu.runtime", Role.OTHER, KernelClass.OTHER),
    (cpu("quantized::int4mm_packed_weight_cpu", ("bf16", "uint8", "int64", "bf16")), "inductor-cpu.int4-extern",
     Role.GEMM, KernelClass.NATIVE),
    (cpu("graph_0_cpp_fused__weight_int8pack_mm_1"), "inductor-cpu.gemm-lowp", Role.GEMM, KernelClass.NATIVE),
    (cpu("graph_0_cpp_fused_addmm_2"), "inductor-cpu.gemm", Role.GEMM, KernelClass.DENSE),
    (cpu("graph_1_cpp_fused_clamp_div_round_to_copy_3"), "inductor-cpu.quantize", Role.QUANTIZE,
     KernelClass.QUANTIZE),
    (cpu("graph_2_cpp_fused__to_copy_add_mean_mul_pow_rsqrt_4"), "inductor-cpu.fused", Role.ELEMENTWISE,
     KernelClass.OTHER),
    (cpu("aten::amax", ("bf16",), (ACT,), marked=KV_QUANTIZE), "ks.kv-quantize", Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("aten::bitwise_and", ("uint8",), ((64, 64),), marked=KV_DEQUANTIZE), "ks.kv-dequantize", Role.DEQUANT,
     KernelClass.DEQUANT),
    (cpu("bitsandbytes::gemv_4bit", ("bf16", "uint8"), (ACT, (32768, 1))), "bnb.gemv_4bit", Role.GEMM,
     KernelClass.NATIVE),
    (cpu("bitsandbytes::gemm_4bit"), "bnb.gemm_4bit", Role.OTHER, KernelClass.OTHER),
    (cpu("bitsandbytes::dequantize_4bit", ("uint8", "fp32")), "bnb.dequantize_4bit", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::empty", within=("bitsandbytes::gemm_4bit", "bitsandbytes::dequantize_4bit")),
     "bnb.inside-dequantize", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("bitsandbytes::int8_linear_matmul", ("int8", "int8")), "bnb.int8_linear_matmul", Role.OTHER,
     KernelClass.OTHER),
    (cpu("aten::copy_", ("fp32", "int8", "scalar"), ((256, 768), (256, 768), ()),
         within=("bitsandbytes::int8_scaled_mm", "bitsandbytes::int8_linear_matmul", "aten::to", "aten::_to_copy")),
     "bnb.fallback-int8-widen", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::mm", ("fp32", "fp32"), within=("bitsandbytes::int8_linear_matmul", "aten::matmul")),
     "bnb.fallback-int8-fp32-mm", Role.GEMM, KernelClass.DENSE),
    (cpu("aten::_int_mm", ("int8", "int8"), within=("MatMul8bitLt", "bitsandbytes::int8_linear_matmul")),
     "bnb.int_mm", Role.GEMM, KernelClass.NATIVE),
    (cpu("bitsandbytes::int8_vectorwise_quant", ("fp16",)), "bnb.int8_vectorwise_quant", Role.QUANTIZE,
     KernelClass.QUANTIZE),
    (cpu("aten::abs", ("fp16",), within=("bitsandbytes::int8_vectorwise_quant",)), "bnb.inside-quant",
     Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("bitsandbytes::int8_mm_dequant", ("int32", "fp32")), "bnb.int8_mm_dequant", Role.ELEMENTWISE,
     KernelClass.OTHER),
    (cpu("aten::mul", ("fp32", "fp32"), within=("bitsandbytes::int8_mm_dequant",)), "bnb.inside-mm-dequant",
     Role.ELEMENTWISE, KernelClass.OTHER),
    (cpu("bitsandbytes::int8_mixed_scaled_mm"), "bnb.int8_scaled_mm", Role.OTHER, KernelClass.OTHER),
    (cpu("MatMul8bitLt"), "bnb.matmul-function", Role.OTHER, KernelClass.OTHER),
    (cpu("quanto::unpack", ("uint8",)), "quanto.unpack", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::bitwise_and", ("uint8",), within=("QBitsDequantizer", "quanto::unpack")), "quanto.inside-unpack",
     Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::mul", ("bf16", "bf16"), within=("QBitsDequantizer",)), "quanto.dequantizer", Role.DEQUANT,
     KernelClass.DEQUANT),
    (cpu("QBitsDequantizer", ("bf16",)), "quanto.dequantizer-self", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("quanto::quantize_affine", ("bf16",)), "quanto.quantize", Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("WeightsQBitsQuantizer", ("bf16",)), "quanto.quantizer", Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("aten::__lshift__", ("uint8",), within=("WeightsQBitsQuantizer",)), "quanto.inside-quantize",
     Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("quanto::qbytes_mm", ("bf16", "int8", "bf16")), "quanto.qbytes_mm", Role.OTHER, KernelClass.OTHER),
    (cpu("quanto::gemm_f16i4_awq"), "quanto.gemm", Role.GEMM, KernelClass.NATIVE),
    (cpu("TinyGemmQBitsLinearFunction", ("bf16", "bf16")), "quanto.functions", Role.OTHER, KernelClass.OTHER),
    (cpu("hqq::hqq_aten_dequantize"), "hqq.dequantize-op", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("HQQMatmulNoCacheMul", ("bf16",)), "hqq.matmul-wrapper", Role.OTHER, KernelClass.OTHER),
    (cpu("aten::sub", ("bf16", "bf16"), ((3072, 64), (3072, 1)), within=("HQQMatmulNoCacheMul",)),
     "hqq.inside-matmul", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("torchao::dequantize_affine", ("int8",)), "torchao.dequantize_affine", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::mul", ("bf16",), within=("torchao::dequantize_affine",)), "torchao.inside-dequantize", Role.DEQUANT,
     KernelClass.DEQUANT),
    (cpu("torchao::choose_qparams_affine", ("bf16",)), "torchao.quantize", Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("aten::amax", ("bf16",), within=("torchao::choose_qparams_affine",)), "torchao.inside-quantize",
     Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("torchao::da8w4_linear_cpu"), "torchao.da8w4", Role.GEMM, KernelClass.NATIVE),
    (cpu("quantized::linear_dynamic", ("fp32", "none", "scalar")), "torchao-legacy.linear_dynamic", Role.GEMM,
     KernelClass.NATIVE),
    (cpu("quantized::linear_dynamic_fp16", ("fp32",)), "torchao-legacy.linear_dynamic_fp16", Role.GEMM,
     KernelClass.DENSE),
    (cpu("quantized::linear", ("quint8",)), "torchao-legacy.linear", Role.GEMM, KernelClass.NATIVE),
    (cpu("aten::quantize_per_tensor", ("fp32",)), "torchao-legacy.quantize", Role.QUANTIZE, KernelClass.QUANTIZE),
    (cpu("aten::dequantize", ("quint8",)), "torchao-legacy.dequantize", Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::_weight_int4pack_mm_for_cpu", ("bf16", "uint8", "scalar", "bf16"), ((1, 256), (256, 128))),
     "aten.int4pack_mm", Role.GEMM, KernelClass.NATIVE),
    (cpu("aten::_weight_int8pack_mm", ("bf16", "int8", "bf16")), "aten.int8pack_mm", Role.GEMM, KernelClass.NATIVE),
    (cpu("aten::_int_mm", ("int8", "int8")), "aten.int_mm", Role.GEMM, KernelClass.NATIVE),
    (cpu("aten::_scaled_mm", ("fp8e4m3", "fp8e4m3")), "aten.scaled_mm", Role.GEMM, KernelClass.NATIVE),
    (cpu("aten::_convert_weight_to_int4pack_for_cpu", ("int32",)), "aten.repack", Role.OTHER, KernelClass.OTHER),
    (cpu("aten::copy_", ("bf16", "int8", "scalar"), (W, W, ())), "aten.dtype-flow-dequant", Role.DEQUANT,
     KernelClass.DEQUANT),
    (cpu("aten::_to_copy", ("int8", "scalar"), (W, ()), converts_to="bf16"), "aten.dtype-flow-dequant-to",
     Role.DEQUANT, KernelClass.DEQUANT),
    (cpu("aten::bitwise_right_shift", ("uint8", "scalar"), ((1536, 64), ())), "aten.bit-unpack", Role.ELEMENTWISE,
     KernelClass.OTHER),
    (cpu("aten::mm", ("bf16", "bf16"), ((64, 256), W)), "aten.gemm-float", Role.GEMM, KernelClass.DENSE),
    (cpu("aten::mm", ("int32", "int32")), "aten.gemm-other", Role.GEMM, KernelClass.DENSE),
    (cpu("aten::_scaled_dot_product_flash_attention_for_cpu", ("bf16", "bf16", "bf16")), "aten.attention",
     Role.ATTENTION, KernelClass.DENSE),
    (cpu("aten::empty_strided"), "aten.alloc", Role.MEMORY, KernelClass.OTHER),
    (cpu("aten::view", ("bf16",)), "aten.view", Role.OTHER, KernelClass.OTHER),
    (cpu("aten::cat"), "aten.copy", Role.MEMORY, KernelClass.OTHER),
    (cpu("aten::silu", ("bf16",)), "aten.elementwise", Role.ELEMENTWISE, KernelClass.OTHER),
    (cpu("aten::_fused_moe_whatever"), "aten.other", Role.OTHER, KernelClass.OTHER),
]

CPU_TABLES = (*MARKS, *OP_TABLES)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(CPU_TABLES)


@pytest.mark.parametrize("ctx, rule_id, role, cls", CASES, ids=[c[1] for c in CASES])
def test_rule_decides(classifier: Classifier, ctx: KernelContext, rule_id: str, role: Role, cls: KernelClass) -> None:
    verdict = classifier.classify(ctx)
    assert (verdict.rule, verdict.role, verdict.kernel_class) == (rule_id, role, cls)
    assert verdict.reason


def test_every_cpu_rule_has_a_case() -> None:
    ids = {r.id for t in CPU_TABLES for r in t.rules}
    assert ids == {c[1] for c in CASES}


def test_rule_ids_are_unique() -> None:
    ids = [r.id for t in CPU_TABLES for r in t.rules]
    assert len(ids) == len(set(ids))


def test_dtype_flow_needs_a_weight_sized_integer_source(classifier: Classifier) -> None:
    small = cpu("aten::copy_", ("bf16", "int8", "scalar"), ((4, 4), (4, 4), ()))
    float_source = cpu("aten::copy_", ("bf16", "fp32", "scalar"), (W, W, ()))
    int_to_int = cpu("aten::_to_copy", ("uint8", "scalar"), (W, ()), converts_to="uint8")
    assert classifier.classify(small).rule == "aten.copy"
    assert classifier.classify(float_source).rule == "aten.copy"
    assert classifier.classify(int_to_int).rule == "aten.copy"


def test_unknown_op_gets_the_unknown_rule(classifier: Classifier) -> None:
    verdict = classifier.classify(cpu("mylib::fancy_op"))
    assert (verdict.rule, verdict.role, verdict.kernel_class) == ("unknown", Role.OTHER, KernelClass.OTHER)
