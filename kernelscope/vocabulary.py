"""The vocabulary every layer shares: roles, kernel classes, paths, phases.

These are `str` Enums so they serialise as their value (JSON, Parquet, CLI) and compare equal to it.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a kernel (or CPU leaf op) does, independent of precision."""

    GEMM = "gemm"
    DEQUANT = "dequant"
    QUANTIZE = "quantize"
    ATTENTION = "attention"
    ELEMENTWISE = "elementwise"
    MEMORY = "memory"
    COMMUNICATION = "communication"
    OTHER = "other"


class KernelClass(StrEnum):
    """How a kernel relates to quantized data.

    native-quantized: compute that consumes a quantized format directly (int4 GEMV, int8 GEMM, fp8 attention).
    dequant: turns quantized weights / KV into high precision.
    quantize: turns high-precision activations / KV into a quantized format.
    dense: full-precision compute (GEMM or attention on bf16/fp16/fp32/tf32 operands).
    other: everything else.
    """

    NATIVE = "native-quantized"
    DEQUANT = "dequant"
    QUANTIZE = "quantize"
    DENSE = "dense"
    OTHER = "other"


class SitePath(StrEnum):
    """How one quantized site (a quantized Linear, or attention over a quantized KV cache) ran in a phase.

    See docs/paths.md for the full definitions.
    """

    NATIVE = "native-quantized"
    DEQUANT = "dequant-then-compute"
    FALLBACK = "fallback"
    UNQUANTIZED = "unquantized"


PATH_ORDER: tuple[SitePath, ...] = (SitePath.NATIVE, SitePath.DEQUANT, SitePath.FALLBACK, SitePath.UNQUANTIZED)


class Phase(StrEnum):
    PREFILL = "prefill"
    DECODE = "decode"
    MIXED = "mixed"  # one engine step that ran prefill and decode requests together (chunked prefill)
    OTHER = "other"  # outside any step (setup, sampling between steps, unannotated)


class SiteKind(StrEnum):
    LINEAR = "linear"
    ATTENTION = "attention"
    OP = "op"  # a foreign trace without module ranges: the top-level op that launched the kernels


class Device(StrEnum):
    CPU = "cpu"
    GPU = "gpu"
