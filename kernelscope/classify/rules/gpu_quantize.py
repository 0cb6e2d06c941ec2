"""Rule tables for the kernels that move data between precisions: KV-cache writes and reads (vLLM,
SGLang, FlashInfer), activation quantization (fp8 / int8 / fp4, per tensor / token / group, fused with a
norm or an activation) and conversions. Which way a kernel converts shows in its template arguments
(`convert_fp8_kernel<out, in>`) or its KV-cache type (`Fp8KVCacheDataType`), not in its family name:
those rules read the types (`Arg`, by_operands).
"""

from __future__ import annotations

from kernelscope.classify.names import DEQUANTIZES, QUANTIZES
from kernelscope.classify.rules.base import COMPUTE_WORDS, Arg, Converts, Fn, Name, Not, RuleTable, Words, rule, words
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

LOW = frozenset({"fp8e4m3", "fp8e5m2", "fp4", "fp6", "int8", "uint8", "int4"})
FLOAT = frozenset({"bf16", "fp16", "fp32"})
_KV_FORMATS = ((r"Fp8KVCacheDataType\)2", "fp8 e5m2 KV"), (r"Fp8KVCacheDataType\)1", "fp8 e4m3 KV"))
_KV_WRITE = (r"^(reshape_and_cache(_flash)?|concat_and_cache\w*|indexer_k\w*cache\w*|\w*KVInsert\w*|"
             r"\w*kv_?insert\w*|store_kv_cache\w*|set_kv_buffer\w*|fused_rope_store\w*)")

QUANTIZE = RuleTable("quantize", (
    # --- KV-cache writes: quantize when the cache type is low precision, a copy otherwise
    rule("quant.kv-write-fp8", Fn(_KV_WRITE + r"(_kernel)?$"), role=R.QUANTIZE, cls=C.QUANTIZE, by_operands=True,
         formats=_KV_FORMATS, format="low-precision KV", backend="vLLM/SGLang",
         reason="KV-cache write whose cache type is fp8 / int8 (Fp8KVCacheDataType 1 = e4m3, 2 = e5m2, or an 8-bit "
                "cache_t): it quantizes K/V as it stores them"),
    rule("quant.kv-write", Fn(_KV_WRITE + r"(_kernel)?$"), role=R.MEMORY, cls=C.OTHER, backend="vLLM/SGLang",
         reason="KV-cache write in the model dtype (Fp8KVCacheDataType 0 = auto)"),
    rule("quant.kv-quant-insert", Fn(r"Quant\w*Insert|quant_and_cache|QuantInsert"), role=R.QUANTIZE,
         cls=C.QUANTIZE, format="fp8 KV", backend="vLLM/SGLang",
         reason="fused norm / RoPE / KV quantize-and-insert kernel: writes K quantized"),
    rule("quant.kv-append-fp8", Name(r"AppendPagedKV\w*Kernel<[^>]*__nv_fp8"), role=R.MEMORY, cls=C.OTHER,
         format="fp8 KV", backend="FlashInfer",
         reason="FlashInfer append into an fp8 KV cache (the quantize ran in an earlier cast)"),
    rule("quant.kv-append", Fn(r"^Append\w*KV\w*Kernel$"), role=R.MEMORY, cls=C.OTHER, backend="FlashInfer",
         reason="FlashInfer append into the paged KV cache in the model dtype"),
    # --- KV-cache reads into a float buffer
    rule("quant.kv-gather-dequant", Fn(r"^(gather_and_maybe_dequant_cache|gather_cache\w*|cp_gather\w*)$"),
         Arg(1, LOW), role=R.DEQUANT, cls=C.DEQUANT, formats=_KV_FORMATS,
         format="fp8 KV", backend="vLLM",
         reason="gathers an fp8 KV cache into a float buffer (MLA prefill): dequantization"),
    rule("quant.kv-gather", Fn(r"^(gather_and_maybe_dequant_cache|gather_cache\w*|cp_gather\w*|copy_blocks\w*|"
                               r"swap_blocks\w*)$"),
         role=R.MEMORY, cls=C.OTHER, backend="vLLM",
         reason="copies KV-cache blocks as they are stored (model dtype, or fp8 bytes moved without converting)"),
    rule("quant.convert-dequant", Fn(r"^convert_fp8\w*$"), Arg(0, FLOAT), role=R.DEQUANT, cls=C.DEQUANT,
         formats=_KV_FORMATS, format="fp8 KV", backend="vLLM",
         reason="convert_fp8<out, in> to a float type: fp8 cache -> float (dequantization)"),
    rule("quant.convert-quantize", Fn(r"^convert_fp8\w*$"), Arg(0, LOW), role=R.QUANTIZE, cls=C.QUANTIZE,
         formats=_KV_FORMATS, format="fp8 KV", backend="vLLM",
         reason="convert_fp8<out, in> to an fp8 (byte) type: float -> fp8 (quantization)"),
    rule("quant.k-cache-dequant", Fn(r"^_?dequantize_k_cache\w*"), role=R.DEQUANT, cls=C.DEQUANT, format="fp8 KV",
         backend="SGLang", reason="expands an fp8 / fp4 K cache to floats before sparse attention"),
    # --- activation quantization
    rule("quant.fp8-activation", Name(r"(scaled_fp8_quant|segmented_max_reduction|dynamic_per_token_scaled_fp8|"
                                      r"per_token_group_quant|_per_token_group_quant_fp8|quantize_fp8_row|"
                                      r"mxfp8_quantize|scaled_quant\w*kernel|per_tensor_quant_fp8|"
                                      r"per_token_quant_fp8|_static_quant_fp8|per_tensor_absmax)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="fp8 activations", backend="vLLM/SGLang",
         reason="quantizes activations to fp8 (per tensor / per token / per group, or its scale) for an fp8 GEMM"),
    rule("quant.int8-activation", Name(r"(scaled_int8_(azp_)?quant|_per_token_group_quant_int8|per_token_quant_int8)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="int8 activations", backend="vLLM/SGLang",
         reason="quantizes activations to int8 for an int8 GEMM"),
    rule("quant.fused-norm", Fn(r"(rms_?norm|layer_?norm|layernorm|rmsnorm)\w*quant|quant\w*(rms_?norm|rmsnorm)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, by_operands=True, backend="vLLM/SGLang",
         reason="fused normalization + activation quantization (its output type is low precision)"),
    rule("quant.fused-act", Fn(r"(act_and_mul|silu_and_mul|silu_mul|swiglu|gelu)\w*(quant|cast_to_fp8)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, by_operands=True, backend="vLLM/SGLang",
         reason="fused activation (SiLU-and-mul, SwiGLU) + quantization of its output"),
    rule("quant.fp4-activation", Name(r"(nvfp4_quant|fp4_quant|quantize_to_fp4|cvt_\w*fp4|mxfp4_quant)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="fp4 activations", backend="vLLM/SGLang",
         reason="quantizes activations to fp4 (NVFP4/MXFP4)"),
    rule("convert.quantize", Converts(QUANTIZES), Not(Words(COMPUTE_WORDS)), role=R.QUANTIZE, cls=C.QUANTIZE,
         generic=True, reason="converts float data to a low-precision format, as its name (fp16_to_q, cast_mxfp8) or "
                              "its signature (reads only floats, writes fp8 / int8 / fp4) says"),
    rule("convert.dequantize", Converts(DEQUANTIZES), Not(Words(COMPUTE_WORDS)), role=R.DEQUANT, cls=C.DEQUANT,
         generic=True, reason="converts low-precision data back to floats, as its name (q_to_fp16, fp8_to_fp16) or its "
                              "signature (reads fp8 / int8 / fp4, writes only floats) says"),
    rule("quant.generic", words("quant", "quantize", "quantization", "quantizer", base=True),
         Not(words("dequant", "dequantize", "gemm", "matmul", "mm", "gemv", base=True)), role=R.QUANTIZE, cls=C.QUANTIZE, by_operands=True,
         generic=True, reason="a kernel named for quantization whose types do not contradict it"),
    rule("quant.generic-dequant", words("dequant", "dequantize", "dequantization", base=True), role=R.DEQUANT,
         cls=C.DEQUANT, generic=True, reason="a kernel named for dequantization"),
), device=Device.GPU)
