"""The order in which the rule tables are evaluated: the first rule that matches a row decides it.

This is the one place the order is stated. To add a rule, put it in its library's table (cpu.py for
op names, gpu_*.py for kernel names); to add a table, list it here where it must win.

1. kernelscope's own marks (ranges its capture puts around a KV cache's quantize / dequantize
   calls): they know better than any name.
2. GPU kernel names (device kernels only): library kernels first (gpu_libraries.py, gpu_runtimes.py), then KV-cache and
   activation quantize kernels (gpu_quantize.py), attention (gpu_attention.py: the KV type decides),
   low-precision GEMM families (native) and dense GEMMs by dtype (gpu_gemm.py).
3. Op names (CPU ops, and the ops that launched kernels whose names said nothing): the library
   tables before ATen's, because they recognise the generic aten ops that run inside their calls.
4. GPU kernels decided late (gpu_common.py): Inductor/Triton kernels by their launching op's dtypes, the
   families that are never quantized compute (communication, routing, norms, copies, elementwise), and
   last any kernel named for a matrix multiply, by the operand types it states (gpu_gemm.GENERIC_GEMM).
"""

from __future__ import annotations

from functools import lru_cache

from kernelscope.classify.engine import Classifier
from kernelscope.classify.rules.base import RuleTable
from kernelscope.classify.rules.cpu import (
    ATEN_CPU,
    BITSANDBYTES_CPU,
    DISTRIBUTED_CPU,
    HQQ_CPU,
    INDUCTOR_CPU,
    KERNELSCOPE_MARKS,
    QUANTO_CPU,
    TORCH_QUANTIZED_CPU,
    TORCHAO_CPU,
)
from kernelscope.classify.rules.gpu_attention import ATTENTION
from kernelscope.classify.rules.gpu_common import COMMON_GPU, DEVICE_MEMORY, INDUCTOR
from kernelscope.classify.rules.gpu_gemm import DENSE_GEMM, GENERIC_GEMM, LOWP_GEMM
from kernelscope.classify.rules.gpu_libraries import (
    AITER,
    ATEN_QUANT_CUDA,
    AWQ_GPTQ,
    BITSANDBYTES_CUDA,
    GGML,
    HQQ_QUANTO_GEMLITE,
    MARLIN,
    SAGEATTENTION,
    TRTLLM,
)
from kernelscope.classify.rules.gpu_quantize import QUANTIZE
from kernelscope.classify.rules.gpu_runtimes import EXLLAMA, ONNXRUNTIME, TRANSFORMER_ENGINE

MARKS = (KERNELSCOPE_MARKS,)
GPU_NAME_TABLES = (DEVICE_MEMORY, BITSANDBYTES_CUDA, ATEN_QUANT_CUDA, MARLIN, AWQ_GPTQ, GGML, TRTLLM,
                   HQQ_QUANTO_GEMLITE, SAGEATTENTION, AITER, ONNXRUNTIME, TRANSFORMER_ENGINE, EXLLAMA, QUANTIZE,
                   ATTENTION, LOWP_GEMM, DENSE_GEMM)
OP_TABLES = (BITSANDBYTES_CPU, QUANTO_CPU, HQQ_CPU, TORCHAO_CPU, TORCH_QUANTIZED_CPU, INDUCTOR_CPU, DISTRIBUTED_CPU,
             ATEN_CPU)
GPU_LATE_TABLES = (INDUCTOR, COMMON_GPU, GENERIC_GEMM)


def default_tables() -> tuple[RuleTable, ...]:
    return (*MARKS, *GPU_NAME_TABLES, *OP_TABLES, *GPU_LATE_TABLES)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return Classifier(default_tables())


@lru_cache(maxsize=1)
def generic_rule_ids() -> frozenset[str]:
    """The rules that decide a kind of kernel on generic evidence (Rule.generic): coverage counts them apart."""
    return frozenset(r.id for t in default_tables() for r in t.rules if r.generic)
