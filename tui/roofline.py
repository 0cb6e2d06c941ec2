"""The roofline view: every site of a phase as a point (arithmetic intensity vs achieved throughput) under
the device's roof, and the per-site table; f cycles the phase, p the path filter (as in the kernels view)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from kernelscope.report.documents import Roofline, SiteRoofline, Summary
from kernelscope.report.style import PATH_COLORS, PATH_GLYPHS, PATH_SHORT, human_us
from kernelscope.runs.documents import Peaks
from kernelscope.vocabulary import PATH_ORDER

WIDTH, HEIGHT = 56, 12
PHASES = ("decode", "prefill")
PATHS: tuple[str | None, ...] = (None, *(p.value for p in PATH_ORDER))
COLUMNS = (("site", 34), ("path", 8), ("time", 9), ("ops/B", 7), ("TB/s", 6), ("TF/s", 7), ("bound", 7),
           ("% peak", 6), ("lost", 9))


def site_paths(doc: Summary) -> dict[tuple[str, str], str]:
    """(site, phase) -> the path that held most of its time."""
    return {(s.module, s.phase): s.path for s in doc.sites}


def shown_sites(roofline: Roofline, doc: Summary, phase: str, path: str | None) -> list[SiteRoofline]:
    paths = site_paths(doc)
    found = [s for s in roofline.sites if s.phase == phase and (path is None or paths.get((s.name, phase)) == path)]
    return sorted(found, key=lambda s: -(s.lost_ms or 0.0))


def scatter(sites: list[SiteRoofline], peaks: Peaks, paths: dict[tuple[str, str], str]) -> Text:
    """Sites on log-log axes (x: operations per byte, y: achieved TFLOP/s) under the roof min(BW·x, peak)."""
    points = [(s.intensity, s.achieved_tflops, paths.get((s.name, s.phase), "")) for s in sites
              if s.intensity and s.achieved_tflops]
    dtype = max(sites, key=lambda s: s.flops).dtype if sites else ""
    peak = (peaks.compute_peak(dtype) or max(peaks.flops_per_s.values(), default=0.0)) / 1e12
    if not points or peak <= 0:
        return Text("no site with known work in this phase", style="dim")
    bw = peaks.bandwidth_bytes_per_s / 1e12
    x_lo, x_hi = _decades(min(p[0] for p in points) / 2, max(*(p[0] for p in points), peak / bw) * 2)
    y_lo, y_hi = _decades(min(p[1] for p in points) / 2, peak * 1.5)
    grid = [[(" ", "")] * WIDTH for _ in range(HEIGHT)]
    for col in range(WIDTH):
        x = x_lo * (x_hi / x_lo) ** (col / (WIDTH - 1))
        row = _row(min(bw * x, peak), y_lo, y_hi)
        if row is not None:
            grid[row][col] = ("─" if bw * x >= peak else "╱", "dim")
    for x, y, path in points:
        col = round(math.log(x / x_lo) / math.log(x_hi / x_lo) * (WIDTH - 1))
        row = _row(y, y_lo, y_hi)
        if row is not None and 0 <= col < WIDTH:
            grid[row][col] = (PATH_GLYPHS.get(path, "●"), PATH_COLORS.get(path, ""))
    out = Text(f"TFLOP/s (log; roof: {bw:.2f} TB/s, {dtype or 'peak'} {peak:,.3g} TFLOP/s)\n", style="dim")
    for r, cells in enumerate(grid):
        out.append(f"{_label(y_hi * (y_lo / y_hi) ** (r / (HEIGHT - 1))):>8} │", style="dim")
        for char, style in cells:
            out.append(char, style=style)
        out.append("\n")
    out.append(" " * 9 + "└" + "─" * WIDTH + "\n", style="dim")
    out.append(f"{'':9} {_label(x_lo):<{WIDTH // 2}}{_label(x_hi):>{WIDTH // 2}}  ops/byte (log)", style="dim")
    return out


def _decades(lo: float, hi: float) -> tuple[float, float]:
    return 10 ** math.floor(math.log10(max(lo, 1e-12))), 10 ** math.ceil(math.log10(max(hi, 1e-12)))


def _row(y: float, lo: float, hi: float) -> int | None:
    if y <= 0:
        return None
    row = round(math.log(hi / y) / math.log(hi / lo) * (HEIGHT - 1))
    return row if 0 <= row < HEIGHT else None


def _label(value: float) -> str:
    return f"{value:.0e}" if value < 0.01 or value >= 1e4 else f"{value:.3g}"


def site_cells(s: SiteRoofline, path: str) -> tuple[str | Text, ...]:
    def num(v: float | None, fmt: str) -> str:
        return fmt.format(v) if v is not None else "-"

    return (s.name, Text(PATH_SHORT.get(path, "-"), style=PATH_COLORS.get(path, "")), human_us(s.time_ms * 1e3),
            num(s.intensity, "{:.3g}"), num(s.achieved_gbs / 1e3 if s.achieved_gbs else None, "{:.2f}"),
            num(s.achieved_tflops, "{:.3g}"), s.bound or "-", num(s.pct_of_peak * 100 if s.pct_of_peak else None,
                                                                   "{:.0f}%"),
            human_us((s.lost_ms or 0.0) * 1e3) if s.lost_ms is not None else "-")


class RooflineView(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f", "cycle_phase", "phase"), Binding("p", "cycle_path", "path")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.phase = "decode"
        self.path: str | None = None
        self.doc: Summary | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="roofline-status")
        yield Static(id="roofline-plot")
        table: DataTable[Any] = DataTable(id="roofline-table", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        t = self.query_one("#roofline-table", DataTable)
        for label, width in COLUMNS:
            t.add_column(label, key=label, width=width)

    def show(self, doc: Summary) -> None:
        self.doc = doc
        self._refresh()

    def action_cycle_phase(self) -> None:
        self.phase = PHASES[(PHASES.index(self.phase) + 1) % len(PHASES)]
        self._refresh()

    def action_cycle_path(self) -> None:
        self.path = PATHS[(PATHS.index(self.path) + 1) % len(PATHS)]
        self._refresh()

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """The table as plain text (the CSV export)."""
        doc = self.doc
        if doc is None or doc.roofline is None:
            return [c for c, _ in COLUMNS], []
        paths = site_paths(doc)
        return [c for c, _ in COLUMNS], [[str(c) for c in site_cells(s, paths.get((s.name, self.phase), ""))]
                                         for s in shown_sites(doc.roofline, doc, self.phase, self.path)]

    def _refresh(self) -> None:
        doc = self.doc
        status = self.query_one("#roofline-status", Static)
        plot = self.query_one("#roofline-plot", Static)
        table = self.query_one("#roofline-table", DataTable)
        table.clear()
        roofline = doc.roofline if doc is not None else None
        if doc is None or roofline is None or roofline.peaks is None:
            status.update(Text(roofline.note if roofline is not None else "no kernel table in this run", style="dim"))
            plot.update("")
            return
        sites = shown_sites(roofline, doc, self.phase, self.path)
        block = roofline.phases.get(self.phase)
        head = Text(f"phase {self.phase} (f)   path {self.path or 'all'} (p)   {len(sites)} sites   ", style="bold")
        if block is not None and block.bound:
            pct = f"{block.pct_of_peak * 100:.0f}% of peak" if block.pct_of_peak is not None else ""
            head.append(f"{block.bound}-bound {pct}, lost {human_us((block.lost_ms or 0) * 1e3)}")
        head.append(f"\npeaks: {roofline.peaks.device}", style="dim")
        status.update(head)
        paths = site_paths(doc)
        plot.update(scatter(sites, roofline.peaks, paths))
        for s in sites:
            table.add_row(*site_cells(s, paths.get((s.name, self.phase), "")))
