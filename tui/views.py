"""The five views of the TUI, each a widget over one run's shaped data (kernelscope.report.views):
overview, kernels (grouped by name, with instances), modules (the model as a tree), why (one
verdict explained), compare (a module's path in every run)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Static, Tree
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from kernelscope.classify.engine import Classifier
from kernelscope.classify.table import KernelTable
from kernelscope.report import compare_render as compare_report
from kernelscope.report import console as report
from kernelscope.report import views
from kernelscope.report.aggregate import summarize_run
from kernelscope.report.compare import compare_runs
from kernelscope.report.documents import Comparison, Summary
from kernelscope.report.style import PATH_COLORS, PATH_SHORT, human_us
from kernelscope.runs.store import Run
from kernelscope.tui import render
from kernelscope.vocabulary import PATH_ORDER, Role

VIEWS = ("overview", "kernels", "modules", "why", "compare", "roofline")
PAGE = 60  # kernel groups added to the table at a time; more as the cursor nears the end
MAX_INSTANCES = 200  # instances listed under an opened kernel
PATH_CHOICES: tuple[str | None, ...] = (None, *[p.value for p in PATH_ORDER])
PHASE_CHOICES: tuple[str | None, ...] = (None, "prefill", "decode")
TREE_PHASES = ("all", "prefill", "decode")


class LoadedRun:
    """One run and what the views need of it, each computed on first use."""

    def __init__(self, run: Run, label: str) -> None:
        self.run = run
        self.label = label

    @cached_property
    def table(self) -> KernelTable | None:
        return self.run.table if self.run.has_table else None

    @cached_property
    def doc(self) -> Summary:
        return summarize_run(self.run, self.label)

    @cached_property
    def tree(self) -> views.ModuleNode | None:
        return views.module_tree(self.table) if self.table is not None else None


def load(runs: Sequence[Run]) -> list[LoadedRun]:
    """The runs, their tables read now: a corrupt table is a one-line error before the app starts."""
    names = [r.path.name for r in runs]
    loaded = [LoadedRun(run, name if names.count(name) == 1 else f"{run.path.parent.name}/{name}")
              for run, name in zip(runs, names, strict=True)]
    for lr in loaded:
        _ = lr.table
    return loaded


# ------------------------------------------------------------------------------------------ views


class OverviewView(VerticalScroll):
    def show(self, lr: LoadedRun) -> None:
        self.query_one("#overview-body", Static).update(render.overview(lr.run, lr.doc))

    def compose(self) -> ComposeResult:
        yield Static(id="overview-body")


class KernelsView(Vertical):
    """Kernels grouped by name; enter opens a group's instances; p/r/f filter, / searches, s/o sort."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "cycle_path", "path"),
        Binding("r", "cycle_role", "role"),
        Binding("f", "cycle_phase", "phase"),
        Binding("k", "cycle_rank", "rank", show=False),
        Binding("slash", "search", "search"),
        Binding("s", "cycle_sort", "sort"),
        Binding("o", "flip_order", "order"),
        Binding("escape", "clear", "clear", show=False),
    ]
    SORTS: ClassVar[tuple[str, ...]] = ("total_us", "count", "mean_us", "decode_us", "prefill_us", "name", "path",
                                        "role")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filter = views.Filter()
        self.sort = "total_us"
        self.descending = True
        self.opened: set[str] = set()
        self.groups: list[views.KernelGroup] = []
        self.shown = 0  # groups in the table so far (the table grows a page at a time)
        self.lr: LoadedRun | None = None
        self._mask: views.Mask | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="kernels-status")
        yield Input(placeholder="search kernel, op or module (enter to apply, escape to clear)", id="kernels-search")
        table: DataTable[Any] = DataTable(id="kernels-table", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        t = self.query_one("#kernels-table", DataTable)
        for label, key, width in KERNEL_COLUMNS:
            t.add_column(label, key=key, width=width)
        self.query_one("#kernels-search", Input).display = False

    def show(self, lr: LoadedRun) -> None:
        if self.lr is not lr:
            self.opened.clear()
        self.lr = lr
        self.refresh_groups()

    def refresh_groups(self) -> None:
        lr = self.lr
        if lr is None or lr.table is None:
            self.groups = []
            self._render_rows()
            return
        self._mask = views.filter_mask(lr.table, self.filter)
        self.groups = views.sort_groups(views.kernel_groups(lr.table, self._mask), self.sort, self.descending)
        self._render_rows()

    def _render_rows(self) -> None:
        t = self.query_one("#kernels-table", DataTable)
        t.clear()
        lr = self.lr
        status = self.query_one("#kernels-status", Static)
        if lr is None or lr.table is None or self._mask is None:
            status.update(Text("no kernel table in this run", style="bold red"))
            return
        arrow = "v" if self.descending else "^"
        total = sum(g.total_us for g in self.groups)
        status.update(Text.assemble(
            ("filter ", "dim"), (self.filter.describe(), "bold"), ("  sort ", "dim"), (f"{self.sort} {arrow}", "bold"),
            ("  ", ""), (f"{len(self.groups)} kernels, {int(self._mask.sum())} instances, {human_us(total)}", ""),
            ("   enter open, w why", "dim")))
        self.shown = 0
        needed = max([i + 1 for i, g in enumerate(self.groups) if g.name in self.opened], default=0)
        self._add_groups(t, lr.table, max(PAGE, needed))

    def _add_groups(self, t: DataTable[Any], table: KernelTable, count: int) -> None:
        for g in self.groups[self.shown:self.shown + count]:
            opened = g.name in self.opened
            t.add_row(Text(("▾ " if opened else "▸ ") + g.name, no_wrap=True, overflow="ellipsis"),
                      render.path_cell(g.path), human_us(g.total_us), str(g.count), g.role, human_us(g.mean_us),
                      human_us(g.prefill_us), human_us(g.decode_us), key=f"g:{g.name}")
            if opened:
                self._add_instances(t, table, g.name)
        self.shown = min(len(self.groups), self.shown + count)

    @on(DataTable.RowHighlighted, "#kernels-table")
    def _grow(self, event: DataTable.RowHighlighted) -> None:
        """Virtual scrolling: the next page of kernels joins the table as the cursor nears its end."""
        t = event.data_table
        if self.shown < len(self.groups) and event.cursor_row >= t.row_count - 10 and self.lr and self.lr.table:
            self._add_groups(t, self.lr.table, PAGE)

    def _add_instances(self, t: DataTable[Any], table: KernelTable, name: str) -> None:
        assert self._mask is not None
        rows, n = views.group_instances(table, self._mask, name, MAX_INSTANCES)
        time, step = table.time_us, table.step
        phase, module, path = table.phase, table.module, table.path
        for r in rows:
            # its time stands under its phase's column; a decode step's number follows the module
            where = f" s{step[r]}" if step[r] >= 0 else ("" if phase[r] in ("prefill", "decode") else f" {phase[r]}")
            name = _tail(module[r].removeprefix("model.") or "-", NAME_WIDTH - 2 - len(where))
            cell = Text("  " + name, style="dim", no_wrap=True).append(where)
            spent = human_us(float(time[r]))
            t.add_row(cell, render.path_cell(path[r]), spent, "", table.role[r], "",
                      spent if phase[r] == "prefill" else "", spent if phase[r] == "decode" else "", key=f"i:{r}")
        if n > len(rows):
            t.add_row(Text(f"    ... {n - len(rows)} more instances", style="dim"), key=f"m:{name}")

    def selected_row(self) -> int | None:
        """The table row index (into the kernel table) under the cursor: an instance, or a group's first."""
        t = self.query_one("#kernels-table", DataTable)
        if not t.row_count or self.lr is None or self.lr.table is None or self._mask is None:
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value or ""
        if key.startswith("i:"):
            return int(key[2:])
        if key.startswith("g:"):
            rows, _ = views.group_instances(self.lr.table, self._mask, key[2:], 1)
            return rows[0] if rows else None
        return None

    @on(DataTable.RowSelected, "#kernels-table")
    def _toggle(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        if key.startswith("g:"):
            name = key[2:]
            self.opened.symmetric_difference_update({name})
            self._render_rows()
            t = self.query_one("#kernels-table", DataTable)
            t.move_cursor(row=t.get_row_index(key))
        elif key.startswith("i:"):
            self.app.action_why()  # type: ignore[attr-defined]

    @on(DataTable.HeaderSelected, "#kernels-table")
    def _sort_by_header(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == self.sort:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, column not in ("name", "path", "role")
        self.refresh_groups()

    def _cycle(self, choices: Sequence[str | None], current: str | None) -> str | None:
        return choices[(list(choices).index(current) + 1) % len(choices)]

    def action_cycle_path(self) -> None:
        self.set_filter(path=self._cycle(PATH_CHOICES, self.filter.path))

    def action_cycle_role(self) -> None:
        roles: list[str | None] = [None]
        if self.lr is not None and self.lr.table is not None:
            roles += views.values_of(self.lr.table, "role")
        else:
            roles += [r.value for r in Role]
        self.set_filter(role=self._cycle(roles, self.filter.role if self.filter.role in roles else None))

    def action_cycle_phase(self) -> None:
        self.set_filter(phase=self._cycle(PHASE_CHOICES, self.filter.phase))

    def action_cycle_rank(self) -> None:
        """All ranks, then each rank of a distributed run (nothing to cycle in a one-rank run)."""
        table = self.lr.table if self.lr is not None else None
        ranks: list[int | None] = [None, *sorted(int(r) for r in set(table.rank.tolist()))] if table is not None \
            else [None]
        if len(ranks) > 2:
            self.set_filter(rank=ranks[(ranks.index(self.filter.rank) + 1) % len(ranks)])

    def set_filter(self, **changes: Any) -> None:
        self.filter = views.Filter(**{**self.filter.__dict__, **changes})
        self.refresh_groups()

    def action_cycle_sort(self) -> None:
        self.sort = self.SORTS[(self.SORTS.index(self.sort) + 1) % len(self.SORTS)]
        self.descending = self.sort not in ("name", "path", "role")
        self.refresh_groups()

    def action_flip_order(self) -> None:
        self.descending = not self.descending
        self.refresh_groups()

    def action_search(self) -> None:
        box = self.query_one("#kernels-search", Input)
        box.display = True
        box.value = self.filter.search
        box.focus()

    def action_clear(self) -> None:
        box = self.query_one("#kernels-search", Input)
        box.display = False
        self.filter = views.Filter()
        self.refresh_groups()
        self.query_one("#kernels-table", DataTable).focus()

    @on(Input.Submitted, "#kernels-search")
    def _apply_search(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.set_filter(search=event.value.strip())
        self.query_one("#kernels-table", DataTable).focus()

    def export_rows(self) -> views.Rows:
        return views.groups_rows(self.groups)


class ModulesView(Vertical):
    """The model as a tree; each node's time by path in the chosen phase; odd layers marked."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f", "cycle_phase", "phase")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.phase = "all"
        self.lr: LoadedRun | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="modules-status")
        tree: Tree[views.ModuleNode] = Tree("model", id="modules-tree")
        yield tree

    def show(self, lr: LoadedRun) -> None:
        self.lr = lr
        self._build()

    def _build(self) -> None:
        tree = self.query_one("#modules-tree", Tree)
        status = self.query_one("#modules-status", Static)
        tree.clear()
        root = self.lr.tree if self.lr else None
        if root is None:
            status.update(Text("no kernel table in this run", style="bold red"))
            return
        status.update(Text.assemble(("phase ", "dim"), (self.phase, "bold"), ("  (f: change)   ", "dim"),
                                    report.path_legend(), ("  ◆ differs from its sibling layers", "bold yellow")))
        tree.root.set_label(render.module_label("all", root.time[self.phase], root.total(self.phase), "", 0))
        tree.root.data = root
        self._add_module_nodes(tree.root, root, depth=0)
        tree.root.expand()

    def _add_module_nodes(self, parent: TreeNode[views.ModuleNode], node: views.ModuleNode, depth: int) -> None:
        for child in node.children:
            total = child.total(self.phase)
            if total <= 0 and self.phase != "all":
                continue
            label = render.module_label(child.label, child.time[self.phase], total, child.stands_out, depth + 1)
            if child.children:
                branch = parent.add(label, data=child, expand=depth < 3 or bool(child.stands_out))
                self._add_module_nodes(branch, child, depth + 1)
            else:
                parent.add_leaf(label, data=child)

    def action_cycle_phase(self) -> None:
        self.phase = TREE_PHASES[(TREE_PHASES.index(self.phase) + 1) % len(TREE_PHASES)]
        self._build()

    def selected_module(self) -> views.ModuleNode | None:
        node = self.query_one("#modules-tree", Tree).cursor_node
        return node.data if node is not None else None

    def export_rows(self) -> views.Rows:
        root = self.lr.tree if self.lr else None
        return views.tree_rows(root) if root else (["module"], [])


class WhyView(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(id="why-body")

    def show_row(self, table: KernelTable | None, row: int | None, classifier: Classifier) -> None:
        body = self.query_one("#why-body", Static)
        if table is None or row is None:
            body.update(Text("select a kernel (view 2) or a module (view 3), then press w", style="dim"))
            return
        body.update(render.why_panel(views.why(table, row, classifier)))


class CompareView(Vertical):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded: list[LoadedRun] = []
        self.comparison: Comparison | None = None
        self.built = False  # the comparison is built the first time the view is shown

    def compose(self) -> ComposeResult:
        yield Static(id="compare-status")
        yield DataTable(id="compare-table", cursor_type="row")
        yield DataTable(id="compare-quality", cursor_type="row")
        with Horizontal(id="compare-modules"):
            yield OptionList(id="compare-sites")
            yield Static(id="compare-side")

    def show(self, loaded: list[LoadedRun]) -> None:
        self.loaded = loaded
        self.built = True
        status = self.query_one("#compare-status", Static)
        tables = (self.query_one("#compare-table", DataTable), self.query_one("#compare-quality", DataTable))
        for table in tables:
            table.clear(columns=True)
            table.display = len(loaded) >= 2
        if len(loaded) < 2:
            status.update(Text("open several runs to compare them: kernelscope tui RUN RUN ...", style="dim"))
            return
        self.comparison = compare_runs([lr.run for lr in loaded], allow_mismatch=True)
        lines = Text(f"ratios against {loaded[0].label}", style="bold")
        for d in self.comparison.differences:
            lines.append(f"\ndiffers: {d}", style="yellow")
        status.update(lines)
        split = compare_report.SPLIT
        for table, columns in zip(tables, (compare_report.COLUMNS[:split],
                                           [compare_report.COLUMNS[0], *compare_report.COLUMNS[split:]]), strict=True):
            for header, _ in columns:
                table.add_column(header)
            for row in self.comparison.rows:
                table.add_row(*compare_report.cells(row, columns))
        sites = sorted({s for lr in loaded if lr.table is not None for s in views.values_of(lr.table, "site")},
                       key=_natural)
        options = self.query_one("#compare-sites", OptionList)
        options.clear_options()
        options.add_options([Option(Text(s, no_wrap=True, overflow="ellipsis"), id=s) for s in sites])
        if sites:  # start on the site with the most time over all runs (its OptionHighlighted fills the side)
            weight: dict[str, float] = {}
            for lr in loaded:
                for entry in lr.doc.sites:
                    weight[entry.module] = weight.get(entry.module, 0.0) + entry.time_us
            options.highlighted = sites.index(max(sites, key=lambda s: weight.get(s, 0.0)))

    @on(OptionList.OptionHighlighted, "#compare-sites")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id:
            self._side_by_side(event.option.id)

    def _side_by_side(self, module: str) -> None:
        tables = [lr.table for lr in self.loaded]
        per = views.module_paths([t for t in tables if t is not None], module)
        grid = Table(title=f"{module}: its path in every run", title_justify="left", box=None, padding=(0, 1))
        for col in ("run", "phase", "time by path", "path", "time"):
            grid.add_column(col, no_wrap=True, justify="right" if col == "time" else "left")
        it = iter(per)
        for lr in self.loaded:
            if lr.table is None:
                grid.add_row(lr.label, "-", "no kernel table")
                continue
            phases = next(it)
            for ph in ("prefill", "decode"):
                by = phases[ph]
                path = views.dominant_path(by)
                grid.add_row(lr.label if ph == "prefill" else "", ph, report.path_bar(by, 10),
                             Text(PATH_SHORT.get(path, path), style=PATH_COLORS.get(path, "")),
                             human_us(sum(by.values())))
        self.query_one("#compare-side", Static).update(grid)

    def export_rows(self) -> views.Rows:
        if self.comparison is None:
            return ["run"], []
        return compare_report.flat_rows(self.comparison)


NAME_WIDTH = 30
# the path first after the name: at 80 columns it is the column the view is for
KERNEL_COLUMNS = (("kernel / op", "name", NAME_WIDTH), ("path", "path", 12), ("total", "total_us", 9),
                  ("count", "count", 6), ("role", "role", 11), ("mean", "mean_us", 9), ("prefill", "prefill_us", 9),
                  ("decode", "decode_us", 9))


def _tail(text: str, width: int) -> str:
    """The end of a long dotted name, which is the part that tells modules apart."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _natural(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in name.split(".")]
