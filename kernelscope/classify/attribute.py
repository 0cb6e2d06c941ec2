"""Attribute every row to a phase (prefill / decode step k / mixed), a request and a module.

Phase sources, in order of trust (the first that annotates any row decides for the whole trace):
  kernelscope   kernelscope's own ranges (ks/prefill/rN, ks/decode/rN/sK)
  vllm          step annotations execute_[N_]context_<n>(...)_generation_<m>(...)
  sglang        step annotations step[EXTEND bs=.. toks=..] / step[DECODE bs=..]
  annotation    other user annotations whose name says prefill or decode
  heuristic     no step annotations: the tokens (M) of each GEMM's activation operand (input 0 of
                mm / linear / matmul, input 1 of addmm / baddbmm) from Input Dims; M <= decode_max_tokens
                is decode, larger is prefill; other rows take the phase of the GEMM before them on the
                same host thread. Only where the trace has that structure: some weight must run at both
                few and many tokens (a diffusion or encoder trace has no decode, and gets none)
The engine a step annotation names is read from the trace's own op namespaces where they say (SGLang
runs some of vLLM's ops, and either style of annotation may come from another engine).
Modules come from kernelscope's module ranges only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from kernelscope.classify import ranges
from kernelscope.classify.link import Rows, innermost_enclosing
from kernelscope.classify.ranges import MARK_PREFIX, StepLabel, parse_module, parse_step
from kernelscope.classify.rules.ops import ACTIVATION_GEMM
from kernelscope.trace.columnar import Ops, Trace
from kernelscope.trace.columns import Categorical, mask_of
from kernelscope.vocabulary import Phase

I64 = npt.NDArray[np.int64]
L = TypeVar("L")


class PhaseSource(StrEnum):
    KERNELSCOPE = "kernelscope"
    VLLM = "vllm"
    SGLANG = "sglang"
    ANNOTATION = "annotation"
    HEURISTIC = "heuristic"
    NONE = "none"


_VLLM = re.compile(r"^execute_(?:\d+_)?context_(\d+)\(.*?\)_generation_(\d+)\(.*\)$")
_SGLANG = re.compile(r"^step\[(EXTEND|DECODE|MIXED|PREFILL|IDLE)\b", re.IGNORECASE)
_USER_PREFILL = re.compile(r"prefill", re.IGNORECASE)
_USER_DECODE = re.compile(r"decode", re.IGNORECASE)


@dataclass(frozen=True)
class Attribution:
    phase: Categorical  # Phase values
    request: I64
    step: I64
    module: Categorical  # innermost module path ('' if none)
    marks: Categorical  # innermost ks/kv/* range around each row ('' if none)
    phase_source: PhaseSource
    decode_max_tokens: int | None = None
    note: str = ""  # how the source was read (annotation style, engine cues), or why there are no phases


def attribute(trace: Trace, rows: Rows, decode_max_tokens: int = 32) -> Attribution:
    modules = _innermost_named(trace.ranges, rows, parse_module)
    marks = _innermost_named(trace.ranges, rows, lambda nm: nm if nm.startswith(MARK_PREFIX) else None)
    for source, parse in _STEP_PARSERS:
        labelled = _label_steps(trace.ranges, rows, parse)
        if labelled is not None:
            phase, request, step = labelled
            engine, note = _step_engine(trace, source)
            return Attribution(phase, request, step, modules, marks, engine, note=note)
    phase, note = _heuristic_phases(trace, rows, decode_max_tokens)
    n = len(rows)
    source = PhaseSource.HEURISTIC if (phase.codes != phase.code(Phase.OTHER.value)).any() else PhaseSource.NONE
    return Attribution(phase, np.full(n, -1, np.int64), np.full(n, -1, np.int64), modules, marks, source,
                       decode_max_tokens, note)


# op / range namespaces that say which engine ran (SGLang first: it also runs some of vLLM's ops)
_ENGINE_CUES = ((PhaseSource.SGLANG, re.compile(r"(^|[^a-z])(sglang|sgl_kernel|sgl_\w+)::|^sglang\b", re.I)),
                (PhaseSource.VLLM, re.compile(r"^(vllm|_C|_C_cache_ops|_moe_C|_rocm_C|_vllm_fa\d?_C)::|^vllm\b",
                                              re.I)))
_STYLE = {PhaseSource.VLLM: "vLLM's execute_context_N_generation_M", PhaseSource.SGLANG: "SGLang's step[EXTEND|DECODE]"}


def _step_engine(trace: Trace, style: PhaseSource) -> tuple[PhaseSource, str]:
    """The engine behind step annotations of vLLM's or SGLang's style: the one the trace's op and range
    namespaces name, else the style's own."""
    if style not in _STYLE:
        return style, ""
    names = (*trace.ops.names.values, *trace.ranges.names.values)
    for engine, cue in _ENGINE_CUES:
        if any(cue.search(nm) for nm in names):
            return engine, f"step annotations in {_STYLE[style]} style; engine from its op namespaces"
    return style, f"step annotations in {_STYLE[style]} style"


def _parsed_ranges(ranges: Ops, parse: Callable[[str], L | None]) -> tuple[I64, list[L]]:
    """The ranges parse() accepts, in trace order, and what it made of each (parse() runs once per
    distinct range name)."""
    per_name = [parse(nm) for nm in ranges.names.values]
    accepted = np.array([p is not None for p in per_name], dtype=bool)
    idx = np.flatnonzero(accepted[ranges.names.codes]) if len(ranges) and per_name else np.zeros(0, np.int64)
    labels = [per_name[c] for c in ranges.names.codes[idx].tolist()]
    return idx.astype(np.int64), [lb for lb in labels if lb is not None]


def _innermost_named(ranges: Ops, rows: Rows, parse: Callable[[str], str | None]) -> Categorical:
    """For each row, parse() of the innermost enclosing range that parse() accepts ('' if none)."""
    idx, labels = _parsed_ranges(ranges, parse)
    if not len(idx):
        return Categorical.constant("", len(rows))
    inner = innermost_enclosing(ranges.take(idx), rows.host_thread, rows.host_ts)
    encoded = Categorical.encode(labels)
    codes = np.where(inner >= 0, encoded.codes[np.maximum(inner, 0)], -1)
    return Categorical.from_codes(codes, encoded.values)


def _parse_vllm(name: str) -> StepLabel | None:
    m = _VLLM.match(name)
    if m is None:
        return None
    context, generation = int(m.group(1)), int(m.group(2))
    if context and generation:
        return StepLabel(Phase.MIXED, -1, -1)
    if context:
        return StepLabel(Phase.PREFILL, -1, -1)
    if generation:
        return StepLabel(Phase.DECODE, -1, -1)
    return StepLabel(Phase.OTHER, -1, -1)


def _parse_sglang(name: str) -> StepLabel | None:
    m = _SGLANG.match(name)
    if m is None:
        return None
    kind = m.group(1).upper()
    phase = {"EXTEND": Phase.PREFILL, "PREFILL": Phase.PREFILL, "DECODE": Phase.DECODE, "MIXED": Phase.MIXED}
    return StepLabel(phase.get(kind, Phase.OTHER), -1, -1)


def _parse_user(name: str) -> StepLabel | None:
    if name.startswith((ranges.PREFIX, "ProfilerStep#")):
        return None
    if _USER_PREFILL.search(name):
        return StepLabel(Phase.PREFILL, -1, -1)
    if _USER_DECODE.search(name):
        return StepLabel(Phase.DECODE, -1, -1)
    return None


_STEP_PARSERS: tuple[tuple[PhaseSource, Callable[[str], StepLabel | None]], ...] = (
    (PhaseSource.KERNELSCOPE, parse_step),
    (PhaseSource.VLLM, _parse_vllm),
    (PhaseSource.SGLANG, _parse_sglang),
    (PhaseSource.ANNOTATION, _parse_user),
)


def _label_steps(
    ranges: Ops, rows: Rows, parse: Callable[[str], StepLabel | None]
) -> tuple[Categorical, I64, I64] | None:
    idx, labels = _parsed_ranges(ranges, parse)
    if not len(idx):
        return None
    inner = innermost_enclosing(ranges.take(idx), rows.host_thread, rows.host_ts)
    found = inner >= 0
    at = np.maximum(inner, 0)
    label_phase = Categorical.encode([lb.phase.value for lb in labels])
    phase = Categorical.from_codes(np.where(found, label_phase.codes[at], -1), label_phase.values, Phase.OTHER.value)
    request = np.where(found, np.array([lb.request for lb in labels], dtype=np.int64)[at], -1)
    step = np.where(found, np.array([lb.step for lb in labels], dtype=np.int64)[at], -1)
    return phase, request, step


_HEURISTIC_PHASES = (Phase.OTHER.value, Phase.DECODE.value, Phase.PREFILL.value)


def _heuristic_phases(trace: Trace, rows: Rows, decode_max_tokens: int) -> tuple[Categorical, str]:
    """Each GEMM row's phase from its activation rows; every other row takes the phase of the last
    GEMM before it on its host thread (rows before a thread's first GEMM: that GEMM's). All `other`,
    with the reason, where no weight ran at both few and many tokens."""
    n = len(rows)
    label = np.zeros(n, dtype=np.int64)  # codes into _HEURISTIC_PHASES; 0 = no GEMM here
    gemm_rows, m, weights = _gemm_rows(trace, rows)
    if len(gemm_rows):
        few = m <= decode_max_tokens
        if not _has_decode_structure(m, weights, decode_max_tokens):
            note = (f"no step annotations, and no GEMM weight ran at both <= {decode_max_tokens} activation rows and "
                    "another count: no prefill / decode structure to attribute")
            return Categorical.constant(Phase.OTHER.value, n), note
        label[gemm_rows] = np.where(m <= 0, 0, np.where(few, 1, 2))
    order = np.lexsort((rows.host_ts, rows.host_thread))
    codes = np.zeros(n, dtype=np.int64)
    codes[order] = _fill_within_groups(label[order], rows.host_thread[order])
    used, compact = np.unique(codes, return_inverse=True)
    phases = Categorical(compact.reshape(-1).astype(np.int32), tuple(_HEURISTIC_PHASES[u] for u in used.tolist()))
    return phases, ""


def _has_decode_structure(m: I64, weights: I64, decode_max_tokens: int) -> bool:
    """Generation reuses each weight at a few tokens (decode) and at another count (prefill, or a longer
    step): some weight must run at two or more activation row counts, one of them small."""
    known = (m > 0) & (weights >= 0)
    pairs = np.unique(np.stack([weights[known], m[known]], axis=1), axis=0)
    if not len(pairs):
        return False
    keys, counts = np.unique(pairs[:, 0], return_counts=True)
    smallest = np.minimum.reduceat(pairs[:, 1], np.searchsorted(pairs[:, 0], keys))
    return bool(((counts >= 2) & (smallest <= decode_max_tokens)).any())


def _gemm_rows(trace: Trace, rows: Rows) -> tuple[I64, I64, I64]:
    """The rows launched by (or being) a GEMM op; per row its activation rows M (-1: unknown) and a key of
    its weight operand's shape (-1: none)."""
    ops = trace.ops
    if not len(ops):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    gemm_op = mask_of(ops.names, lambda nm: bool(ACTIVATION_GEMM.match(nm)))
    op = rows.op_index
    gemm_rows = np.flatnonzero((op >= 0) & gemm_op[np.maximum(op, 0)])
    gemm_ops, per_row = np.unique(op[gemm_rows], return_inverse=True)
    _, dims = ops.args.encode(gemm_ops)
    # one reading per distinct (op name, Input Dims): the operand positions depend on the op form
    pair = ops.names.codes[gemm_ops].astype(np.int64) * (len(dims.values) + 1) + dims.codes
    _, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    readings = [_gemm_reading(ops.names.values[ops.names.codes[gemm_ops[i]]], dims.values[dims.codes[i]])
                for i in first.tolist()]
    weight_keys = Categorical.encode([w for _, w in readings])
    m = np.array([t for t, _ in readings], dtype=np.int64)[inverse][per_row.reshape(-1)]
    weights = np.where(np.array([w != "" for _, w in readings]), weight_keys.codes, -1)[inverse][per_row.reshape(-1)]
    return gemm_rows, m, weights.astype(np.int64)


def _fill_within_groups(label: npt.NDArray[np.int64], group: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Labels (0 = none) carried forward within runs of equal `group`, and backward into a run's
    leading unlabelled entries."""
    n = len(label)
    if not n:
        return label
    pos = np.arange(n)
    starts = np.r_[True, group[1:] != group[:-1]]
    run_id = np.cumsum(starts) - 1
    run_start = pos[starts][run_id]
    run_end = np.r_[pos[starts][1:], n][run_id]  # one past the run's last entry
    last = np.maximum.accumulate(np.where(label > 0, pos, -1))
    nxt = np.minimum.accumulate(np.where(label > 0, pos, n)[::-1])[::-1]
    src = np.where(last >= run_start, last, np.where(nxt < run_end, nxt, -1))
    filled: npt.NDArray[np.int64] = np.where(src >= 0, label[np.maximum(src, 0)], 0)
    return filled


# (activation input, weight input) of each op form; any other GEMM op (custom ones of vLLM, SGLang,
# TensorRT-LLM, torchao): input 0 and input 1
_OPERANDS = {"aten::addmm": (1, 2), "aten::baddbmm": (1, 2), "aten::addbmm": (1, 2), "aten::addmv": (2, 1),
             "aten::mv": (1, 0)}


def _gemm_reading(op_name: str, dims_raw: bytes) -> tuple[int, str]:
    """(activation rows M, the weight operand's shape as a key) of one GEMM op: M is the product of all but
    the last dim of the activation (1 for a vector); -1 / "" where the dims do not say."""
    activation, weight = _OPERANDS.get(op_name, (0, 1))
    try:
        dims = json.loads(dims_raw)
    except ValueError:
        return -1, ""
    if not isinstance(dims, list) or len(dims) <= activation or not isinstance(dims[activation], list):
        return -1, ""
    shape = dims[activation]
    if not shape or not all(isinstance(d, int) for d in shape):
        return -1, ""
    m = 1
    for d in shape[:-1]:
        m *= d
    weight_shape = dims[weight] if len(dims) > weight and isinstance(dims[weight], list) else []
    return m, json.dumps(weight_shape) if len(weight_shape) >= 2 else ""
