"""Aggregations over the kernel table, and the summary document (`kernelscope summary --json`).

All pure functions of the table and the manifest: every view (console, TUI, compare, export)
builds on these, so they agree with each other.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from kernelscope.classify.rules.paths import PATH_RULE_IDS, path_rule_text
from kernelscope.classify.table import KernelTable
from kernelscope.report.coverage import coverage
from kernelscope.report.documents import MetricBlock, PhaseSummary, SiteRow, SiteTime, Summary, UnquantizedModule
from kernelscope.report.peaks import PeakOverride, peaks_of
from kernelscope.report.ranks import rank_view
from kernelscope.report.roofline import roofline
from kernelscope.report.stability import timing_stability
from kernelscope.runs.documents import Manifest, Metrics, Peaks, SiteEntry
from kernelscope.runs.store import Run
from kernelscope.trace.columns import Categorical
from kernelscope.vocabulary import PATH_ORDER, KernelClass, Phase, Role, SitePath

PHASES_REPORTED = (Phase.PREFILL, Phase.DECODE, Phase.MIXED, Phase.OTHER)
TOLERANCE_US = 1e-6


def group_sum(cat: Categorical, weights: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_] | None = None
              ) -> dict[str, float]:
    codes = cat.codes if mask is None else cat.codes[mask]
    w = weights if mask is None else weights[mask]
    sums = np.bincount(codes, weights=w, minlength=len(cat.values))
    return {cat.values[i]: float(s) for i, s in enumerate(sums) if s != 0.0 or np.any(codes == i)}


def time_by_path(table: KernelTable, phase_mask: npt.NDArray[np.bool_]) -> dict[str, float]:
    sums = group_sum(table.path, table.time_us, phase_mask)
    return {p.value: sums.get(p.value, 0.0) for p in PATH_ORDER}


def dequant_time(table: KernelTable, mask: npt.NDArray[np.bool_]) -> float:
    """Time of the dequantization kernels among the masked rows."""
    return float(table.time_us[mask & table.role.mask(Role.DEQUANT.value)].sum())


def phase_summary(table: KernelTable, phase: Phase, top: int = 5) -> PhaseSummary:
    mask = table.phase.mask(phase.value)
    time = table.time_us
    total = float(time[mask].sum())
    dequant_mask = mask & table.role.mask(Role.DEQUANT.value)
    dequant_us = dequant_time(table, mask)
    steps = _distinct_pairs(table.request[mask], table.step[mask])
    return PhaseSummary(
        total_us=total,
        kernels=int(mask.sum()),
        steps=len(steps),
        time_by_path=time_by_path(table, mask),
        time_by_role=_ordered(group_sum(table.role, time, mask)),
        time_by_class=_ordered(group_sum(table.kernel_class, time, mask)),
        dequant_us=dequant_us,
        dequant_share=dequant_us / total if total > 0 else 0.0,
        communication_us=float(time[mask & table.role.mask(Role.COMMUNICATION.value)].sum()),
        top_dequant_modules=_top(group_sum(table.site, time, dequant_mask), top),
        top_sites=_top(group_sum(table.site, time, mask & ~table.site.mask("")), top),
    )


def _distinct_pairs(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct (a, b) pairs, folded into one int64 key each (1-D unique: far faster than axis=0)."""
    if not len(a):
        return np.zeros(0, dtype=np.int64)
    b0 = b - b.min()
    return np.unique(a.astype(np.int64) * (int(b0.max()) + 1) + b0)


def _ordered(d: dict[str, float]) -> dict[str, float]:
    return dict(sorted(d.items(), key=lambda kv: -kv[1]))


def _top(d: dict[str, float], n: int) -> list[SiteTime]:
    items = sorted(((k, v) for k, v in d.items() if k and v > 0), key=lambda kv: -kv[1])[:n]
    return [SiteTime(site=k, time_us=v) for k, v in items]


def site_rows(table: KernelTable, sites_manifest: dict[str, SiteEntry]) -> list[SiteRow]:
    """One entry per (site, phase): path (by time), rule, kernels, time, and the split when mixed.
    Vectorised: one bincount per column over (site, phase) keys, whatever the number of sites."""
    site, phase, path, rule = table.site, table.phase, table.path, table.path_rule
    time = table.time_us
    inside = site.codes != site.code("")
    if not len(table) or not inside.any():
        return []
    keyed = site.codes[inside].astype(np.int64) * len(phase.values) + phase.codes[inside]
    keys, first, group = np.unique(keyed, return_index=True, return_inverse=True)
    k, t_in = len(keys), time[inside]
    by_path = _by_group(group, path.codes[inside], t_in, k, len(path.values))
    by_rule = _by_group(group, rule.codes[inside], t_in, k, len(rule.values))
    counts = np.bincount(group, minlength=k)
    totals = np.bincount(group, weights=t_in, minlength=k)
    kinds = table.site_kind.codes[inside][first]
    out: list[SiteRow] = []
    first_path, first_rule = path.codes[inside][first], rule.codes[inside][first]
    for g, key in enumerate(keys.tolist()):
        s_name = site.values[key // len(phase.values)]
        timed = totals[g] > 0  # an untimed site takes its first row's verdict
        main_rule = rule.values[int(by_rule[g].argmax()) if timed else int(first_rule[g])]
        spec = sites_manifest.get(s_name)
        split = {path.values[p]: float(v) for p, v in enumerate(by_path[g]) if v > 0}
        out.append(SiteRow(
            module=s_name,
            kind=spec.kind.value if spec is not None else table.site_kind.values[kinds[g]],
            phase=phase.values[key % len(phase.values)],
            path=path.values[int(by_path[g].argmax()) if timed else int(first_path[g])],
            rule=main_rule,
            reason=path_rule_text(main_rule)[0],
            kernels=int(counts[g]),
            time_us=float(totals[g]),
            format=spec.format if spec is not None else "",
            paths=split if len(split) > 1 else None,
        ))
    out.sort(key=lambda e: (e.phase, -e.time_us))
    return out


def _by_group(group: npt.NDArray[np.int64], codes: npt.NDArray[np.int32], weights: npt.NDArray[np.float64],
              k: int, n_values: int) -> npt.NDArray[np.float64]:
    """[k, n_values] sums of weights per (group, value)."""
    flat = group.astype(np.int64) * n_values + codes
    sums = np.bincount(flat, weights=weights, minlength=k * n_values).astype(np.float64)
    return sums.reshape(k, n_values)


def unquantized_modules(table: KernelTable, sites_manifest: dict[str, SiteEntry]) -> list[UnquantizedModule]:
    """Linear sites the mode left in high precision, with their share of each phase's time."""
    time, phase, site = table.time_us, table.phase, table.site
    by_phase = {}  # phase -> (site -> time, phase total): one bincount per phase, whatever the number of sites
    for p in (Phase.PREFILL.value, Phase.DECODE.value):
        mask = phase.mask(p)
        by_phase[p] = (group_sum(site, time, mask), float(time[mask].sum()))
    return [UnquantizedModule(module=name, requested=spec.requested, note=spec.note,
                              share={p: sums.get(name, 0.0) / total if total else 0.0
                                     for p, (sums, total) in by_phase.items()})
            for name, spec in sites_manifest.items() if not spec.quantized]


def run_peaks(manifest: Manifest) -> Peaks | None:
    """The peaks a run is held against: recorded at capture, else the data sheet of a device it names."""
    hardware = manifest.config.hardware
    return peaks_of(hardware.peaks, [hardware.gpu or "", *hardware.devices])


def summarize(manifest: Manifest, metrics: Metrics, table: KernelTable | None, run_path: str = "",
              peaks: Peaks | None = None) -> Summary:
    """The summary document; `peaks` replaces the run's own (user overrides)."""
    block = MetricBlock(**{f: getattr(metrics, f) for f in MetricBlock.__struct_fields__ if f != "clock"},
                        clock=metrics.timing.clock if metrics.timing is not None else "")
    summary = Summary(run=run_path, status=manifest.status, missing=list(manifest.missing), config=manifest.config,
                      metrics=block, attribution=manifest.attribution, stability=timing_stability(metrics))
    if table is None:
        return summary
    present = set(distinct(table.phase))
    phases = {phase.value: phase_summary(table, phase) for phase in PHASES_REPORTED
              if phase in (Phase.PREFILL, Phase.DECODE) or phase.value in present}
    steps = {name: block.steps for name, block in phases.items()}
    return msgspec.structs.replace(summary, phases=phases, sites=site_rows(table, manifest.sites),
                                   unquantized_modules=unquantized_modules(table, manifest.sites),
                                   coverage=coverage(table, tuple(Phase(p) for p in phases)),
                                   roofline=roofline(table, peaks or run_peaks(manifest), steps),
                                   ranks=rank_view(table))


def summarize_run(run: Run, label: str | None = None, peaks: PeakOverride | None = None) -> Summary:
    """The summary document of a saved run (its table, if it has one); `peaks` overrides the run's own."""
    return summarize(run.manifest, run.metrics, run.table if run.has_table else None,
                     str(run.path) if label is None else label, peaks.apply(run_peaks(run.manifest)) if peaks else None)


def shown_phases(doc: Summary) -> list[tuple[str, PhaseSummary]]:
    """The phases worth a panel: prefill and decode when they ran, others above 1% of the time."""
    grand = sum(b.total_us for b in doc.phases.values()) or 1.0
    return [(name, block) for name, block in doc.phases.items()
            if block.kernels and (name in ("prefill", "decode") or block.total_us / grand > 0.01)]


# ----------------------------------------------------------------------------------- invariants

ROLE_CLASSES = {
    Role.GEMM.value: {KernelClass.NATIVE.value, KernelClass.DENSE.value},
    Role.ATTENTION.value: {KernelClass.NATIVE.value, KernelClass.DENSE.value},
    Role.DEQUANT.value: {KernelClass.DEQUANT.value},
    Role.QUANTIZE.value: {KernelClass.QUANTIZE.value},
}


class InvariantError(AssertionError):
    pass


def check_invariants(table: KernelTable, summary: Summary) -> None:
    """Facts that must hold for any classified run; tests call this on every run they make."""
    paths = set(distinct(table.path))
    unknown_paths = paths - {p.value for p in SitePath}
    if unknown_paths:
        raise InvariantError(f"rows with a path outside the four: {unknown_paths}")
    used_rules = set(distinct(table.path_rule))
    if used_rules - PATH_RULE_IDS:
        raise InvariantError(f"path rules not in the table: {used_rules - PATH_RULE_IDS}")
    role, cls = table.role, table.kernel_class
    for r_code, r_name in enumerate(role.values):
        allowed = ROLE_CLASSES.get(r_name, {KernelClass.OTHER.value})
        seen = set(cls.values[c] for c in np.unique(cls.codes[role.codes == r_code]))
        if seen - allowed:
            raise InvariantError(f"role {r_name} has kernel classes {seen - allowed}")
    for name, block in summary.phases.items():
        total = sum(block.time_by_path.values())
        if abs(total - block.total_us) > TOLERANCE_US * max(1.0, block.total_us):
            raise InvariantError(f"{name}: time by path sums to {total}, phase total is {block.total_us}")
        if not 0.0 <= block.dequant_share <= 1.0:
            raise InvariantError(f"{name}: dequant share {block.dequant_share} outside [0, 1]")
    if summary.coverage is not None:
        for name, part in {"all": summary.coverage.total, **summary.coverage.phases}.items():
            parts = part.rule_us + part.generic_us + part.unknown_us
            if abs(parts - part.total_us) > TOLERANCE_US * max(1.0, part.total_us) or min(
                    part.rule_us, part.generic_us, part.unknown_us) < 0:
                raise InvariantError(f"coverage {name}: rule + generic + unknown = {parts}, total {part.total_us}")
    _check_roofline(summary)
    site_time = sum(s.time_us for s in summary.sites)
    in_sites = float(table.time_us[~table.site.mask("")].sum())
    if abs(site_time - in_sites) > TOLERANCE_US * max(1.0, in_sites) * 10:
        raise InvariantError(f"site times sum to {site_time}, rows in sites sum to {in_sites}")


def _check_roofline(summary: Summary) -> None:
    """A phase's roofline covers exactly its time; its sites hold no more work than it."""
    roofline = summary.roofline
    if roofline is None:
        return
    for name, block in roofline.phases.items():
        total_ms = summary.phases[name].total_us / 1e3
        if abs(block.work_ms + block.unmodelled_ms - total_ms) > TOLERANCE_US * max(1.0, total_ms):
            raise InvariantError(f"roofline {name}: work + unmodelled = {block.work_ms + block.unmodelled_ms} ms, "
                                 f"phase total {total_ms} ms")
        site_flops = sum(s.flops for s in roofline.sites if s.phase == name)
        if site_flops > block.flops * (1 + 1e-9):
            raise InvariantError(f"roofline {name}: sites hold {site_flops} FLOPs, the phase {block.flops}")


def distinct(cat: Categorical) -> list[str]:
    """The values that occur in a column (not every value of its dictionary)."""
    return [cat.values[c] for c in np.unique(cat.codes)]
