"""The roofline of a run: how far each site, layer and phase is from what the hardware allows.

For every row whose op's work is known (classify/work.py: `flops` and `bytes` in the kernel table, on the
op's main row), its ideal time is max(bytes / bandwidth, flops / peak of the dtype it computes in); a
(de)quantize step, whose operations are elementwise and not what a tensor-core peak describes, is held
against bandwidth alone. Summed over a group (a site in a phase, a layer in a phase, a phase):

- work time: the time of the group's rows that belong to ops with known work (every kernel of those ops);
  other time (norms, rotary, sampling) is `unmodelled`, neither ideal nor lost;
- achieved = bytes / work time and flops / work time; intensity = flops / bytes;
- bound: memory where the bandwidth terms of the ideal outweigh the compute terms, else compute;
- % of peak: achieved bandwidth over peak bandwidth (memory-bound), or achieved ops/s over the peak of
  the group's main dtype (compute-bound);
- ideal = the sum of the rows' ideal times, lost = work time - ideal.
Definitions also in docs/metrics.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec
import numpy as np
import numpy.typing as npt

from kernelscope.classify.table import KernelTable
from kernelscope.report.documents import PhaseRoofline, Roofline, RooflineFigures, SiteRoofline
from kernelscope.runs.documents import Peaks
from kernelscope.vocabulary import Phase, Role

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
CONVERSIONS = (Role.DEQUANT.value, Role.QUANTIZE.value)
_LAYER = re.compile(r"(?:^|\.)(?:layers?|h|blocks?|decoder\.layers)\.(\d+)(?:\.|$)")


class RowIdeals:
    """Per-row ideal times (us) split into the bandwidth side and the compute side (0 where not known)."""

    def __init__(self, table: KernelTable, peaks: Peaks) -> None:
        n = len(table)
        flops, moved = table.number("flops"), table.number("bytes")
        self.has_work = ~np.isnan(flops)
        memory = np.where(np.isnan(moved), 0.0, moved) / peaks.bandwidth_bytes_per_s * 1e6
        compute = np.zeros(n)
        conversion = table.role.isin(CONVERSIONS)
        dtype = table.work_dtype
        for code, name in enumerate(dtype.values):
            peak = peaks.compute_peak(name)
            rows = (dtype.codes == code) & self.has_work & ~conversion
            if peak and rows.any():
                compute[rows] = flops[rows] / peak * 1e6
        self.memory_us, self.compute_us = memory, compute
        self.ideal_us = np.maximum(memory, compute)
        self.memory_side = memory >= compute


def work_rows(table: KernelTable) -> B:
    """Rows whose op's work is known: every kernel of an op that has one row carrying its work."""
    carries = ~np.isnan(table.number("flops")) & (table.op_id >= 0)
    ops = np.unique(table.op_id[carries])
    return np.isin(table.op_id, ops) & (table.op_id >= 0)


def figures(table: KernelTable, ideals: RowIdeals, peaks: Peaks, mask: B, worked: B) -> RooflineFigures:
    time_us = float(table.time_us[mask].sum())
    in_work = mask & worked
    work_us = float(table.time_us[in_work].sum())
    carried = mask & ideals.has_work
    flops = float(np.nansum(table.number("flops")[carried]))
    moved = float(np.nansum(table.number("bytes")[carried]))
    ideal = float(ideals.ideal_us[carried].sum())
    memory_terms = float(ideals.ideal_us[carried & ideals.memory_side].sum())
    bound = "" if ideal <= 0 else "memory" if memory_terms >= ideal - memory_terms else "compute"
    seconds = work_us * 1e-6
    achieved_bw = moved / seconds if seconds > 0 and moved > 0 else None
    achieved_flops = flops / seconds if seconds > 0 and flops > 0 else None
    main = _main_dtype(table, carried)
    peak = peaks.compute_peak(main) if main else None
    pct = (achieved_bw / peaks.bandwidth_bytes_per_s if bound == "memory" and achieved_bw else
           achieved_flops / peak if bound == "compute" and achieved_flops and peak else None)
    return RooflineFigures(
        time_ms=time_us / 1e3, work_ms=work_us / 1e3, unmodelled_ms=(time_us - work_us) / 1e3, flops=flops,
        bytes=moved, achieved_tflops=achieved_flops / 1e12 if achieved_flops else None,
        achieved_gbs=achieved_bw / 1e9 if achieved_bw else None, intensity=flops / moved if moved > 0 else None,
        dtype=main, bound=bound, pct_of_peak=pct, ideal_ms=ideal / 1e3 if ideal > 0 else None,
        lost_ms=(work_us - ideal) / 1e3 if ideal > 0 else None)


def _main_dtype(table: KernelTable, mask: B) -> str:
    if not mask.any():
        return ""
    flops = np.bincount(table.work_dtype.codes[mask], weights=table.number("flops")[mask],
                        minlength=len(table.work_dtype.values))
    return table.work_dtype.values[int(np.argmax(flops))]


def roofline(table: KernelTable, peaks: Peaks | None, steps: dict[str, int]) -> Roofline:
    """The roofline of every phase, site and layer (empty figures, with the reason, without peaks)."""
    if peaks is None:
        return Roofline(note="no peaks for this device: give them with --peaks FILE or --peak-bandwidth / "
                             "--peak-tflops (a CPU's: kernelscope peaks)")
    ideals = RowIdeals(table, peaks)
    worked = work_rows(table)
    phases: dict[str, PhaseRoofline] = {}
    sites: list[SiteRoofline] = []
    layers: list[SiteRoofline] = []
    for phase in (Phase.PREFILL, Phase.DECODE, Phase.MIXED, Phase.OTHER):
        in_phase = table.phase.mask(phase.value)
        if not in_phase.any() or (phase is Phase.OTHER and not (in_phase & ideals.has_work).any()):
            continue  # "other" (outside any step; a whole trace without phases) where it holds modelled work
        n = max(steps.get(phase.value, 1), 1)
        block = figures(table, ideals, peaks, in_phase, worked)
        phases[phase.value] = msgspec.convert({**_fields(block), "steps": n}, PhaseRoofline)
        sites.extend(_groups(table, ideals, peaks, in_phase, worked, phase.value, table.site.codes,
                             table.site.values))
        layer_codes, layer_names = _layers(table)
        layers.extend(_groups(table, ideals, peaks, in_phase, worked, phase.value, layer_codes, layer_names))
    return Roofline(peaks=peaks, phases=phases, sites=sites, layers=layers)


def _fields(block: RooflineFigures) -> dict[str, object]:
    return {f: getattr(block, f) for f in RooflineFigures.__struct_fields__}


def _groups(table: KernelTable, ideals: RowIdeals, peaks: Peaks, in_phase: B, worked: B, phase: str,
            codes: npt.NDArray[np.int32], names: Iterable[str]) -> list[SiteRoofline]:
    out = []
    for code, name in enumerate(names):
        mask = in_phase & (codes == code)
        if name and (mask & ideals.has_work).any():
            block = figures(table, ideals, peaks, mask, worked)
            out.append(msgspec.convert({**_fields(block), "name": name, "phase": phase}, SiteRoofline))
    return out


def _layers(table: KernelTable) -> tuple[npt.NDArray[np.int32], list[str]]:
    """Each row's layer ("layer 3" from module names like model.layers.3.mlp), '' outside a layer."""
    names = [f"layer {m.group(1)}" if (m := _LAYER.search(module)) else "" for module in table.module.values]
    unique = sorted(set(names), key=lambda s: (len(s), s))
    index = {name: i for i, name in enumerate(unique)}
    per_value = np.asarray([index[name] for name in names], dtype=np.int32)
    return (per_value[table.module.codes] if len(per_value) else table.module.codes), unique


def row_pct_of_peak(table: KernelTable, peaks: Peaks | None) -> F64:
    """Each work-carrying row's share of the peak on its bound side (its ideal time over its own time);
    NaN elsewhere. The figure `ks.pct_peak` that exports carry."""
    out = np.full(len(table), np.nan)
    if peaks is None:
        return out
    ideals = RowIdeals(table, peaks)
    rows = ideals.has_work & (table.time_us > 0) & (ideals.ideal_us > 0)
    out[rows] = ideals.ideal_us[rows] / table.time_us[rows]
    return out
