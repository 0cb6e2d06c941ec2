"""The work of an op: floating-point (or integer) operations and bytes moved, from the launching op's input
shapes and dtypes as the trace records them (`Input Dims`, `Input type`).

Conventional definitions (TraceLens, the roofline literature): a GEMM of M x K by K x N does 2·M·N·K
operations and moves A + B + C at their storage dtypes (the bias too where the op takes one); attention
over q [b, h, Lq, d] and k, v [b, hk, Lk, d] does 2·b·h·Lq·Lk·(d + dv) (causality not counted: the trace
does not say) and moves q + k + v + the output. A quantized operand counts at its storage: the packed
int4 weight of `_weight_int4pack_mm` (an int32 tensor of a quarter of the elements) and its scales and
zero points are in its inputs as stored, so they are counted as stored, never at the weight's logical size.
Ops whose work the trace cannot give (a library op without shapes, an output dtype it does not record) get
None, never a guess. `dtype` is what the op computes in (the peak it is held against): int8 for an int8 x
int8 GEMM, fp8 for a scaled fp8 one, else the activation's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kernelscope.trace.dtypes import Dims

ITEMSIZE = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2, "int64": 8, "int32": 4, "int16": 2, "uint16": 2,
            "int8": 1, "uint8": 1, "bool": 1, "fp8e4m3": 1, "fp8e5m2": 1, "fp8e8m0": 1, "fp4x2": 1, "qint8": 1,
            "quint8": 1, "qint32": 4, "quint4x2": 1}


@dataclass(frozen=True)
class Work:
    flops: float
    bytes: float | None  # None where an output's dtype is not in the trace
    dtype: str  # the dtype it computes in
    n: int = 0  # a GEMM's weight shape (N outputs x K inputs); 0 for other ops: what ties a call to its Linear
    k: int = 0


def op_work(op: str, types: tuple[str, ...], dims: Dims, role: str = "gemm") -> Work | None:
    """The work of one op in the role its kernel plays (a GEMM's or attention's compute, or a (de)quantize
    step's conversion), or None where its form is not one whose work the trace states."""
    forms = _CONVERSIONS if role in ("dequant", "quantize") else _FORMS if role in ("gemm", "attention") else {}
    form = forms.get(op)
    if form is None or not dims:
        return None
    try:
        return form(types, dims)
    except (LookupError, TypeError, ValueError, ZeroDivisionError):
        return None  # shapes that do not fit the form (another overload): no figure rather than a wrong one


def tensor_bytes(types: tuple[str, ...], dims: Dims, index: int) -> float:
    shape = dims[index]
    if shape is None:
        raise ValueError("not a tensor")
    return float(math.prod(shape)) * ITEMSIZE[types[index]]


def _inputs(types: tuple[str, ...], dims: Dims, indices: tuple[int, ...]) -> float:
    return sum(tensor_bytes(types, dims, i) for i in indices if i < len(dims) and dims[i] is not None)


def _float(dtype: str) -> str:
    if dtype not in ("fp32", "bf16", "fp16", "fp64"):
        raise ValueError("not a float activation")
    return dtype


def _mm(types: tuple[str, ...], dims: Dims, a: int = 0, b: int = 1, extra: tuple[int, ...] = ()) -> Work:
    (m, k), (k2, n) = dims[a], dims[b]  # type: ignore[misc]
    if k != k2:
        raise ValueError("inner dimensions differ")
    dtype = _float(types[a])
    out = float(m * n) * ITEMSIZE[dtype]
    return Work(2.0 * m * n * k, _inputs(types, dims, (a, b, *extra)) + out, dtype, n, k)


def _bmm(types: tuple[str, ...], dims: Dims, a: int = 0, b: int = 1, extra: tuple[int, ...] = ()) -> Work:
    (batch, m, k), (batch2, k2, n) = dims[a], dims[b]  # type: ignore[misc]
    if k != k2 or batch != batch2:
        raise ValueError("shapes differ")
    dtype = _float(types[a])
    out = float(batch * m * n) * ITEMSIZE[dtype]
    return Work(2.0 * batch * m * n * k, _inputs(types, dims, (a, b, *extra)) + out, dtype)


def _int_mm(types: tuple[str, ...], dims: Dims) -> Work:
    (m, k), (_, n) = dims[0], dims[1]  # type: ignore[misc]
    return Work(2.0 * m * n * k, _inputs(types, dims, (0, 1)) + float(m * n) * 4, "int8", n, k)


def _int8pack_mm(types: tuple[str, ...], dims: Dims) -> Work:
    """aten::_weight_int8pack_mm(x [M, K], w int8 [N, K], scales [N])."""
    (m, k), (n, k2) = dims[0], dims[1]  # type: ignore[misc]
    if k != k2:
        raise ValueError("inner dimensions differ")
    dtype = _float(types[0])
    return Work(2.0 * m * n * k, _inputs(types, dims, (0, 1, 2)) + float(m * n) * ITEMSIZE[dtype], dtype, n, k)


def _int4pack_mm(types: tuple[str, ...], dims: Dims) -> Work:
    """aten::_weight_int4pack_mm[_for_cpu](x [M, K], packed w, group size, scales_and_zeros [K/g, N, 2]): N
    from the scales, the packed weight and the scales counted as stored."""
    m, k = dims[0]  # type: ignore[misc]
    scales = dims[3]
    if scales is None or len(scales) != 3:
        raise ValueError("no scales")
    n = scales[1]
    dtype = _float(types[0])
    return Work(2.0 * m * n * k, _inputs(types, dims, (0, 1, 3)) + float(m * n) * ITEMSIZE[dtype], dtype, n, k)


def _scaled_mm(types: tuple[str, ...], dims: Dims) -> Work:
    """aten::_scaled_mm(a fp8 [M, K], b fp8 [K, N], scale_a, scale_b, ...): the output dtype is an argument
    the trace does not record, so the bytes are unknown."""
    (m, k), (_, n) = dims[0], dims[1]  # type: ignore[misc]
    dtype = "fp8" if types[0].startswith("fp8") else "int8" if types[0] == "int8" else _float(types[0])
    return Work(2.0 * m * n * k, None, dtype, n, k)


def _attention(types: tuple[str, ...], dims: Dims) -> Work:
    (b, h, lq, d), (b2, _, lk, d2), (b3, _, lk2, dv) = dims[0], dims[1], dims[2]  # type: ignore[misc]
    if d != d2 or lk != lk2 or b != b2 or b != b3:
        raise ValueError("shapes differ")
    dtype = _float(types[0])
    out = float(b * h * lq * dv) * ITEMSIZE[dtype]
    return Work(2.0 * b * h * lq * lk * (d + dv), _inputs(types, dims, (0, 1, 2)) + out, dtype)


def _bshd_attention(types: tuple[str, ...], dims: Dims) -> Work:
    """The flash / efficient kernels' own ops take [b, L, h, d]."""
    heads_second = tuple((s[0], s[2], s[1], s[3]) if s is not None and len(s) == 4 else s for s in dims[:3])
    return _attention(types, heads_second)


def _mv(types: tuple[str, ...], dims: Dims, a: int = 0, x: int = 1, extra: tuple[int, ...] = ()) -> Work:
    (n, k), (k2,) = dims[a], dims[x]  # type: ignore[misc]
    if k != k2:
        raise ValueError("inner dimensions differ")
    dtype = _float(types[a])
    return Work(2.0 * n * k, _inputs(types, dims, (a, x, *extra)) + float(n) * ITEMSIZE[dtype], dtype, n, k)


_FORMS: dict[str, Callable[[tuple[str, ...], Dims], Work]] = {
    "aten::mm": _mm,
    "aten::addmm": lambda t, d: _mm(t, d, 1, 2, (0,)),
    "aten::bmm": _bmm,
    "aten::baddbmm": lambda t, d: _bmm(t, d, 1, 2, (0,)),
    "aten::mv": _mv,
    "aten::addmv": lambda t, d: _mv(t, d, 1, 2, (0,)),
    "aten::_int_mm": _int_mm,
    "aten::_weight_int8pack_mm": _int8pack_mm,
    "aten::_weight_int4pack_mm": _int4pack_mm,
    "aten::_weight_int4pack_mm_for_cpu": _int4pack_mm,
    "aten::_scaled_mm": _scaled_mm,
    # the attention implementations (not aten::scaled_dot_product_attention, which dispatches to one)
    "aten::_scaled_dot_product_flash_attention": _attention,
    "aten::_scaled_dot_product_flash_attention_for_cpu": _attention,
    "aten::_scaled_dot_product_efficient_attention": _attention,
    "aten::_scaled_dot_product_cudnn_attention": _attention,
    "aten::_cudnn_attention_forward": _attention,
    "aten::_flash_attention_forward": _bshd_attention,
    "aten::_efficient_attention_forward": _bshd_attention,
}


# -- (de)quantize steps: one operation per output element, bytes = inputs as stored + the output --------------

_CATEGORY = {"bool": 0, "uint8": 1, "int8": 1, "int16": 1, "uint16": 1, "int32": 1, "int64": 1,
             "bf16": 2, "fp16": 2, "fp32": 2, "fp64": 2}
_DEFAULT = {1: "int64", 2: "fp32"}


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    rank = max(len(s) for s in shapes)
    out = [1] * rank
    for shape in shapes:
        for i, size in enumerate(shape, start=rank - len(shape)):
            if size != 1 and out[i] not in (1, size):
                raise ValueError("shapes do not broadcast")
            out[i] = size if size != 1 else out[i]
    return tuple(out)


def _promote(dtypes: list[str]) -> str:
    """torch's promotion of two same-category dtypes: equal stays, mixed 16-bit floats widen to fp32."""
    if len(set(dtypes)) == 1:
        return dtypes[0]
    if set(dtypes) == {"bf16", "fp16"}:
        return "fp32"
    if set(dtypes) == {"uint8", "int8"}:
        return "int16"
    return max(dtypes, key=lambda d: ITEMSIZE[d])


def _result_dtype(op: str, tensors: list[tuple[str, tuple[int, ...]]], has_scalar: bool) -> str:
    """The output dtype of an elementwise op under torch's promotion: tensors with dimensions win over
    0-dim ones of the same category; a Python scalar of unknown type next to an integer tensor in
    arithmetic leaves it unknown (it may be a float)."""
    if op.rstrip("_").endswith(_COMPARISONS):
        return "bool"
    dimensioned = [d for d, s in tensors if s] or [d for d, _ in tensors]
    top = max(_CATEGORY[d] for d, _ in tensors)
    dim_top = max(_CATEGORY[d] for d in dimensioned)
    if has_scalar and dim_top < 2 and not op.strip("_").startswith(_BITWISE):
        raise ValueError("an integer tensor with a scalar of unknown type")
    if top > dim_top:  # a 0-dim tensor of a higher category
        return _DEFAULT[top]
    if op.strip("_").startswith("div") and dim_top < 2:
        return "fp32"  # true division of integers
    return _promote([d for d in dimensioned if _CATEGORY[d] == dim_top])


def _elementwise(op: str) -> Callable[[tuple[str, ...], Dims], Work]:
    def form(types: tuple[str, ...], dims: Dims) -> Work:
        tensors = [(t, dims[i]) for i, t in enumerate(types)
                   if i < len(dims) and t in _CATEGORY and dims[i] is not None]
        if not tensors:
            raise ValueError("no tensor inputs")
        shape = _broadcast([s for _, s in tensors if s is not None])
        inplace = (op.endswith("_") and not op.endswith("__")) or op.startswith("aten::__i")
        dtype = tensors[0][0] if inplace else _result_dtype(op, tensors, "scalar" in types)  # type: ignore[arg-type]
        numel = float(math.prod(shape))
        read = sum(float(math.prod(s)) * ITEMSIZE[d] for d, s in tensors if s is not None)
        return Work(numel, read + numel * ITEMSIZE[dtype], dtype)
    return form


def _copy(types: tuple[str, ...], dims: Dims) -> Work:
    """aten::copy_(dst, src): src read (broadcast to dst), dst written."""
    numel = float(math.prod(dims[0]))  # type: ignore[arg-type]
    return Work(numel, tensor_bytes(types, dims, 1) + numel * ITEMSIZE[types[0]], types[0])


def _gemm_4bit_dequant(types: tuple[str, ...], dims: Dims) -> Work:
    """bitsandbytes::gemm_4bit's dequantize step (its own kernel where the GEMM is not fused): the packed
    weight (two values a byte) and its absmax read, the weight written at the activation's dtype."""
    numel = float(math.prod(dims[1])) * 2  # type: ignore[arg-type]
    dtype = _float(types[0])
    return Work(numel, _inputs(types, dims, (1, 3)) + numel * ITEMSIZE[dtype], dtype)


def _gemm_4bit(types: tuple[str, ...], dims: Dims) -> Work:
    """bitsandbytes::gemm_4bit(x [..., K], packed uint8 [N·K/2, 1], shape, absmax, ...): the fused GEMV."""
    x = dims[0]
    if x is None:
        raise ValueError("no activation")
    k = x[-1]
    m = math.prod(x[:-1])
    n = math.prod(dims[1]) * 2 // k  # type: ignore[arg-type]
    dtype = _float(types[0])
    return Work(2.0 * m * n * k, _inputs(types, dims, (0, 1, 3)) + float(m * n) * ITEMSIZE[dtype], dtype, n, k)


def _int8_linear(types: tuple[str, ...], dims: Dims) -> Work:
    """bitsandbytes::int8_linear_matmul(A int8 [..., K], B int8 [N, K]) -> int32 [..., N]."""
    a, (n, k) = dims[0], dims[1]  # type: ignore[misc]
    if a is None or a[-1] != k:
        raise ValueError("inner dimensions differ")
    m = math.prod(a[:-1])
    return Work(2.0 * m * n * k, _inputs(types, dims, (0, 1)) + float(m * n) * 4, "int8", n, k)


def _int8_vectorwise_quant(types: tuple[str, ...], dims: Dims) -> Work:
    """bitsandbytes::int8_vectorwise_quant(A [..., K]) -> int8 [..., K] and one fp32 scale a row (outlier
    columns, where any, not counted: their number is data-dependent)."""
    a = dims[0]
    if a is None:
        raise ValueError("no input")
    numel, rows = float(math.prod(a)), float(math.prod(a[:-1]))
    return Work(numel, tensor_bytes(types, dims, 0) + numel + rows * 4, _float(types[0]))


_COMPARISONS = ("::eq", "::ne", "::ge", "::gt", "::le", "::lt")
_BITWISE = ("aten::bitwise", "aten::__", "aten::__and", "aten::__or", "aten::__xor")
_ELEMENTWISE_OPS = ("add", "sub", "mul", "div", "neg", "abs", "sign", "round", "reciprocal", "clamp", "clamp_min",
                    "clamp_max", "maximum", "minimum", "where", "bitwise_and", "bitwise_or", "bitwise_xor",
                    "bitwise_not", "eq", "ne", "ge", "gt", "le", "lt")
_CONVERSIONS: dict[str, Callable[[tuple[str, ...], Dims], Work]] = {
    **{f"aten::{name}": _elementwise(f"aten::{name}") for name in _ELEMENTWISE_OPS},
    **{f"aten::{name}_": _elementwise(f"aten::{name}_") for name in _ELEMENTWISE_OPS},
    **{f"aten::__{name}__": _elementwise(f"aten::__{name}__") for name in ("and", "or", "xor", "lshift", "rshift")},
    **{f"aten::__i{name}__": _elementwise(f"aten::__i{name}__")
       for name in ("and", "or", "xor", "lshift", "rshift")},
    "aten::copy_": _copy,
    "bitsandbytes::gemm_4bit": _gemm_4bit_dequant,
    "bitsandbytes::int8_vectorwise_quant": _int8_vectorwise_quant,
}
_FORMS["bitsandbytes::gemm_4bit"] = _gemm_4bit
_FORMS["bitsandbytes::int8_linear_matmul"] = _int8_linear
_FORMS["bitsandbytes::gemv_4bit"] = _gemm_4bit  # (A, B packed, shapeB, absmax, code, blocksize): the same operands
