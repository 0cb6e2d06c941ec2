"""`kernelscope export RUN --chrome/--table/--summary/--markdown`: a run in other tools' formats."""

from __future__ import annotations

import argparse
from pathlib import Path

from kernelscope.errors import KernelscopeError
from kernelscope.vocabulary import PATH_ORDER, Phase


class Export:
    name = "export"
    help = "write a run as a Chrome/Perfetto trace with verdicts, a table, a summary"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run", type=Path, help="a run folder")
        parser.add_argument("--chrome", type=Path, help="Chrome trace (.json or .json.gz) with ks.* args and extra "
                                                        "tracks")
        parser.add_argument("--table", type=Path, help="the classified kernel table (.parquet or .csv)")
        parser.add_argument("--summary", type=Path, help="the summary document (.json)")
        parser.add_argument("--markdown", type=Path, help="the per-phase breakdown as a Markdown table (.md)")
        parser.add_argument("--phase", choices=tuple(p.value for p in Phase), help="keep one phase")
        parser.add_argument("--path", dest="path_filter", choices=tuple(p.value for p in PATH_ORDER),
                            help="keep one path")
        parser.add_argument("--steps", help="keep decode steps A:B (half open)")
        parser.add_argument("--force", action="store_true", help="overwrite existing files")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.report import export
        from kernelscope.report.aggregate import summarize_run
        from kernelscope.runs.store import load_run

        if not any((args.chrome, args.table, args.summary, args.markdown)):
            raise KernelscopeError("export needs at least one of --chrome, --table, --summary, --markdown")
        run = load_run(args.run)
        cut = export.Cut(args.phase, args.path_filter, export.parse_steps(args.steps) if args.steps else None)
        if args.chrome:
            n = export.write_chrome(run, args.chrome, cut, args.force)
            print(f"{args.chrome}: {n} events")
        if args.table:
            n = export.write_table(run, args.table, cut, args.force)
            print(f"{args.table}: {n} rows")
        if args.summary or args.markdown:
            doc = summarize_run(run)
            if args.summary:
                export.write_json(doc, args.summary, args.force)
                print(f"{args.summary}: summary")
            if args.markdown:
                export.write_markdown(doc, args.markdown, args.force)
                print(f"{args.markdown}: markdown")
        return 0
