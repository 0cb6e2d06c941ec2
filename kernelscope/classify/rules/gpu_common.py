"""Rule tables for everything on a GPU that is not a library's quantized kernel: device memory activity,
Inductor / Triton kernels (decided by their launching op's dtypes), and the families that are never
quantized compute (communication, MoE routing, norms, rotary, activations, sampling, copies, ATen
element-wise kernels).
"""

from __future__ import annotations

from kernelscope.classify.rules.base import AnyInType, Name, RuleTable, rule, words
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


# A reduction kernel whose fused ops include aten's mm / bmm: Inductor computes the matmul in the kernel
# (at small M). Not addmm (an extern GEMM's bias-add epilogue is named after it), nor a custom GEMM op
# (marlin_gemm, cutlass_scaled_mm: extern calls whose output the kernel only consumes), nor a pointwise
# kernel (a K = 1 outer product, such as rotary's inv_freq @ positions).
_INDUCTOR_FUSED_MM = r"^triton_(red|per)_fused(_\w+?)?_(mm|bmm)_"

INDUCTOR = RuleTable("inductor", (
    rule("inductor.gemm-template-int", Name(r"^triton_tem_fused_\w*(_int_mm|_scaled_mm|_scaled_grouped_mm)"),
         role=R.GEMM, cls=C.NATIVE, format="int8 / fp8 (aten::_int_mm / _scaled_mm)",
         reason="Inductor GEMM template of aten::_int_mm (int8 x int8) or _scaled_mm (fp8): quantized operands"),
    rule("inductor.gemm-template-lowp", Name(r"^triton_tem_fused\w*(_mm|addmm|bmm|_int_mm|scaled_mm)"),
         AnyInType(QUANT_TYPES), role=R.GEMM, cls=C.NATIVE, format="int8/packed/fp8 operand",
         reason="Inductor GEMM template with an integer or fp8 input: the dequantization is fused into the GEMM"),
    rule("inductor.gemm-template", Name(r"^triton_tem_fused\w*(_mm|addmm|bmm)"), role=R.GEMM, cls=C.DENSE,
         reason="Inductor GEMM template on float operands"),
    rule("inductor.quantize", Name(r"^triton_(poi|red|per)_fused\w*(round|clamp)"), AnyInType(INT8ISH),
         AnyInType(FLOATS), role=R.QUANTIZE, cls=C.QUANTIZE,
         reason="Inductor kernel that rounds/clamps floats into an int8/fp8 buffer (its launching op's dtypes)"),
    rule("inductor.scale-quantize", Name(r"^triton_(poi|red|per)_fused\w*_scaled_(grouped_)?mm\w*(clamp|floor|round)"),
         role=R.QUANTIZE, cls=C.QUANTIZE, format="fp8 / mx activations",
         reason="Inductor kernel feeding a scaled matmul that computes scales and clamps / rounds its input: the "
                "activation quantization torchao's float8 / mx training fuses"),
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
    rule("comm.custom-allreduce", Name(r"(?i)(cross_device_reduce|allreduce|all_reduce|multimem_all_reduce|"
                                       r"one_?shot_?all_?reduce|two_?shot_?all_?reduce|custom_ar|all_?gather|"
                                       r"reduce_?scatter|lamport|broadcast_reduce|quick_?all_?reduce)"),
         role=R.COMMUNICATION, cls=C.OTHER, reason="custom all-reduce kernel", backend="NCCL"),
    rule("comm.expert-parallel", Name(r"^(deep_ep|pplx|mooncake|nixl|uccl|nvshmem\w*)::"), role=R.COMMUNICATION,
         cls=C.OTHER, reason="expert-parallel all-to-all (DeepEP, pplx-kernels) or NVSHMEM transfer", backend="NCCL"),
    rule("comm.words", words("internode", "intranode", "alltoall", "alltoallv", "all2all", "nvshmem", "allgather",
                             "reducescatter", "allreduce", "sendrecv", base=True), role=R.COMMUNICATION, cls=C.OTHER,
         reason="a collective by its name (all-to-all, all-gather, reduce-scatter, all-reduce, send/recv)",
         backend="NCCL"),
    rule("moe.routing", Name(r"(moe_align_block_size|count_and_sort_expert_tokens|topk_?[Gg]ating|topkGatingSoftmax|"
                             r"moeSoftmax|moeTopK|moe_sum|_topk_forward|_sum_bitmatrix_rows|_combined_routing|"
                             r"_finalize_matmul|finalizeKernel|finalizeMoeRouting|grouped_topk|topk_with_k2|"
                             r"group_idx_and_topk|moe_sum_reduce|_routing_|expert_tokens|topk_softmax|"
                             r"expandInputRows|compute_arg_sorts|compute_expert_offsets|moe::dev::(routing|finalize)|"
                             r"ep_scatter|ep_gather|compute_problem_sizes|shuffle_rows|moe_permute|moe_unpermute|"
                             r"deepep|dispatch_kernel|combine_kernel)"),
         role=R.OTHER, cls=C.OTHER,
         reason="MoE routing / top-k / sum / finalize: runs inside quantized MoE regions but is neither dequant nor "
                "compute", backend="MoE"),
    rule("common.norm", Name(r"(rms_?norm|RMSNorm|Rmsnorm|layer_?norm|LayerNorm|fused_add_norm|norm_kernel|qk_?norm|"
                             r"QKNorm|group_?norm|l2_?norm|RmsNorm)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="normalization", backend="ATen/other"),
    rule("common.norm-word", words("norm", "rmsnorm", "layernorm", "groupnorm", "qknorm", "l2norm", base=True),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="normalization (by the whole word)", backend="ATen/other"),
    rule("common.rotary", Name(r"(rotary|Rotary|rope|RoPE)"), role=R.ELEMENTWISE, cls=C.OTHER, reason="rotary embedding", backend="ATen/other"),
    rule("common.activation", Name(r"(act_and_mul|silu_and_mul|gelu_and_mul|silu_kernel|swiglu|moe::dev::activation|"
                                   r"activation\w*kernel)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="activation", backend="ATen/other"),
    rule("common.sampling", Name(r"(sampling::|Sampling|top_p|TopKTopP|apply_penalty|mbtopk|SoftMax|softmax|"
                                 r"argmax|multinomial|RadixTopK|TopK\w*Kernel)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="softmax / sampling", backend="ATen/other"),
    rule("common.cub", Name(r"cub::(\w+::)*Device\w*Kernel"), role=R.ELEMENTWISE,
         cls=C.OTHER, reason="CUB device-wide primitive (reduce / scan / select / sort) behind nonzero, masked_select, "
                             "sort or top-k", backend="ATen/other"),
    rule("common.copy-kernel", Name(r"(copy_kernel|CatArrayBatchedCopy|index\w*kernel|gather|scatter|FillFunctor|"
                                    r"fill_kernel|transpose|permute|copy_blocks|concat\w*kernel|direct_copy)"),
         role=R.MEMORY, cls=C.OTHER, reason="copy / fill / index / gather kernel", backend="ATen/other"),
    rule("common.aten-elementwise", Name(r"(at::native::|elementwise_kernel|reduce_kernel|"
                                         r"vectorized_elementwise|unrolled_elementwise)"),
         role=R.ELEMENTWISE, cls=C.OTHER, reason="ATen element-wise or reduction kernel", backend="ATen/other"),
    rule("common.ck-tile-other", Name(r"(ck_tile|_ZN7ck_tile)"), role=R.ELEMENTWISE, cls=C.OTHER,
         reason="ck_tile kernel that is not a GEMM or FMHA (norms, MoE sorting, transposes)", backend="ATen/other"),
), device=Device.GPU)
