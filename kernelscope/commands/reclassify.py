"""`kernelscope reclassify RUN...`: classify saved runs' raw traces again with the current rules."""

from __future__ import annotations

import argparse

from kernelscope.commands.args import path_arg


class Reclassify:
    name = "reclassify"
    help = "classify saved runs' raw traces again with this kernelscope's rules"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("runs", type=path_arg, nargs="+",
                            help="run folders to classify again with the current rules")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.runs.ingest import reclassify_run, verdict_changes
        from kernelscope.runs.store import load_run

        for path in args.runs:
            run = load_run(path)
            before = run.table if run.has_table else None
            reclassify_run(run)
            after = load_run(path).table
            print(f"{path}: {len(after)} rows classified again; {verdict_changes(before, after)}")
        return 0
