"""The TUI driven headless with Textual's Pilot: navigation, filtering, sorting, selection, export,
help, run switching, incomplete runs, and the CLI's screenshot and bad-input paths."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static, TabbedContent

from kernelscope.runs.store import load_run
from kernelscope.tui.app import HelpScreen, KernelscopeApp
from kernelscope.tui.views import KernelsView, ModulesView
from tests.helpers import RUNS, assert_one_line_error, copy_run, ks

SIZE = (120, 40)


def app_of(*names: str, **kwargs: Any) -> KernelscopeApp:
    return KernelscopeApp([load_run(RUNS / n) for n in names], **kwargs)


def drive(app: KernelscopeApp, script: Callable[[Pilot[None], KernelscopeApp], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await script(pilot, app)

    asyncio.run(main())


def text_of(app: KernelscopeApp, selector: str) -> str:
    """What a Static shows, as plain text (its Rich content rendered at a wide width)."""
    content = app.query_one(selector, Static).content
    if isinstance(content, str):
        return content
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def kernel_rows(app: KernelscopeApp) -> list[list[str]]:
    table = app.query_one("#kernels-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def active(app: KernelscopeApp) -> str:
    return app.query_one("#views", TabbedContent).active


def test_number_keys_switch_views() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        assert active(app) == "overview"
        for key, view in (("2", "kernels"), ("3", "modules"), ("4", "why"), ("5", "compare"), ("1", "overview")):
            await pilot.press(key)
            assert active(app) == view

    drive(app_of("nf4-bitsandbytes"), script)


def test_filters_search_and_sort() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2")
        view = app.query_one(KernelsView)
        everything = len(view.groups)
        await pilot.press("p")  # native-quantized: nothing in an nf4 run on this CPU
        assert view.filter.path == "native-quantized" and view.groups == []
        await pilot.press("p")
        assert view.filter.path == "dequant-then-compute"
        assert {g.path for g in view.groups} == {"dequant-then-compute"}
        assert "path=dequant-then-compute" in text_of(app, "#kernels-status")
        await pilot.press("f")
        assert view.filter.phase == "prefill"
        await pilot.press("escape")
        assert view.filter.path is None and len(view.groups) == everything
        await pilot.press("slash", *"dequantize", "enter")
        assert view.filter.search == "dequantize"
        assert [g.name for g in view.groups] == ["bitsandbytes::dequantize_4bit"]
        await pilot.press("escape", "s")  # sort by count
        assert view.sort == "count"
        counts = [g.count for g in view.groups]
        assert counts == sorted(counts, reverse=True)
        await pilot.press("o")
        assert [g.count for g in view.groups] == sorted(counts)
        await pilot.press("r")
        assert view.filter.role is not None
        assert {g.role for g in view.groups} == {view.filter.role}

    drive(app_of("nf4-bitsandbytes"), script)


def test_clicking_a_header_sorts_by_it() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2")
        view = app.query_one(KernelsView)
        table = app.query_one("#kernels-table", DataTable)
        first = table.ordered_columns[0]
        table.post_message(DataTable.HeaderSelected(table, first.key, 0, first.label))
        await pilot.pause()
        assert view.sort == "name" and not view.descending
        assert [g.name for g in view.groups] == sorted(g.name for g in view.groups)

    drive(app_of("int4-torchao"), script)


def test_open_a_kernel_and_ask_why() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2", "slash", *"dequantize_4bit", "enter")
        rows_before = app.query_one("#kernels-table", DataTable).row_count
        await pilot.press("enter")  # open the group: its instances appear under it
        rows = kernel_rows(app)
        assert len(rows) == rows_before + 112
        assert rows[1][0].strip().endswith("layers.0.self_attn.q_proj")  # the instance's module
        await pilot.press("down", "w")  # why for the first instance
        assert active(app) == "why"
        body = text_of(app, "#why-body")
        assert "bitsandbytes::dequantize_4bit" in body and "bnb.dequantize_4bit" in body
        assert "path.dequant-then-dense" in body and "aten::mm" in body
        await pilot.press("2", "up", "enter")  # close it again
        assert app.query_one("#kernels-table", DataTable).row_count == rows_before

    drive(app_of("nf4-bitsandbytes"), script)


def test_modules_tree_phase_and_why() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("3")
        view = app.query_one(ModulesView)
        assert "phase all" in text_of(app, "#modules-status")
        await pilot.press("f")
        assert view.phase == "prefill" and "phase prefill" in text_of(app, "#modules-status")
        tree = app.query_one("#modules-tree")
        labels = [str(line.node.label) for line in tree._tree_lines]  # type: ignore[attr-defined]
        assert any(lbl.lstrip().startswith("layers") for lbl in labels)
        # walk down to a projection and ask why
        target = next(i for i, line in enumerate(tree._tree_lines)  # type: ignore[attr-defined]
                      if line.node.data is not None and line.node.data.name == "model.layers.0.self_attn")
        tree.cursor_line = target  # type: ignore[attr-defined]
        await pilot.press("enter")  # expand self_attn
        await pilot.press("down", "w")
        assert active(app) == "why"
        assert "model.layers.0.self_attn" in text_of(app, "#why-body")

    drive(app_of("int4-torchao"), script)


def test_compare_view_and_run_switching() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("5")
        table = app.query_one("#compare-table", DataTable)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["bf16", "int4-torchao",
                                                                                 "nf4-bitsandbytes"]
        options = app.query_one("#compare-sites", OptionList)
        assert options.option_count == 29
        await pilot.press("down")
        side = text_of(app, "#compare-side")
        assert "its path in every run" in side and "native" in side and "dq-compute" in side
        assert "run 1/3: bf16" in text_of(app, "#title")
        await pilot.press("right_square_bracket")
        assert "run 2/3: int4-torchao" in text_of(app, "#title")
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert "run 3/3: nf4-bitsandbytes" in text_of(app, "#title")

    drive(app_of("bf16", "int4-torchao", "nf4-bitsandbytes"), script)


def test_export_the_current_table(tmp_path: Path) -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2", "p", "p", "e")
        await pilot.pause()
        with (tmp_path / "kernelscope-kernels-nf4-bitsandbytes.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert {r["path"] for r in rows} == {"dequant-then-compute"}
        assert rows[0]["name"] == "bitsandbytes::dequantize_4bit"
        await pilot.press("3", "e", "1", "e")
        await pilot.pause()
        assert (tmp_path / "kernelscope-modules-nf4-bitsandbytes.csv").is_file()
        assert (tmp_path / "kernelscope-phases-nf4-bitsandbytes.csv").read_text().startswith("phase,total_us")

    drive(app_of("nf4-bitsandbytes", export_dir=tmp_path), script)


def test_help_and_quit() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        assert app._exit  # type: ignore[attr-defined]

    drive(app_of("bf16"), script)


def test_command_palette_lists_the_actions() -> None:
    app = app_of("bf16")

    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Show kernels", "Export CSV", "Why", "Filter kernels: fallback", "Clear kernel filters"):
            assert title in titles

    drive(app, script)


def test_an_incomplete_run_opens_with_a_banner(tmp_path: Path) -> None:
    run = load_run(copy_run(tmp_path, "int8-torchao", drop=("kernels.parquet",), manifest={
        "status": "failed", "missing": ["kernels.parquet"], "error": "out of memory during the profiled pass"}))

    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        banner = text_of(app, "#banner")
        assert "incomplete run (failed): missing kernels.parquet - out of memory" in banner
        assert app.query_one("#banner").display
        await pilot.press("2")
        assert "no kernel table" in text_of(app, "#kernels-status")
        await pilot.press("3", "4")
        assert "select a kernel" in text_of(app, "#why-body")

    drive(KernelscopeApp([run]), script)


def test_cli_screenshot_and_bad_inputs(tmp_path: Path) -> None:
    shot = tmp_path / "kernels.svg"
    result = ks("tui", str(RUNS / "int4-torchao"), "--view", "kernels", "--screenshot", str(shot), "--size", "100x30")
    assert result.returncode == 0, result.stderr
    svg = shot.read_text()
    assert svg.startswith("<svg") and "aten::_weight_int4pack_mm" in svg.replace("&#160;", " ")
    assert_one_line_error(ks("tui", str(tmp_path / "nope")), 3, "no run at")
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "manifest.json").write_text("{not json")
    assert_one_line_error(ks("tui", str(tmp_path / "corrupt")), 3, "manifest.json")
    bad_table = tmp_path / "badtable"
    shutil.copytree(RUNS / "bf16", bad_table)
    (bad_table / "kernels.parquet").write_bytes(b"garbage")
    assert_one_line_error(ks("tui", str(bad_table)), 3, "cannot read kernel table")
    assert_one_line_error(ks("tui", str(RUNS / "bf16"), "--screenshot", str(tmp_path / "x.png")), 2, "must end in .svg")
    assert_one_line_error(ks("tui", str(RUNS / "bf16"), "--size", "big"), 2, "expected COLUMNSxROWS")


def test_a_trace_file_is_analysed_first(tmp_path: Path) -> None:
    trace = RUNS / "int4-torchao" / "trace.json.gz"
    shot = tmp_path / "o.svg"
    result = ks("tui", str(trace), "--screenshot", str(shot))
    assert result.returncode == 0, result.stderr
    assert "analyzed" in shot.read_text().replace("&#160;", " ")


def test_compare_tables_show_when_switched_to_from_another_view() -> None:
    """Built while its pane was still hidden, the comparison tables kept a height of 0 (80x24, from kernels)."""
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        for selector in ("#compare-table", "#compare-quality"):
            table = app.query_one(selector, DataTable)
            assert table.row_count == 3 and table.region.height >= 4, (selector, table.region)

    async def main() -> None:
        app = app_of("bf16", "int4-torchao", "nf4-bitsandbytes")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await script(pilot, app)

    asyncio.run(main())


def test_help_shows_the_run_switching_keys() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body", Static)
        console = Console(width=120, record=True)
        console.print(body.render())
        text = console.export_text()
        assert "[ previous run" in text and "] next run" in text

    drive(app_of("bf16"), script)


def test_export_creates_the_export_folder(tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet"

    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2", "e")
        await pilot.pause()
        assert (folder / "kernelscope-kernels-bf16.csv").is_file()

    drive(app_of("bf16", export_dir=folder), script)


def test_at_80_columns_the_kernels_view_shows_the_path() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("2", "enter")
        await pilot.pause()
        table = app.query_one("#kernels-table", DataTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        left = sum(c.get_render_width(table) for c in table.ordered_columns[:keys.index("path") + 1])
        assert left <= 78, f"the path column ends at {left} of 80"
        instance = table.get_row_at(1)
        header = dict(zip(keys, instance, strict=True))
        assert header["mean_us"] == "" and header["count"] == ""  # no phase text under a number's header
        assert (header["prefill_us"] or header["decode_us"]) == header["total_us"]

    async def main() -> None:
        app = app_of("nf4-bitsandbytes")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await script(pilot, app)

    asyncio.run(main())


def test_roofline_view_phases_paths_and_export(tmp_path: Path) -> None:
    from kernelscope.tui.roofline import RooflineView
    from tests.helpers import GPU_RUNS

    app = KernelscopeApp([load_run(GPU_RUNS / n) for n in ("medium-int4-torchao", "medium-bf16")],
                         export_dir=tmp_path)

    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("6")
        assert active(app) == "roofline"
        table = app.query_one("#roofline-table", DataTable)
        assert table.row_count == 15  # 14 int4 sites and lm_head, decode
        assert "phase decode" in text_of(app, "#roofline-status")
        assert "ops/byte" in text_of(app, "#roofline-plot")
        await pilot.press("f")
        assert "phase prefill" in text_of(app, "#roofline-status")
        assert str(table.get_row_at(0)[6]) == "compute"  # the slowest int4 site at prefill: compute-bound
        await pilot.press("p")  # native-quantized only: lm_head (bf16) drops out
        assert table.row_count == 14
        await pilot.press("e")
        await pilot.pause()
        rows = list(csv.reader((tmp_path / "kernelscope-roofline-medium-int4-torchao.csv").open()))
        assert rows[0][0] == "site" and len(rows) == 15
        assert app.query_one(RooflineView).phase == "prefill"

    drive(app, script)


def test_roofline_view_without_peaks_says_how_to_give_them() -> None:
    async def script(pilot: Pilot[None], app: KernelscopeApp) -> None:
        await pilot.press("6")
        assert "--peaks" in text_of(app, "#roofline-status")

    drive(app_of("bf16"), script)
