"""Rule tables for attention kernels. Whether attention reads a quantized KV cache (native-quantized:
dequantized in registers) or 16/32-bit K/V (dense) shows in the kernel's template arguments (FlashInfer's
KernelTraits, vLLM's Fp8KVCacheDataType, FA3's mainloop element type), in its cubin name (trtllm-gen
`KvE4m3`, fmha_v2 `e4m3`), or only in the tensors its launching op passes (Triton kernels): most rules
read those types (by_operands). Where none shows, attention is taken as dense, and says so.
"""

from __future__ import annotations

from kernelscope.classify.rules.base import AnyInType, Fn, Name, Not, RuleTable, rule, words
from kernelscope.classify.rules.gpu_gemm import DENSE_FORMATS
from kernelscope.trace.dtypes import FLOATS, INT8ISH
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

_KV_FORMATS = ((r"Fp8KVCacheDataType\)2", "fp8 e5m2 KV"), (r"Fp8KVCacheDataType\)1", "fp8 e4m3 KV"))
_TRITON_ATTENTION = (r"^(kernel_unified_attention_\w+|_fwd_kernel(?!_ep_)\w*|_fwd_grouped_kernel\w*|reduce_segments|"
                     r"_attn_fwd\w*|_attention\w*|attn_fwd\w*|_decode_att\w*)$")

_ATTENTION_WORDS = ("attention", "attn", "fmha", "mha", "mla", "mqa", "gqa", "sdpa", "flashattention")
_HELPER_WORDS = ("metadata", "plan", "scheduler", "indices", "indptr", "norm", "rope", "rotary", "qknorm", "prepare")

ATTENTION = RuleTable("attention", (
    rule("attn.vllm-paged-fp8", Name(r"paged_attention_(v[12]|ll4mi\w*)_kernel<[^<>]*\(vllm::Fp8KVCacheDataType\)[12]"),
         role=R.ATTENTION, cls=C.NATIVE, formats=_KV_FORMATS, backend="vLLM",
         reason="vLLM paged attention reading an fp8 KV cache (dequantized in registers)"),
    rule("attn.vllm-paged-fp8-legacy", Name(r"paged_attention_v[12]_kernel<[^,]+, unsigned char,"), role=R.ATTENTION,
         cls=C.NATIVE, format="fp8 KV", backend="vLLM", reason="vLLM paged attention with a uint8 (fp8) cache type"),
    rule("attn.vllm-paged", Fn(r"^paged_attention\w*$"), role=R.ATTENTION, cls=C.DENSE, by_operands=True,
         formats=_KV_FORMATS, backend="vLLM",
         reason="vLLM paged attention (v1 / v2 / its reduce / ROCm ll4mi): the cache type in its template arguments "
                "decides (Fp8KVCacheDataType 0 = the model dtype)"),
    rule("attn.fa3-fp8", Name(r"flash::\w*FlashAttn\w*<.*float_e4m3_t"), role=R.ATTENTION, cls=C.NATIVE,
         format="fp8 e4m3 Q/K/V", backend="FlashAttention-3", reason="FlashAttention-3 on fp8 Q/K/V"),
    rule("attn.flashinfer-prefill-fp8", Name(r"flashinfer::\w*Prefill\w*Kernel<.*__nv_fp8_e[45]m[23]"),
         role=R.ATTENTION, cls=C.NATIVE, format="fp8 KV", backend="FlashInfer",
         reason="FlashInfer prefill with an fp8 KV dtype in its KernelTraits"),
    rule("attn.flashinfer-decode-fp8", Name(r"flashinfer::\w*Decode\w*Kernel<[^,]*(\(flashinfer::PosEncodingMode\)\d|"
                                            r"PosEncodingMode::\w+), (\(unsigned int\))?\d+u?, (\(unsigned int\))?\d+u?, "
                                            r"(\(unsigned int\))?16u?, (\(unsigned int\))?(1|2|4|8|16)u?,"),
         role=R.ATTENTION, cls=C.NATIVE, format="fp8 KV (inferred)", backend="FlashInfer",
         reason="FlashInfer decode with vec_size 16 and bdx < 32: a 1-byte (fp8) KV cache "
                "(vec_size = max(16 / sizeof(KV), head_dim / 32), vec_size x bdx = head_dim)"),
    rule("attn.flashinfer-decode-fp8-typed", Name(r"flashinfer::\w*Decode\w*<.*__nv_fp8_e[45]m[23]"), role=R.ATTENTION,
         cls=C.NATIVE, format="fp8 KV", backend="FlashInfer", reason="FlashInfer decode with an fp8 KV dtype"),
    rule("attn.flashinfer", Name(r"flashinfer::"), Fn(r"(Prefill|Decode|MLA|POD|Attention)\w*Kernel"),
         role=R.ATTENTION, cls=C.DENSE, by_operands=True, backend="FlashInfer",
         reason="FlashInfer attention: the KV type in its template arguments decides"),
    rule("attn.trtllm-gen-lowp", Name(r"fmhaSm\d+\w*(Kv|Qkv)(E4m3|E2m1|Int8)"), role=R.ATTENTION, cls=C.NATIVE,
         formats=((r"E2m1", "fp4 KV"), (r"Int8", "int8 KV")), format="fp8 e4m3 KV", backend="TensorRT-LLM",
         reason="trtllm-gen FMHA cubin whose KV dtype token is fp8 / fp4"),
    rule("attn.fmha-v2-lowp", Name(r"^fmha_v2_\w*(flash_attention_(e4m3|fp8|int8)|_kv_(e2m1|e4m3|int8|fp8))"),
         role=R.ATTENTION, cls=C.NATIVE, formats=((r"e2m1", "fp4 KV"),), format="fp8 e4m3 Q/K/V",
         backend="TensorRT-LLM", reason="TensorRT-LLM fmha_v2 kernel on fp8 (e4m3) inputs, or with an fp4 / fp8 KV"),
    rule("attn.trtllm-mmha-lowp", Name(r"masked_multihead_attention_kernel<[^,]+, (signed char|__nv_fp8_e4m3)"),
         role=R.ATTENTION, cls=C.NATIVE, formats=((r"signed char", "int8 KV"),), format="fp8 e4m3 KV",
         backend="TensorRT-LLM", reason="TensorRT-LLM masked MHA reading an 8-bit KV cache"),
    rule("attn.flashmla-fp8", Name(r"(flash\w*mla\w*fp8|mla_fp8\w*kernel|fp8_sparse|sparse_fp8|TraitsFP8)"),
         role=R.ATTENTION, cls=C.NATIVE, format="fp8 KV (MLA)", backend="FlashMLA",
         reason="FlashMLA fp8 (sparse) decode"),
    rule("attn.dense-typed", Name(r"(pytorch_flash::|flash::flash_fwd|^flash_fwd|flash_bwd|fmha_cutlass[FB]|"
                                  r"PyTorchMemEffAttention|cudnn\w*(sdpa|fmha|flash)|fmhaSm\d+\w*Kv(Bfloat16|Fp16)|"
                                  r"fmhaSm\d+\w*Qkv(Bfloat16|Fp16)|ck_tile\w*Fmha|FmhaFwd|FmhaBwd|^fmha_v2_)"),
         role=R.ATTENTION, cls=C.DENSE, formats=DENSE_FORMATS,
         reason="attention kernel on 16-bit K/V (FlashAttention-2 and PyTorch SDPA have no fp8 KV path; "
                "the others spell their KV dtype and it is not 8-bit)"),
    rule("attn.flash-typed", Name(r"(flash::|Flash_fwd|FlashAttn|flash_fwd|compute_attn|mla::|sparse_attn|"
                                  r"mqa_logits|flash_mla)"), Not(Fn(r"(prepare|scheduler|metadata|num_splits)")),
         role=R.ATTENTION, cls=C.DENSE, by_operands=True, formats=DENSE_FORMATS,
         reason="FlashAttention-3 / FlashMLA / DeepGEMM MQA-logits kernel: its element types decide"),
    rule("attn.op-kv-lowp", Fn(_TRITON_ATTENTION), AnyInType(INT8ISH), role=R.ATTENTION, cls=C.NATIVE,
         format="8-bit KV (from the launching op)",
         reason="attention kernel whose launching op passes an fp8 / 8-bit KV cache tensor"),
    rule("attn.op-kv-float", Fn(_TRITON_ATTENTION), AnyInType(FLOATS), role=R.ATTENTION, cls=C.DENSE,
         reason="attention kernel whose launching op passes only 16/32-bit float tensors: the KV cache is not quantized"),
    rule("attn.kv-dtype-unknown", Fn(_TRITON_ATTENTION), role=R.ATTENTION, cls=C.DENSE, generic=True,
         format="KV type not visible",
         reason="attention kernel whose KV-cache dtype shows neither in its name nor (here) in its launching op: "
                "taken as dense"),
    rule("attn.helper", words(*_ATTENTION_WORDS, base=True), words(*_HELPER_WORDS, base=True), role=R.OTHER, cls=C.OTHER,
         generic=True, reason="attention bookkeeping (scheduling metadata, index plans) or the norm / RoPE before it: "
                              "no attention math"),
    rule("attn.generic", words("attention", "attn", "fmha", "mha", "mla", "mqa", "gqa", "sdpa", "flashattention",
                               base=True), Not(Name(r"^triton_")),
         role=R.ATTENTION, cls=C.DENSE, by_operands=True, generic=True,
         reason="an attention kernel by its name; the types it states (or its launching op passes) decide"),
), device=Device.GPU)
