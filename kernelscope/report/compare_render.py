"""Render a Comparison: terminal (rich), Markdown, CSV, JSON, HTML with inline SVG plots."""

from __future__ import annotations

import csv
import html
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kernelscope.errors import KernelscopeError
from kernelscope.report.compare import short_value
from kernelscope.report.documents import Comparison, Row
from kernelscope.report.metrics import percentile
from kernelscope.report.style import PATH_COLORS, human_bytes, pct, ratio
from kernelscope.runs.codec import encode_document
from kernelscope.vocabulary import PATH_ORDER

STATUS_STYLE = {"ok": "green", "risk": "bold red", "rollback": "bold red", "watch": "yellow", "info": "",
                "n/a": "dim", "not measured": "dim"}


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) else "-"


Column = tuple[str, Callable[[Row], str]]

# (header, cell) pairs of the main table, shared by every format; the terminal splits it in two
COLUMNS: list[Column] = [
    ("run", lambda r: r.run),
    ("config", lambda r: " ".join(str(x) for x in (r.quant or "?", r.backend, r.dtype,
                                                     f"compiled ({r.compile.removeprefix('inductor ')})"
                                                     if r.compile else "", f"tp{r.world_size}" if r.world_size
                                                     else "") if x)),
    ("quantized", lambda r: r.quantized.what()),
    ("peak mem", lambda r: human_bytes(r.peak_memory_bytes) if r.peak_memory_bytes else "-"),
    ("weights", lambda r: human_bytes(r.weights_bytes) if r.weights_bytes else "-"),
    ("KV/token", lambda r: human_bytes(r.kv_bytes_per_token) if r.kv_bytes_per_token else "-"),
    ("TTFT p50/p95/p99 ms", lambda r: "/".join(_num(v) for v in (r.ttft_p50_ms, r.ttft_p95_ms, r.ttft_p99_ms))),
    ("TPOT p50/p95/p99 ms", lambda r: "/".join(_num(v) for v in (r.tpot_p50_ms, r.tpot_p95_ms, r.tpot_p99_ms))),
    ("tok/s dec/e2e", lambda r: "/".join(_num(v, "{:.0f}") for v in (r.tokens_per_s_decode, r.tokens_per_s_e2e))),
    ("capacity", lambda r: str(r.capacity.sequences) if r.capacity is not None else "-"),
    ("KLD mean", lambda r: _num(r.kld_mean, "{:.2e}")),
    ("top-1", lambda r: pct(r.same_top1)),
    ("PPL ratio", lambda r: _num(r.ppl_ratio, "{:.3f}")),
    ("paths native/dq-c/fallback", lambda r: "/".join(pct(v) for v in (r.native_share, r.dequant_path_share,
                                                                              r.fallback_share))),
    ("dequant kernels P/D", lambda r: f"{pct(r.dequant_share_prefill)}/{pct(r.dequant_share_decode)}"),
    ("comm P/D", lambda r: f"{pct(r.communication_share_prefill)}/{pct(r.communication_share_decode)}"
     if r.world_size else "-"),
    ("dividend P/D ideal>real", lambda r: "/".join(_dividend_cell(r, p) for p in ("prefill", "decode"))),
    ("TPOT x", lambda r: ratio(r.tpot_ratio)),
    ("mem x", lambda r: ratio(r.peak_memory_ratio)),
    ("tok/s x", lambda r: ratio(r.tokens_per_s_ratio)),
]


CAUSE_WORDS = {"dequant": "dequant kernels", "fallback": "fallback paths", "quantize": "quantize-the-activation",
               "gaps": "host / launch gaps", "rest": "kernels slower than their ideal"}


def _dividend_cell(row: Row, phase: str) -> str:
    d = row.dividend.get(phase)
    if d is None or d.ideal_speedup is None:
        return "-"
    return f"{d.ideal_speedup:.2f}x>{d.realized_speedup:.2f}x"


def dividend_lines(cmp: Comparison) -> list[str]:
    """'decode: int4 promises 3.10x over bf16 on its modelled work (1.03x of the step), realized 0.76x,
    1.37 ms/step lost, 96% of it in host / launch gaps', per run and phase."""
    base = cmp.rows[0]
    lines = []
    for row in cmp.rows[1:]:
        for phase, d in row.dividend.items():
            if d.ideal_speedup is None or d.lost_ms_per_step is None:
                lines.append(f"{row.run} {phase}: realized {d.realized_speedup:.2f}x ({d.note})")
                continue
            text = (f"{row.run} {phase}: {row.quant or '?'} promises {d.ideal_speedup:.2f}x over {base.quant or '?'} "
                    f"on its modelled work ({d.promised_speedup or 1.0:.2f}x of the step), realized "
                    f"{d.realized_speedup:.2f}x, {d.lost_ms_per_step:.3g} ms/step lost")
            cause, ms = max(d.lost_by_cause_ms.items(), key=lambda kv: kv[1], default=("", 0.0))
            if d.lost_ms_per_step > 0 and ms > 0:
                text += f", {min(ms / d.lost_ms_per_step, 1.0) * 100:.0f}% of it in {CAUSE_WORDS.get(cause, cause)}"
            lines.append(text)
    return lines


SPLIT = 10  # the terminal's first table: run .. capacity; the second: run + quality, paths, ratios


def cells(row: Row, columns: list[Column] = COLUMNS) -> list[str]:
    if row.error:
        return [row.run, row.quant or "?", "FAILED: " + row.error] + [""] * (len(columns) - 3)
    return [cell(row) for _, cell in columns]


def _table(cmp: Comparison, title: str, columns: list[Column]) -> Table:
    """One table; a cell never breaks (a number split over lines reads as two), a header may wrap."""
    table = Table(title=title, title_justify="left")
    body = [cells(row, columns) for row in cmp.rows]
    for i, (header, _) in enumerate(columns):
        table.add_column(header, min_width=max((len(r[i]) for r in body if not r[i].startswith("FAILED")), default=1))
    for row, values in zip(cmp.rows, body, strict=True):
        table.add_row(*values, style="red" if row.error else None)
    return table


def fitted_tables(cmp: Comparison, title: str, columns: list[Column], width: int) -> list[Table]:
    """`columns` (the first is the run) as tables of at most `width` characters: the run column, then as many
    of the others as fit; the rest continue in a next table under the same run column."""
    body = [cells(row, columns) for row in cmp.rows if not row.error]
    natural = [max([*(len(word) for word in header.split()), *(len(r[i]) for r in body)]) + 3
               for i, (header, _) in enumerate(columns)]
    groups: list[list[int]] = [[]]
    used = natural[0] + 1
    for i in range(1, len(columns)):
        if groups[-1] and used + natural[i] > width:
            groups.append([])
            used = natural[0] + 1
        groups[-1].append(i)
        used += natural[i]
    return [_table(cmp, title if n == 0 else f"{title} (continued)", [columns[0], *(columns[i] for i in group)])
            for n, group in enumerate(groups)]


def fixed_pairs(cmp: Comparison) -> list[tuple[str, str]]:
    return [(k, short_value(v)) for k, v in cmp.fixed.items() if v not in (None, "", {})]


def render_terminal(cmp: Comparison, console: Console | None = None) -> None:
    console = console or Console()
    line = Text("fixed variables: ", style="bold")
    for i, (key, value) in enumerate(fixed_pairs(cmp)):
        line.append(("; " if i else "") + key + "=", style="dim").append(value)
    console.print(line)
    for d in cmp.differences:
        console.print(Text(f"differs: {d}", style="yellow"))
    for note in unstable_notes(cmp):
        console.print(Text(note, style="bold yellow"))
    for table in (*fitted_tables(cmp, "memory and latency", COLUMNS[:SPLIT], console.width),
                  *fitted_tables(cmp, f"quality, kernel paths, ratios against {cmp.rows[0].run}",
                                 [COLUMNS[0], *COLUMNS[SPLIT:]], console.width)):
        console.print(table)
    dividends = dividend_lines(cmp)
    if dividends:
        console.print(Text(f"quantization dividend against {cmp.rows[0].run} (per step, profiled pass)", style="bold"))
        for text in dividends:
            console.print("  " + text, soft_wrap=True)
    for row in cmp.rows[1:]:
        if row.error:
            continue
        console.print(Text(f"risk checklist: {row.run}", style="bold"))
        for item in row.risks:
            line = Text(f"  {item.item:<24}")
            line.append(f"{item.status:<13}", style=STATUS_STYLE.get(item.status, ""))
            line.append(item.evidence)
            console.print(line)
    if cmp.gates:
        if cmp.breaches:
            for b in cmp.breaches:
                console.print(Text(f"GATE BREACHED: {b.run}: {b.gate} ({b.why})", style="bold red"))
        else:
            console.print(Text(f"gates hold: {', '.join(cmp.gates)}", style="green"))


def unstable_notes(cmp: Comparison) -> list[str]:
    """One line per run whose timings are unstable: its latency ratios are not to be trusted."""
    return [f"unstable timings: {row.run}: {'; '.join(row.stability.reasons)} (rerun it, or sweep --repeat)"
            for row in cmp.rows if row.stability is not None and row.stability.unstable]


def render_text(cmp: Comparison, width: int = 160) -> str:
    """The terminal rendering, without colour, as text (for --output with the rich format)."""
    buf = io.StringIO()
    render_terminal(cmp, Console(file=buf, width=width, no_color=True, color_system=None))
    return buf.getvalue()


def render_markdown(cmp: Comparison) -> str:
    lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in cells(r)) + " |" for r in cmp.rows]
    out = ["Fixed variables: " + ", ".join(f"`{k}={v}`" for k, v in fixed_pairs(cmp)), "",
           *[f"- differs: {d}" for d in cmp.differences], *[f"- {n}" for n in unstable_notes(cmp)], "", *lines]
    if dividend_lines(cmp):
        out += ["", f"Quantization dividend against {cmp.rows[0].run} (per step, profiled pass):", ""]
        out += [f"- {text}" for text in dividend_lines(cmp)]
    for row in cmp.rows[1:]:
        if not row.error:
            out += ["", f"Risk checklist, {row.run}:", ""]
            out += [f"- **{i.item}** ({i.status}): {i.evidence}" for i in row.risks]
    if cmp.gates:
        out += ["", "Gates: " + ", ".join(f"`{g}`" for g in cmp.gates) + (
            " - breached: " + "; ".join(f"{b.run} {b.gate}" for b in cmp.breaches) if cmp.breaches
            else " - all hold")]
    return "\n".join(out) + "\n"


FLAT = ["run", "status", "quant", "backend", "dtype", "compile", "world_size", "peak_memory_bytes",
        "peak_memory_source", "weights_bytes", "kv_bytes_per_token", "ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms",
        "tpot_p50_ms", "tpot_p95_ms", "tpot_p99_ms", "tokens_per_s_decode", "tokens_per_s_e2e", "kld_mean",
        "kld_mean_se", "kld_p99", "same_top1", "ppl_ratio", "kld_slope_per_1k_tokens", "native_share",
        "dequant_path_share", "fallback_share", "dequant_share_prefill", "dequant_share_decode",
        "communication_share_prefill", "communication_share_decode", "ttft_ratio", "tpot_ratio",
        "tokens_per_s_ratio", "peak_memory_ratio", "weights_ratio", "capacity_ratio", "error"]


DIVIDEND_FLAT = ("ideal_speedup", "promised_speedup", "realized_speedup", "lost_ms_per_step")


def _dividend_flat(row: Row) -> list[Any]:
    values: list[Any] = []
    for phase in ("prefill", "decode"):
        d = row.dividend.get(phase)
        values += [getattr(d, k) if d is not None else None for k in DIVIDEND_FLAT]
        values += [d.lost_by_cause_ms.get(c) if d is not None else None for c in CAUSE_WORDS]
    return values


def flat_rows(cmp: Comparison) -> tuple[list[str], list[list[Any]]]:
    """The comparison as a flat table (header, rows): the CSV format, and the TUI's CSV export."""
    dividend = [f"{k}_{p}" for p in ("prefill", "decode")
                for k in (*DIVIDEND_FLAT, *(f"lost_{c}_ms_per_step" for c in CAUSE_WORDS))]
    header = [*FLAT, "capacity_sequences", *dividend]
    rows = [[getattr(row, k) for k in FLAT] + [row.capacity.sequences if row.capacity is not None else None]
            + _dividend_flat(row) for row in cmp.rows]
    return header, rows


def render_csv(cmp: Comparison) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    header, rows = flat_rows(cmp)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue()


def render_json(cmp: Comparison) -> str:
    return encode_document(cmp).decode()


# ------------------------------------------------------------------------------------------- html


def _svg_path_bars(phases: dict[str, dict[str, dict[str, float]]]) -> str:
    """Stacked bars: time by path per phase per run."""
    width, bar_h, gap, label_w = 640, 18, 8, 190
    items = [(run, ph, by_path) for run, per in phases.items() for ph, by_path in per.items()]
    height = len(items) * (bar_h + gap) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    for i, (run, ph, by_path) in enumerate(items):
        y = i * (bar_h + gap) + 5
        total = sum(by_path.values()) or 1.0
        parts.append(f'<text x="0" y="{y + 13}">{html.escape(run)} {ph}</text>')
        x = float(label_w)
        for p in PATH_ORDER:
            w = (width - label_w - 10) * by_path.get(p.value, 0.0) / total
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                             f'fill="{PATH_COLORS[p.value]}">'
                             f'<title>{p.value}: {by_path.get(p.value, 0.0) / 1000:.2f} ms</title></rect>')
                x += w
    legend_y = height - 8
    for j, p in enumerate(PATH_ORDER):
        parts.append(f'<rect x="{label_w + j * 110}" y="{legend_y - 9}" width="10" height="10" '
                     f'fill="{PATH_COLORS[p.value]}"/>'
                     f'<text x="{label_w + j * 110 + 14}" y="{legend_y}">{p.value}</text>')
    parts.append("</svg>")
    return "".join(parts)


CAUSE_COLORS = {"promised": "#9e9e9e", "dequant": "#ff7f0e", "fallback": "#d62728", "quantize": "#9467bd",
                "gaps": "#8c564b", "rest": "#1f77b4"}


def _svg_dividend(rows: list[Row]) -> str:
    """Per run and phase: the promised step, then the lost time stacked by cause (positive causes)."""
    items = [(r.run, ph, d) for r in rows for ph, d in r.dividend.items() if d.promised_ms_per_step is not None]
    if not items:
        return "<p>no dividend (one run, or no peaks)</p>"
    width, bar_h, gap, label_w = 640, 18, 8, 190
    scale = (width - label_w - 10) / max(max(d.ms_per_step, d.promised_ms_per_step or 0) for _, _, d in items)
    height = len(items) * (bar_h + gap) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">']
    for i, (run, ph, d) in enumerate(items):
        y = i * (bar_h + gap) + 5
        parts.append(f'<text x="0" y="{y + 13}">{html.escape(run)} {ph}</text>')
        x = float(label_w)
        segments = [("promised", d.promised_ms_per_step or 0.0),
                    *((c, max(v, 0.0)) for c, v in d.lost_by_cause_ms.items())]
        for name, ms in segments:
            w = ms * scale
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{CAUSE_COLORS[name]}">'
                             f'<title>{name}: {ms:.3f} ms/step</title></rect>')
                x += w
    legend_y = height - 8
    for j, name in enumerate(CAUSE_COLORS):
        parts.append(f'<rect x="{label_w + j * 75}" y="{legend_y - 9}" width="10" height="10" '
                     f'fill="{CAUSE_COLORS[name]}"/><text x="{label_w + j * 75 + 14}" y="{legend_y}">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_lines(series: dict[str, list[tuple[float, float]]], x_label: str, y_label: str, log_y: bool = False) -> str:
    import math

    width, height, pad = 640, 260, 45
    points = [pt for s in series.values() for pt in s]
    if not points:
        return "<p>no data</p>"
    xs, ys = [p[0] for p in points], [p[1] for p in points]

    def ty(v: float) -> float:
        return math.log10(max(v, 1e-9)) if log_y else v

    x0, x1 = min(xs), max(xs) or 1.0
    y0, y1 = min(ty(v) for v in ys), max(ty(v) for v in ys)
    if y1 == y0:
        y1 = y0 + 1.0
    if x1 == x0:
        x1 = x0 + 1.0
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" stroke="#888"/>',
             f'<line x1="{pad}" y1="10" x2="{pad}" y2="{height - pad}" stroke="#888"/>',
             f'<text x="{width / 2}" y="{height - 8}">{html.escape(x_label)}</text>',
             f'<text x="2" y="20">{html.escape(y_label)}</text>']
    for k, (name, pts) in enumerate(series.items()):
        coords = " ".join(f"{pad + (x - x0) / (x1 - x0) * (width - pad - 10):.1f},"
                          f"{height - pad - (ty(y) - y0) / (y1 - y0) * (height - pad - 20):.1f}" for x, y in pts)
        color = palette[k % len(palette)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        parts.append(f'<text x="{width - 170}" y="{20 + 14 * k}" fill="{color}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _css(status: str) -> str:
    return html.escape(status.replace(" ", "-"))


def render_html(cmp: Comparison) -> str:
    ok_rows = [r for r in cmp.rows if not r.error]
    phases = {r.run: r.time_by_path for r in ok_rows if r.time_by_path}
    latency = {r.run: [(float(q), percentile(r.decode_steps_ms, q)) for q in range(0, 101, 5)]
               for r in ok_rows if r.decode_steps_ms}
    kld = {r.run: [((b.start + b.end) / 2, b.kld_mean) for b in r.kld_by_position]
           for r in ok_rows if r.kld_by_position}
    table = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h, _ in COLUMNS) + "</tr>"]
    for row in cmp.rows:
        table.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(row)) + "</tr>")
    table.append("</table>")
    risk_html = []
    for row in ok_rows[1:]:
        items = "".join(f"<li><b>{html.escape(i.item)}</b> <span class='{_css(i.status)}'>"
                        f"{html.escape(i.status)}</span>: {html.escape(i.evidence)}</li>" for i in row.risks)
        risk_html.append(f"<h3>risk checklist: {html.escape(row.run)}</h3><ul>{items}</ul>")
    fixed = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in fixed_pairs(cmp))
    dividend = "".join(f"<li>{html.escape(text)}</li>" for text in dividend_lines(cmp))
    differs = "".join(f"<li class='watch'>{html.escape(d)}</li>"
                      for d in [f"differs: {d}" for d in cmp.differences] + unstable_notes(cmp))
    gates = ""
    if cmp.gates:
        gates = "<h2>gates</h2><p>" + html.escape(", ".join(cmp.gates)) + "</p><ul>" + "".join(
            f"<li class='risk'>{html.escape(b.run)}: {html.escape(b.gate)} ({html.escape(b.why)})</li>"
            for b in cmp.breaches) + ("</ul>" if cmp.breaches else "<li class='ok'>all hold</li></ul>")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>kernelscope compare</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:3px 6px}} .risk,.rollback{{color:#d62728;font-weight:bold}} .ok{{color:#2ca02c}}
.watch{{color:#b8860b}} .not-measured,.n\\/a{{color:#888}}</style></head><body>
<h1>kernelscope comparison</h1><h2>fixed variables</h2><ul>{fixed}{differs}</ul>
<h2>runs</h2>{''.join(table)}
<h2>quantization dividend (per step, profiled pass)</h2><ul>{dividend}</ul>
<p>promised step (grey), then the time lost by cause</p>{_svg_dividend(ok_rows[1:])}
<h2>time by path, per phase</h2>{_svg_path_bars(phases)}
<h2>decode step latency distribution (percentile -> ms)</h2>{_svg_lines(latency, "percentile", "ms")}
<h2>KLD by token position (log scale)</h2>{_svg_lines(kld, "position in window", "KLD", log_y=True)}
{''.join(risk_html)}{gates}</body></html>
"""


# ---------------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class ComparisonFormat:
    """One `--format`: the document written to --output, and how it is shown without one."""

    name: str
    render: Callable[[Comparison], str]
    terminal: Callable[[Comparison], None] | None = None  # None: print render()'s text
    needs_output: bool = False  # a file format that makes no sense on a terminal

    def show(self, cmp: Comparison) -> None:
        if self.needs_output:
            raise KernelscopeError(f"--format {self.name} needs --output FILE.{self.name}")
        if self.terminal is not None:
            self.terminal(cmp)
        else:
            sys.stdout.write(self.render(cmp))


FORMATS: dict[str, ComparisonFormat] = {f.name: f for f in (
    ComparisonFormat("rich", render_text, terminal=render_terminal),
    ComparisonFormat("md", render_markdown),
    ComparisonFormat("csv", render_csv),
    ComparisonFormat("json", render_json),
    ComparisonFormat("html", render_html, needs_output=True),
)}
