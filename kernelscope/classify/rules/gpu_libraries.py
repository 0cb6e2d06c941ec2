"""Rule tables for the kernels of quantization libraries and engines, one table per library family.

Names are matched as torch.profiler writes them (CUPTI / roctracer demangled, 'void ' and a trailing
ellipsis stripped) and as nsys prints them (casts like '(int)128', '(bool)1'); mangled names are
demangled first (classify/names.py). `Fn` matches the kernel's own function name, `Name` the whole
name, `words` whole words. Sources for each family: the library's kernel sources (see the corpus in
tests/classify/corpus, which records where every name came from).
"""

from __future__ import annotations

from kernelscope.classify.rules.base import Arg, Fn, Name, Not, RuleTable, rule
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

LOW = frozenset({"fp8e4m3", "fp8e5m2", "fp4", "fp6", "int8", "uint8", "int4"})
FLOAT = frozenset({"bf16", "fp16", "fp32"})

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
         format="int4 group-wise (tinygemm packed)", backend="ATen",
         reason="ATen's tinygemm int4 GEMM (aten::_weight_int4pack_mm; torchao int4 tile_packed_to_4d) "
                "reads the packed int4 weight"),
    rule("aten-cuda.int4-repack", Name(r"matrix_to_m16n8k16_Bint4_layout"), role=R.OTHER, cls=C.OTHER, backend="ATen",
         reason="packs an int4 weight into tinygemm's layout (load time): neither dequant nor compute"),
    rule("aten-cuda.int8pack_mm", Name(r"weight_int8pack_mm_kernel"), role=R.GEMM, cls=C.NATIVE,
         format="int8 per-channel", backend="ATen", reason="ATen's int8 weight-only GEMM reads the int8 weight"),
    rule("torchao-cuda.mixed-input", Name(r"(MixedInput|int4b_t|uint4b_t)"), role=R.GEMM, cls=C.NATIVE,
         format="int4 (CUTLASS mixed-input)", backend="torchao",
         reason="CUTLASS mixed-input GEMM (fbgemm/mslk bf16i4bf16, f8i4bf16): int4 weights dequantized in registers"),
    rule("torchao-cuda.mx-dequant", Fn(r"^triton_f[46]_to_(scaled_)?(bf16|fp16|fp32)_kernel"), role=R.DEQUANT,
         cls=C.DEQUANT, formats=((r"_f4_", "fp4 (mx)"), (r"_f6_", "fp6 (mx)")), backend="torchao",
         reason="torchao's MX Triton kernel expands fp4 / fp6 elements (with their block scales) to floats"),
    rule("torchao-cuda.mx-quantize", Fn(r"^(triton_)?to_mx\w*kernel|^triton_to_mx"), role=R.QUANTIZE, cls=C.QUANTIZE,
         format="mx block-scaled", backend="torchao", reason="torchao quantizes a tensor to an MX block-scaled format"),
    rule("torchao-cuda.pack", Fn(r"^triton_pack_uint\d_kernel"), role=R.MEMORY, cls=C.OTHER, backend="torchao",
         reason="packs sub-byte values into bytes (weight preparation): neither dequant nor compute"),
    rule("fbgemm.fp8-row-gemm", Fn(r"^_kernel_matmul_fp8_(row|block)"), role=R.GEMM, cls=C.NATIVE,
         format="fp8 rowwise / blockwise", backend="fbgemm",
         reason="fbgemm's Triton fp8 GEMM (row- or block-scaled) consumes fp8 operands"),
    rule("fbgemm.fp8-quantize", Fn(r"^_kernel_quantize_fp8_(row|block|tensor)"), role=R.QUANTIZE, cls=C.QUANTIZE,
         format="fp8 activations", backend="fbgemm", reason="fbgemm's Triton kernel quantizes a tensor to fp8"),
), device=Device.GPU)

# ------------------------------------------------------------------------ vLLM weight-only kernels

MARLIN = RuleTable("marlin", (
    rule("marlin.repack", Name(r"(gptq_marlin_repack|awq_marlin_repack|marlin_\w*repack|prepack_B_kernel|"
                               r"marlin_int4_fp8_preprocess|marlin_fp8_scales_preprocess)"),
         role=R.MEMORY, cls=C.OTHER,
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
    rule("marlin.quanto-fp8", Fn(r"^(fp8_marlin|marlin_cuda_kernel|gemm_w4a16_T\d)"), Name(r"(fp8_marlin|marlin|w4a16)"),
         role=R.GEMM, cls=C.NATIVE, format="fp8 / int4 weight-only", backend="optimum-quanto",
         reason="optimum-quanto's Marlin fp8 / AWQ int4 GEMM reads the packed weight"),
), device=Device.GPU)

AWQ_GPTQ = RuleTable("awq-gptq", (
    rule("awq.gemm", Name(r"(gemm_forward_4bit_cuda_m16n\w*k32|^awq_gemm_kernel|gemm_w4a16_T\d)"), role=R.GEMM,
         cls=C.NATIVE, format="int4 AWQ group-wise", backend="AWQ", reason="AWQ GEMM reads the packed int4 weight"),
    rule("awq.gemv", Name(r"^gemv_kernel(_g\d+)?<\w+, \w+, \w+, \w+>\(__half const\*, unsigned int const\*"),
         role=R.GEMM, cls=C.NATIVE, format="int4 AWQ group-wise", backend="AWQ",
         reason="AutoAWQ's fused int4 GEMV (decode, batch < 8) reads the packed weight"),
    rule("awq.dequantize", Name(r"(awq::dequantize_weights|^dequantize_weights(<|\()|^awq_dequantize_kernel)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="int4 AWQ group-wise", backend="AWQ",
         reason="AWQ expands int4 weights to fp16 before a dense GEMM (large batches)"),
    rule("gptq.gemm", Name(r"(gemm_half_q_half(_gptq|_alt)?(_\dbit)?_kernel|^q4_matmul_kernel)"), role=R.GEMM,
         cls=C.NATIVE, format="int2-8 GPTQ / EXL2", backend="GPTQ/exllama",
         reason="exllama-style GPTQ GEMM reads the packed weight"),
    rule("gptq.reconstruct", Name(r"(reconstruct_exllama_\w*kernel|reconstruct_gptq_\w*kernel|"
                                  r"^reconstruct_kernel\(unsigned int const\*)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="GPTQ packed", backend="GPTQ/exllama",
         reason="GPTQ 'reconstruct' expands the packed weight to fp16 for a cuBLAS GEMM (large batches)"),
    rule("gptq.repack", Name(r"(make_sequential_\w*kernel|shuffle_\d+bit_kernel|^shuffle_kernel|column_remap_kernel)"),
         role=R.MEMORY, cls=C.OTHER, backend="GPTQ/exllama",
         reason="GPTQ weight reordering at load time: neither dequant nor compute"),
), device=Device.GPU)

# --------------------------------------------------------------------------- llama.cpp / ggml / GGUF

_GGML_FA = r"^flash_attn_(ext_f16|tile|combine_results|stream_k_fixup\w*|ext_vec_f16)$"

GGML = RuleTable("llama.cpp/ggml", (
    rule("ggml.mmq", Fn(r"(?i)^mul_mat_q(\d_k|\d_\d)?(_stream_k_fixup)?$"), role=R.GEMM, cls=C.NATIVE,
         format="GGUF block-quantized", reason="llama.cpp's MMQ GEMM multiplies q8_1 activations with the GGUF "
                                               "block-quantized weight directly (integer dot products)"),
    rule("ggml.mmvq", Fn(r"^mul_mat_vec_q(_moe|\d_\d_repacked)?$|^mul_mat_vec_q\d_\w+$|^dequantize_mul_mat_vec"),
         role=R.GEMM, cls=C.NATIVE, format="GGUF block-quantized",
         reason="llama.cpp's MMVQ GEMV reads the block-quantized weight (vec_dot on q8_1 activations)"),
    rule("ggml.mmv-float", Fn(r"^mul_mat_(vec|vec_f|f)$"), role=R.GEMM, cls=C.DENSE, by_operands=True,
         reason="llama.cpp's GEMV / GEMM on f16 / bf16 / f32 weights"),
    rule("ggml.flash-attn-vec", Fn(r"^flash_attn_ext_vec$"), role=R.ATTENTION, cls=C.DENSE, by_operands=True,
         format="GGUF KV cache",
         reason="llama.cpp's vector flash attention: its K/V ggml types (template arguments 3, 4) say whether it reads "
                "a quantized cache (q8_0, q4_0: in registers) or f16"),
    rule("ggml.flash-attn", Fn(_GGML_FA), role=R.ATTENTION, cls=C.DENSE,
         reason="llama.cpp's tile / tensor-core flash attention and its combine / fixup steps read f16 K/V "
                "(a quantized cache is converted by a separate kernel first)"),
    rule("ggml.gated-delta-net", Fn(r"^gated_delta_net\w*"), role=R.ATTENTION, cls=C.DENSE,
         reason="llama.cpp's gated delta-net (linear attention) on float state"),
    rule("ggml.quantize", Fn(r"^quantize_(q8_1|mmq_\w+|row_q8_1\w*)$"), role=R.QUANTIZE, cls=C.QUANTIZE,
         format="q8_1 / nvfp4 / mxfp4 activations",
         reason="llama.cpp quantizes the activations to q8_1 (or nvfp4 / mxfp4) for MMQ / MMVQ"),
    rule("ggml.set-rows-quant", Fn(r"^(k_set_rows_quant|cpy_f32_q\w*|cpy_blck_f32_q\w*)$"), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="GGUF KV cache",
         reason="llama.cpp writes K/V (or a tensor) into a block-quantized buffer: quantization"),
    rule("ggml.dequantize", Fn(r"^(dequantize_block\w*|ggml_dequantize\w*|cpy_q_f32)$"),
         role=R.DEQUANT, cls=C.DEQUANT, format="GGUF", reason="GGUF block dequantization to floats"),
    rule("ggml.get-rows-quant", Fn(r"^k_get_rows(_kq)?$"), Name(r"dequantize_"), role=R.DEQUANT, cls=C.DEQUANT,
         format="GGUF", reason="gathers rows of a block-quantized tensor (embeddings) into floats"),
    rule("ggml.copy", Fn(r"^(cpy_scalar\w*|cpy_f32_f16|cpy_f\d+_f\d+|convert_unary\w*|k_get_rows\w*|k_set_rows|"
                         r"concat_(f32|non_cont|cont\w*)|k_copy\w*|kfunc|k_repeat\w*|pad_f32|k_argsort\w*|"
                         r"mm_ids_helper|flash_attn_mask_to_KV_max)$"),
         role=R.MEMORY, cls=C.OTHER, reason="llama.cpp copy / convert between float types / gather"),
    rule("ggml.elementwise", Fn(r"^(k_bin_bcast\w*|unary_\w*op_kernel|unary_gated_op_kernel|scale_f32|soft_max_f32|"
                                r"rope_\w+|norm_f32|group_norm_f32|l2_norm_f32|clamp_f32|sum_rows_f32|argmax_f32|"
                                r"k_sum_rows\w*|silu_f32|gelu_f32|add_f32|mul_f32|op_\w+|ssm_(conv|scan)_f32)$"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="llama.cpp element-wise / reduction kernel"),
    rule("ggml.tensor-parallel", Name(r"ggml_cuda_tp::"), role=R.COMMUNICATION, cls=C.OTHER,
         reason="llama.cpp's tensor-parallel broadcast / reduce between GPUs"),
), device=Device.GPU)

# ---------------------------------------------------------------------------------- TensorRT-LLM

_TRTLLM_GEN = r"^(bmm|gemm|Gemm|Bmm)_[A-Za-z0-9]+_"  # {Out}_{A}{B}_{Acc}_...: the second token holds the operands

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
    rule("trtllm.gen-bmm-lowp", Name(_TRTLLM_GEN + r"[A-Za-z0-9]*(E4m3|E5m2|E2m1|Int8|Int4)"), role=R.GEMM,
         cls=C.NATIVE, formats=((r"E2m1", "fp4 e2m1"), (r"E4m3", "fp8 e4m3"), (r"E5m2", "fp8 e5m2")),
         reason="trtllm-gen GEMM/BMM cubin whose operand token ({Out}_{A}{B}_{Acc}) names fp8 / fp4 / MX / int types "
                "(the first token is the output)"),
    rule("trtllm.gen-bmm", Name(_TRTLLM_GEN + r"(Bfloat16|Fp16|Fp32)+_"), role=R.GEMM, cls=C.DENSE,
         reason="trtllm-gen GEMM/BMM cubin on 16/32-bit operands"),
    rule("trtllm.kv-write-quant", Name(r"applyBiasRopeUpdateKVCache\w*<[^,]+, (__nv_fp8_e4m3|signed char|__nv_fp4)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, formats=((r"__nv_fp8_e4m3", "fp8 e4m3 KV"), (r"signed char", "int8 KV")),
         reason="RoPE + KV-cache write that stores K/V quantized"),
    rule("trtllm.kv-write", Name(r"applyBiasRopeUpdateKVCache"), role=R.MEMORY, cls=C.OTHER,
         reason="RoPE + KV-cache write in the model dtype"),
    rule("trtllm.kv-load-dequant", Fn(r"^load\w*KVCache\w*Kernel$"), Arg(1, LOW), role=R.DEQUANT, cls=C.DEQUANT,
         format="fp8 KV", reason="loads an fp8 paged KV cache into a float buffer (MLA context): dequantization"),
    rule("trtllm.kv-load", Fn(r"^load\w*KVCache\w*Kernel$"), role=R.MEMORY, cls=C.OTHER,
         reason="loads a paged KV cache stored in the model dtype into a contiguous buffer"),
    rule("trtllm.scale-matrix-quant", Name(r"scaleMatrix<[^,]+, (true|\(bool\)1)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="fp8 / int8", reason="TensorRT-LLM scaleMatrix with QUANTIZE=true: float -> fp8/int8"),
    rule("trtllm.scale-matrix-dequant", Name(r"scaleMatrix<[^,]+, (false|\(bool\)0)"), role=R.DEQUANT,
         cls=C.DEQUANT, format="fp8 / int8", reason="TensorRT-LLM scaleMatrix with QUANTIZE=false: fp8/int8 -> float"),
    rule("trtllm.expand-rows-quant", Fn(r"^expandInputRows\w*Kernel$"), Arg(1, LOW), role=R.QUANTIZE,
         cls=C.QUANTIZE, formats=((r"fp4", "fp4 activations"),), format="fp8 activations",
         reason="MoE row expansion that writes the permuted activations quantized (fused quantize)"),
    rule("trtllm.norm-quant", Fn(r"^(general|fused)\w*(RmsNorm|LayerNorm)\w*$"),
         Arg(1, frozenset({"fp8e4m3", "fp8e5m2", "fp4"})), role=R.QUANTIZE, cls=C.QUANTIZE, format="fp8 / fp4 activations",
         reason="RMSNorm / LayerNorm whose output type is fp8 / fp4: normalization fused with quantization"),
    rule("trtllm.activation-quant", Fn(r"^(static_quantize_e4m3\w*|quantize_e4m3_per_tensor|cvt_fp16_to_fp4|"
                                       r"fp4_quantize\w*|invokeQuantization\w*|quantize_with_block_size|"
                                       r"perTokenQuantization|scale_1x128_kernel|computeFP8Quantize\w*|quantizeFP8\w*)$"),
         role=R.QUANTIZE, cls=C.QUANTIZE, reason="TensorRT-LLM activation quantization (fp8 / fp4 / int8)"),
    rule("trtllm.moe-activation-quant", Name(r"moe::dev::activation::"), Arg(0, LOW), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="fp8 activations",
         reason="trtllm-gen MoE activation kernel whose output type is low precision: activation fused with quantize"),
), device=Device.GPU)

# ------------------------------------------------------------------------- HQQ / quanto / GemLite

HQQ_QUANTO_GEMLITE = RuleTable("hqq-quanto-gemlite", (
    rule("hqq.dequant-kernel", Name(r"(dequantize_\dbit_(u8|32)_kernel|dequantize_\dbit_u8_axis\d|^unpack_\dbit_(u8|32)_kernel)"),
         role=R.DEQUANT, cls=C.DEQUANT, format="hqq packed", backend="HQQ",
         reason="HQQ's ATen/Triton dequantize (or unpack) kernel"),
    rule("quanto.unpack-kernel", Name(r"^unpack_\dbit_kernel\("), role=R.DEQUANT, cls=C.DEQUANT,
         format="int4/int2 packed", backend="optimum-quanto", reason="quanto's CUDA unpack of packed sub-byte weights"),
    rule("gemlite.gemm", Fn(r"^(gemv|gemm)(_\w+)?_(A16fWnO16f|INT|MX)(_\w+)?_kernel(_v\d+)?$|^gemm_splitK_persistent_kernel$"),
         role=R.GEMM, cls=C.NATIVE, format="n-bit int32-packed (GemLite)", backend="GemLite",
         reason="GemLite Triton GEMM/GEMV on packed weights"),
    rule("gemlite.scale-activations", Name(r"scale_activations"), role=R.QUANTIZE, cls=C.QUANTIZE, backend="GemLite",
         reason="GemLite activation scaling / quantization (A8W8, MX modes)"),
    rule("gemlite.unpack", Fn(r"^unpack_over_\w+_kernel$"), role=R.DEQUANT, cls=C.DEQUANT, backend="GemLite",
         reason="GemLite unpacks packed weights to floats"),
    rule("gemlite.pack", Fn(r"^pack_weights_over_\w+_kernel$"), role=R.MEMORY, cls=C.OTHER, backend="GemLite",
         reason="GemLite packs weights (load time): neither dequant nor compute"),
), device=Device.GPU)

# ------------------------------------------------------------------------------------ SageAttention

SAGEATTENTION = RuleTable("SageAttention", (
    rule("sage.attention", Fn(r"^qk_int\d*_sv_f\d+\w*attn\w*kernel$"), role=R.ATTENTION, cls=C.NATIVE,
         formats=((r"sv_f8", "int8 Q/K, fp8 P/V"),), format="int8 Q/K, fp16 P/V",
         reason="SageAttention: QK^T on int8 Q/K (and PV on fp8 V) in the kernel"),
    rule("sage.quantize", Fn(r"^(QuantInt8Kernel|MeanScaleKernel|quant_per_(block|warp|thread)_int8\w*_kernel|"
                             r"TransposePadPermuteKernel|sub_mean\w*kernel)$"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="int8 Q/K, fp8 V",
         reason="SageAttention quantizes Q/K to int8 (per block / warp) and V to fp8 (mean-centred, scaled)"),
), device=Device.GPU)

# --------------------------------------------------------------------------------- AMD aiter (asm)

AITER = RuleTable("AITER", (
    rule("aiter.moe-gemm", Name(r"^aiter::"), Fn(r"^fmoe\w*|^fused_moe\w*"), role=R.GEMM, cls=C.DENSE,
         by_operands=True, reason="AITER's assembly MoE GEMM: its name spells the weight / activation type "
                                  "(pertokenFp8, blockscaleFp8, pertokenInt8, MXfp4; noquant = bf16)"),
    rule("aiter.gemm", Name(r"^aiter::"), Fn(r"gemm"), role=R.GEMM, cls=C.DENSE, by_operands=True,
         reason="AITER assembly GEMM (I8gemm, f4gemm, a16w8gemm, fp8gemm quantized; bf16gemm dense)"),
    rule("aiter.paged-attention", Name(r"^aiter::"), Fn(r"^(pa|PA|mla|fmha|flash)_\w*"), role=R.ATTENTION,
         cls=C.DENSE, by_operands=True,
         reason="AITER assembly attention (paged, MLA, FMHA): its name spells the KV type (pertokenFp8, a16w8, "
                "fp8; noquant / a16w16 / bf16 = dense)"),
    rule("aiter.quantize", Name(r"^aiter::"), Fn(r"quant"), Not(Fn(r"dequant")), role=R.QUANTIZE, cls=C.QUANTIZE,
         by_operands=True, reason="AITER quantize kernel (per token / per group, fp8 / fp4), unless its template "
                                  "types are all float (add_rmsnorm_quant<bf16, bf16>: quantization off)"),
    rule("aiter.routing", Name(r"^aiter::"), Fn(r"(topk|sort|softmax|align)"), role=R.OTHER, cls=C.OTHER,
         reason="AITER MoE routing / top-k / sorting"),
), device=Device.GPU)
