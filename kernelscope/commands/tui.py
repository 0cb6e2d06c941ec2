"""`kernelscope tui RUN... | TRACE`: the interactive view over saved runs (or traces, analysed first)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from kernelscope.commands.args import path_arg
from kernelscope.errors import BadInputError, KernelscopeError

if TYPE_CHECKING:
    from kernelscope.runs.store import Run

VIEWS = ("overview", "kernels", "modules", "why", "compare", "roofline")
MAX_SIZE = (1000, 500)  # a screenshot's terminal: bounded, or a typo renders for ever


def parse_size_arg(text: str) -> tuple[int, int]:
    try:
        cols, rows = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise KernelscopeError(f"--size {text!r}: expected COLUMNSxROWS, e.g. 120x40") from None
    if cols < 40 or rows < 12 or cols > MAX_SIZE[0] or rows > MAX_SIZE[1]:
        raise KernelscopeError(f"--size {text!r}: from 40x12 to {MAX_SIZE[0]}x{MAX_SIZE[1]}")
    return cols, rows


def open_runs(inputs: list[Path], scratch: Path) -> list[Run]:
    """Run folders as they are; a trace file is analysed into a run in `scratch` first."""
    from kernelscope.runs.ingest import analyze_to_run
    from kernelscope.runs.store import load_run

    runs = []
    for i, path in enumerate(inputs):
        if path.is_file():
            out = scratch / f"{i}-{path.name.split('.')[0]}"
            analyze_to_run(path, out, 32)
            runs.append(load_run(out))
        elif path.is_dir() or not path.exists():
            runs.append(load_run(path))
        else:
            raise BadInputError(f"{path}: not a run folder or a trace file")
    return runs


class Tui:
    name = "tui"
    help = "inspect runs interactively: overview, kernels, modules, why, compare, roofline"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("inputs", type=path_arg, nargs="+", help="run folders, or torch.profiler traces (analysed "
                                                                 "first)")
        parser.add_argument("--view", choices=VIEWS, default="overview", help="the view to open on")
        parser.add_argument("--screenshot", type=path_arg, default=None, metavar="FILE.svg",
                            help="render the view headless to an SVG file and exit")
        parser.add_argument("--size", default="120x40",
                            help="terminal size of --screenshot, COLUMNSxROWS (default 120x40)")
        parser.add_argument("--export-dir", type=path_arg, default=None,
                            help="where `e` writes CSV files (default: here)")

    def run(self, args: argparse.Namespace) -> int:
        try:
            from kernelscope.tui.app import KernelscopeApp
        except ImportError as exc:
            raise KernelscopeError(f"the TUI needs the tui extra ({exc.name} is missing): "
                                   "pip install 'kernelscope[tui]'") from None
        size = parse_size_arg(args.size)
        if args.screenshot is not None:
            from kernelscope.runs.outputs import check_output_file

            check_output_file(args.screenshot, force=True)
        with tempfile.TemporaryDirectory(prefix="kernelscope-tui-") as scratch:
            app = KernelscopeApp(open_runs(args.inputs, Path(scratch)), view=args.view, export_dir=args.export_dir)
            if args.screenshot is None:
                app.run()
                return 0
            from kernelscope.tui.shoot import screenshot

            screenshot(app, args.screenshot, size)
            print(f"{args.screenshot}: {args.view} view, {size[0]}x{size[1]}")
        return 0
