"""Rule tables over CPU op names (torch.profiler cpu_op events), per backend.

They match the *op*: on a CPU trace a row's op is the row itself (the ops are the executed kernels,
each counting its self time); on a GPU trace it is the op that launched the kernel, so these tables
also decide kernels whose names say nothing (a copy kernel launched by an int8 -> bf16 aten::copy_,
an element-wise kernel inside quanto::unpack). Library tables
(bitsandbytes, quanto, torchao, torch.ao) come first because they recognise their ops and the
generic aten ops that run *inside* them; the aten table after them decides everything else,
including the dtype-flow rule: an int8/uint8/fp8 weight-sized tensor copied to a float dtype is a
dequantization, whatever the op around it is called.
"""

from __future__ import annotations

from kernelscope.classify.ranges import KV_DEQUANTIZE, KV_QUANTIZE
from kernelscope.classify.rules.base import (
    ConvertsTo,
    InType,
    Marked,
    Not,
    OnDevice,
    Op,
    RuleTable,
    WeightSized,
    Within,
    rule,
)
from kernelscope.classify.rules.ops import ATTENTION_OP, GEMM_OP
from kernelscope.trace.dtypes import FLOATS, INT8ISH
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

INTS = frozenset({"int8", "uint8", "int16", "int32", "int64"})

_ALLOC = r"^aten::(empty|empty_strided|empty_like|zeros|zeros_like|ones|ones_like|full|new_empty|new_zeros|" \
         r"new_empty_strided|resize_|fill_|zero_)$"
_VIEW = r"^aten::(view|_unsafe_view|reshape|_reshape_alias|as_strided|t|transpose|permute|slice|select|expand|" \
        r"unsqueeze|squeeze|detach|alias|lift_fresh|split|chunk|unbind|narrow|flatten|unflatten|contiguous|" \
        r"resolve_conj|resolve_neg|numpy_T|expand_as|view_as|_to_copy_view|set_|item|_local_scalar_dense)$"
_COPY = r"^aten::(copy_|_to_copy|to|clone|cat|stack|index_select|index|index_put_|gather|scatter_|masked_fill_|" \
        r"embedding|_copy_from|_copy_from_and_resize)$"
_BITS = r"^aten::(bitwise_\w+|__(and|or|xor|rshift|lshift|irshift|ilshift|iand|ior|ixor)__)$"
_ELEMENTWISE = r"^aten::(add|add_|sub|sub_|rsub|mul|mul_|div|div_|neg|pow|rsqrt|sqrt|exp|log|tanh|sigmoid|silu|" \
               r"gelu|relu|softmax|_softmax|log_softmax|_log_softmax|mean|sum|max|min|amax|amin|abs|sign|round|" \
               r"clamp|clamp_|clamp_min|clamp_max|where|cos|sin|cumsum|argmax|topk|sort|multinomial|eq|ne|lt|le|" \
               r"gt|ge|isin|all|any|arange|triu|tril|floor|ceil|reciprocal|square|maximum|minimum|norm|" \
               r"linalg_vector_norm|var|std|rms_norm|layer_norm|native_layer_norm|_fused_rms_norm|" \
               r"logical_and|logical_or|logical_not|remainder|fmod|lerp|addcmul|addcdiv|erf|outer|" \
               r"baddbmm_|nan_to_num|bernoulli_|uniform_|normal_|exponential_|random_|div_floor)$"

KERNELSCOPE_MARKS = RuleTable("kernelscope", (
    rule("ks.kv-dequantize", Marked(KV_DEQUANTIZE), role=R.DEQUANT, cls=C.DEQUANT, format="quantized KV cache",
         reason="inside the KV cache's dequantize call (marked by kernelscope's capture)"),
    rule("ks.kv-quantize", Marked(KV_QUANTIZE), role=R.QUANTIZE, cls=C.QUANTIZE, format="quantized KV cache",
         reason="inside the KV cache's quantize call (marked by kernelscope's capture)"),
))

BITSANDBYTES_CPU = RuleTable("bitsandbytes", (
    rule("bnb.gemv_4bit", Op(r"^bitsandbytes::gemv_4bit"), role=R.GEMM, cls=C.NATIVE, format="nf4/fp4 blockwise",
         reason="bitsandbytes' fused 4-bit GEMV reads the packed 4-bit weight directly"),
    rule("bnb.gemm_4bit", Op(r"^bitsandbytes::gemm_4bit"), role=R.OTHER, cls=C.OTHER, format="nf4/fp4 blockwise",
         reason="dispatcher around 4-bit matmul: its own time only; its children decide the path"),
    rule("bnb.dequantize_4bit", Op(r"^bitsandbytes::dequantize_(4bit|blockwise|nf4|fp4)"), role=R.DEQUANT,
         cls=C.DEQUANT, format="nf4/fp4 blockwise", reason="bitsandbytes expands the 4-bit weight to high precision"),
    rule("bnb.inside-dequantize", Within(r"^bitsandbytes::dequantize_"), role=R.DEQUANT, cls=C.DEQUANT,
         format="nf4/fp4 blockwise", reason="work inside bitsandbytes' dequantize op"),
    rule("bnb.int8_linear_matmul", Op(r"^bitsandbytes::int8_linear_matmul"), role=R.OTHER, cls=C.OTHER,
         format="int8 x int8", reason="bitsandbytes' int8 GEMM entry point: its own time only; the op inside "
                                      "it (an int8 GEMM, or an fp32 emulation) decides"),
    rule("bnb.int_mm", Op(r"^aten::_int_mm$"), Within(r"^bitsandbytes::"), role=R.GEMM, cls=C.NATIVE,
         format="int8 x int8", reason="the int8 x int8 -> int32 GEMM that bitsandbytes' int8 matmul runs"),
    rule("bnb.fallback-int8-widen", Op(r"^aten::(copy_|_to_copy|to)$"), Within(r"^bitsandbytes::int8_linear_matmul"),
         role=R.DEQUANT, cls=C.DEQUANT, format="int8 x int8", fallback=True,
         reason="bitsandbytes' portable backend widens both int8 operands to fp32 (this CPU has no int8 GEMM "
                "kernel it will use: torch._int_mm is taken only with AVX-512)"),
    rule("bnb.fallback-int8-fp32-mm", Op(GEMM_OP), Within(r"^bitsandbytes::int8_linear_matmul"), role=R.GEMM,
         cls=C.DENSE, fallback=True, reason="bitsandbytes' portable backend emulates the int8 GEMM with an fp32 matmul"),
    rule("bnb.int8_vectorwise_quant", Op(r"^bitsandbytes::int8_(vectorwise|double)_quant"), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="int8 per-token", reason="bitsandbytes quantizes the activation rows to int8"),
    rule("bnb.inside-quant", Within(r"^bitsandbytes::int8_(vectorwise|double)_quant"), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="int8 per-token", reason="work inside bitsandbytes' activation quantization"),
    rule("bnb.int8_mm_dequant", Op(r"^bitsandbytes::int8_mm_dequant"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="rescales the int32 GEMM output to fp16 (a GEMM epilogue, not a weight dequantization)"),
    rule("bnb.inside-mm-dequant", Within(r"^bitsandbytes::int8_mm_dequant"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="work inside bitsandbytes' output rescale (GEMM epilogue)"),
    rule("bnb.int8_scaled_mm", Op(r"^bitsandbytes::int8_(mixed_)?scaled_mm"), role=R.OTHER, cls=C.OTHER,
         reason="dispatcher around bitsandbytes' int8 matmul: its own time only"),
    rule("bnb.matmul-function", Op(r"^(MatMul8bitLt|MatMul4Bit|MatmulLtState)$"), role=R.OTHER, cls=C.OTHER,
         reason="bitsandbytes autograd wrapper: its own time only"),
))

QUANTO_CPU = RuleTable("quanto", (
    rule("quanto.unpack", Op(r"^quanto::unpack"), role=R.DEQUANT, cls=C.DEQUANT, format="int4/int2 packed",
         reason="quanto unpacks packed sub-byte weights (or KV) before they are scaled"),
    rule("quanto.inside-unpack", Within(r"^quanto::unpack"), role=R.DEQUANT, cls=C.DEQUANT, format="int4/int2 packed",
         reason="work inside quanto's unpack"),
    rule("quanto.dequantizer", Within(r"^(QBitsDequantizer|QBytesDequantizer|Dequantizer)$"), role=R.DEQUANT,
         cls=C.DEQUANT, reason="work inside quanto's dequantizer autograd function"),
    rule("quanto.dequantizer-self", Op(r"^(QBitsDequantizer|QBytesDequantizer|Dequantizer)$"), role=R.DEQUANT,
         cls=C.DEQUANT, reason="quanto's dequantizer (its own time)"),
    rule("quanto.quantize", Op(r"^quanto::(quantize_\w+|pack\w*)"), role=R.QUANTIZE, cls=C.QUANTIZE,
         reason="quanto quantizes (weights at freeze time, KV at cache writes)"),
    rule("quanto.quantizer", Op(r"^\w*(QBits|QBytes|Weights|Activation)\w*Quantizer$"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="quanto's quantizer autograd function: scales, rounding and bit packing"),
    rule("quanto.inside-quantize", Within(r"^(quanto::quantize_|quanto::pack|\w*Quantizer$)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="work inside quanto's quantize / pack"),
    rule("quanto.qbytes_mm", Op(r"^quanto::qbytes_mm"), role=R.OTHER, cls=C.OTHER, format="int8",
         reason="quanto's int8 matmul dispatcher: its own time only; its children decide the path"),
    rule("quanto.gemm", Op(r"^quanto::(gemm_\w+|fp8_marlin\w*)"), role=R.GEMM, cls=C.NATIVE,
         reason="quanto's mixed-precision GEMM kernel (AWQ int4 / Marlin fp8) consumes packed weights"),
    rule("quanto.functions", Op(r"^(TinyGemmQBitsLinearFunction|QuantizedLinearFunction|MarlinF8QBytesLinearFunction|"
                                  r"AWQQBitsLinearFunction|\w*QBits\w*Function|\w*QBytes\w*Function)$"),
         role=R.OTHER, cls=C.OTHER, reason="quanto autograd wrapper: its own time only"),
))

HQQ_CPU = RuleTable("hqq", (
    rule("hqq.dequantize-op", Op(r"^hqq::\w*dequantize\w*"), role=R.DEQUANT, cls=C.DEQUANT, format="hqq packed",
         reason="HQQ's ATen backend dequantizes the packed weight"),
    rule("hqq.matmul-wrapper", Op(r"^HQQMatmul\w*$"), role=R.OTHER, cls=C.OTHER,
         reason="HQQ autograd wrapper: its own time only"),
    rule("hqq.inside-matmul", Within(r"^HQQMatmul\w*$"), Not(Op(GEMM_OP)), role=R.DEQUANT, cls=C.DEQUANT,
         format="hqq packed",
         reason="HQQ's PyTorch backend dequantizes with plain tensor ops (bit unpack, dtype copy, zero-point "
                "subtract, scale multiply) before its matmul"),
))

TORCHAO_CPU = RuleTable("torchao", (
    rule("torchao.dequantize_affine", Op(r"^torchao::dequantize_affine"), role=R.DEQUANT, cls=C.DEQUANT,
         reason="torchao expands quantized weights to high precision"),
    rule("torchao.inside-dequantize", Within(r"^torchao::dequantize_"), role=R.DEQUANT, cls=C.DEQUANT,
         reason="work inside torchao's dequantize_affine"),
    rule("torchao.quantize", Op(r"^torchao::(choose_qparams\w*|quantize_affine\w*|_choose_qparams\w*)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, reason="torchao computes scales and quantizes (dynamic activations)"),
    rule("torchao.inside-quantize", Within(r"^torchao::(choose_qparams|quantize_affine)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="work inside torchao's quantization of activations"),
    rule("torchao.da8w4", Op(r"^torchao::da8w4_linear"), role=R.GEMM, cls=C.NATIVE, format="int4 x int8",
         reason="torchao's int8-activation int4-weight CPU kernel"),
))

TORCH_QUANTIZED_CPU = RuleTable("torch.ao", (
    rule("torchao-legacy.linear_dynamic", Op(r"^quantized::linear_dynamic$"), role=R.GEMM, cls=C.NATIVE,
         format="qint8 (fbgemm/onednn packed)",
         reason="torch.ao dynamic quantized Linear: quantizes the activation and runs an int8 GEMM on packed weights"),
    rule("torchao-legacy.linear_dynamic_fp16", Op(r"^quantized::linear_dynamic_fp16"), role=R.GEMM, cls=C.DENSE,
         format="fp16 packed", reason="fp16-packed weights: a half-precision GEMM, not an integer format"),
    rule("torchao-legacy.linear", Op(r"^quantized::(linear|linear_relu|linear_with_input_q_dq_qweight)\w*$"),
         role=R.GEMM, cls=C.NATIVE, format="qint8", reason="torch.ao quantized Linear on int8 packed weights"),
    rule("torchao-legacy.quantize", Op(r"^aten::(quantize_per_tensor\w*|quantize_per_channel|_choose_qparams\w*|"
                                         r"fake_quantize\w*)$"), role=R.QUANTIZE, cls=C.QUANTIZE,
         reason="ATen quantizes a float tensor"),
    rule("torchao-legacy.dequantize", Op(r"^aten::(dequantize|int_repr)$"), role=R.DEQUANT, cls=C.DEQUANT,
         reason="ATen dequantizes a quantized tensor"),
))

# Inductor's generated C++ kernels (profile --compile on a CPU; inductor.cpp.enable_kernel_profile puts a
# profiler range named graph_<g>_cpp_fused_<origins>_<n> around each). A name lists the ATen ops fused in it:
# that is the only evidence (the range records no inputs).
INDUCTOR_CPU = RuleTable("inductor-cpu", (
    rule("inductor-cpu.runtime", Op(r"^(Torch-Compiled Region|TorchDynamo Cache Lookup|Pregraph bytecode|"
                                    r"AOTDispatcher Runtime Wrapper|CompiledFunction|## Call CompiledFxGraph)"), role=R.OTHER, cls=C.OTHER,
         reason="torch.compile's own host time around a compiled region (guard checks, the wrapper): no kernel"),
    rule("inductor-cpu.int4-extern", Op(r"^quantized::int4mm_packed_weight_cpu$"), role=R.GEMM, cls=C.NATIVE,
         format="int4 CPU-packed, group-wise",
         reason="Inductor's extern call around ATen's int4 CPU GEMM (_weight_int4pack_mm_for_cpu): packed int4 read "
                "directly"),
    rule("inductor-cpu.gemm-lowp", Op(r"cpp_fused\w*(_int_mm|_weight_int[48]pack_mm|_scaled_mm|_da8w4)"),
         role=R.GEMM, cls=C.NATIVE, reason="Inductor C++ GEMM template of an integer / fp8 GEMM op: quantized operands"),
    rule("inductor-cpu.gemm", Op(r"cpp_fused\w*_(mm|addmm|bmm|baddbmm|linear)(_|$)"), role=R.GEMM, cls=C.DENSE,
         reason="Inductor C++ GEMM template (max-autotune) on float operands"),
    rule("inductor-cpu.quantize", Op(r"cpp_fused\w*(round\w*clamp|clamp\w*round)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="Inductor C++ kernel that rounds and clamps: a quantization fused into one kernel "
                                "(dynamic activations, a KV cache)"),
    rule("inductor-cpu.fused", Op(r"(^|_)cpp_fused_"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="Inductor C++ kernel of fused pointwise / reduction ops (norms, rotary, activations, casts)"),
))

# torch.distributed on the host: the collectives' ops (gloo runs them on the CPU; with NCCL they launch the
# kernels the GPU tables read) and DTensor's redistribution around them (tensor parallelism)
DISTRIBUTED_CPU = RuleTable("torch.distributed", (
    rule("dist.collective", Op(r"^(c10d|_c10d_functional|c10d_functional|_dtensor)::\w+|^(gloo|nccl|mpi|ucc):\w+|"
                               r"^record_param_comms$"), role=R.COMMUNICATION, cls=C.OTHER,
         reason="a torch.distributed collective (all-reduce, all-gather, ...) or the wait for one"),
    rule("dist.redistribute", Op(r"^Redistribute$|^DTensor\w*$"), role=R.COMMUNICATION, cls=C.OTHER,
         reason="DTensor redistributing a sharded tensor (tensor parallelism): the collective's host side"),
    rule("subclass.dispatch", Op(r"^(PythonSubclass|_FromTorchTensor|_ToTorchTensor)$"), role=R.OTHER, cls=C.OTHER,
         reason="Python tensor-subclass dispatch (DTensor, torchao, quanto tensors): host time, no kernel"),
))

ATEN_CPU = RuleTable("aten", (
    rule("aten.int4pack_mm", Op(r"^aten::_weight_int4pack_mm\w*$"), role=R.GEMM, cls=C.NATIVE,
         format="int4 tinygemm-packed, group-wise",
         reason="ATen's int4 weight-only GEMM reads the packed int4 weight (tinygemm / CPU packing) directly"),
    rule("aten.int8pack_mm", Op(r"^aten::_weight_int8pack_mm$"), role=R.GEMM, cls=C.NATIVE,
         format="int8 per-channel", reason="ATen's int8 weight-only GEMM reads the int8 weight directly"),
    rule("aten.int_mm", Op(r"^aten::_int_mm$"), role=R.GEMM, cls=C.NATIVE, format="int8 x int8",
         reason="int8 x int8 -> int32 GEMM: both operands quantized"),
    rule("aten.scaled_mm", Op(r"^aten::_scaled_mm$"), role=R.GEMM, cls=C.NATIVE, format="fp8 x fp8",
         reason="scaled low-precision GEMM (fp8 operands with scales)"),
    rule("aten.repack", Op(r"^aten::_(convert_weight_to_int4pack\w*|dyn_quant_pack\w*|weight_int8pack\w*pack)$"),
         role=R.OTHER, cls=C.OTHER,
         reason="repacks a quantized weight into a kernel layout: neither dequant nor compute"),
    rule("aten.dtype-flow-dequant", Op(r"^aten::copy_$"), InType(0, FLOATS), InType(1, INT8ISH), WeightSized(1),
         role=R.DEQUANT, cls=C.DEQUANT,
         reason="dtype flow: a weight-sized int8/uint8/fp8 tensor copied into a float tensor is a dequantization"),
    rule("aten.dtype-flow-dequant-to", Op(r"^aten::(_to_copy|to)$"), InType(0, INT8ISH), ConvertsTo(FLOATS),
         WeightSized(0), role=R.DEQUANT, cls=C.DEQUANT,
         reason="dtype flow: a weight-sized int8/uint8/fp8 tensor converted to a float dtype is a dequantization"),
    rule("aten.bit-unpack", Op(_BITS), InType(0, INTS), role=R.ELEMENTWISE, cls=C.OTHER, generic_unpack=True,
         reason="generic element-wise bit manipulation on integer tensors (how packed data is unpacked "
                "without a kernel)"),
    rule("aten.gemm-float", Op(GEMM_OP), Not(InType(0, INTS)), role=R.GEMM, cls=C.DENSE,
         reason="dense GEMM on floating-point operands"),
    rule("aten.gemm-other", Op(GEMM_OP), role=R.GEMM, cls=C.DENSE, reason="dense GEMM"),
    rule("aten.attention", Op(ATTENTION_OP), role=R.ATTENTION, cls=C.DENSE,
         reason="scaled dot-product attention on floating-point Q/K/V"),
    rule("aten.alloc", Op(_ALLOC), role=R.MEMORY, cls=C.OTHER, reason="allocation / fill"),
    rule("aten.view", Op(_VIEW), role=R.OTHER, cls=C.OTHER, reason="metadata-only view op (dispatch cost only)"),
    rule("aten.copy", Op(_COPY), role=R.MEMORY, cls=C.OTHER,
         reason="data movement / dtype conversion of activations"),
    rule("aten.elementwise", Op(_ELEMENTWISE), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="element-wise or reduction op"),
    rule("aten.other", Op(r"^aten::"), OnDevice(Device.CPU), role=R.OTHER, cls=C.OTHER, generic=True,
         reason="an ATen op no rule lists: not one of ATen's quantized or matrix ops"),
))
