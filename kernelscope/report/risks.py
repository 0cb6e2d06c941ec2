"""The risk checklist of one run against the baseline, each item answered from data or marked as not
measured: calibration, activation outliers, optimized kernels, quality on long outputs, larger batch /
context, rollback."""

from __future__ import annotations

from collections.abc import Sequence

from kernelscope.report.documents import Breach, Risk, Row
from kernelscope.report.style import pct, ratio


def risks(row: Row, base: Row, breaches: Sequence[Breach], gated: bool) -> list[Risk]:
    """The six checklist items for one run, each with its evidence or why it was not measured."""
    return [Risk(item="calibration", status="info", evidence=row.calibration or "not recorded"),
            _outliers(row, base), _kernels(row), _long_outputs(row), _capacity(row), _rollback(row, breaches, gated)]


def _outliers(row: Row, base: Row) -> Risk:
    outliers = row.outliers or base.outliers
    if outliers is None:
        return Risk(item="activation outliers", status="not measured",
                    evidence="run with --quality to record activation statistics in the baseline pass")
    quantizes_activations = bool(row.quantized.activations)
    top = outliers.modules[0] if outliers.modules else None
    flagged = outliers.flagged
    status = "risk" if flagged and quantizes_activations else ("watch" if flagged else "ok")
    worst = (f"worst {top.module}: max {top.max_abs:.1f}, {top.ratio or 0:.0f}x the median" if top is not None
             else "worst None: max 0.0, 0x the median")
    return Risk(item="activation outliers", status=status,
                evidence=f"{flagged} of {len(outliers.modules)} Linear inputs exceed |x| > {outliers.threshold} "
                         f"({worst})" + ("; this mode quantizes activations" if quantizes_activations else ""))


def _kernels(row: Row) -> Risk:
    fallback = row.fallback_share
    if row.native_share is None and fallback in (None, 0.0):
        return Risk(item="optimized kernels", status="n/a", evidence="nothing quantized in this run")
    return Risk(item="optimized kernels", status="risk" if fallback else "ok",
                evidence=f"quantized-site time: native {pct(row.native_share, 'n/a')}, "
                         f"dequant-then-compute {pct(row.dequant_path_share, 'n/a')}, fallback {pct(fallback, 'n/a')}")


def _long_outputs(row: Row) -> Risk:
    buckets = row.kld_by_position
    if len(buckets) < 2:
        return Risk(item="quality on long outputs", status="not measured", evidence="run with --quality")
    first, last = buckets[0], buckets[-1]
    grows = last.kld_mean > 1.5 * first.kld_mean and last.kld_mean > 1e-4
    return Risk(item="quality on long outputs", status="risk" if grows else "ok",
                evidence=f"KLD {first.kld_mean:.2e} at positions {first.start}-{first.end} -> {last.kld_mean:.2e} at "
                         f"{last.start}-{last.end} (slope {row.kld_slope_per_1k_tokens or 0:.2e} per 1k tokens)")


def _capacity(row: Row) -> Risk:
    cap = row.capacity
    if cap is None:
        return Risk(item="larger batch / context", status="not measured", evidence="no KV size in this run")
    cap_ratio = row.capacity_ratio
    return Risk(item="larger batch / context", status="ok" if cap_ratio is None or cap_ratio >= 1 else "watch",
                evidence=f"{cap.sequences} sequences of {cap.context_tokens} tokens in "
                         f"{cap.budget_bytes / 2**30:.1f} GiB ({ratio(cap_ratio, 'n/a')} the baseline); "
                         f"longest single sequence {cap.max_context_batch1} tokens"
                         + (" (the model's positions)" if cap.limited_by == "model positions" else ""))


def _rollback(row: Row, breaches: Sequence[Breach], gated: bool) -> Risk:
    if not gated:
        return Risk(item="rollback", status="n/a", evidence="no --gate given")
    mine = [b for b in breaches if b.run == row.run]
    return Risk(item="rollback", status="rollback" if mine else "ok",
                evidence="; ".join(f"{b.gate} ({b.why}" + (f", {b.value:.4g})" if b.value is not None else ")")
                                   for b in mine) or "every gate holds")
