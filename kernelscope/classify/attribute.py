"""Attribute every row to a phase (prefill / decode step k / mixed), a request and a module.

Phase sources, in order of trust (the first that annotates any row decides for the whole trace):
  kernelscope   kernelscope's own ranges (ks/prefill/rN, ks/decode/rN/sK)
  vllm          vLLM step annotations: execute_[N_]context_<n>(...)_generation_<m>(...)
  sglang        SGLang step annotations: step[EXTEND bs=.. toks=..] / step[DECODE bs=..]
  annotation    other user annotations whose name says prefill or decode
  heuristic     no step annotations: the tokens (M) of each GEMM's activation from Input Dims;
                M <= decode_max_tokens is decode, larger is prefill; other rows take the phase of
                the GEMM before them on the same host thread
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


def attribute(trace: Trace, rows: Rows, decode_max_tokens: int = 32) -> Attribution:
    modules = _innermost_named(trace.ranges, rows, parse_module)
    marks = _innermost_named(trace.ranges, rows, lambda nm: nm if nm.startswith(MARK_PREFIX) else None)
    for source, parse in _STEP_PARSERS:
        labelled = _label_steps(trace.ranges, rows, parse)
        if labelled is not None:
            phase, request, step = labelled
            return Attribution(phase, request, step, modules, marks, source)
    phase = _heuristic_phases(trace, rows, decode_max_tokens)
    n = len(rows)
    source = PhaseSource.HEURISTIC if (phase.codes != phase.code(Phase.OTHER.value)).any() else PhaseSource.NONE
    return Attribution(
        phase, np.full(n, -1, np.int64), np.full(n, -1, np.int64), modules, marks, source, decode_max_tokens
    )


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


def _heuristic_phases(trace: Trace, rows: Rows, decode_max_tokens: int) -> Categorical:
    """Each GEMM row's phase from its activation rows; every other row takes the phase of the last
    GEMM before it on its host thread (rows before a thread's first GEMM: that GEMM's)."""
    ops, n = trace.ops, len(rows)
    label = np.zeros(n, dtype=np.int64)  # codes into _HEURISTIC_PHASES; 0 = no GEMM here
    if len(ops):
        gemm_op = mask_of(ops.names, lambda nm: bool(ACTIVATION_GEMM.match(nm)))
        op = rows.op_index
        gemm_rows = np.flatnonzero((op >= 0) & gemm_op[np.maximum(op, 0)])
        gemm_ops, per_row = np.unique(op[gemm_rows], return_inverse=True)
        _, dims = ops.args.encode(gemm_ops)
        tokens = np.array([_activation_tokens(d) for d in dims.values], dtype=np.int64)
        m = tokens[dims.codes[per_row.reshape(-1)]] if len(gemm_ops) else np.zeros(0, dtype=np.int64)
        label[gemm_rows] = np.where(m <= 0, 0, np.where(m <= decode_max_tokens, 1, 2))
    order = np.lexsort((rows.host_ts, rows.host_thread))
    codes = np.zeros(n, dtype=np.int64)
    codes[order] = _fill_within_groups(label[order], rows.host_thread[order])
    used, compact = np.unique(codes, return_inverse=True)
    return Categorical(compact.reshape(-1).astype(np.int32), tuple(_HEURISTIC_PHASES[u] for u in used.tolist()))


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


def _activation_tokens(dims_raw: bytes) -> int:
    """Rows (tokens) of a GEMM's activation: the product of all but the last dim of input 0."""
    try:
        dims = json.loads(dims_raw)
    except ValueError:
        return -1
    if not dims or not isinstance(dims[0], list) or len(dims[0]) < 2:
        return -1
    first = dims[0]
    m = 1
    for d in first[:-1]:
        if not isinstance(d, int):
            return -1
        m *= d
    return m
