"""The engine: evaluate ordered rule tables against each kernel's context; the first match decides.

Classification is cached per distinct context (name, launching op, enclosing ops, dtypes, shapes),
so a million kernel instances cost about as much as their few thousand distinct contexts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kernelscope.dtypes import conversion_target, format_shapes, parse_concrete, parse_dims, parse_types
from kernelscope.link import OpTree, Rows
from kernelscope.model import Device, KernelClass, Role
from kernelscope.rules.base import KernelContext, RuleTable
from kernelscope.trace import Trace

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


UNKNOWN = Verdict(Role.OTHER, KernelClass.OTHER, "", "", UNKNOWN_RULE, "no rule in any table matches")


def normalize_name(name: str) -> str:
    """Strip what profilers add around a kernel name: a leading 'void ', a trailing ellipsis."""
    name = name.strip()
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
            for r in table.rules:
                if r.matches(ctx):
                    return Verdict(r.role, r.kernel_class, r.backend or table.backend, r.format_for(ctx.name), r.id,
                                   r.reason)
        return UNKNOWN

    def explain_name(self, name: str) -> Verdict:
        """Classify a bare name (no launching op, no dtypes): what `kernelscope explain` does. An op
        name (namespace::op, e.g. aten::_int_mm) is classified as a CPU op, anything else as a kernel."""
        nm = normalize_name(name)
        if _OP_NAME.match(nm):
            return self.classify(KernelContext(name=nm, device=Device.CPU, op=nm))
        return self.classify(KernelContext(name=nm, device=Device.GPU))

    def rule_by_id(self, rule_id: str) -> tuple[str, str] | None:
        """(backend, conditions) of a rule, for explanations."""
        for table in self.tables:
            for r in table.rules:
                if r.id == rule_id:
                    return r.backend or table.backend, r.describe()
        return None


@dataclass(frozen=True)
class RowVerdicts:
    role: list[str]
    kernel_class: list[str]
    backend: list[str]
    format: list[str]
    rule: list[str]
    op_name: list[str]
    wrapper: list[str]  # the outermost non-aten op around the row: the library call that caused it
    in_types: list[str]
    in_shapes: list[str]


def classify_rows(
    trace: Trace, rows: Rows, tree: OpTree, classifier: Classifier, weight_min_numel: int,
    marks: list[str] | None = None,
) -> RowVerdicts:
    ops = trace.ops
    within_cache: dict[int, tuple[str, ...]] = {}
    out = RowVerdicts([], [], [], [], [], [], [], [], [])
    type_text: dict[bytes, str] = {}
    dims_text: dict[bytes, str] = {}
    for r in range(len(rows)):
        op = int(rows.op_index[r])
        device = rows.device[r]
        name = normalize_name(rows.names[r])
        if op >= 0:
            enclosing = _within(tree, ops.names, op, within_cache)
            within = enclosing if device is Device.CPU else (*enclosing, ops.names[op])
            raw_types, raw_dims = ops.input_types[op], ops.input_dims[op]
            in_types = parse_types(raw_types)
            op_name = ops.names[op]
            converts = conversion_target(op_name, in_types, parse_concrete(ops.concrete[op])) \
                if op_name in ("aten::to", "aten::_to_copy") else ""
            ctx = KernelContext(
                name=name,
                device=device,
                op=op_name,
                within=within,
                in_types=in_types,
                in_dims=parse_dims(raw_dims),
                weight_min_numel=weight_min_numel,
                graph_replayed=bool(rows.graph_replayed[r]),
                converts_to=converts,
                marked=marks[r] if marks else "",
            )
            wrapper = _wrapper(within)
            types_s = type_text.get(raw_types)
            if types_s is None:
                types_s = type_text[raw_types] = ", ".join(parse_types(raw_types))
            shapes_s = dims_text.get(raw_dims)
            if shapes_s is None:
                shapes_s = dims_text[raw_dims] = _shapes_text(raw_dims)
        else:
            ctx = KernelContext(name=name, device=device, weight_min_numel=weight_min_numel,
                                graph_replayed=bool(rows.graph_replayed[r]), marked=marks[r] if marks else "")
            op_name = wrapper = types_s = shapes_s = ""
        v = classifier.classify(ctx)
        out.role.append(v.role.value)
        out.kernel_class.append(v.kernel_class.value)
        out.backend.append(v.backend)
        out.format.append(v.format)
        out.rule.append(v.rule)
        out.op_name.append(op_name)
        out.wrapper.append(wrapper)
        out.in_types.append(types_s)
        out.in_shapes.append(shapes_s)
    return out


def _within(tree: OpTree, names: list[str], op: int, cache: dict[int, tuple[str, ...]]) -> tuple[str, ...]:
    found = cache.get(op)
    if found is not None:
        return found
    chain: list[int] = []
    p = int(tree.parent[op])
    while p >= 0 and p not in cache:
        chain.append(p)
        p = int(tree.parent[p])
    base = cache[p] + (names[p],) if p >= 0 else ()
    # chain holds ancestors from the nearest up to (excluding) the first cached one
    for q in reversed(chain):
        cache[q] = base
        base = (*base, names[q])
    cache[op] = base
    return base


def _wrapper(within: tuple[str, ...]) -> str:
    for name in within:
        if not name.startswith("aten::") and not name.startswith("ks/"):
            return name
    return within[0] if within else ""


def _shapes_text(raw: bytes) -> str:
    return format_shapes(parse_dims(raw))
