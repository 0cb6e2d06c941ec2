"""`kernelscope tui`: a Textual view over saved runs.

The app holds runs and the core's shaped data (kernelscope.report.views); the widgets of the six views
(views.py, roofline.py) display it: 1 overview, 2 kernels, 3 modules, 4 why, 5 compare, 6 roofline.
Nothing here imports capture code.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from kernelscope.classify.rules.order import default_classifier
from kernelscope.classify.table import KernelTable
from kernelscope.report import views
from kernelscope.runs.store import Run
from kernelscope.tui import render
from kernelscope.tui.roofline import RooflineView
from kernelscope.tui.views import (
    PATH_CHOICES,
    VIEWS,
    CompareView,
    KernelsView,
    LoadedRun,
    ModulesView,
    OverviewView,
    WhyView,
    load,
)

# ----------------------------------------------------------------------------------------- screens


HELP = """\
[b]kernelscope tui[/b]: a view over saved runs

[b]views[/b]   1 overview   2 kernels   3 modules   4 why   5 compare   6 roofline
[b]runs[/b]    \\[ previous run   ] next run
[b]kernels[/b] enter open/close a kernel's instances   w why this verdict
        p path filter   r role filter   f phase filter   k rank (a distributed run)   / search
        escape clear
        s sort column   o sort order   (click a header to sort by it)
[b]modules[/b] enter expand/collapse   f phase   w why (the module's deciding kernel)
        ◆ marks a layer whose path mix or time differs from its siblings
[b]compare[/b] up/down pick a module: its path in every run, side by side
[b]roofline[/b] f phase   p path filter: sites by intensity vs achieved TFLOP/s, under the roof
[b]any[/b]     e export the current view's table to CSV   ctrl+p command palette
        ? this help   q quit

paths: █ native-quantized   ▓ dequant-then-compute   ▒ fallback   ░ unquantized
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        yield Static(HELP, id="help-body")


# --------------------------------------------------------------------------------------------- app


class KernelscopeApp(App[None]):
    TITLE = "kernelscope"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "view('overview')", "overview"),
        Binding("2", "view('kernels')", "kernels"),
        Binding("3", "view('modules')", "modules"),
        Binding("4", "view('why')", "why"),
        Binding("5", "view('compare')", "compare"),
        Binding("6", "view('roofline')", "roofline"),
        Binding("w", "why", "why", show=False),
        Binding("left_square_bracket", "run(-1)", "prev run", show=False),
        Binding("right_square_bracket", "run(1)", "next run", show=False),
        Binding("e", "export", "CSV"),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, runs: Sequence[Run], view: str = "overview", export_dir: Path | None = None) -> None:
        super().__init__()
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}")
        self.loaded = load(runs)
        self.current = 0
        self.initial_view = view
        self.export_dir = export_dir or Path.cwd()
        self.classifier = default_classifier()
        self.why_row: int | None = None

    @property
    def lr(self) -> LoadedRun:
        return self.loaded[self.current]

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Static(id="banner")
        with TabbedContent(initial=self.initial_view, id="views"):
            with TabPane("1 overview", id="overview"):
                yield OverviewView(id="overview-view")
            with TabPane("2 kernels", id="kernels"):
                yield KernelsView(id="kernels-view")
            with TabPane("3 modules", id="modules"):
                yield ModulesView(id="modules-view")
            with TabPane("4 why", id="why"):
                yield WhyView(id="why-view")
            with TabPane("5 compare", id="compare"):
                yield CompareView(id="compare-view")
            with TabPane("6 roofline", id="roofline"):
                yield RooflineView(id="roofline-view")
        yield Footer()

    def on_mount(self) -> None:
        self._show_run()
        if self.initial_view == "compare":
            self.query_one(CompareView).show(self.loaded)
        self._focus_view(self.initial_view)

    @on(TabbedContent.TabActivated, "#views")
    def _build_compare(self, event: TabbedContent.TabActivated) -> None:
        compare = self.query_one(CompareView)
        if event.pane.id == "compare" and not compare.built:
            # built once the pane is on screen: tables filled while it is still hidden keep a height of 0
            compare.built = True
            self.call_after_refresh(compare.show, self.loaded)

    def _show_run(self) -> None:
        lr = self.lr
        self.query_one("#title", Static).update(render.run_title(lr.run, lr.label, self.current, len(self.loaded)))
        banner = self.query_one("#banner", Static)
        message = render.incomplete_banner(lr.run)
        banner.update(Text(message, style="bold"))
        banner.display = bool(message)
        self.query_one(OverviewView).show(lr)
        self.query_one(KernelsView).show(lr)
        self.query_one(ModulesView).show(lr)
        self.query_one(RooflineView).show(lr.doc)
        self.why_row = self._default_why_row()
        self.query_one(WhyView).show_row(lr.table, self.why_row, self.classifier)

    def _default_why_row(self) -> int | None:
        """Before anything is selected, the Why view explains the heaviest quantized site in decode."""
        table = self.lr.table
        if table is None:
            return None
        for phase in ("decode", "prefill"):
            block = self.lr.doc.phases.get(phase)
            for entry in block.top_sites if block is not None else []:
                row = views.first_row_of(table, entry.site)
                if row is not None:
                    return row
        return 0 if len(table) else None

    def _focus_view(self, view: str) -> None:
        target = {"kernels": "#kernels-table", "modules": "#modules-tree", "compare": "#compare-sites",
                  "roofline": "#roofline-table"}.get(view)
        if target:
            self.query_one(target).focus()

    def action_view(self, view: str) -> None:
        self.query_one("#views", TabbedContent).active = view
        self._focus_view(view)

    def action_run(self, step: int) -> None:
        if len(self.loaded) > 1:
            self.current = (self.current + step) % len(self.loaded)
            self._show_run()

    def action_why(self) -> None:
        active = self.query_one("#views", TabbedContent).active
        table = self.lr.table
        row: int | None = None
        if active == "kernels":
            row = self.query_one(KernelsView).selected_row()
        elif active == "modules":
            node = self.query_one(ModulesView).selected_module()
            if node is not None and table is not None:
                row = views.first_row_of(table, node.name)
                if row is None:
                    row = self._first_in_module(table, node.name)
        else:
            row = self.why_row
        if row is not None:
            self.why_row = row
        self.query_one(WhyView).show_row(table, self.why_row, self.classifier)
        self.action_view("why")

    @staticmethod
    def _first_in_module(table: KernelTable, module: str) -> int | None:
        found = views.module_mask(table, module).nonzero()[0]
        return int(found[0]) if len(found) else None

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def current_rows(self) -> tuple[str, views.Rows]:
        active = self.query_one("#views", TabbedContent).active
        if active == "kernels":
            return active, self.query_one(KernelsView).export_rows()
        if active == "modules":
            return active, self.query_one(ModulesView).export_rows()
        if active == "compare":
            return active, self.query_one(CompareView).export_rows()
        if active == "roofline":
            return active, self.query_one(RooflineView).rows()
        return "phases", views.phase_rows(self.lr.doc)

    def action_export(self) -> None:
        view, (header, rows) = self.current_rows()
        target = self.export_dir / f"kernelscope-{view}-{self.lr.label.replace('/', '_')}.csv"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(header)
                writer.writerows(rows)
        except OSError as exc:
            self.notify(f"cannot write {target}: {exc.strerror}", severity="error")
            return
        self.notify(f"{len(rows)} rows written to {target}")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for view in VIEWS:
            yield SystemCommand(f"Show {view}", f"switch to the {view} view", lambda v=view: self.action_view(v))
        yield SystemCommand("Export CSV", "write the current view's table to a CSV file", self.action_export)
        yield SystemCommand("Why", "explain the selected kernel or module's verdict", self.action_why)
        yield SystemCommand("Next run", "show the next run", lambda: self.action_run(1))
        for path in PATH_CHOICES[1:]:
            yield SystemCommand(f"Filter kernels: {path}", f"list only kernels on the {path} path",
                                lambda p=path: self._filter_kernels(path=p))
        yield SystemCommand("Clear kernel filters", "show every kernel", self._filter_kernels)

    def _filter_kernels(self, **changes: Any) -> None:
        kernels = self.query_one(KernelsView)
        if changes:
            kernels.set_filter(**changes)
        else:
            kernels.action_clear()
        self.action_view("kernels")
