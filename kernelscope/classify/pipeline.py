"""The classification pipeline: trace -> rows -> attribution -> kernel verdicts -> site paths -> table.

Both `kernelscope profile` (with the manifest's sites) and `kernelscope analyze` (a foreign trace,
no manifest) go through `classify_trace`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernelscope.classify.attribute import Attribution, PhaseSource, attribute
from kernelscope.classify.compiled import attribute_by_gemm_order
from kernelscope.classify.engine import Classifier, RowVerdicts, classify_rows
from kernelscope.classify.link import OpTree, Rows, build_rows, op_tree, root_ops
from kernelscope.classify.rules.order import default_classifier
from kernelscope.classify.sites import SiteSpec, assign_paths
from kernelscope.classify.table import KernelTable
from kernelscope.trace.columnar import Trace
from kernelscope.trace.columns import Categorical
from kernelscope.vocabulary import Device, Role

F64 = npt.NDArray[np.float64]

DEFAULT_WEIGHT_MIN_NUMEL = 1024


@dataclass(frozen=True)
class Classified:
    table: KernelTable
    phase_source: PhaseSource
    graph_replayed_share: float
    decode_max_tokens: int | None
    phase_note: str = ""


def classify_trace(
    trace: Trace,
    specs: dict[str, SiteSpec] | None = None,
    model_device: Device | None = None,
    classifier: Classifier | None = None,
    weight_min_numel: int = DEFAULT_WEIGHT_MIN_NUMEL,
    decode_max_tokens: int = 32,
    rank: int = 0,
) -> Classified:
    tree = op_tree(trace.ops)
    rows = build_rows(trace, tree)
    attribution = attribute(trace, rows, decode_max_tokens)
    verdicts = classify_rows(trace, rows, tree, classifier or default_classifier(), weight_min_numel,
                             attribution.marks)
    flops, moved = main_row_work(rows, verdicts, tree)
    if specs:
        attribution = _compiled_modules(attribution, rows, verdicts, flops, specs)
    roots = root_ops(tree)
    top_op = np.where(rows.op_index >= 0, roots[np.maximum(rows.op_index, 0)], -1) if len(roots) else rows.op_index
    sites = assign_paths(
        module=attribution.module,
        phase=attribution.phase,
        request=attribution.request,
        step=attribution.step,
        device=rows.device,
        role=verdicts.role,
        kernel_class=verdicts.kernel_class,
        traits=verdicts.traits,
        top_op=top_op,
        op_names=trace.ops.names,
        row_names=rows.names,
        specs=specs,
        model_device=model_device,
    )
    table = KernelTable.build(
        strings={
            "name": rows.names,
            "kind": rows.kinds,
            "device": rows.device,
            "op": verdicts.op_name,
            "wrapper": verdicts.wrapper,
            "in_types": verdicts.in_types,
            "in_shapes": verdicts.in_shapes,
            "phase": attribution.phase,
            "module": attribution.module,
            "site": sites.site,
            "site_kind": sites.site_kind,
            "role": verdicts.role,
            "kernel_class": verdicts.kernel_class,
            "backend": verdicts.backend,
            "format": verdicts.format,
            "rule": verdicts.rule,
            "path": sites.path,
            "path_rule": sites.path_rule,
            "work_dtype": verdicts.work_dtype,
        },
        numbers={
            "ts_us": rows.ts,
            "time_us": rows.time,
            "dur_us": rows.duration,
            "lane": rows.lane,
            "request": attribution.request,
            "step": attribution.step,
            "op_id": rows.op_index,
            "graph_replayed": rows.graph_replayed,
            "rank": np.full(len(rows), rank, dtype=np.int32),
            "flops": flops,
            "bytes": moved,
        },
    )
    return Classified(table, attribution.phase_source, _replayed_share(rows), _heuristic_limit(attribution),
                      attribution.note)


def _compiled_modules(attribution: Attribution, rows: Rows, verdicts: RowVerdicts, flops: F64,
                      specs: dict[str, SiteSpec]) -> Attribution:
    """A compiled run (no module ranges): its GEMMs matched to Linears by call order and weight shape
    (classify/compiled.py), every row of a matched op with it; the note says what share that covers."""
    carries = ~np.isnan(flops) & verdicts.role.mask(Role.GEMM.value)
    found = attribute_by_gemm_order(attribution.module, verdicts.gemm_nk, carries, attribution.request,
                                    attribution.step, rows.ts, rows.time, specs)
    if found is None:
        return attribution
    codes = found.module.codes.copy()
    op = rows.op_index
    matched_ops = op[(codes > 0) & (op >= 0)]
    if len(matched_ops):  # an op's other rows (its kernels besides the main one) share its module
        by_op = np.zeros(int(op.max()) + 1, dtype=np.int32)
        by_op[matched_ops] = codes[(codes > 0) & (op >= 0)]
        codes = np.where((codes == 0) & (op >= 0), by_op[np.maximum(op, 0)], codes)
    module = Categorical(codes, found.module.values)
    share = float(rows.time[codes > 0].sum()) / max(float(rows.time.sum()), 1e-12)
    note = (f"compiled graph (no module ranges): {found.matched} GEMM calls matched to their Linear by call order "
            f"and weight shape, {found.unmatched} not; {share * 100:.1f}% of the time has a module, the rest "
            "(fused Inductor kernels, attention, norms) has none")
    return dataclasses.replace(attribution, module=module,
                               note="; ".join(p for p in (attribution.note, note) if p))


_COMPUTE = (Role.GEMM.value, Role.ATTENTION.value)
_CONVERSION = (Role.DEQUANT.value, Role.QUANTIZE.value)


def main_row_work(rows: Rows, verdicts: RowVerdicts, tree: OpTree) -> tuple[F64, F64]:
    """Each op's work counted once: on its main row in each role it plays (its longest kernel), and not on
    an op whose nested op already carries work of the same kind (aten::linear around aten::mm, a library
    GEMM around its aten::mm), so that sums over rows are sums over distinct work."""
    flops, moved = verdicts.flops.copy(), verdicts.bytes.copy()
    known = ~np.isnan(flops) & (rows.op_index >= 0)
    role = verdicts.role.codes
    order = np.lexsort((-rows.time, role, rows.op_index))
    candidates = order[known[order]]
    pairs = np.stack([rows.op_index[candidates], role[candidates]], axis=1)
    first = np.ones(len(candidates), dtype=bool)
    first[1:] = (pairs[1:] != pairs[:-1]).any(axis=1)
    keep = np.zeros(len(rows), dtype=bool)
    keep[candidates[first]] = True
    for kind in (_COMPUTE, _CONVERSION):
        in_kind = keep & verdicts.role.isin(kind)
        nested = _ancestors(tree, rows.op_index[in_kind])
        keep[in_kind] &= ~nested[rows.op_index[in_kind]]  # kept rows all have an op
    flops[~keep] = np.nan
    moved[~keep] = np.nan
    return flops, moved


def _ancestors(tree: OpTree, ops: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which ops enclose at least one of `ops` (not counting the op itself)."""
    marked = np.zeros(len(tree.parent), dtype=bool)
    frontier = np.unique(tree.parent[ops]) if len(ops) else ops
    while len(frontier := frontier[frontier >= 0]):
        frontier = frontier[~marked[frontier]]
        marked[frontier] = True
        frontier = np.unique(tree.parent[frontier])
    return marked


def _replayed_share(rows: Rows) -> float:
    total = float(rows.time.sum())
    return float(rows.time[rows.graph_replayed].sum()) / total if total > 0 else 0.0


def _heuristic_limit(attribution: Attribution) -> int | None:
    return attribution.decode_max_tokens if attribution.phase_source is PhaseSource.HEURISTIC else None
