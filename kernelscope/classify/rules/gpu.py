"""Rule tables for GPU kernel names (CUDA and ROCm), one per backend family.

Names are matched as torch.profiler writes them (CUPTI/roctracer demangled, 'void ' and a trailing
ellipsis stripped), and as nsys prints them (casts like '(int)128', '(bool)1'). Every rule says what
the name implies about the weight / KV format. Sources for each family are in docs/kernels.md.

Order matters: specific library kernels first, then low-precision GEMM families (which consume
quantized formats natively), then dense GEMMs by dtype, then attention (whose KV dtype is read from
the name where it shows), then everything that must never count as quantized compute.
"""

from __future__ import annotations

from kernelscope.classify.rules.base import AnyInType, Name, Not, Op, RuleTable, rule
from kernelscope.trace.dtypes import FLOATS, INT8ISH, LOW_FLOATS
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

QUANT_TYPES = frozenset({"int8", "uint8", "int32"}) | LOW_FLOATS

# Device memory activity (gpu_memcpy / gpu_memset events) first: a cuBLAS workspace memset is
# launched by aten::mm, but it is no GEMM.
DEVICE_MEMORY = RuleTable("runtime", (
    rule("runtime.memcpy", Name(r"^(Memcpy|Memset|\[CUDA mem)"), role=R.MEMORY, cls=C.OTHER,
         reason="device memory copy / set (gpu_memcpy / gpu_memset event)"),
), device=Device.GPU)

# ----------------------------------------------------------------------------------- bitsandbytes

BITSANDBYTES_CUDA = RuleTable("bitsandbytes", (
    rule("bnb-cuda.gemv_4bit", Name(r"^kgemm_4bit_inference"), role=R.GEMM, cls=C.NATIVE,
         format="nf4/fp4 blockwise absmax",
         reason="bitsandbytes' fused 4-bit GEMV (one activation row) reads the packed 4-bit weight"),
    rule("bnb-cuda.gemm_4bit", Name(r"^gemm_4bit_(simt|sm80_m16n8k16|sm75_m16n8k8)<"), role=R.GEMM, cls=C.NATIVE,
         format="nf4/fp4 blockwise absmax",
         reason="bitsandbytes >= 0.50 4-bit GEMM (up to 1536 rows) computes from packed 4-bit weights"),
    rule("bnb-cuda.dequantize_4bit", Name(r"^kDequantizeBlockwise<[^,]+, [^,]+, [^,]+, [^,]+, (\(int\))?[12]>"),
         role=R.DEQUANT, cls=C.DEQUANT, formats=((r", (\(int\))?2>", "nf4 blockwise"), (r", (\(int\))?1>", "fp4 blockwise")),
         reason="bitsandbytes expands 4-bit NF4/FP4 blocks to 16/32-bit for a dense GEMM"),
    rule("bnb-cuda.dequantize_blockwise", Name(r"^kDequantize(Blockwise)?\b"), role=R.DEQUANT, cls=C.DEQUANT,
         format="8-bit blockwise (nested absmax or 8-bit state)",
         reason="bitsandbytes 8-bit blockwise dequantization (next to 4-bit kernels: the nested absmax decode)"),
    rule("bnb-cuda.int8_vector_quant", Name(r"^kInt8VectorQuant<"), role=R.QUANTIZE, cls=C.QUANTIZE,
         format="int8 per-row absmax (activations)", reason="LLM.int8 quantizes activation rows to int8"),
    rule("bnb-cuda.quantize_blockwise", Name(r"^kQuantizeBlockwise|^kQuantize\b"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="bitsandbytes blockwise quantization (weight load / nested absmax)"),
    rule("bnb-cuda.dequant_mm_epilogue", Name(r"^kdequant_mm_int32_fp16<"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="rescales the int32 GEMM output of LLM.int8 (a GEMM epilogue, not a weight dequant)"),
    rule("bnb-cuda.legacy-transform", Name(r"^k(TransformRowToFormat|ExtractOutliers|DoubleRowColQuant|"
                                           r"getColRowStats|spmm_coo)"),
         role=R.OTHER, cls=C.OTHER, reason="bitsandbytes <= 0.44 layout transforms / outlier bookkeeping"),
), device=Device.GPU)

# ------------------------------------------------------------------------------- ATen / torchao

ATEN_QUANT_CUDA = RuleTable("aten", (
    rule("aten-cuda.tinygemm", Name(r"tinygemm_m16n8k16_chunk_kernel"), role=R.GEMM, cls=C.NATIVE,
         format="int4 group-wise (tinygemm packed)",
         reason="ATen's tinygemm int4 GEMM (aten::_weight_int4pack_mm; torchao int4 tile_packed_to_4d) "
                "reads the packed int4 weight", backend="ATen"),
    rule("aten-cuda.int4-repack", Name(r"matrix_to_m16n8k16_Bint4_layout"), role=R.OTHER, cls=C.OTHER,
         reason="packs an int4 weight into tinygemm's layout (load time): neither dequant nor compute", backend="ATen"),
    rule("aten-cuda.int8pack_mm", Name(r"weight_int8pack_mm_kernel"), role=R.GEMM, cls=C.NATIVE,
         format="int8 per-channel", reason="ATen's int8 weight-only GEMM reads the int8 weight", backend="ATen"),
    rule("torchao-cuda.mixed-input", Name(r"(MixedInput|int4b_t|uint4b_t)"), role=R.GEMM, cls=C.NATIVE,
         format="int4 (CUTLASS mixed-input)",
         reason="CUTLASS mixed-input GEMM (fbgemm/mslk bf16i4bf16, f8i4bf16): int4 weights dequantized in registers", backend="torchao"),
), device=Device.GPU)

# ------------------------------------------------------------------------ vLLM weight-only kernels

MARLIN = RuleTable("marlin", (
    rule("marlin.repack", Name(r"(gptq_marlin_repack|awq_marlin_repack|marlin_\w*repack|prepack_B_kernel|"
                               r"marlin_int4_fp8_preprocess|marlin_fp8_scales_preprocess)"),
         role=R.OTHER, cls=C.OTHER,
         reason="repacks already-quantized weights into the Marlin/Machete tile layout (load time): "
                "neither dequant nor compute"),
    rule("marlin.permute", Name(r"(^|::)permute_cols_kernel"), role=R.OTHER, cls=C.OTHER,
         reason="activation column permutation for act-order GPTQ (runs inside the Marlin op)"),
    rule("marlin.gemm", Name(r"(^|::)Marlin(_24)?<"), role=R.GEMM, cls=C.NATIVE,
         format="int4/int8/fp8/fp4 weight-only (Marlin tiles)",
         reason="Marlin / GPTQ-Marlin / AWQ-Marlin / marlin_moe_wna16 GEMM: dequantizes in registers, "
                "consumes the packed weight"),
    rule("marlin.machete", Name(r"machete::"), role=R.GEMM, cls=C.NATIVE, format="int4/int8 group-wise (Machete)",
         reason="Machete (Hopper) mixed-input GEMM consumes the packed weight"),
), device=Device.GPU)

AWQ_GPTQ = RuleTable("awq-gptq", (
    rule("awq.gemm", Name(r"(gemm_forward_4bit_cuda_m16n\w*k32|^awq_gemm_kernel|gemm_w4a16_T\d)"), role=R.GEMM,
         cls=C.NATIVE, format="int4 AWQ group-wise", reason="AWQ GEMM reads the packed int4 weight", backend="AWQ"),
    rule("awq.gemv", Name(r"^gemv_kernel(_g\d+)?<\w+, \w+, \w+, \w+>\(__half const\*, unsigned int const\*"),
         role=R.GEMM, cls=C.NATIVE, format="int4 AWQ group-wise",
         reason="AutoAWQ's fused int4 GEMV (decode, batch < 8) reads the packed weight", backend="AWQ"),
    rule("awq.dequantize", Name(r"(awq::dequantize_weights|^dequantize_weights\(|^awq_dequantize_kernel)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="int4 AWQ group-wise",
         reason="AWQ expands int4 weights to fp16 before a dense GEMM (large batches)", backend="AWQ"),
    rule("gptq.gemm", Name(r"(gemm_half_q_half(_gptq|_alt)?(_\dbit)?_kernel|^q4_matmul_kernel)"), role=R.GEMM,
         cls=C.NATIVE, format="int2-8 GPTQ / EXL2", reason="exllama-style GPTQ GEMM reads the packed weight", backend="GPTQ/exllama"),
    rule("gptq.reconstruct", Name(r"(reconstruct_exllama_\w*kernel|reconstruct_gptq_\w*kernel|"
                                  r"^reconstruct_kernel\(unsigned int const\*)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="GPTQ packed",
         reason="GPTQ 'reconstruct' expands the packed weight to fp16 for a cuBLAS GEMM (large batches)", backend="GPTQ/exllama"),
    rule("gptq.repack", Name(r"(make_sequential_\w*kernel|shuffle_\d+bit_kernel|^shuffle_kernel|column_remap_kernel)"),
         role=R.OTHER, cls=C.OTHER, reason="GPTQ weight reordering at load time: neither dequant nor compute", backend="GPTQ/exllama"),
    rule("ggml.dequantize", Name(r"(ggml_dequantize|dequantize_block(_q\w+)?\b|^dequantize_mul_mat_vec)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="GGUF", reason="GGUF block dequantization", backend="GGUF"),
), device=Device.GPU)

TRTLLM = RuleTable("tensorrt-llm", (
    rule("trtllm.weight-only-gemv", Name(r"(weight_only::kernel<|weight_only_batched_gemv|weightOnlyBatchedGemv)"),
         role=R.GEMM, cls=C.NATIVE, formats=((r"Int4DetailsW", "int4 weight-only"), (r"Int8DetailsW", "int8 weight-only")),
         format="int4/int8 weight-only",
         reason="TensorRT-LLM's CUDA-core weight-only batched GEMV reads int4/int8 weights"),
    rule("trtllm.fpA_intB", Name(r"(GemmFpAIntB|DqMma|fpA_intB)"), role=R.GEMM, cls=C.NATIVE,
         format="int4/int8 weight-only (fpA_intB)",
         reason="TensorRT-LLM's CUTLASS fpA_intB GEMM dequantizes int weights in the mainloop"),
    rule("trtllm.cuda-core-lowp", Name(r"cudaCoreGemm"), role=R.GEMM, cls=C.NATIVE, format="fp8/fp4",
         reason="TensorRT-LLM's CUDA-core FP8/NVFP4 GEMM"),
    rule("trtllm.gen-bmm-lowp", Name(r"^(bmm|gemm|Gemm)_\w+?_(E4m3|E5m2|E2m1|Int8)"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"E2m1", "fp4 e2m1"), (r"E4m3", "fp8 e4m3"), (r"E5m2", "fp8 e5m2")),
         reason="trtllm-gen GEMM/BMM cubin with low-precision operands ({Out}_{A}{B}_{Acc})"),
    rule("trtllm.gen-bmm", Name(r"^(bmm|gemm|Gemm)_(Bfloat16|Fp16|Fp32)_(Bfloat16|Fp16|Fp32)"), role=R.GEMM,
         cls=C.DENSE, reason="trtllm-gen GEMM/BMM cubin on 16/32-bit operands"),
    rule("trtllm.kv-write-quant", Name(r"applyBiasRopeUpdateKVCache\w*<[^,]+, (__nv_fp8_e4m3|signed char)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, formats=((r"__nv_fp8_e4m3", "fp8 e4m3 KV"), (r"signed char", "int8 KV")),
         reason="RoPE + KV-cache write that stores K/V quantized"),
    rule("trtllm.kv-write", Name(r"applyBiasRopeUpdateKVCache"), role=R.MEMORY, cls=C.OTHER,
         reason="RoPE + KV-cache write in the model dtype"),
    rule("trtllm.activation-quant", Name(r"(static_quantize_e4m3|quantize_e4m3_per_tensor|cvt_fp16_to_fp4|"
                                         r"fp4_quantize|invokeQuantization)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, reason="TensorRT-LLM activation quantization"),
), device=Device.GPU)

HQQ_QUANTO_GEMLITE = RuleTable("hqq-quanto-gemlite", (
    rule("hqq.dequant-kernel", Name(r"(dequantize_\dbit_(u8|32)_kernel|dequantize_\dbit_u8_axis\d|^unpack_\dbit_(u8|32)_kernel)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="hqq packed", reason="HQQ's ATen/Triton dequantize (or unpack) kernel", backend="HQQ"),
    rule("quanto.unpack-kernel", Name(r"^unpack_\dbit_kernel\("), role=R.DEQUANT, cls=C.DEQUANT,
         format="int4/int2 packed", reason="quanto's CUDA unpack of packed sub-byte weights", backend="optimum-quanto"),
    rule("gemlite.gemm", Name(r"^(gemv|gemm)(_revsplitK|_splitK)?(_persistent)?_(A16fWnO16f|INT|MX)\w*kernel"),
         role=R.GEMM, cls=C.NATIVE, format="n-bit int32-packed (GemLite)", reason="GemLite Triton GEMM/GEMV on packed weights", backend="GemLite"),
    rule("gemlite.scale-activations", Name(r"scale_activations"), role=R.QUANTIZE, cls=C.QUANTIZE,
         reason="GemLite activation scaling / quantization (A8W8, MX modes)", backend="GemLite"),
), device=Device.GPU)

# --------------------------------------------------------------- activation and KV quantize kernels

QUANTIZE = RuleTable("quantize", (
    rule("quant.kv-write-fp8", Name(r"(reshape_and_cache(_flash)?|concat_and_cache\w*)_kernel<[^<>]*"
                                   r"\(vllm::Fp8KVCacheDataType\)[12]"),
         role=R.QUANTIZE, cls=C.QUANTIZE,
         formats=((r"Fp8KVCacheDataType\)2", "fp8 e5m2 KV"), (r"Fp8KVCacheDataType\)1", "fp8 e4m3 KV")),
         reason="vLLM KV-cache write that stores K/V in fp8 (Fp8KVCacheDataType 1 = e4m3, 2 = e5m2)", backend="vLLM/SGLang"),
    rule("quant.kv-write", Name(r"(reshape_and_cache(_flash)?|concat_and_cache\w*)_kernel"), role=R.MEMORY,
         cls=C.OTHER, reason="vLLM KV-cache write in the model dtype (Fp8KVCacheDataType 0 = auto)", backend="vLLM/SGLang"),
    rule("quant.kv-append-fp8", Name(r"AppendPagedKV\w*Kernel<[^>]*__nv_fp8"), role=R.MEMORY, cls=C.OTHER,
         format="fp8 KV", reason="FlashInfer append into an fp8 KV cache (the quantize ran in an earlier cast)", backend="FlashInfer"),
    rule("quant.fp8-activation", Name(r"(scaled_fp8_quant|segmented_max_reduction|dynamic_per_token_scaled_fp8|"
                                      r"per_token_group_quant|_per_token_group_quant_fp8|quantize_fp8_row|"
                                      r"_kernel_quantize_fp8|mxfp8_quantize|scaled_quant\w*kernel)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="fp8 activations",
         reason="quantizes activations to fp8 (per tensor / per token / per group) for an fp8 GEMM", backend="vLLM/SGLang"),
    rule("quant.int8-activation", Name(r"(scaled_int8_(azp_)?quant|_per_token_group_quant_int8|per_token_quant_int8)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="int8 activations", reason="quantizes activations to int8 for an int8 GEMM", backend="vLLM/SGLang"),
    rule("quant.fused-norm", Name(r"(rms_?norm\w*_quant|fused_add_rms_norm_static_fp8_quant|add_rmsnorm_quant|"
                                  r"rmsnorm2d_fwd_with\w*quant|layernorm\w*_quant)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, reason="fused normalization + activation quantization", backend="vLLM/SGLang"),
    rule("quant.fused-act", Name(r"(act_and_mul_quant|silu_and_mul\w*quant|silu_mul\w*quant)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="fused SiLU-and-mul + activation quantization", backend="vLLM/SGLang"),
    rule("quant.fp4-activation", Name(r"(nvfp4_quant|fp4_quant|quantize_to_fp4|cvt_\w*fp4)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="fp4 activations", reason="quantizes activations to fp4 (NVFP4/MXFP4)", backend="vLLM/SGLang"),
), device=Device.GPU)

# ------------------------------------------------------------------ low-precision (native) GEMMs

LOWP_GEMM = RuleTable("lowp-gemm", (
    rule("vllm.cutlass_scaled_mm", Name(r"cutlass_3x_gemm\w*<(cutlass::float_e4m3_t|cutlass::float_e5m2_t|signed char)"),
         role=R.GEMM, cls=C.NATIVE, formats=((r"<signed char", "int8 x int8 (W8A8)"), (r"float_e5m2", "fp8 e5m2")),
         format="fp8 e4m3 x e4m3 (W8A8)", reason="vLLM cutlass_scaled_mm: a W8A8 GEMM on fp8 or int8 operands", backend="vLLM"),
    rule("vllm.cutlass_fp8_blockwise", Name(r"cutlass_3x_gemm_fp8_blockwise"), role=R.GEMM, cls=C.NATIVE,
         format="fp8 block-scaled", reason="vLLM blockwise-scaled fp8 GEMM", backend="vLLM"),
    rule("deepgemm.lowp", Name(r"deep_gemm::\w*(fp8|fp4)\w*"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"fp8_fp4", "fp8 x fp4"), (r"mxfp8", "mxfp8")), format="fp8 block-scaled (DeepGEMM)",
         reason="DeepGEMM fp8 / fp4 GEMM", backend="DeepGEMM"),
    rule("deepgemm.dense", Name(r"deep_gemm::\w*(bf16|tf32)\w*gemm"), role=R.GEMM, cls=C.DENSE,
         formats=((r"tf32", "tf32"),), format="bf16", reason="DeepGEMM bf16/tf32 GEMM", backend="DeepGEMM"),
    rule("cublas.nvjet-lowp", Name(r"^nvjet_(sm\d+_)?[qrob]"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"^nvjet_(sm\d+_)?o\w*Avec32UE8M0", "mxfp4"), (r"Avec16UE4M3", "nvfp4"), (r"Avec32UE8M0", "mxfp8"),
                  (r"^nvjet_(sm\d+_)?(qr|rq)", "fp8 e4m3 x e5m2"), (r"^nvjet_(sm\d+_)?r", "fp8 e5m2"),
                  (r"^nvjet_(sm\d+_)?q", "fp8 e4m3"), (r"^nvjet_(sm\d+_)?b", "int8"), (r"^nvjet_(sm\d+_)?o", "fp4 e2m1")),
         reason="cuBLASLt nvjet GEMM whose type tag starts with q/r (fp8), o (fp4) or b (int8)", backend="cuBLAS"),
    rule("cublas.xmma-lowp", Name(r"^sm\d+_xmma_(sparse_)?gemm_(e4m3|e5m2|i8|s8|u8)"), role=R.GEMM, cls=C.NATIVE,
         formats=((r"_gemm_e5m2", "fp8 e5m2"), (r"_gemm_e4m3", "fp8 e4m3"), (r"_gemm_[isu]8", "int8")),
         reason="cuBLAS XMMA GEMM on fp8 / int8 operands (first token = input, output type)", backend="cuBLAS"),
    rule("cublas.legacy-int8", Name(r"^(volta|turing|ampere|ada|hopper)_\w*(i8816|i16832|int8_i|imma)\w*gemm"),
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
    rule("rocm.aiter-lowp", Name(r"(aiter\d*\w*(fp8gemm|f4gemm|a8w8|afp4wfp4|a4w4|i8gemm)|_gemm_a8w8|_gemm_afp4wfp4|"
                                 r"f8_block_scale)"),
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

# ----------------------------------------------------------------------------- dense GEMMs by dtype

_DENSE_FORMATS = ((r"tf32", "tf32"), (r"(bf16|bfloat16|_tst|_tss|BBS|B_BS|BSS|DF16b|Bfloat16)", "bf16"),
                  (r"(f16|fp16|half|_hsh|_hss|h\d+gemm|HHS|H_HS|HSS|DF16_|Fp16)", "fp16"),
                  (r"(f64|dgemm|_ddd|DD)", "fp64"), (r"(sgemm|f32|fp32|_sss|s\d+gemm|float)", "fp32"))

DENSE_GEMM = RuleTable("dense-gemm", (
    rule("cublas.nvjet", Name(r"^nvjet_"), role=R.GEMM, cls=C.DENSE,
         formats=((r"sss_tf32", "tf32"), (r"^nvjet_(sm\d+_)?t", "bf16"), (r"^nvjet_(sm\d+_)?h", "fp16"),
                  (r"^nvjet_(sm\d+_)?d", "fp64"), (r"^nvjet_(sm\d+_)?s", "fp32")),
         reason="cuBLASLt nvjet GEMM on 16/32/64-bit float operands (h fp16, t bf16, s fp32, d fp64)", backend="cuBLAS"),
    rule("cublas.xmma", Name(r"^sm\d+_xmma_(sparse_)?gemm_"), role=R.GEMM, cls=C.DENSE, formats=_DENSE_FORMATS,
         reason="cuBLAS XMMA GEMM on float operands", backend="cuBLAS"),
    rule("cudnn.sdpa-reduction", Name(r"cudnn::fusion::lean_reduction"), role=R.ATTENTION, cls=C.DENSE,
         reason="cuDNN SDPA's split-KV combine (launched by aten::_cudnn_attention_forward at decode; seen on H200): "
                "merges fp32 partial softmax results, part of dense attention, not a GEMM", backend="cuDNN"),
    rule("cudnn.conv", Name(r"(^sm\d+_xmma_(fprop|dgrad|wgrad)|implicit_gemm|cudnn::|conv\w*kernel)"), role=R.GEMM,
         cls=C.DENSE, formats=_DENSE_FORMATS, reason="convolution (implicit GEMM)", backend="cuDNN"),
    rule("cublas.legacy", Name(r"^(trt_)?(volta|turing|ampere|ada|hopper|maxwell|pascal)_\w*gemm"), role=R.GEMM,
         cls=C.DENSE, formats=_DENSE_FORMATS, reason="cuBLAS GEMM on float operands", backend="cuBLAS"),
    rule("cublas.gemv", Name(r"(gemv2[NT]_kernel|gemvx::kernel|gemvNSP|gemmSN_\w+kernel|gemmk1_kernel|"
                             r"gemv_kernel<|dot_kernel)"),
         role=R.GEMM, cls=C.DENSE, formats=_DENSE_FORMATS, reason="cuBLAS GEMV / skinny GEMM on float operands", backend="cuBLAS"),
    rule("cublas.splitk-reduce", Name(r"splitKreduce_kernel|_PostGSU"), role=R.GEMM, cls=C.DENSE,
         formats=_DENSE_FORMATS, reason="split-K reduction: the tail of the GEMM before it", backend="cuBLAS"),
    rule("cutlass.dense", Name(r"(cutlass_(\d+_)?(simt|tensorop|wmma_tensorop|sptensorop)_\w*gemm|^cutlass3x_sm\d+_\w*gemm)"),
         role=R.GEMM, cls=C.DENSE, formats=_DENSE_FORMATS, reason="CUTLASS GEMM on float operands", backend="CUTLASS"),
    rule("cutlass.templated-gemm", Name(r"^cutlass::(device_kernel|Kernel2?)<.*(Gemm|gemm|Mma)"), role=R.GEMM,
         cls=C.DENSE, formats=_DENSE_FORMATS, reason="templated CUTLASS GEMM on float operands", backend="CUTLASS"),
    rule("rocm.tensile", Name(r"^(Custom_)?Cijk_"), role=R.GEMM, cls=C.DENSE, formats=_DENSE_FORMATS,
         reason="hipBLASLt/Tensile GEMM on float operands (type chars after the indices)", backend="hipBLASLt"),
    rule("rocm.rocblas", Name(r"(rocblas_\w*(gemv|gemm)|wvSplitK|LLGemm1|wv_splitk)"), role=R.GEMM, cls=C.DENSE,
         formats=_DENSE_FORMATS, reason="rocBLAS / vLLM skinny GEMM on float operands", backend="rocBLAS"),
    rule("rocm.aiter", Name(r"aiter\d*\w*(bf16gemm|gemm_a16w16)"), role=R.GEMM, cls=C.DENSE, format="bf16",
         reason="AITER bf16 GEMM", backend="AITER"),
    rule("rocm.ck-gemm", Name(r"(ck::kernel_gemm|kernel_gemm_xdl|GemmKernel|UniversalGemmKernel|GemmPipeline)"),
         role=R.GEMM, cls=C.DENSE, formats=_DENSE_FORMATS, reason="Composable Kernel GEMM on float operands", backend="Composable Kernel"),
    rule("triton.matmul_ogs", Name(r"^_?p?_matmul_ogs_"), role=R.GEMM, cls=C.DENSE, formats=_DENSE_FORMATS,
         reason="triton_kernels matmul_ogs (MoE) on float weights", backend="triton_kernels"),
    rule("triton.aiter-gemm", Name(r"^_gemm_a16w16"), role=R.GEMM, cls=C.DENSE, format="bf16/fp16",
         reason="AITER Triton bf16/fp16 GEMM", backend="AITER"),
), device=Device.GPU)

# ---------------------------------------------------------------------------------------- attention

_ATTN_ANY = (r"^(?!triton_).*(kernel_unified_attention|kernel_paged_attention|^_fwd_kernel|_fwd_grouped_kernel|"
             r"flashinfer::\w*(Prefill|Decode)\w*Kernel|masked_multihead_attention|kernel_mha|xqa|fmha|attention)")

ATTENTION = RuleTable("attention", (
    rule("attn.vllm-paged-fp8", Name(r"paged_attention_(v[12]|ll4mi\w*)_kernel<[^<>]*\(vllm::Fp8KVCacheDataType\)[12]"),
         role=R.ATTENTION, cls=C.NATIVE,
         formats=((r"Fp8KVCacheDataType\)2", "fp8 e5m2 KV"), (r"Fp8KVCacheDataType\)1", "fp8 e4m3 KV")),
         reason="vLLM paged attention reading an fp8 KV cache (dequantized in registers)", backend="vLLM"),
    rule("attn.vllm-paged-fp8-legacy", Name(r"paged_attention_v[12]_kernel<[^,]+, unsigned char,"), role=R.ATTENTION,
         cls=C.NATIVE, format="fp8 KV", reason="vLLM paged attention with a uint8 (fp8) cache type", backend="vLLM"),
    rule("attn.fa3-fp8", Name(r"flash::\w*FlashAttn\w*<.*float_e4m3_t"), role=R.ATTENTION, cls=C.NATIVE,
         format="fp8 e4m3 Q/K/V", reason="FlashAttention-3 on fp8 Q/K/V", backend="FlashAttention-3"),
    rule("attn.flashinfer-prefill-fp8", Name(r"flashinfer::\w*Prefill\w*Kernel<.*__nv_fp8_e[45]m[23]"), role=R.ATTENTION,
         cls=C.NATIVE, format="fp8 KV", reason="FlashInfer prefill with an fp8 KV dtype in its KernelTraits", backend="FlashInfer"),
    rule("attn.flashinfer-decode-fp8", Name(r"flashinfer::\w*Decode\w*Kernel<[^,]*(\(flashinfer::PosEncodingMode\)\d|"
                                            r"PosEncodingMode::\w+), (\(unsigned int\))?\d+u?, (\(unsigned int\))?\d+u?, "
                                            r"(\(unsigned int\))?16u?,"),
         role=R.ATTENTION, cls=C.NATIVE, format="fp8 KV (inferred)",
         reason="FlashInfer decode with vec_size 16: a 1-byte (fp8) KV cache for head dims up to 256 "
                "(vec_size = max(16 / sizeof(KV), head_dim / 32))", backend="FlashInfer"),
    rule("attn.flashinfer-decode-fp8-typed", Name(r"flashinfer::\w*Decode\w*<.*__nv_fp8_e[45]m[23]"), role=R.ATTENTION,
         cls=C.NATIVE, format="fp8 KV", reason="FlashInfer decode with an fp8 KV dtype", backend="FlashInfer"),
    rule("attn.trtllm-gen-lowp", Name(r"fmhaSm\d+\w*(Kv|Qkv)(E4m3|E2m1|Int8)"), role=R.ATTENTION, cls=C.NATIVE,
         formats=((r"E2m1", "fp4 KV"), (r"Int8", "int8 KV")), format="fp8 e4m3 KV",
         reason="trtllm-gen FMHA cubin whose KV dtype token is fp8 / fp4", backend="TensorRT-LLM"),
    rule("attn.trtllm-mmha-lowp", Name(r"masked_multihead_attention_kernel<[^,]+, (signed char|__nv_fp8_e4m3)"),
         role=R.ATTENTION, cls=C.NATIVE, formats=((r"signed char", "int8 KV"),), format="fp8 e4m3 KV",
         reason="TensorRT-LLM masked MHA reading an 8-bit KV cache", backend="TensorRT-LLM"),
    rule("attn.flashmla-fp8", Name(r"(mla_fp8|fp8_sparse|sparse_fp8)"), role=R.ATTENTION, cls=C.NATIVE,
         format="fp8 KV (MLA)", reason="FlashMLA fp8 (sparse) decode", backend="FlashMLA"),
    rule("attn.dense-typed", Name(r"(pytorch_flash::|flash::flash_fwd|^flash_fwd|flash_bwd|fmha_cutlass[FB]|"
                                  r"PyTorchMemEffAttention|paged_attention_(v[12]|ll4mi\w*)_kernel|"
                                  r"cudnn\w*(sdpa|fmha|flash)|FlashAttn\w*Sm\d+|fmhaSm\d+\w*Kv(Bfloat16|Fp16)|"
                                  r"fmhaSm\d+\w*Qkv(Bfloat16|Fp16)|flash_fwd_splitkv_mla|ck_tile\w*Fmha|FmhaFwd|FmhaBwd|"
                                  r"flashinfer::\w*(Prefill|Decode)\w*Kernel<.*(__nv_bfloat16|half))"),
         role=R.ATTENTION, cls=C.DENSE, formats=_DENSE_FORMATS,
         reason="attention kernel on 16-bit K/V (FlashAttention-2 and PyTorch SDPA have no fp8 KV path; "
                "the others spell their KV dtype and it is not 8-bit)"),
    rule("attn.op-kv-lowp", Name(_ATTN_ANY), AnyInType(INT8ISH), role=R.ATTENTION, cls=C.NATIVE,
         format="8-bit KV (from the launching op)",
         reason="attention kernel whose launching op passes an fp8 / 8-bit KV cache tensor"),
    rule("attn.op-kv-float", Name(_ATTN_ANY), AnyInType(FLOATS), role=R.ATTENTION, cls=C.DENSE,
         reason="attention kernel whose launching op passes only 16/32-bit float tensors: the KV cache is not quantized"),
    rule("attn.kv-dtype-unknown", Name(_ATTN_ANY),
         role=R.ATTENTION, cls=C.OTHER,
         reason="attention kernel whose KV-cache dtype is visible neither in its name nor (here) in its launching op"),
), device=Device.GPU)

# ------------------------------------------------------- Inductor / Triton kernels, by launching op

# a reduction kernel whose fused ops include a matmul: Inductor computes it in the kernel (a pointwise
# kernel naming mm holds only a K = 1 outer product, such as rotary's inv_freq @ positions)
_INDUCTOR_FUSED_MM = r"^triton_(red|per)_fused\w*?_(mm|bmm|addmm)_"

INDUCTOR = RuleTable("inductor", (
    rule("inductor.gemm-template-lowp", Name(r"^triton_tem_fused\w*(_mm|addmm|bmm|_int_mm|scaled_mm)"),
         AnyInType(QUANT_TYPES), role=R.GEMM, cls=C.NATIVE, format="int8/packed/fp8 operand",
         reason="Inductor GEMM template with an integer or fp8 input: the dequantization is fused into the GEMM"),
    rule("inductor.gemm-template", Name(r"^triton_tem_fused\w*(_mm|addmm|bmm)"), role=R.GEMM, cls=C.DENSE,
         reason="Inductor GEMM template on float operands"),
    rule("inductor.quantize", Name(r"^triton_(poi|red|per)_fused\w*(round|clamp)"), AnyInType(INT8ISH),
         AnyInType(FLOATS), role=R.QUANTIZE, cls=C.QUANTIZE,
         reason="Inductor kernel that rounds/clamps floats into an int8/fp8 buffer (its launching op's dtypes)"),
    rule("inductor.fused-mm-lowp", Name(_INDUCTOR_FUSED_MM), AnyInType(QUANT_TYPES), role=R.GEMM, cls=C.NATIVE,
         format="int8/packed/fp8 operand",
         reason="Inductor kernel that computes a matmul itself (at small M, as a reduction) from an integer or fp8 "
                "input: the weight is converted in registers, never stored in high precision (seen on an H200: "
                "torchao int8 weight-only, compiled, at M = 1)"),
    rule("inductor.fused-mm", Name(_INDUCTOR_FUSED_MM), role=R.GEMM, cls=C.DENSE,
         reason="Inductor kernel that computes a (small) matmul itself, on float inputs"),
    rule("inductor.dequant", Name(r"^triton_(poi|red|per)_fused"), AnyInType(QUANT_TYPES), AnyInType(FLOATS),
         role=R.DEQUANT, cls=C.DEQUANT,
         reason="Inductor kernel that reads an int8/uint8/int32-packed or fp8 buffer and writes floats "
                "(dtype flow from its launching op's Input type)"),
    rule("inductor.flex-attention", Name(r"^triton_tem_fused\w*flex_attention"), role=R.ATTENTION, cls=C.DENSE,
         reason="Inductor FlexAttention template"),
    rule("inductor.pointwise", Name(r"^triton_(poi|red|per|for|spl|unk|tem)_"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="Inductor pointwise / reduction kernel on float buffers"),
), device=Device.GPU)

# ----------------------------------------------------------- everything that is not quantized compute

COMMON_GPU = RuleTable("common", (
    rule("comm.nccl", Name(r"^(nccl|rccl)\w*"), role=R.COMMUNICATION, cls=C.OTHER, reason="NCCL/RCCL collective", backend="NCCL"),
    rule("comm.custom-allreduce", Name(r"(cross_device_reduce|allreduce_fusion|all_reduce|multimem_all_reduce|"
                                       r"one_shot_all_reduce|two_shot_all_reduce|custom_ar)"),
         role=R.COMMUNICATION, cls=C.OTHER, reason="custom all-reduce kernel", backend="NCCL"),
    rule("moe.routing", Name(r"(moe_align_block_size|count_and_sort_expert_tokens|topk_?[Gg]ating|topkGatingSoftmax|"
                             r"moeSoftmax|moeTopK|moe_sum|_topk_forward|_sum_bitmatrix_rows|_combined_routing|"
                             r"_finalize_matmul|finalizeKernel|grouped_topk|topk_with_k2|group_idx_and_topk|"
                             r"moe_sum_reduce|_routing_|expert_tokens|topk_softmax)"),
         role=R.OTHER, cls=C.OTHER,
         reason="MoE routing / top-k / sum / finalize: runs inside quantized MoE regions but is neither dequant nor "
                "compute", backend="MoE"),
    rule("common.norm", Name(r"(rms_?norm|RMSNorm|Rmsnorm|layer_?norm|LayerNorm|fused_add_norm|norm_kernel)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="normalization", backend="ATen/other"),
    rule("common.rotary", Name(r"(rotary|Rotary|rope|RoPE)"), role=R.ELEMENTWISE, cls=C.OTHER, reason="rotary embedding", backend="ATen/other"),
    rule("common.activation", Name(r"(act_and_mul|silu_and_mul|gelu_and_mul|silu_kernel|swiglu)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="activation", backend="ATen/other"),
    rule("common.sampling", Name(r"(sampling::|Sampling|top_p|TopKTopP|apply_penalty|mbtopk|SoftMax|softmax|"
                                 r"argmax|multinomial)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="softmax / sampling", backend="ATen/other"),
    rule("common.cub", Name(r"cub::(\w+::)*Device\w*Kernel"), role=R.ELEMENTWISE,
         cls=C.OTHER, reason="CUB device-wide primitive (reduce / scan / select / sort) behind nonzero, masked_select, "
                             "sort or top-k", backend="ATen/other"),
    rule("common.copy-kernel", Name(r"(copy_kernel|CatArrayBatchedCopy|index\w*kernel|gather|scatter|FillFunctor|"
                                    r"fill_kernel|transpose|permute)"),
         role=R.MEMORY, cls=C.OTHER, reason="copy / fill / index / gather kernel", backend="ATen/other"),
    rule("common.aten-elementwise", Name(r"(at::native::|elementwise_kernel|reduce_kernel|"
                                         r"vectorized_elementwise|unrolled_elementwise)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="ATen element-wise or reduction kernel", backend="ATen/other"),
    rule("common.ck-tile-other", Name(r"(ck_tile|_ZN7ck_tile)"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="ck_tile kernel that is not a GEMM or FMHA (norms, MoE sorting, transposes)", backend="ATen/other"),
), device=Device.GPU)
