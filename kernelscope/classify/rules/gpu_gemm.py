"""Rule tables for GEMM kernels: low-precision GEMM families (native-quantized: they consume fp8 / int8 /
int4 / fp4 operands), dense GEMMs by the type their name spells, and last a generic GEMM rule that
decides any kernel named for a matrix multiply by the operand types it states. Type tokens differ per
library: cuBLASLt nvjet letters (h fp16, t bf16, s fp32, q e4m3, r e5m2, o e2m1, b int8), XMMA / CUTLASS
fields (`e4m3_e4m3_f32_bf16_bf16`: A, B, accumulator, C, D), Tensile characters (`BBS`, `F8BS`, `I8II`),
trtllm-gen tokens; see the corpus in tests/classify/corpus for real names of each.
"""

from __future__ import annotations

from kernelscope.classify.rules.base import Fn, Name, Not, Op, RuleTable, rule, words
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

DENSE_FORMATS = ((r"tf32", "tf32"), (r"(bf16|bfloat16|_tst|_tss|BBS|B_BS|BSS|DF16b|Bfloat16)", "bf16"),
                  (r"(f16|fp16|half|_hsh|_hss|h\d+gemm|HHS|H_HS|HSS|DF16_|Fp16)", "fp16"),
                  (r"(f64|dgemm|_ddd|DD)", "fp64"), (r"(sgemm|f32|fp32|_sss|s\d+gemm|float)", "fp32"))

LOWP_GEMM = RuleTable("lowp-gemm", (
    rule("vllm.cutlass_scaled_mm", Name(r"cutlass_3x_gemm\w*<(cutlass::float_e4m3_t|cutlass::float_e5m2_t|signed char)"),
         role=R.GEMM, cls=C.NATIVE, formats=((r"<signed char", "int8 x int8 (W8A8)"), (r"float_e5m2", "fp8 e5m2")),
         format="fp8 e4m3 x e4m3 (W8A8)", reason="vLLM cutlass_scaled_mm: a W8A8 GEMM on fp8 or int8 operands", backend="vLLM"),
    rule("vllm.cutlass_fp8_blockwise", Name(r"cutlass_3x_gemm_fp8_blockwise"), role=R.GEMM, cls=C.NATIVE,
         format="fp8 block-scaled", reason="vLLM blockwise-scaled fp8 GEMM", backend="vLLM"),
    rule("deepgemm.lowp", Name(r"(deep_gemm|dpsk::gemm)::\w*(fp8|fp4)\w*"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"fp8_fp4", "fp8 x fp4"), (r"mxfp8", "mxfp8")), format="fp8 block-scaled (DeepGEMM)",
         reason="DeepGEMM fp8 / fp4 GEMM", backend="DeepGEMM"),
    rule("deepgemm.dense", Name(r"(deep_gemm|dpsk::gemm)::\w*(bf16|tf32)\w*gemm"), role=R.GEMM, cls=C.DENSE,
         formats=((r"tf32", "tf32"),), format="bf16", reason="DeepGEMM bf16/tf32 GEMM", backend="DeepGEMM"),
    rule("cublas.nvjet-lowp", Name(r"^nvjet_(sm\d+_)?[qrob]"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"^nvjet_(sm\d+_)?o\w*Avec32UE8M0", "mxfp4"), (r"Avec16UE4M3", "nvfp4"), (r"Avec32UE8M0", "mxfp8"),
                  (r"^nvjet_(sm\d+_)?(qr|rq)", "fp8 e4m3 x e5m2"), (r"^nvjet_(sm\d+_)?r", "fp8 e5m2"),
                  (r"^nvjet_(sm\d+_)?q", "fp8 e4m3"), (r"^nvjet_(sm\d+_)?b", "int8"), (r"^nvjet_(sm\d+_)?o", "fp4 e2m1")),
         reason="cuBLASLt nvjet GEMM whose type tag starts with q/r (fp8), o (fp4) or b (int8)", backend="cuBLAS"),
    rule("cublas.xmma-lowp", Name(r"^sm\d+_xmma_(sparse_)?gemm_(e4m3|e5m2|i8|s8|u8)"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"_gemm_e5m2", "fp8 e5m2"), (r"_gemm_e4m3", "fp8 e4m3"), (r"_gemm_[isu]8", "int8")),
         reason="cuBLAS XMMA GEMM on fp8 / int8 operands (first token = input, output type)", backend="cuBLAS"),
    rule("cublas.legacy-int8", Name(r"^(volta|turing|ampere|ada|hopper)_\w*(i8816|i16832|int8_i|imma|igemm_int8)\w*"),
         role=R.GEMM, cls=C.NATIVE, format="int8", reason="cuBLAS IMMA int8 GEMM", backend="cuBLAS"),
    rule("cutlass.lowp-2x", Name(r"cutlass_(\d+_)?(tensorop|sptensorop|bstensorop|wmma_tensorop)_\w*"
                                 r"(i\d+gemm|gemm_s8|gemm_s4|gemm_u8|_s8_|_s4_|e4m3|e5m2|_f8|_f4|_f6)"),
         role=R.GEMM, cls=C.NATIVE,
         formats=((r"e5m2", "fp8 e5m2"), (r"(e4m3|_f8)", "fp8 e4m3"), (r"(_f4|_f6)", "fp4/fp6"), (r"s4", "int4"),
                  (r"(i\d+gemm|s8|u8)", "int8")),
         reason="CUTLASS 2.x library GEMM on int8 / int4 / fp8 operands", backend="CUTLASS"),
    rule("cutlass.lowp-3x", Name(r"^cutlass3x_sm\d+_\w*(block_scaled|_s8_|_s4_|e4m3|e5m2|e2m1|ue8m0|ue4m3|_f4_|_f6_|_f8_)"),
         role=R.GEMM, cls=C.NATIVE,
         formats=((r"ue4m3xf4", "nvfp4"), (r"ue8m0x(f4|e2m1)", "mxfp4"), (r"ue8m0x", "mxfp8"), (r"e5m2", "fp8 e5m2"),
                  (r"(e4m3|_f8_)", "fp8 e4m3"), (r"_s8_", "int8"), (r"_s4_", "int4")),
         reason="CUTLASS 3.x GEMM on block-scaled / fp8 / int8 operands", backend="CUTLASS"),
    rule("cutlass.lowp-templated", Name(r"^cutlass::(device_kernel|Kernel2?)<.*(float_e4m3_t|float_e5m2_t|float_e2m1_t|"
                                        r"nv_float4_t|mx_float\d_t|Float8|F32E4M3|F32E5M2|MXF4|F8F6F4|FP8FastAccum)"),
         role=R.GEMM, cls=C.NATIVE,
         formats=((r"(float_e2m1_t|nv_float4_t|MXF4)", "fp4"), (r"(float_e5m2_t|E5M2)", "fp8 e5m2")),
         format="fp8 e4m3", reason="templated CUTLASS GEMM whose element types are fp8 / fp4", backend="CUTLASS"),
    rule("rocm.tensile-lowp", Name(r"^(Custom_)?Cijk_A\w{3}_B\w{3}_(\w{2}_)?(F8|B8|I8|4xi8|F8N|B8N)"), role=R.GEMM,
         cls=C.NATIVE, formats=((r"_(F8B8|B8F8)", "fp8 e4m3 x e5m2"), (r"_B8N?", "fp8 e5m2 (bf8)"), (r"_F8N?", "fp8 e4m3"),
                                (r"_(I8|4xi8)", "int8")),
         reason="hipBLASLt/Tensile GEMM whose input type is fp8 / bf8 / int8", backend="hipBLASLt"),
    rule("rocm.aiter-lowp", Name(r"(_gemm_a8w8|_gemm_afp4_?wfp4|_gemm_a16w?fp4|_gemm_a4w4|f8_block_scale|"
                                 r"_batched_gemm_a8w8)"),
         role=R.GEMM, cls=C.NATIVE, formats=((r"(f4gemm|afp4wfp4|a4w4)", "mxfp4"),), format="fp8/int8 W8A8",
         reason="AITER low-precision GEMM (a8w8 / fp8 blockscale / fp4)", backend="AITER"),
    rule("rocm.ck-lowp", Name(r"(ck::kernel_gemm|ck::kernel_moe_gemm|kernel_gemm_xdl)\w*.*(f8_fnuz_t|bf8_fnuz_t|f8_t|"
                              r"bf8_t|signed char)"),
         role=R.GEMM, cls=C.NATIVE, formats=((r"signed char", "int8"),), format="fp8",
         reason="Composable Kernel GEMM on fp8 / int8 operands", backend="Composable Kernel"),
    rule("triton.matmul_ogs-lowp", Name(r"^_?p?_matmul_ogs_\w*x(mxfp4|fp8\w*|float8\w*|u8|i8)"), role=R.GEMM,
         cls=C.NATIVE, formats=((r"mxfp4", "mxfp4 weights"), (r"fp8", "fp8 weights")),
         reason="triton_kernels matmul_ogs (MoE) with quantized weights ({Y}x{X}x{W}: W is the weight type)", backend="triton_kernels"),
    rule("aten-cuda.scaled_mm", Op(r"^aten::_scaled(_grouped)?_mm$"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"fp4", "fp4"),), format="fp8 (aten::_scaled_mm)",
         reason="kernel launched by aten::_scaled_mm: a GEMM on scaled low-precision operands", backend="ATen"),
    rule("aten-cuda.int_mm", Op(r"^aten::_int_mm$"), role=R.GEMM, cls=C.NATIVE, format="int8 x int8",
         reason="kernel launched by aten::_int_mm: int8 x int8 -> int32", backend="ATen"),
    rule("vllm-op.scaled_mm", Op(r"^_C::(cutlass_scaled_mm\w*|cutlass_moe_mm|scaled_fp4_mm|cutlass_scaled_fp4_mm)$"),
         Not(Name(r"(Fill|fill|zero)")), role=R.GEMM, cls=C.NATIVE, format="fp8/int8/fp4 W8A8",
         reason="kernel launched by vLLM's cutlass_scaled_mm op", backend="vLLM"),
), device=Device.GPU)

# ----------------------------------------------------------------------------------- dense GEMMs

DENSE_GEMM = RuleTable("dense-gemm", (
    rule("cublas.nvjet", Name(r"^nvjet_"), role=R.GEMM, cls=C.DENSE,
         formats=((r"sss_tf32", "tf32"), (r"^nvjet_(sm\d+_)?t", "bf16"), (r"^nvjet_(sm\d+_)?h", "fp16"),
                  (r"^nvjet_(sm\d+_)?d", "fp64"), (r"^nvjet_(sm\d+_)?s", "fp32")),
         reason="cuBLASLt nvjet GEMM on 16/32/64-bit float operands (h fp16, t bf16, s fp32, d fp64)", backend="cuBLAS"),
    rule("cublas.xmma", Name(r"^sm\d+_xmma_(sparse_)?gemm_"), role=R.GEMM, cls=C.DENSE, formats=DENSE_FORMATS,
         reason="cuBLAS XMMA GEMM on float operands", backend="cuBLAS"),
    rule("cudnn.sdpa-reduction", Name(r"cudnn::fusion::lean_reduction"), role=R.ATTENTION, cls=C.DENSE,
         reason="cuDNN SDPA's split-KV combine (launched by aten::_cudnn_attention_forward at decode; seen on H200): "
                "merges fp32 partial softmax results, part of dense attention, not a GEMM", backend="cuDNN"),
    rule("cudnn.fusion", Name(r"cudnn::fusion::"), Not(words("convert", "cast")), role=R.ATTENTION, cls=C.DENSE,
         reason="a helper of cuDNN's fused SDPA graph (softmax statistics, dO.O, head reductions): dense attention",
         backend="cuDNN"),
    rule("cudnn.conv", Name(r"(^sm\d+_xmma_(fprop|dgrad|wgrad)|implicit_gemm|cudnn::(\w+::)*\w*(conv(?!ert)|fprop|dgrad|wgrad))"),
         role=R.GEMM,
         cls=C.DENSE, formats=DENSE_FORMATS, reason="convolution (implicit GEMM)", backend="cuDNN"),
    rule("cudnn.conv-word", words("conv2d", "conv1d", "conv3d", "convolution", "fprop", "dgrad", "wgrad",
                                  "winograd", "implicit", base=True), role=R.GEMM, cls=C.DENSE, formats=DENSE_FORMATS, backend="cuDNN",
         reason="convolution kernel (the whole word conv: not convert)"),
    rule("cublas.legacy", Name(r"^(trt_)?(volta|turing|ampere|ada|hopper|maxwell|pascal)_\w*gemm"), role=R.GEMM,
         cls=C.DENSE, formats=DENSE_FORMATS, reason="cuBLAS GEMM on float operands", backend="cuBLAS"),
    rule("cublas.gemv", Name(r"(gemv2[NT]_kernel|gemvx::kernel|gemvNSP|gemmSN_\w+kernel|gemmk1_kernel|"
                             r"gemv_kernel<|dot_kernel)"),
         role=R.GEMM, cls=C.DENSE, formats=DENSE_FORMATS, reason="cuBLAS GEMV / skinny GEMM on float operands", backend="cuBLAS"),
    rule("cublas.splitk-reduce", Name(r"splitKreduce_kernel|_PostGSU"), role=R.GEMM, cls=C.DENSE,
         formats=DENSE_FORMATS, reason="split-K reduction: the tail of the GEMM before it", backend="cuBLAS"),
    rule("cutlass.dense", Name(r"(cutlass_(\d+_)?(simt|tensorop|wmma_tensorop|sptensorop)_\w*gemm|^cutlass3x_sm\d+_\w*gemm)"),
         role=R.GEMM, cls=C.DENSE, formats=DENSE_FORMATS, reason="CUTLASS GEMM on float operands", backend="CUTLASS"),
    rule("cutlass.templated-gemm", Name(r"^cutlass::(device_kernel|Kernel2?)<.*(Gemm|gemm|Mma)"), role=R.GEMM,
         cls=C.DENSE, formats=DENSE_FORMATS, reason="templated CUTLASS GEMM on float operands", backend="CUTLASS"),
    rule("rocm.tensile", Name(r"^(Custom_)?Cijk_"), role=R.GEMM, cls=C.DENSE, formats=DENSE_FORMATS,
         reason="hipBLASLt/Tensile GEMM on float operands (type chars after the indices)", backend="hipBLASLt"),
    rule("rocm.rocblas", Name(r"(rocblas_\w*(gemv|gemm)|wvSplitK|LLGemm1|wv_splitk)"), role=R.GEMM, cls=C.DENSE,
         formats=DENSE_FORMATS, by_operands=True, backend="rocBLAS",
         reason="rocBLAS / vLLM skinny GEMM: its template types decide (wvSplitKQ on fp8 weights is native)"),
    rule("rocm.ck-gemm", Name(r"(ck::kernel_gemm|kernel_gemm_xdl|GemmKernel|UniversalGemmKernel|GemmPipeline)"),
         role=R.GEMM, cls=C.DENSE, by_operands=True, formats=DENSE_FORMATS, backend="Composable Kernel",
         reason="Composable Kernel GEMM: the types it states (QuantGemm, f8_t) decide, dense on floats"),
    rule("triton.matmul_ogs", Name(r"^_?p?_matmul_ogs_"), role=R.GEMM, cls=C.DENSE, formats=DENSE_FORMATS,
         reason="triton_kernels matmul_ogs (MoE) on float weights", backend="triton_kernels"),
    rule("triton.aiter-gemm", Name(r"^_gemm_a16w16"), role=R.GEMM, cls=C.DENSE, format="bf16/fp16",
         reason="AITER Triton bf16/fp16 GEMM", backend="AITER"),
), device=Device.GPU)


# ----------------------------------------------------------- GEMMs named only for what they do

GENERIC_GEMM = RuleTable("generic-gemm", (
    rule("gemm.scaled-mm", Fn(r"(^|_)scaled_(grouped_)?mm(_kernel)?$|^_?w8a8_\w*(mm|matmul)$"), role=R.GEMM,
         cls=C.NATIVE, format="fp8 / int8 (scaled)", generic=True,
         reason="a scaled matmul (scaled_mm, w8a8 block matmul): low-precision operands with scales by definition"),
    rule("gemm.moe", Fn(r"^fused_moe\w*(kernel|run_global)\w*$|^fused_moe_kernel\w*|^_?moe_\w*(gemm|mm)\w*$|run_global$|"
                        r"^fmoe_\w+"),
         role=R.GEMM, cls=C.DENSE, by_operands=True, generic=True,
         reason="a fused MoE GEMM: the weight type it states (gptq / awq / fp8 / int8 in its name or launching op) "
                "decides"),
    rule("gemm.generic", words("gemm", "gemv", "matmul", "mm", "igemm", "hgemm", "sgemm", "dgemm", "bmm", "gemmk",
                               "i8gemm", "f4gemm", "a16w8gemm", "fp8gemm", "bf16gemm", "einsum", "wgmma", base=True),
         Not(Name(r"^triton_(poi|red|per)_")), role=R.GEMM, cls=C.DENSE, by_operands=True, generic=True,
         reason="a kernel named for a matrix multiply; the operand types it states (or its launching op passes) "
                "decide native-quantized or dense"),
), device=Device.GPU)
