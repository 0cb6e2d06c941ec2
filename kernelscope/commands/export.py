"""`kernelscope export RUN --chrome/--table/--summary/--markdown`: a run in other tools' formats."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kernelscope.commands.args import add_peak_arguments, path_arg, user_peaks
from kernelscope.errors import KernelscopeError
from kernelscope.vocabulary import PATH_ORDER, Phase

if TYPE_CHECKING:
    from kernelscope.report.export import Cut
    from kernelscope.runs.store import Run


class Export:
    name = "export"
    help = "write a run as a Chrome/Perfetto trace with verdicts, a table, a summary"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run", type=path_arg, help="a run folder")
        parser.add_argument("--chrome", type=path_arg, help="Chrome trace (.json or .json.gz) with ks.* args and extra "
                                                        "tracks")
        parser.add_argument("--table", type=path_arg, help="the classified kernel table (.parquet or .csv)")
        parser.add_argument("--summary", type=path_arg, help="the summary document (.json)")
        parser.add_argument("--markdown", type=path_arg, help="the per-phase breakdown as a Markdown table (.md)")
        parser.add_argument("--phase", choices=tuple(p.value for p in Phase), help="keep one phase")
        parser.add_argument("--path", dest="path_filter", choices=tuple(p.value for p in PATH_ORDER),
                            help="keep one path")
        parser.add_argument("--steps", help="keep decode steps A:B (half open)")
        parser.add_argument("--force", action="store_true", help="overwrite existing files")
        add_peak_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.report import export
        from kernelscope.report.aggregate import run_peaks, summarize_run
        from kernelscope.runs.store import load_run

        if not any((args.chrome, args.table, args.summary, args.markdown)):
            raise KernelscopeError("export needs at least one of --chrome, --table, --summary, --markdown")
        cut = export.Cut(args.phase, args.path_filter, export.parse_steps(args.steps) if args.steps else None)
        if cut.active and not (args.chrome or args.table):
            raise KernelscopeError("--phase, --path and --steps cut --chrome and --table; --summary and --markdown "
                                   "describe the whole run (per phase already)")
        for target in (args.chrome, args.table, args.summary, args.markdown):
            if target is not None:
                export.check_target(target, args.force)  # every output checked before any work
        run = load_run(args.run)
        peaks = user_peaks(args)
        if args.chrome:
            n = export.write_chrome(run, args.chrome, cut, args.force,
                                    peaks.apply(run_peaks(run.manifest)) if peaks else None)
            print(f"{args.chrome}: {n} events")
            _warn_if_empty(run, cut, n)
        if args.table:
            n = export.write_table(run, args.table, cut, args.force)
            print(f"{args.table}: {n} rows")
            _warn_if_empty(run, cut, n)
        if args.summary or args.markdown:
            doc = summarize_run(run, peaks=peaks)
            if args.summary:
                export.write_json(doc, args.summary, args.force)
                print(f"{args.summary}: summary")
            if args.markdown:
                export.write_markdown(doc, args.markdown, args.force)
                print(f"{args.markdown}: markdown")
        return 0


def _warn_if_empty(run: Run, cut: Cut, written: int) -> None:
    """A cut that kept nothing says what the run has, instead of a quiet '0 rows'."""
    if written or not cut.active or not run.has_table:
        return
    import numpy as np

    from kernelscope.report.aggregate import distinct

    table = run.table
    steps = np.unique(table.step[table.step >= 0])
    have = (f"decode steps {int(steps.min())}-{int(steps.max())}" if len(steps) else "no decode steps") + \
        f", phases {', '.join(distinct(table.phase))}, paths {', '.join(distinct(table.path))}"
    print(f"kernelscope: warning: the cut kept no rows; this run has {have}", file=sys.stderr)
