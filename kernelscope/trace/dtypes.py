"""torch.profiler's `Input type` strings, normalised to short dtype names."""

from __future__ import annotations

import json
import math
from functools import lru_cache

_PROFILER_TO_SHORT = {
    "float": "fp32",
    "double": "fp64",
    "c10::BFloat16": "bf16",
    "c10::Half": "fp16",
    "signed char": "int8",
    "unsigned char": "uint8",
    "short int": "int16",
    "short": "int16",
    "int": "int32",
    "long int": "int64",
    "long": "int64",
    "bool": "bool",
    "c10::Float8_e4m3fn": "fp8e4m3",
    "c10::Float8_e4m3fnuz": "fp8e4m3",
    "c10::Float8_e5m2": "fp8e5m2",
    "c10::Float8_e5m2fnuz": "fp8e5m2",
    "c10::Float8_e8m0fnu": "fp8e8m0",
    "c10::Float4_e2m1fn_x2": "fp4x2",
    "c10::quint8": "quint8",
    "c10::qint8": "qint8",
    "c10::qint32": "qint32",
    "c10::quint4x2": "quint4x2",
    "c10::quint2x4": "quint2x4",
    "c10::UInt16": "uint16",
    "c10::UInt32": "uint32",
    "Scalar": "scalar",
    "": "none",
    "ScalarList": "list",
    "TensorList": "list",
    "GenericList": "list",
}

FLOATS = frozenset({"fp32", "fp64", "bf16", "fp16"})
LOW_FLOATS = frozenset({"fp8e4m3", "fp8e5m2", "fp8e8m0", "fp4x2"})
INT8ISH = frozenset({"int8", "uint8"}) | LOW_FLOATS  # byte-sized quantized storage

Dims = tuple[tuple[int, ...] | None, ...]


def short_dtype(profiler_type: str) -> str:
    return _PROFILER_TO_SHORT.get(profiler_type, profiler_type)


@lru_cache(maxsize=65536)
def parse_types(raw: bytes) -> tuple[str, ...]:
    """Decode an `Input type` JSON list (raw bytes from the trace) into short dtype names."""
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(short_dtype(v) if isinstance(v, str) else "none" for v in value)


@lru_cache(maxsize=65536)
def parse_dims(raw: bytes) -> Dims:
    """Decode an `Input Dims` JSON list into shapes (None for non-tensor inputs)."""
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    out: list[tuple[int, ...] | None] = []
    for d in value:
        if isinstance(d, list) and all(isinstance(x, int) for x in d):
            out.append(tuple(d))
        else:
            out.append(None)
    return tuple(out)


# c10::ScalarType codes as torch.profiler writes them in "Concrete Inputs" (e.g. the dtype of aten::to)
SCALAR_TYPE_CODES = {
    "0": "uint8", "1": "int8", "2": "int16", "3": "int32", "4": "int64", "5": "fp16", "6": "fp32", "7": "fp64",
    "11": "bool", "12": "qint8", "13": "quint8", "14": "qint32", "15": "bf16", "16": "quint4x2", "17": "quint2x4",
    "23": "fp8e5m2", "24": "fp8e4m3", "25": "fp8e5m2", "26": "fp8e4m3", "27": "uint16", "28": "uint32",
}


@lru_cache(maxsize=65536)
def parse_concrete(raw: bytes) -> tuple[str, ...]:
    """Decode a `Concrete Inputs` JSON list (scalar arguments as strings, '' for tensors)."""
    try:
        value = json.loads(raw) if raw else []
    except ValueError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(v if isinstance(v, str) else "" for v in value)


def conversion_target(op: str, in_types: tuple[str, ...], concrete: tuple[str, ...]) -> str:
    """The dtype an aten::to / aten::_to_copy converts to ('' when unknown or not a conversion)."""
    if op == "aten::_to_copy" or (op == "aten::to" and len(in_types) == 5):
        index = 1  # to(self, dtype, non_blocking, copy, memory_format) / _to_copy(self, dtype, ...)
    elif op == "aten::to" and len(in_types) == 6:
        index = 2  # to(self, device, dtype, non_blocking, copy, memory_format)
    else:
        return ""
    code = concrete[index] if index < len(concrete) else ""
    return SCALAR_TYPE_CODES.get(code, "")


def numel(shape: tuple[int, ...] | None) -> int:
    if shape is None:
        return 0
    return math.prod(shape) if shape else 1


def format_shapes(dims: Dims) -> str:
    return ", ".join("[" + ",".join(str(x) for x in d) + "]" if d is not None else "-" for d in dims)
