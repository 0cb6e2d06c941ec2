"""Rich renderables the TUI's widgets display: built from core data, no logic of their own."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from kernelscope.report import console as report
from kernelscope.report.aggregate import shown_phases
from kernelscope.report.compare import fixed_value, short_value
from kernelscope.report.documents import PhaseCoverage, PhaseSummary, Summary
from kernelscope.report.style import CLASS_COLORS, PATH_COLORS, PATH_GLYPHS, PATH_SHORT, human_us
from kernelscope.report.views import Why, dominant_path, sparkline
from kernelscope.runs.store import Run
from kernelscope.vocabulary import PATH_ORDER

SHOWN_FIXED = {"model.name": "model", "quant": "quant", "backend": "backend", "kv_backend": "kv", "dtype": "dtype",
               "device": "device", "hardware.cpu": "cpu", "hardware.gpu": "gpu", "workload.prompt_len": "prompt",
               "workload.gen_len": "output", "workload.batch": "batch", "workload.requests": "requests",
               "workload.sampling": "sampling", "engine.name": "engine", "versions.torch": "torch"}


def path_cell(path: str) -> Text:
    """A path name with its glyph and colour (the same as in every other view and in exports)."""
    if path not in PATH_COLORS:
        return Text(path, style="italic")
    return Text(PATH_GLYPHS[path] + " ", style=PATH_COLORS[path]).append(PATH_SHORT[path])


def run_title(run: Run, label: str, index: int, count: int) -> Text:
    cfg = run.config
    if cfg.analyzed:
        head = f"analyzed trace | {cfg.engine.name}"
    else:
        parts = [cfg.model.name or "?", cfg.quant or "?", cfg.library, cfg.dtype, cfg.device]
        head = " | ".join(p for p in parts if p)
    text = Text(head, style="bold")
    text.append(f"   run {index + 1}/{count}: {label}", style="dim")
    return text


def incomplete_banner(run: Run) -> str:
    if run.complete:
        return ""
    missing = ", ".join(run.missing) or "parts"
    reason = run.manifest.error or ""
    return f"incomplete run ({run.manifest.status}): missing {missing}" + (f" - {reason}" if reason else "")


def fixed_variables(run: Run) -> Text:
    text = Text()
    for key, label in SHOWN_FIXED.items():
        value = fixed_value(run, key)
        if value in (None, "", {}):
            continue
        text.append(f"{label} ", style="dim").append(short_value(value) + "   ")
    return text


def decode_latency(run: Run, width: int = 60) -> Text:
    steps = run.metrics.decode_steps_ms()
    if not steps:
        return Text("no decode-step timings in this run", style="dim")
    text = Text("decode step ms  ", style="bold")
    text.append(f"{min(steps):.2f} ")
    text.append(sparkline(steps, width), style="cyan")
    text.append(f" {max(steps):.2f}   ({len(steps)} steps, in order)")
    return text


def phase_block(name: str, block: PhaseSummary, coverage: PhaseCoverage | None = None,
                width: int = 50) -> RenderableType:
    total = block.total_us
    head = Text(f"{name:<8}", style="bold").append(f"{human_us(total):>10} in {block.kernels} kernels/ops, "
                                                   f"{block.steps} step(s)   ")
    head.append(f"dequant kernels {block.dequant_share * 100:.1f}% of it", style="bold")
    split = Text("site paths ")
    for p in PATH_ORDER:
        us = block.time_by_path.get(p.value, 0.0)
        split.append(PATH_GLYPHS[p.value] + " ", style=PATH_COLORS[p.value])
        split.append(f"{PATH_SHORT[p.value]} {us / total * 100 if total else 0:.1f}%  ")
    lines: list[RenderableType] = [head, Text("         ").append(report.path_bar(block.time_by_path, width)),
                                   split]
    if block.communication_us > 0:
        lines.append(Text(f"         of which communication {block.communication_us / total * 100:.1f}% "
                          "(counted in unquantized, not compute)", style="dim"))
    if coverage is not None:
        lines.append(Text("         ").append(report.coverage_line(coverage)))
    top = block.top_dequant_modules
    if top:
        lines.append(Text("         top dequant: ", style="dim").append(
            ", ".join(f"{e.site} {human_us(e.time_us)}" for e in top[:3])))
    return Group(*lines)


def overview(run: Run, doc: Summary) -> RenderableType:
    parts: list[RenderableType] = [Text("fixed variables", style="bold underline"), fixed_variables(run), Text("")]
    metrics = doc.metrics
    if metrics.ttft_ms is not None:
        parts.append(report.metrics_table(metrics))
    for line in (report.throughput_line(metrics), report.memory_line(metrics), report.quality_line(metrics)):
        if line:
            parts.append(Text(line))
    parts += [decode_latency(run), Text(""), report.path_legend()]
    coverage = doc.coverage
    for name, block in shown_phases(doc):
        parts.append(phase_block(name, block, coverage.phases.get(name) if coverage is not None else None))
    parts.extend(report.rank_lines(doc))  # a distributed run: communication, imbalance, agreement
    unknown = report.unknown_line(coverage.total) if coverage is not None else None
    if unknown is not None:
        parts.append(unknown)
    if not doc.phases:
        parts.append(Text("no kernel table in this run: nothing was classified", style="bold red"))
    return Group(*parts)


def why_panel(w: Why) -> RenderableType:
    r = w.row
    cls = str(r["kernel_class"])
    head = Text(str(r["name"]), style="bold")
    verdict = Table.grid(padding=(0, 2))
    verdict.add_column(style="dim", no_wrap=True)
    verdict.add_column()
    verdict.add_row("kernel verdict", Text(cls, style=CLASS_COLORS.get(cls, "")).append(
        f"  role {r['role']}  backend {r['backend'] or '-'}  format {r['format'] or '-'}"))
    verdict.add_row("decided by", Text(str(r["rule"]), style="bold").append(f"  {w.rule_reason}"))
    if w.rule_conditions:
        verdict.add_row("", Text(f"when {w.rule_conditions}", style="dim"))
    verdict.add_row("site path", path_cell(str(r["path"])).append(f"  by {r['path_rule']}: {w.path_reason}"))
    if w.path_conditions:
        verdict.add_row("", Text(f"when {w.path_conditions}", style="dim"))
    verdict.add_row("launching op", f"{r['op'] or '-'}" + (f" (inside {r['wrapper']})" if r["wrapper"] else ""))
    verdict.add_row("input dtypes", str(r["in_types"] or "-"))
    verdict.add_row("input shapes", str(r["in_shapes"] or "-"))
    verdict.add_row("module / site", f"{r['module'] or '-'} / {r['site'] or '(outside sites)'}")
    step = int(r["step"])  # type: ignore[call-overload]
    verdict.add_row("phase", f"{r['phase']}" + (f", decode step {step}" if step >= 0 else "")
                    + f", request {r['request']}, {r['device']}, {human_us(float(r['time_us']))}")  # type: ignore[arg-type]
    call = Table(title="its call (same site, request, step) in time order", title_justify="left",
                 box=None, padding=(0, 1))
    for col in ("", "kernel / op", "class", "role", "time"):
        call.add_column(col, justify="right" if col == "time" else "left", no_wrap=col != "kernel / op")
    for i, n in enumerate(w.neighbours):
        mark = "▶" if i == w.position else ""
        ncls = str(n["kernel_class"])
        call.add_row(mark, Text(str(n["name"]), style="bold" if mark else ""),
                     Text(ncls, style=CLASS_COLORS.get(ncls, "")), str(n["role"]),
                     human_us(float(n["time_us"])))
    return Group(head, verdict, Text(""), call)


def module_label(label: str, by_path: dict[str, float], total: float, stands_out: str, depth: int) -> Text:
    """A tree node: name padded so the bars line up at every depth (the tree indents 4 per level)."""
    width = max(len(label) + 1, 26 - 4 * depth)
    text = Text(f"{label:<{width}}")
    text.append(report.path_bar(by_path, 12))
    text.append(f" {human_us(total):>10}  ")
    path = dominant_path(by_path)
    text.append(PATH_SHORT.get(path, path), style=PATH_COLORS.get(path, "italic"))
    if stands_out:
        text.append(f"  ◆ {stands_out}", style="bold yellow")
    return text
