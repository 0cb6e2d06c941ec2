"""`kernelscope summary RUN [--json]`: a saved run's summary, on the console or as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kernelscope.commands.args import add_peak_arguments, path_arg, user_peaks

if TYPE_CHECKING:
    from kernelscope.report.documents import Summary as SummaryDoc
    from kernelscope.report.peaks import PeakOverride


def print_summary(run_dir: Path, as_json: bool, peaks: PeakOverride | None = None) -> SummaryDoc:
    """Print the summary of the run at run_dir (profile and analyze end with it); return it."""
    from kernelscope.report.aggregate import summarize_run
    from kernelscope.runs.store import load_run

    run = load_run(run_dir)
    doc = summarize_run(run, str(run_dir), peaks)
    if as_json:
        from kernelscope.runs.codec import encode_document

        sys.stdout.write(encode_document(doc).decode())
    else:
        from kernelscope.report.console import render_summary

        render_summary(doc)
        print(f"run saved in {run_dir}")
    return doc


class Summary:
    name = "summary"
    help = "print a saved run's summary"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run", type=path_arg, help="a run folder")
        parser.add_argument("--json", action="store_true", help="the summary document as JSON")
        add_peak_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        print_summary(args.run, args.json, user_peaks(args))
        return 0
