"""Console rendering of a run's summary document (rich)."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kernelscope.errors import safe_text
from kernelscope.report.aggregate import shown_phases
from kernelscope.report.coverage import UNKNOWN_WARN_SHARE
from kernelscope.report.documents import (
    MetricBlock,
    PhaseCoverage,
    PhaseSummary,
    Roofline,
    RooflineFigures,
    SiteRow,
    Summary,
    UnquantizedModule,
)
from kernelscope.report.style import PATH_COLORS, PATH_GLYPHS, PATH_SHORT, human_bytes, human_us, shorten
from kernelscope.runs.documents import Config, Peaks, Stats
from kernelscope.vocabulary import PATH_ORDER


def path_bar(time_by_path: dict[str, float], width: int = 40) -> Text:
    total = sum(time_by_path.values())
    bar = Text()
    if total <= 0:
        return bar.append("·" * width, style="dim")
    used = 0
    for i, p in enumerate(PATH_ORDER):
        share = time_by_path.get(p.value, 0.0) / total
        cells = round(share * width) if i < len(PATH_ORDER) - 1 else width - used
        cells = max(0, min(cells, width - used))
        bar.append(PATH_GLYPHS[p.value] * cells, style=PATH_COLORS[p.value])
        used += cells
    return bar


def path_legend() -> Text:
    legend = Text()
    for p in PATH_ORDER:
        legend.append(PATH_GLYPHS[p.value] * 2 + " ", style=PATH_COLORS[p.value]).append(p.value + "  ")
    return legend


def _stat(block: Stats | None, key: str = "p50") -> str:
    value = getattr(block, key) if block is not None and block.n else None
    return f"{value:.2f}" if value is not None else "n/a"


def metrics_table(metrics: MetricBlock) -> Table:
    how = "timed under torch.profiler: slower than without it" if "under torch.profiler" in metrics.clock else \
        "timing pass, no profiler"
    t = Table(title=f"Latency and throughput ({how})", title_justify="left", expand=False)
    for col in ("metric", "mean", "p50", "p95", "p99", "n"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    for label, block in (("TTFT (ms)", metrics.ttft_ms), ("TPOT (ms)", metrics.tpot_ms),
                         ("decode step (ms)", metrics.itl_ms)):
        if block is not None:
            t.add_row(label, _stat(block, "mean"), _stat(block, "p50"), _stat(block, "p95"), _stat(block, "p99"),
                      str(block.n))
    return t


def throughput_line(metrics: MetricBlock) -> str:
    tps = metrics.tokens_per_s
    parts = []
    for key in ("decode", "end_to_end", "prefill"):
        value = getattr(tps, key) if tps is not None else None
        if value is not None:
            parts.append(f"{key.replace('_', '-')} {value:.1f} tok/s")
    return "throughput: " + ", ".join(parts) if parts else ""


def memory_line(metrics: MetricBlock) -> str:
    mem = metrics.peak_memory
    parts = []
    rss_missing = mem is not None and mem.rss is not None and not mem.rss.available
    for src, label, is_rss in ((mem.rss if mem else None, "RSS", True),
                               (mem.nvml_process_used if mem else None, "NVML process", False),
                               (mem.torch_cuda_allocated if mem else None, "torch alloc", False)):
        if src is None:
            continue
        if src.available:
            phases = ", ".join(f"{p} {human_bytes(v)}" for p, v in src.by_phase.items())
            parts.append(f"{label} peak {human_bytes(src.peak_bytes)} ({phases})")
        elif is_rss or rss_missing:
            parts.append(f"{label}: unavailable ({src.reason})")
    if metrics.weights is not None:
        parts.append(f"weights stored {human_bytes(metrics.weights.model_bytes)}")
    kv = metrics.kv_cache
    if kv is not None and kv.bytes_per_token:
        parts.append(f"KV {human_bytes(kv.bytes_per_token)}/token")
    return "memory: " + "; ".join(parts) if parts else ""


def quality_line(metrics: MetricBlock) -> str:
    q = metrics.quality
    if q is None or not q.tokens:
        return ""
    flagged = q.activation_outliers.flagged if q.activation_outliers is not None else None
    return (f"quality vs {q.baseline} over {q.tokens} teacher-forced tokens: KLD {q.kld_mean or 0:.2e} "
            f"+/- {q.kld_mean_se or 0:.1e} (p99 {q.kld_p99 or 0:.2e}), same top-1 {(q.same_top1 or 0) * 100:.1f}% "
            f"+/- {(q.same_top1_se or 0) * 100:.1f}, PPL {q.ppl_q or 0:.2f} vs {q.ppl_base or 0:.2f} "
            f"(ratio {q.ppl_ratio or 0:.4f})" + (f"; {flagged} Linear inputs with outliers" if flagged else ""))


def coverage_line(part: PhaseCoverage) -> Text:
    """How the phase's time was decided: by a library's or family's rule, by generic evidence, by none."""
    line = Text("decided by: ")
    line.append(f"library rules {part.rule_share * 100:.1f}%  generic evidence {part.generic_share * 100:.1f}%  ")
    line.append(f"unknown {part.unknown_share * 100:.1f}%",
                style="bold red" if part.unknown_share > UNKNOWN_WARN_SHARE else "")
    return line


def unknown_warning(part: PhaseCoverage) -> list[str]:
    """analyze's warning when more than UNKNOWN_WARN_SHARE of the kernel time matched no rule."""
    if part.unknown_share <= UNKNOWN_WARN_SHARE:
        return []
    lines = [f"warning: {part.unknown_share * 100:.1f}% of the kernel time matched no rule, so the path shares "
             f"above undercount it; please report these names (kernelscope explain NAME shows what was tried):"]
    lines += [f"  {u.time_us / part.total_us * 100:5.1f}%  {u.kernels:6d}x  {safe_text(u.name)}"
              for u in part.top_unknown]
    return lines


def unknown_line(part: PhaseCoverage) -> Text | None:
    if not part.top_unknown:
        return None
    line = Text(f"no rule for {part.unknown_share * 100:.1f}% of the time: ", style="bold red"
                if part.unknown_share > UNKNOWN_WARN_SHARE else "")
    line.append(", ".join(f"{safe_text(shorten(u.name, 60))} ({human_us(u.time_us)})" for u in part.top_unknown[:3]))
    return line


def bandwidth_text(bytes_per_s: float) -> str:
    return f"{bytes_per_s / 1e12:.2f} TB/s" if bytes_per_s >= 1e12 else f"{bytes_per_s / 1e9:.1f} GB/s"


def roofline_line(block: RooflineFigures, peaks: Peaks) -> Text:
    """'roofline: memory-bound, 35% of peak bandwidth (1.69 of 4.80 TB/s); ideal 0.17 ms, lost 0.31 ms ...'."""
    line = Text("roofline: ")
    if not block.bound:
        return line.append("no op with known work in this phase", style="dim")
    if block.bound == "memory":
        achieved = f"{bandwidth_text((block.achieved_gbs or 0) * 1e9)} of {bandwidth_text(peaks.bandwidth_bytes_per_s)}"
        what = "peak bandwidth"
    else:
        peak = peaks.compute_peak(block.dtype) or 0.0
        achieved = f"{block.achieved_tflops or 0:.3g} of {peak / 1e12:.3g} {block.dtype} TFLOP/s"
        what = f"{block.dtype} peak"
    pct = f"{block.pct_of_peak * 100:.0f}% of {what}" if block.pct_of_peak is not None else what
    line.append(f"{block.bound}-bound, {pct} ({achieved})", style="bold")
    line.append(f"; ideal {human_us((block.ideal_ms or 0) * 1e3)}, lost {human_us((block.lost_ms or 0) * 1e3)} "
                f"of {human_us(block.work_ms * 1e3)} in ops with known work; {human_us(block.unmodelled_ms * 1e3)} "
                "in other ops")
    return line


def phase_panel(name: str, block: PhaseSummary, coverage: PhaseCoverage | None = None,
                roofline: Roofline | None = None) -> Panel:
    lines: list[Text | Table] = []
    bar = path_bar(block.time_by_path)
    total = block.total_us
    head = Text(f"{human_us(total)} in {block.kernels} ops/kernels over {block.steps} step(s)   ")
    head.append(f"dequant kernels {block.dequant_share * 100:.1f}% of it", style="bold")
    lines.append(head)
    lines.append(bar)
    split = Text("site paths: ")
    for p in PATH_ORDER:
        us = block.time_by_path.get(p.value, 0.0)
        share = us / total * 100 if total > 0 else 0.0
        split.append(f"{PATH_SHORT[p.value]} ", style=PATH_COLORS[p.value]).append(f"{share:.1f}%  ")
    lines.append(split)
    if block.communication_us > 0:
        lines.append(Text(f"  of which communication {block.communication_us / total * 100:.1f}% (collectives: counted "
                          "in unquantized, not compute)", style="dim"))
    if coverage is not None:
        lines.append(coverage_line(coverage))
    if block.top_dequant_modules:
        top = ", ".join(f"{e.site} {human_us(e.time_us)}" for e in block.top_dequant_modules[:3])
        lines.append(Text("top dequant: " + top))
    if roofline is not None and roofline.peaks is not None and name in roofline.phases:
        lines.append(roofline_line(roofline.phases[name], roofline.peaks))
    return Panel(Group(*lines), title=f"{name}", title_align="left")


def sites_table(sites: list[SiteRow]) -> Table:
    t = Table(title="Quantized sites: path per phase (sites x path)", title_justify="left")
    t.add_column("phase")
    t.add_column("kind")
    t.add_column("path")
    t.add_column("sites", justify="right")
    t.add_column("time", justify="right")
    t.add_column("rule")
    counts: Counter[tuple[str, str, str, str]] = Counter()
    times: dict[tuple[str, str, str, str], float] = {}
    for s in sites:
        key = (s.phase, s.kind, s.path, s.rule)
        counts[key] += 1
        times[key] = times.get(key, 0.0) + s.time_us
    for key in sorted(counts, key=lambda k: (k[0], k[1], -times[k])):
        phase, kind, path, rule = key
        t.add_row(phase, kind, Text(path, style=PATH_COLORS.get(path, "")), str(counts[key]), human_us(times[key]),
                  rule)
    return t


def rank_lines(doc: Summary) -> list[Text]:
    """'decode: 2 ranks, communication 23% of the time; imbalance 1.08x (rank 1 slowest)', and any site
    whose path differs between ranks."""
    view = doc.ranks
    if view is None:
        return []
    lines = []
    for phase, share in view.communication_share.items():
        ratio = view.imbalance.get(phase)
        text = f"{phase}: {len(view.ranks)} ranks, communication {share * 100:.1f}% of the time"
        if ratio is not None:
            text += f"; compute imbalance {ratio:.2f}x (rank {view.straggler[phase]} slowest)"
        lines.append(Text(text))
    if view.disagreements:
        first = view.disagreements[0]
        lines.append(Text(f"verdicts differ between ranks at {len(view.disagreements)} site(s), e.g. {first.site} in "
                          f"{first.phase}: " + ", ".join(f"rank {r} {p}" for r, p in first.paths.items()),
                          style="bold red"))
    else:
        lines.append(Text("every site took the same path on every rank"))
    return lines


def run_head(cfg: Config) -> Text:
    """The first line of a run: model | quant | backend | dtype | device, or what was analyzed."""
    if cfg.analyzed:
        head = Text(f"analyzed {', '.join(cfg.engine.source)}", style="bold")
        head.append(f" | {cfg.engine.name} | {cfg.hardware.gpu or cfg.device}")
        return head
    head = Text(f"{cfg.model.name or '?'} | {cfg.quant} ", style="bold")
    head.append(f"| {cfg.library or '-'} | {cfg.dtype} | {cfg.device or '?'}")
    return head


def render_summary(doc: Summary, console: Console | None = None) -> None:
    console = console or Console()
    cfg = doc.config
    console.print(run_head(cfg))
    if doc.status != "complete":
        console.print(Text(f"incomplete run: missing {', '.join(doc.missing) or '?'}", style="bold red"))
    metrics = doc.metrics
    if metrics.ttft_ms is not None:
        console.print(metrics_table(metrics))
    for line in (throughput_line(metrics), memory_line(metrics), quality_line(metrics)):
        if line:
            console.print(line)
    if doc.stability is not None and doc.stability.unstable:
        console.print(Text("unstable timings: " + "; ".join(doc.stability.reasons)
                           + " (TTFT / TPOT here may not repeat: rerun on a quieter machine)", style="bold yellow"))
    if metrics.compile is not None:
        c = metrics.compile
        console.print(f"torch.compile ({c.mode}): {c.graphs} graph(s) compiled in {c.seconds:.1f} s with the first "
                      f"request, not in the timings; {c.recompiled_while_timed} recompiled while timed")
    hooks = metrics.hooks_overhead
    if hooks is not None and hooks.calls and hooks.share_of_profiled_wall is not None:  # none: a compiled run
        console.print(f"module-range hooks: {hooks.calls} calls, {hooks.seconds * 1000:.1f} ms "
                      f"({hooks.share_of_profiled_wall * 100:.1f}% of the profiled pass)")
    if doc.attribution is not None:
        note = f" ({doc.attribution.note})" if doc.attribution.note else ""
        console.print(f"phases from: {doc.attribution.phase_source}{note}; graph-replayed (unattributed) kernel "
                      f"time: {doc.attribution.graph_replayed_share * 100:.1f}%")
    console.print(path_legend())
    coverage = doc.coverage
    for name, block in shown_phases(doc):
        console.print(phase_panel(name, block, coverage.phases.get(name) if coverage is not None else None,
                                  doc.roofline))
    if doc.roofline is not None and doc.roofline.peaks is not None:
        console.print(Text(f"peaks: {doc.roofline.peaks.device} ({doc.roofline.peaks.source})", style="dim"))
    for rank_line in rank_lines(doc):
        console.print(rank_line)
    unknown = unknown_line(coverage.total) if coverage is not None else None
    if unknown is not None:
        console.print(unknown)
    if doc.sites:
        console.print(sites_table(doc.sites))
    for warning in fallback_lines(doc.sites):
        console.print(warning)
    kept = [m for m in doc.unquantized_modules if not m.requested]
    if kept and cfg.quantized.weights:
        console.print("kept in high precision by the recipe: " + ", ".join(_share_text(m) for m in kept[:4])
                      + (f" and {len(kept) - 4} more" if len(kept) > 4 else ""))


def _share_text(m: UnquantizedModule) -> str:
    share = m.share
    return f"{m.module} (prefill {share.get('prefill', 0) * 100:.1f}%, decode {share.get('decode', 0) * 100:.1f}%)"


def fallback_lines(sites: list[SiteRow]) -> list[Text]:
    """One warning line per (phase, kind, rule) of fallback sites, with the reason."""
    groups: dict[tuple[str, str, str], list[SiteRow]] = {}
    for s in sites:
        if s.path == "fallback":
            groups.setdefault((s.phase, s.kind, s.rule), []).append(s)
    lines = []
    for (phase, kind, rule), members in sorted(groups.items()):
        line = Text("fallback: ", style=f"bold {PATH_COLORS['fallback']}")
        line.append(f"{len(members)} {kind} site(s) in {phase}: {members[0].reason} ({rule}), e.g. "
                    f"{members[0].module}")
        lines.append(line)
    return lines
