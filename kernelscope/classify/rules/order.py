"""The order in which the rule tables are evaluated: the first rule that matches a row decides it.

This is the one place the order is stated. To add a rule, put it in its library's table (cpu.py for
op names, gpu.py for kernel names); to add a table, list it here where it must win.

1. kernelscope's own marks (ranges its capture puts around a KV cache's quantize / dequantize
   calls): they know better than any name.
2. GPU kernel names (device kernels only): library kernels first, then quantize kernels, attention
   (whose KV dtype shows in the name), low-precision GEMM families (native), dense GEMMs by dtype.
3. Op names (CPU ops, and the ops that launched kernels whose names said nothing): the library
   tables before ATen's, because they recognise the generic aten ops that run inside their calls.
4. GPU kernels decided late: Inductor/Triton kernels by their launching op's dtypes, then the
   generic families that are never quantized compute (communication, norms, copies, elementwise).
"""

from __future__ import annotations

from functools import lru_cache

from kernelscope.classify.engine import Classifier
from kernelscope.classify.rules.base import RuleTable
from kernelscope.classify.rules.cpu import (
    ATEN_CPU,
    BITSANDBYTES_CPU,
    HQQ_CPU,
    KERNELSCOPE_MARKS,
    QUANTO_CPU,
    TORCH_QUANTIZED_CPU,
    TORCHAO_CPU,
)
from kernelscope.classify.rules.gpu import (
    ATEN_QUANT_CUDA,
    ATTENTION,
    AWQ_GPTQ,
    BITSANDBYTES_CUDA,
    COMMON_GPU,
    DENSE_GEMM,
    DEVICE_MEMORY,
    HQQ_QUANTO_GEMLITE,
    INDUCTOR,
    LOWP_GEMM,
    MARLIN,
    QUANTIZE,
    TRTLLM,
)

MARKS = (KERNELSCOPE_MARKS,)
GPU_NAME_TABLES = (DEVICE_MEMORY, BITSANDBYTES_CUDA, ATEN_QUANT_CUDA, MARLIN, AWQ_GPTQ, TRTLLM, HQQ_QUANTO_GEMLITE,
                   QUANTIZE, ATTENTION, LOWP_GEMM, DENSE_GEMM)
OP_TABLES = (BITSANDBYTES_CPU, QUANTO_CPU, HQQ_CPU, TORCHAO_CPU, TORCH_QUANTIZED_CPU, ATEN_CPU)
GPU_LATE_TABLES = (INDUCTOR, COMMON_GPU)


def default_tables() -> tuple[RuleTable, ...]:
    return (*MARKS, *GPU_NAME_TABLES, *OP_TABLES, *GPU_LATE_TABLES)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return Classifier(default_tables())
