"""The engine: evaluate ordered rule tables against each kernel's context; the first match decides.

Classification is cached per distinct context (name, launching op, enclosing ops, dtypes, shapes),
so a million kernel instances cost about as much as their few thousand distinct contexts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernelscope.classify.demangle import demangle, mangled_reading
from kernelscope.classify.link import Chains, OpTree, Rows, chain_ids
from kernelscope.classify.ranges import PREFIX
from kernelscope.classify.rules.base import KernelContext, Rule, RuleTable
from kernelscope.classify.work import Work, op_work
from kernelscope.trace.columnar import CONCRETE_KEPT_FOR, Trace
from kernelscope.trace.columns import Categorical, Encoded, group_ids
from kernelscope.trace.dtypes import conversion_target, format_shapes, parse_concrete, parse_dims, parse_types
from kernelscope.vocabulary import Device, KernelClass, Role

UNKNOWN_RULE = "unknown"
_OP_NAME = re.compile(r"^[A-Za-z_][\w.]*::[\w.]+$")
_ELLIPSES = ("...", "\u2026")


@dataclass(frozen=True)
class Verdict:
    role: Role
    kernel_class: KernelClass
    backend: str
    format: str
    rule: str
    reason: str
    fallback: bool = False  # the rule recognises a library's portable fallback (Rule.fallback)
    generic_unpack: bool = False  # generic bit-unpacking of packed data (Rule.generic_unpack)
    generic: bool = False  # decided by a rule for a kind of kernel, not for a library's own (Rule.generic)

    @property
    def traits(self) -> int:
        """The path-relevant facts as bits: FALLBACK_BIT, GENERIC_UNPACK_BIT."""
        return (FALLBACK_BIT if self.fallback else 0) | (GENERIC_UNPACK_BIT if self.generic_unpack else 0)


FALLBACK_BIT, GENERIC_UNPACK_BIT = 1, 2
UNKNOWN = Verdict(Role.OTHER, KernelClass.OTHER, "", "", UNKNOWN_RULE, "no rule in any table matches")


def normalize_name(name: str) -> str:
    """The name rules read: demangled where it is mangled (`_ZN...`), without what profilers add around it
    (a leading 'void ', a trailing ellipsis)."""
    name = name.strip()
    if name.startswith("_Z"):
        name = demangle(name)
        if name.startswith("_Z"):  # cut off by the profiler: what its source names say
            name = mangled_reading(name)
    for mark in _ELLIPSES:
        if name.endswith(mark):
            name = name[: -len(mark)].rstrip()
    if name.startswith("void "):
        name = name[5:]
    return name


class Classifier:
    def __init__(self, tables: Sequence[RuleTable]) -> None:
        self.tables = tuple(tables)
        self._cache: dict[KernelContext, Verdict] = {}

    def classify(self, ctx: KernelContext) -> Verdict:
        found = self._cache.get(ctx)
        if found is None:
            found = self._cache[ctx] = self._evaluate(ctx)
        return found

    def _evaluate(self, ctx: KernelContext) -> Verdict:
        for table in self.tables:
            if not table.applies_to(ctx):
                continue
            for r in table.rules:
                decided = r.decide(ctx) if r.matches(ctx) else None
                if decided is not None:
                    role, cls = decided
                    return Verdict(role, cls, r.backend, r.format_for(ctx.name), r.id, r.reason, r.fallback,
                                   r.generic_unpack, r.generic)
        return UNKNOWN

    def explain_name(self, name: str) -> Verdict:
        """Classify a bare name (no launching op, no dtypes): what `kernelscope explain` does. An op
        name (namespace::op, e.g. aten::_int_mm) is classified as a CPU op, anything else as a kernel."""
        nm = normalize_name(name)
        if _OP_NAME.match(nm):  # namespace::op: an op, unless no op rule knows it (aiter::fmoe_... is a kernel)
            as_op = self.classify(KernelContext(name=nm, device=Device.CPU, op=nm))
            if as_op.rule != UNKNOWN_RULE:
                return as_op
        as_kernel = self.classify(KernelContext(name=nm, device=Device.GPU))
        if as_kernel.rule == UNKNOWN_RULE:  # a CPU-only name without a namespace (an Inductor C++ kernel)
            as_op = self.classify(KernelContext(name=nm, device=Device.CPU, op=nm))
            if as_op.rule != UNKNOWN_RULE:
                return as_op
        return as_kernel

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id (for explanations), or None."""
        for table in self.tables:
            for r in table.rules:
                if r.id == rule_id:
                    return r
        return None



@dataclass(frozen=True)
class RowVerdicts:
    role: Categorical
    kernel_class: Categorical
    backend: Categorical
    format: Categorical
    rule: Categorical
    op_name: Categorical
    wrapper: Categorical  # the outermost non-aten op around the row: the library call that caused it
    in_types: Categorical
    in_shapes: Categorical
    traits: npt.NDArray[np.int64]  # Verdict.traits of each row (FALLBACK_BIT | GENERIC_UNPACK_BIT)
    work_dtype: Categorical  # what its op computes in ('' where its work is not known: classify/work.py)
    flops: npt.NDArray[np.float64]  # its op's work in its role (NaN: not known); pipeline keeps it on one row
    bytes: npt.NDArray[np.float64]
    gemm_nk: npt.NDArray[np.int64]  # [rows, 2]: a GEMM op's weight shape (N, K); 0 where not a GEMM


_TEXT_FIELDS = ("role", "kernel_class", "backend", "format", "rule", "op_name", "wrapper", "in_types", "in_shapes")


@dataclass(frozen=True)
class _OpFacts:
    """What the trace says about the ops that rows refer to, as codes the rows can be keyed by."""

    names: Categorical
    chains: Chains
    types: Encoded[bytes]
    dims: Encoded[bytes]
    concrete: Encoded[bytes]


def classify_rows(
    trace: Trace, rows: Rows, tree: OpTree, classifier: Classifier, weight_min_numel: int,
    marks: Categorical | None = None,
) -> RowVerdicts:
    """Verdicts for every row, computed once per distinct context and spread back with numpy."""
    n = len(rows)
    marks = marks if marks is not None else Categorical.constant("", n)
    if n == 0:
        e, none = Categorical(np.zeros(0, dtype=np.int32), ()), np.zeros(0)
        return RowVerdicts(e, e, e, e, e, e, e, e, e, traits=np.zeros(0, dtype=np.int64), work_dtype=e, flops=none,
                           bytes=none, gemm_nk=np.zeros((0, 2), dtype=np.int64))
    facts, key = _context_keys(trace, rows, tree, marks)
    inverse, first = group_ids(list(key.T))
    columns: dict[str, list[str]] = {f: [] for f in _TEXT_FIELDS}
    traits: list[int] = []
    works: list[Work | None] = []
    for r in first.tolist():
        ctx, texts = _context(key[r].tolist(), rows, facts, marks, weight_min_numel)
        v = classifier.classify(ctx)
        values = (v.role.value, v.kernel_class.value, v.backend, v.format, v.rule, *texts)
        for field, value in zip(_TEXT_FIELDS, values, strict=True):
            columns[field].append(value)
        traits.append(v.traits)
        works.append(op_work(ctx.op, ctx.in_types, ctx.in_dims, v.role.value) if ctx.op else None)
    spread = {f: _spread(values, inverse) for f, values in columns.items()}
    flops = np.asarray([w.flops if w else np.nan for w in works], dtype=np.float64)[inverse]
    moved = np.asarray([w.bytes if w and w.bytes is not None else np.nan for w in works], dtype=np.float64)[inverse]
    nk = np.asarray([(w.n, w.k) if w else (0, 0) for w in works], dtype=np.int64).reshape(-1, 2)[inverse]
    return RowVerdicts(**spread, traits=np.asarray(traits, dtype=np.int64)[inverse],
                       work_dtype=_spread([w.dtype if w else "" for w in works], inverse), flops=flops, bytes=moved,
                       gemm_nk=nk)


def _context_keys(trace: Trace, rows: Rows, tree: OpTree, marks: Categorical
                  ) -> tuple[_OpFacts, npt.NDArray[np.int64]]:
    """One key per row: the codes of everything a rule may look at (rows with equal keys get equal verdicts)."""
    ops, n = trace.ops, len(rows)
    op = rows.op_index
    has_op = op >= 0
    opi = np.where(has_op, op, 0)
    # the args of the ops that rows refer to (on a GPU trace, the launching ops: a fraction of all ops)
    used = np.unique(op[has_op])
    slot = np.full(len(ops), -1, dtype=np.int64)
    slot[used] = np.arange(len(used))
    types, dims = ops.args.encode(used)
    facts = _OpFacts(ops.names, chain_ids(tree, ops.names), types, dims, ops.concrete)

    def per_row(codes: npt.NDArray[np.integer], per_used: bool = False) -> npt.NDArray[np.int64]:
        if not len(codes):
            return np.full(n, -1, dtype=np.int64)
        index = slot[opi] if per_used else opi
        return np.where(has_op, codes[np.maximum(index, 0)], -1)

    key = np.stack([rows.names.codes, rows.device.codes, per_row(facts.names.codes), per_row(facts.chains.ids),
                    per_row(types.codes, True), per_row(dims.codes, True), per_row(facts.concrete.codes),
                    marks.codes, rows.graph_replayed.astype(np.int64)], axis=1).astype(np.int64)
    return facts, key


def _context(key: list[int], rows: Rows, facts: _OpFacts, marks: Categorical, weight_min_numel: int
             ) -> tuple[KernelContext, tuple[str, str, str, str]]:
    """The rule context of one key, and the op texts the table keeps (op, wrapper, input types, shapes)."""
    name_code, device_code, op_code, chain, type_code, dim_code, conc_code, mark_code, replayed = key
    device = Device(rows.device.values[device_code])
    name = normalize_name(rows.names.values[name_code])
    mark = marks.values[mark_code]
    if op_code < 0:
        return KernelContext(name=name, device=device, weight_min_numel=weight_min_numel,
                             graph_replayed=bool(replayed), marked=mark), ("", "", "", "")
    op_name = facts.names.values[op_code]
    enclosing = facts.chains.chains[chain]
    within = enclosing if device is Device.CPU else (*enclosing, op_name)
    in_types = parse_types(facts.types.values[type_code])
    converts = conversion_target(op_name, in_types, parse_concrete(facts.concrete.values[conc_code])) \
        if op_name in CONCRETE_KEPT_FOR else ""
    in_dims = parse_dims(facts.dims.values[dim_code])
    ctx = KernelContext(name=name, device=device, op=op_name, within=within, in_types=in_types, in_dims=in_dims,
                        weight_min_numel=weight_min_numel, graph_replayed=bool(replayed), converts_to=converts,
                        marked=mark)
    return ctx, (op_name, _wrapper(within), ", ".join(in_types), format_shapes(in_dims))


def _spread(per_unique: list[str], inverse: npt.NDArray[np.intp]) -> Categorical:
    cat = Categorical.encode(per_unique)
    return Categorical(cat.codes[inverse], cat.values)


def _wrapper(within: tuple[str, ...]) -> str:
    for name in within:
        if not name.startswith(("aten::", PREFIX)):
            return name
    return within[0] if within else ""
