"""Op names that mean compute, shared by linking (which ops ran on the host), attribution (which ops
carry a GEMM's activation shape) and the op rule tables.

Each is a regular expression over a torch.profiler op name (`namespace::op`), anchored at both ends.
"""

from __future__ import annotations

import re

# dense GEMMs and GEMVs of ATen, on any float dtype
ATEN_GEMM = r"aten::(mm|bmm|addmm|baddbmm|addbmm|matmul|linear|dot|mv|addmv)"
# GEMMs of ATen that take a quantized operand (int8 x int8, packed int4 / int8 weights, scaled fp8)
ATEN_QUANT_GEMM = r"aten::(_int_mm|_weight_int\w*|_scaled_mm|_scaled_grouped_mm)"
ATEN_ATTENTION = (r"aten::(scaled_dot_product_attention|_scaled_dot_product_\w+|_flash_attention_forward|"
                  r"_efficient_attention_forward)")
ATEN_CONV = r"aten::conv\w*"
# library ops that compute in their own body on the CPU
LIBRARY_COMPUTE = r"(quantized::\w+|bitsandbytes::\w+)"

GEMM_OP = f"^{ATEN_GEMM}$"
ATTENTION_OP = f"^{ATEN_ATTENTION}$"
# a compute op: on a GPU trace, one that launched nothing ran on the host
HOST_COMPUTE_OP = f"^({ATEN_GEMM}|{ATEN_QUANT_GEMM}|{ATEN_CONV}|{ATEN_ATTENTION}|{LIBRARY_COMPUTE})$"
# ops whose Input Dims carry a GEMM's activation (the phase heuristic reads its rows): ATen's GEMMs,
# and any op whose name says gemm or ends in _mm (custom GEMM ops of vLLM, SGLang, TensorRT-LLM)
ACTIVATION_GEMM_OP = f"^({ATEN_GEMM}|{ATEN_QUANT_GEMM}|.*gemm.*|.*_mm)$"

HOST_COMPUTE = re.compile(HOST_COMPUTE_OP)
ACTIVATION_GEMM = re.compile(ACTIVATION_GEMM_OP)
