"""Console rendering of a run's summary document (rich)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kernelscope.report.style import PATH_COLORS, PATH_GLYPHS, PATH_SHORT, human_bytes, human_us
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


def _stat(block: dict[str, Any] | None, key: str = "p50") -> str:
    if not block or block.get("n", 0) == 0:
        return "n/a"
    return f"{block[key]:.2f}"


def metrics_table(metrics: dict[str, Any]) -> Table:
    t = Table(title="Latency and throughput (timing pass, no profiler)", title_justify="left", expand=False)
    for col in ("metric", "mean", "p50", "p95", "p99", "n"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    for key, label in (("ttft_ms", "TTFT (ms)"), ("tpot_ms", "TPOT (ms)"), ("itl_ms", "decode step (ms)")):
        block = metrics.get(key)
        if block:
            t.add_row(label, _stat(block, "mean"), _stat(block, "p50"), _stat(block, "p95"), _stat(block, "p99"),
                      str(block.get("n", 0)))
    return t


def throughput_line(metrics: dict[str, Any]) -> str:
    tps = metrics.get("tokens_per_s") or {}
    parts = []
    for key in ("decode", "end_to_end", "prefill"):
        if tps.get(key) is not None:
            parts.append(f"{key.replace('_', '-')} {tps[key]:.1f} tok/s")
    return "throughput: " + ", ".join(parts) if parts else ""


def memory_line(metrics: dict[str, Any]) -> str:
    mem = metrics.get("peak_memory") or {}
    parts = []
    for key, label in (("rss", "RSS"), ("nvml_process_used", "NVML process"), ("torch_cuda_allocated", "torch alloc")):
        src = mem.get(key)
        if not src:
            continue
        if src.get("available"):
            phases = ", ".join(f"{p} {human_bytes(v)}" for p, v in src["by_phase"].items())
            parts.append(f"{label} peak {human_bytes(src['peak_bytes'])} ({phases})")
        elif key == "rss" or mem.get("rss", {}).get("available") is False:
            parts.append(f"{label}: unavailable ({src.get('reason')})")
    weights = metrics.get("weights")
    if weights:
        parts.append(f"weights stored {human_bytes(weights['model_bytes'])}")
    kv = metrics.get("kv_cache")
    if kv and kv.get("bytes_per_token"):
        parts.append(f"KV {human_bytes(kv['bytes_per_token'])}/token")
    return "memory: " + "; ".join(parts) if parts else ""


def quality_line(metrics: dict[str, Any]) -> str:
    q = metrics.get("quality") or {}
    if not q.get("tokens"):
        return ""
    flagged = (q.get("activation_outliers") or {}).get("flagged")
    return (f"quality vs {q.get('baseline')} over {q['tokens']} teacher-forced tokens: KLD {q['kld_mean']:.2e} "
            f"+/- {q['kld_mean_se']:.1e} (p99 {q['kld_p99']:.2e}), same top-1 {q['same_top1'] * 100:.1f}% "
            f"+/- {q['same_top1_se'] * 100:.1f}, PPL {q['ppl_q']:.2f} vs {q['ppl_base']:.2f} "
            f"(ratio {q['ppl_ratio']:.4f})" + (f"; {flagged} Linear inputs with outliers" if flagged else ""))


def phase_panel(name: str, block: dict[str, Any]) -> Panel:
    lines: list[Text | Table] = []
    bar = path_bar(block["time_by_path"])
    total = block["total_us"]
    head = Text(f"{human_us(total)} in {block['kernels']} ops/kernels over {block['steps']} step(s)   ")
    head.append(f"dequant share {block['dequant_share'] * 100:.1f}%", style="bold")
    lines.append(head)
    lines.append(bar)
    split = Text()
    for p in PATH_ORDER:
        us = block["time_by_path"].get(p.value, 0.0)
        share = us / total * 100 if total > 0 else 0.0
        split.append(f"{PATH_SHORT[p.value]} ", style=PATH_COLORS[p.value]).append(f"{share:.1f}%  ")
    lines.append(split)
    if block.get("top_dequant_modules"):
        top = ", ".join(f"{e['site']} {human_us(e['time_us'])}" for e in block["top_dequant_modules"][:3])
        lines.append(Text("top dequant: " + top))
    return Panel(Group(*lines), title=f"{name}", title_align="left")


def sites_table(sites: list[dict[str, Any]]) -> Table:
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
        key = (s["phase"], s["kind"], s["path"], s["rule"])
        counts[key] += 1
        times[key] = times.get(key, 0.0) + s["time_us"]
    for key in sorted(counts, key=lambda k: (k[0], k[1], -times[k])):
        phase, kind, path, rule = key
        t.add_row(phase, kind, Text(path, style=PATH_COLORS.get(path, "")), str(counts[key]), human_us(times[key]),
                  rule)
    return t


def render_summary(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    cfg = doc.get("config", {})
    model = cfg.get("model", {}).get("name", "?") if isinstance(cfg.get("model"), dict) else str(cfg.get("model", "?"))
    backend = cfg.get("backend") or cfg.get("kv_backend") or "-"
    engine = cfg.get("engine", {})
    if engine.get("analyzed_by"):
        head = Text(f"analyzed {', '.join(engine.get('source', []))}", style="bold")
        head.append(f" | {engine.get('name', '')} | {cfg.get('hardware', {}).get('gpu') or cfg.get('device')}")
    else:
        head = Text(f"{model} | {cfg.get('quant', '?')} ", style="bold")
        head.append(f"| {backend} | {cfg.get('dtype', '?')} | {cfg.get('device', '?')}")
    console.print(head)
    if doc.get("status") != "complete":
        console.print(Text(f"incomplete run: missing {', '.join(doc.get('missing', [])) or '?'}", style="bold red"))
    metrics = doc.get("metrics", {})
    if metrics.get("ttft_ms"):
        console.print(metrics_table(metrics))
    for line in (throughput_line(metrics), memory_line(metrics), quality_line(metrics)):
        if line:
            console.print(line)
    hooks = metrics.get("hooks_overhead")
    if hooks and hooks.get("share_of_profiled_wall") is not None:
        console.print(f"module-range hooks: {hooks['calls']} calls, {hooks['seconds'] * 1000:.1f} ms "
                      f"({hooks['share_of_profiled_wall'] * 100:.1f}% of the profiled pass)")
    attribution = doc.get("attribution")
    if attribution:
        console.print(f"phases from: {attribution.get('phase_source')}; graph-replayed (unattributed) kernel time: "
                      f"{attribution.get('graph_replayed_share', 0.0) * 100:.1f}%")
    console.print(path_legend())
    phases = doc.get("phases", {})
    grand = sum(b["total_us"] for b in phases.values()) or 1.0
    for name, block in phases.items():
        if block["kernels"] and (name in ("prefill", "decode") or block["total_us"] / grand > 0.01):
            console.print(phase_panel(name, block))
    if doc.get("sites"):
        console.print(sites_table(doc["sites"]))
    for warning in fallback_lines(doc.get("sites", [])):
        console.print(warning)
    kept = [m for m in doc.get("unquantized_modules", []) if not m.get("requested")]
    if kept and cfg.get("quantized", {}).get("weights"):
        console.print("kept in high precision by the recipe: " + ", ".join(_share_text(m) for m in kept[:4])
                      + (f" and {len(kept) - 4} more" if len(kept) > 4 else ""))


def _share_text(m: dict[str, Any]) -> str:
    share = m.get("share", {})
    return f"{m['module']} (prefill {share.get('prefill', 0) * 100:.1f}%, decode {share.get('decode', 0) * 100:.1f}%)"


def fallback_lines(sites: list[dict[str, Any]]) -> list[Text]:
    """One warning line per (phase, kind, rule) of fallback sites, with the reason."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for s in sites:
        if s["path"] == "fallback":
            groups.setdefault((s["phase"], s["kind"], s["rule"]), []).append(s)
    lines = []
    for (phase, kind, rule), members in sorted(groups.items()):
        line = Text("fallback: ", style=f"bold {PATH_COLORS['fallback']}")
        line.append(f"{len(members)} {kind} site(s) in {phase}: {members[0]['reason']} ({rule}), e.g. "
                    f"{members[0]['module']}")
        lines.append(line)
    return lines
