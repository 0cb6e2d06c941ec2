"""The quantization dividend: what the bytes a mode saved promise in each phase, what the run collected, and
where the difference went. All figures per step of the phase, from the profiled pass (definitions also in
docs/metrics.md):

- promised step: the baseline's step with its modelled work (ops with known FLOPs and bytes) sped up by
  the ratio of ideal times, baseline work vs the same work with the mode's storage (each quantized
  Linear's weight at its stored bytes instead of the baseline's, the KV cache at the mode's measured bytes
  per token); the rest of the step (norms, sampling, gaps) unchanged. promised speed-up = baseline step /
  promised step.
- realized speed-up: baseline step / the mode's step. A step is the span of the step's rows on the
  device timeline (first start to last end), averaged over the phase's steps.
- lost: the mode's step - the promised step, split by cause: dequant kernels, fallback paths (their other
  kernels), quantize-the-activation kernels, host / launch gaps (kernel-free time in the step, beyond the
  baseline's), and the rest (kernels slower than their ideal: the compute side of a quantized GEMM).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kernelscope.classify.table import KernelTable
from kernelscope.report.documents import PhaseDividend
from kernelscope.report.roofline import RowIdeals, work_rows
from kernelscope.runs.documents import Peaks, SiteEntry
from kernelscope.runs.store import Run
from kernelscope.vocabulary import KernelClass, Phase, Role, SiteKind, SitePath

B = npt.NDArray[np.bool_]
CAUSES = ("dequant", "fallback", "quantize", "gaps", "rest")


def step_spans(table: KernelTable, mask: B) -> tuple[float, float, int]:
    """Mean span and mean busy time (us) of the steps among the masked rows, and their number."""
    if not mask.any():
        return 0.0, 0.0, 0
    keys = table.request[mask].astype(np.int64) * (1 << 32) + table.step[mask].astype(np.int64)
    _, group = np.unique(keys, return_inverse=True)
    n = int(group.max()) + 1
    start = np.full(n, np.inf)
    end = np.full(n, -np.inf)
    np.minimum.at(start, group, table.ts_us[mask])
    np.maximum.at(end, group, table.ts_us[mask] + table.dur_us[mask])
    return float((end - start).mean()), float(table.time_us[mask].sum()) / n, n


def storage_bytes(base: Run, mode: Run) -> dict[str, float]:
    """Per site of the baseline: the bytes one call saves by holding its weight at the mode's storage."""
    saved: dict[str, float] = {}
    for name, spec in mode.manifest.sites.items():
        dense = base.manifest.sites.get(name)
        if _weight_site(spec) and dense is not None and dense.stored_bytes and spec.stored_bytes:
            saved[name] = float(dense.stored_bytes - spec.stored_bytes)
    return saved


def _weight_site(spec: SiteEntry) -> bool:
    return spec.kind is SiteKind.LINEAR and spec.quantized


def activation_dtype(activations: str) -> str:
    """The dtype a mode's quantized activations compute in, from its format text ('' for weight-only)."""
    text = activations.lower()
    for word, dtype in (("fp4", "fp4"), ("fp8", "fp8"), ("int8", "int8"), ("int4", "int8")):
        if word in text:
            return dtype
    return ""


def _kv_ratio(base: Run, mode: Run) -> float | None:
    b, q = base.metrics.kv_cache, mode.metrics.kv_cache
    if b is None or q is None or not b.bytes_per_token or not q.bytes_per_token:
        return None
    return q.bytes_per_token / b.bytes_per_token


def promised_ideal(base: Run, mode: Run, peaks: Peaks, mask: B) -> tuple[float, float]:
    """The baseline's ideal time (us) over the masked rows, and the same work's at the mode's storage."""
    table = base.table
    ideals = RowIdeals(table, peaks)
    carried = mask & ideals.has_work
    moved = np.where(np.isnan(table.number("bytes")), 0.0, table.number("bytes"))
    stored = moved.copy()
    gemm = table.role.mask(Role.GEMM.value)
    for site, saved in storage_bytes(base, mode).items():
        rows = carried & gemm & table.site.mask(site)
        stored[rows] = np.maximum(moved[rows] - saved, 0.0)
    ratio = _kv_ratio(base, mode)
    if ratio is not None and mode.config.kv_backend:
        stored[carried & table.role.mask(Role.ATTENTION.value)] *= ratio  # q and the output too: an upper bound
    memory = stored / peaks.bandwidth_bytes_per_s * 1e6
    compute = ideals.compute_us.copy()
    act_peak = peaks.compute_peak(activation_dtype(mode.config.quantized.activations))
    if act_peak:  # quantized activations: the quantized sites' GEMMs at the low-precision peak
        rows = carried & gemm & table.site.isin(list(storage_bytes(base, mode)))
        compute[rows] = table.number("flops")[rows] / act_peak * 1e6
    after = np.maximum(memory, compute)
    return float(ideals.ideal_us[carried].sum()), float(after[carried].sum())


def phase_dividend(base: Run, mode: Run, peaks: Peaks | None, phase: Phase) -> PhaseDividend | None:
    bt, qt = base.table, mode.table
    b_mask, q_mask = bt.phase.mask(phase.value), qt.phase.mask(phase.value)
    b_span, b_busy, b_steps = step_spans(bt, b_mask)
    q_span, q_busy, q_steps = step_spans(qt, q_mask)
    if not b_steps or not q_steps or q_span <= 0:
        return None
    realized = b_span / q_span
    if peaks is None:
        return PhaseDividend(realized_speedup=realized, baseline_ms_per_step=b_span / 1e3,
                             ms_per_step=q_span / 1e3, note="no peaks: the promise cannot be computed")
    ideal, ideal_stored = promised_ideal(base, mode, peaks, b_mask)
    b_work = float(bt.time_us[b_mask & work_rows(bt)].sum()) / b_steps
    speedup = ideal / ideal_stored if ideal_stored > 0 else 1.0
    promised_step = b_span - b_work + b_work / speedup
    lost = q_span - promised_step
    causes = _causes(qt, q_mask, q_steps, (q_span - q_busy) - (b_span - b_busy))
    causes["rest"] = lost - sum(causes.values())
    requests = max(len(np.unique(qt.request[q_mask])), 1)
    return PhaseDividend(promised_speedup=b_span / promised_step if promised_step > 0 else None,
                         ideal_speedup=speedup, realized_speedup=realized, baseline_ms_per_step=b_span / 1e3,
                         ms_per_step=q_span / 1e3, promised_ms_per_step=promised_step / 1e3,
                         lost_ms_per_step=lost / 1e3, lost_ms_per_request=lost / 1e3 * q_steps / requests,
                         lost_by_cause_ms={k: v / 1e3 for k, v in causes.items()})


def _causes(table: KernelTable, mask: B, steps: int, extra_gaps_us: float) -> dict[str, float]:
    cls = table.kernel_class
    dequant = mask & cls.mask(KernelClass.DEQUANT.value)
    quantize = mask & cls.mask(KernelClass.QUANTIZE.value)
    fallback = mask & table.path.mask(SitePath.FALLBACK.value) & ~dequant & ~quantize
    per_step = {"dequant": dequant, "fallback": fallback, "quantize": quantize}
    out = {k: float(table.time_us[m].sum()) / steps for k, m in per_step.items()}
    out["gaps"] = extra_gaps_us
    return out


def dividends(base: Run, mode: Run, peaks: Peaks | None) -> dict[str, PhaseDividend]:
    """The dividend of `mode` over `base` in prefill and decode (empty without tables)."""
    if base is mode or not base.has_table or not mode.has_table:
        return {}
    found = {p.value: phase_dividend(base, mode, peaks, p) for p in (Phase.PREFILL, Phase.DECODE)}
    return {k: v for k, v in found.items() if v is not None}
