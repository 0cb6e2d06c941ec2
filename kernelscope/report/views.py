"""Data shaping for interactive views (the TUI): pure functions of a kernel table.

Everything here is numpy over dictionary codes, so it stays interactive on a million rows: a
filter is a few boolean masks, the kernel list is a bincount per distinct name, instances are
pulled only for a group that is opened, and the module tree is built from the distinct module
names, not from rows. Widgets only display what these return.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kernelscope.classify.engine import Classifier
from kernelscope.classify.rules.paths import path_rule_text
from kernelscope.classify.table import KernelTable
from kernelscope.report.aggregate import time_by_path
from kernelscope.report.documents import Summary
from kernelscope.trace.columns import Categorical, mask_of
from kernelscope.vocabulary import PATH_ORDER, KernelClass, Phase

Mask = npt.NDArray[np.bool_]
PATHS = tuple(p.value for p in PATH_ORDER)
VIEW_PHASES = (Phase.PREFILL.value, Phase.DECODE.value)
OUTSIDE_MODULES = "(outside modules)"
DOMINANT_SHARE = 0.9  # a path holding at least this share of the time names it; else "mixed"


# --------------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filter:
    """What the kernel list shows: each field None (or empty) means 'any'."""

    path: str | None = None
    role: str | None = None
    phase: str | None = None
    search: str = ""  # case-insensitive substring of the kernel name, op or module
    rank: int | None = None  # one rank of a distributed run

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("path", self.path), ("role", self.role), ("phase", self.phase)) if v]
        if self.rank is not None:
            parts.append(f"rank={self.rank}")
        if self.search:
            parts.append(f"/{self.search}")
        return " ".join(parts) or "all"


def _value_mask(cat: Categorical, value: str | None) -> Mask | None:
    return None if value is None else cat.mask(value)


def filter_mask(table: KernelTable, f: Filter) -> Mask:
    mask = np.ones(len(table), dtype=bool)
    for column, value in (("path", f.path), ("role", f.role), ("phase", f.phase)):
        m = _value_mask(table.category(column), value)
        if m is not None:
            mask &= m
    if f.rank is not None:
        mask &= table.rank == f.rank
    if f.search:
        needle = f.search.lower()
        hit = mask_of(table.name, lambda v: needle in v.lower())
        hit |= mask_of(table.op, lambda v: needle in v.lower())
        hit |= mask_of(table.module, lambda v: needle in v.lower())
        mask &= hit
    return mask


def values_of(table: KernelTable, column: str) -> list[str]:
    """The distinct values a column takes in the table (for filter choices), in a stable order."""
    present = np.bincount(table.category(column).codes, minlength=len(table.category(column).values)) > 0
    return sorted(v for v, p in zip(table.category(column).values, present, strict=True) if p and v)


# ---------------------------------------------------------------------------------- kernel groups


@dataclass(frozen=True)
class KernelGroup:
    """All instances of one kernel (or op) name under the current filter."""

    name: str
    count: int
    total_us: float
    mean_us: float
    role: str  # the role holding most of its time
    path: str  # the path holding most of its time; "mixed" when no path has 90% of it
    prefill_us: float
    decode_us: float

    def as_row(self) -> tuple[str, int, float, float, str, str, float, float]:
        return (self.name, self.count, self.total_us, self.mean_us, self.role, self.path, self.prefill_us,
                self.decode_us)


GROUP_COLUMNS = ("name", "count", "total_us", "mean_us", "role", "path", "prefill_us", "decode_us")


def _dominant(codes: npt.NDArray[np.int64], group: npt.NDArray[np.int64], time: npt.NDArray[np.float64],
              n_groups: int, n_values: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Per group: the value code with most time, and that value's share of the group's time."""
    by = np.bincount(group * n_values + codes, weights=time, minlength=n_groups * n_values).reshape(n_groups, n_values)
    best = by.argmax(axis=1)
    totals = by.sum(axis=1)
    share = np.divide(by[np.arange(n_groups), best], totals, out=np.ones(n_groups), where=totals > 0)
    return best.astype(np.int64), share


def kernel_groups(table: KernelTable, mask: Mask) -> list[KernelGroup]:
    """One row per distinct name among the masked rows, heaviest first."""
    rows = np.nonzero(mask)[0]
    if not len(rows):
        return []
    names = table.name
    group = names.codes[rows].astype(np.int64)  # grouped by name code: bincounts, no sort of the rows
    k = len(names.values)
    time = table.time_us[rows]
    count = np.bincount(group, minlength=k)
    total = np.bincount(group, weights=time, minlength=k)
    phase = table.phase
    pre = np.bincount(group, weights=time * phase.mask(Phase.PREFILL.value)[rows], minlength=k)
    dec = np.bincount(group, weights=time * phase.mask(Phase.DECODE.value)[rows], minlength=k)
    role, path = table.role, table.path
    role_best, _ = _dominant(role.codes[rows].astype(np.int64), group, time, k, len(role.values))
    path_best, path_share = _dominant(path.codes[rows].astype(np.int64), group, time, k, len(path.values))
    used = np.nonzero(count)[0]
    order = used[np.argsort(-total[used], kind="stable")]
    return [KernelGroup(names.values[g], int(count[g]), float(total[g]), float(total[g] / count[g]),
                        role.values[role_best[g]],
                        path.values[path_best[g]] if path_share[g] >= DOMINANT_SHARE else "mixed",
                        float(pre[g]), float(dec[g])) for g in order.tolist()]


def sort_groups(groups: Sequence[KernelGroup], column: str, descending: bool) -> list[KernelGroup]:
    if column not in GROUP_COLUMNS:
        raise ValueError(f"unknown column {column!r}")
    return sorted(groups, key=lambda g: getattr(g, column), reverse=descending)


def group_instances(table: KernelTable, mask: Mask, name: str, limit: int = 200) -> tuple[list[int], int]:
    """Row indices of one group's instances in time order (the first `limit`), and how many there are."""
    code = table.name.code(name)
    rows = np.nonzero(mask & (table.name.codes == code))[0]
    order = np.argsort(table.ts_us[rows], kind="stable")
    return rows[order[:limit]].tolist(), len(rows)


# ------------------------------------------------------------------------------------ module tree


@dataclass
class ModuleNode:
    """A module and everything below it: time by phase and path, its own rows' time included."""

    name: str  # dotted, as in the table ("" for the root)
    label: str
    time: dict[str, dict[str, float]] = field(default_factory=dict)  # phase -> path -> us (phase "all" too)
    children: list[ModuleNode] = field(default_factory=list)
    stands_out: str = ""  # why this layer differs from its siblings, "" if it does not

    def total(self, phase: str = "all") -> float:
        return sum(self.time.get(phase, {}).values())

    def walk(self) -> list[ModuleNode]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def _empty_times() -> dict[str, dict[str, float]]:
    return {ph: dict.fromkeys(PATHS, 0.0) for ph in ("all", *VIEW_PHASES)}


def module_tree(table: KernelTable) -> ModuleNode:
    """The model as a tree of dotted module names, each node with time by path per phase."""
    module, path, phase = table.module, table.path, table.phase
    n_mod, n_path = len(module.values), len(path.values)
    time = table.time_us
    phase_codes = {ph: phase.code(ph) for ph in VIEW_PHASES}
    flat = module.codes.astype(np.int64) * n_path + path.codes
    sums = {"all": np.bincount(flat, weights=time, minlength=n_mod * n_path).reshape(n_mod, n_path)}
    for ph, code in phase_codes.items():
        w = time * (phase.codes == code) if code >= 0 else np.zeros_like(time)
        sums[ph] = np.bincount(flat, weights=w, minlength=n_mod * n_path).reshape(n_mod, n_path)
    root = ModuleNode("", "model", _empty_times())
    nodes: dict[str, ModuleNode] = {"": root}
    for m, name in enumerate(module.values):
        own = {ph: {path.values[p]: float(s[m, p]) for p in range(n_path)} for ph, s in sums.items()}
        if not any(v for d in own.values() for v in d.values()):
            continue
        for node in _chain(nodes, name or OUTSIDE_MODULES):
            for ph, by_path in own.items():
                for p, us in by_path.items():
                    node.time[ph][p] = node.time[ph].get(p, 0.0) + us
    _sort_and_flag(root)
    return root


def _chain(nodes: dict[str, ModuleNode], dotted: str) -> list[ModuleNode]:
    """The root, then each ancestor of `dotted`, then its own node, created on first sight."""
    out = [nodes[""]]
    parts = dotted.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[:i + 1])
        if name not in nodes:
            node = ModuleNode(name, parts[i], _empty_times())
            nodes[name] = node
            out[-1].children.append(node)
        out.append(nodes[name])
    return out


def _sort_key(node: ModuleNode) -> tuple[int, int | str]:
    return (0, int(node.label)) if node.label.isdigit() else (1, node.label)


def _sort_and_flag(node: ModuleNode) -> None:
    node.children.sort(key=_sort_key)
    numbered = [c for c in node.children if c.label.isdigit()]
    if len(numbered) >= 3:
        flag_odd_siblings(numbered)
    for child in node.children:
        _sort_and_flag(child)


def _shares(node: ModuleNode) -> list[float]:
    total = node.total()
    return [node.time["all"].get(p, 0.0) / total if total > 0 else 0.0 for p in PATHS]


def flag_odd_siblings(siblings: Sequence[ModuleNode], mix_threshold: float = 0.2, time_factor: float = 1.5) -> None:
    """Mark the layers whose path mix, or time, differs from their siblings' median: a layer left
    unquantized, or one that fell back while the others ran natively, stands out."""
    shares = [_shares(s) for s in siblings]
    median_share = [statistics.median(col) for col in zip(*shares, strict=True)]
    median_time = statistics.median(s.total() for s in siblings)
    for sib, share in zip(siblings, shares, strict=True):
        diff = sum(abs(a - b) for a, b in zip(share, median_share, strict=True)) / 2
        reasons = []
        if diff > mix_threshold:
            # name the path this layer takes more than its siblings do
            worst = max(range(len(PATHS)), key=lambda i: share[i] - median_share[i])
            reasons.append(f"{PATHS[worst]} {share[worst] * 100:.0f}% of its time vs {median_share[worst] * 100:.0f}% "
                           f"in its siblings")
        if median_time > 0 and sib.total() > time_factor * median_time:
            reasons.append(f"{sib.total() / median_time:.1f}x the median sibling time")
        sib.stands_out = "; ".join(reasons)


# -------------------------------------------------------------------------------------------- why


@dataclass(frozen=True)
class Why:
    """Everything behind one row's verdict."""

    row: dict[str, Any]
    rule_reason: str
    rule_conditions: str
    path_reason: str
    path_conditions: str
    neighbours: list[dict[str, Any]]  # the rows of the same call (site, request, step), in time order
    position: int  # this row's index in neighbours


def why(table: KernelTable, index: int, classifier: Classifier, context: int = 12) -> Why:
    row = table.row(index)
    rule = classifier.rule(str(row["rule"]))
    path_reason, path_conditions = path_rule_text(str(row["path_rule"]))
    rows = call_rows(table, index)
    pos = rows.index(index)
    lo = max(0, pos - context)
    shown = rows[lo:pos + context + 1]
    return Why(row, rule.reason if rule else "", rule.describe() if rule else "", path_reason, path_conditions,
               [table.row(i) | {"index": i} for i in shown], pos - lo)


def call_rows(table: KernelTable, index: int) -> list[int]:
    """The rows of the call a row belongs to: same site, request, step and rank (for a row outside
    sites: same module, request and step), in time order."""
    site = table.site
    key_col = "site" if site.values[site.codes[index]] else "module"
    cat = table.category(key_col)
    mask = cat.codes == cat.codes[index]
    for col in ("request", "step", "rank"):
        arr = table.number(col)
        mask &= arr == arr[index]
    rows = np.nonzero(mask)[0]
    ordered: list[int] = rows[np.argsort(table.ts_us[rows], kind="stable")].tolist()
    return ordered


def first_row_of(table: KernelTable, site: str, prefer: Sequence[str] = (KernelClass.DEQUANT.value,
                                                                       KernelClass.NATIVE.value,
                                                                       KernelClass.DENSE.value)) -> int | None:
    """The row that best explains a site's verdict: its first dequant, native or dense kernel."""
    code = table.site.code(site)
    if not site or code < 0:
        return None
    in_site = table.site.codes == code
    for cls in prefer:
        rows = np.nonzero(in_site & table.kernel_class.mask(cls))[0]
        if len(rows):
            return int(rows[np.argmin(table.ts_us[rows])])
    rows = np.nonzero(in_site)[0]
    return int(rows[0]) if len(rows) else None


# ---------------------------------------------------------------------------------- across runs


def module_paths(tables: Sequence[KernelTable], module: str) -> list[dict[str, dict[str, float]]]:
    """For each run: phase -> path -> us of one module and everything under it."""
    out = []
    for t in tables:
        inside = module_mask(t, module)
        out.append({ph: time_by_path(t, inside & t.phase.mask(ph)) for ph in VIEW_PHASES})
    return out


def module_mask(table: KernelTable, module: str) -> Mask:
    """The rows of a module and of everything under it."""
    return mask_of(table.module, lambda v: v == module or v.startswith(module + "."))


def dominant_path(by_path: dict[str, float]) -> str:
    total = sum(by_path.values())
    if total <= 0:
        return "-"
    best = max(by_path, key=lambda p: by_path[p])
    return best if by_path[best] / total >= DOMINANT_SHARE else "mixed"


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """Unicode block sparkline of values, resampled to at most `width` cells (max of each bin)."""
    blocks = " ▁▂▃▄▅▆▇█"
    if not values:
        return ""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) > width:
        arr = np.array([chunk.max() for chunk in np.array_split(arr, width)])
    lo, hi = float(arr.min()), float(arr.max())
    span = hi - lo or 1.0
    return "".join(blocks[1 + int((v - lo) / span * (len(blocks) - 2))] for v in arr)


# ------------------------------------------------------------------------------- tables for export

Rows = tuple[list[str], list[list[Any]]]


def groups_rows(groups: Sequence[KernelGroup]) -> Rows:
    return list(GROUP_COLUMNS), [list(g.as_row()) for g in groups]


def tree_rows(root: ModuleNode) -> Rows:
    """Every module with its time by path per phase, one row per (module, phase)."""
    header = ["module", "phase", *[f"{p}_us" for p in PATHS], "total_us", "stands_out"]
    rows: list[list[Any]] = []
    for node in root.walk()[1:]:
        for ph in ("all", *VIEW_PHASES):
            by = node.time[ph]
            rows.append([node.name, ph, *[by.get(p, 0.0) for p in PATHS], sum(by.values()), node.stands_out])
    return header, rows


def phase_rows(doc: Summary) -> Rows:
    """The overview's per-phase breakdown."""
    header = ["phase", "total_us", "kernels", "steps", *[f"{p}_us" for p in PATHS], "dequant_share"]
    rows: list[list[Any]] = [[name, b.total_us, b.kernels, b.steps, *[b.time_by_path.get(p, 0.0) for p in PATHS],
                              b.dequant_share] for name, b in doc.phases.items()]
    return header, rows
