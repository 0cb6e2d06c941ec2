"""`kernelscope reclassify RUN...`: classify saved runs' raw traces again with the current rules."""

from __future__ import annotations

import argparse
from pathlib import Path


class Reclassify:
    name = "reclassify"
    help = "classify saved runs' raw traces again with this kernelscope's rules"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("runs", type=Path, nargs="+", help="run folders to classify again with the current rules")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.runs.ingest import reclassify_run
        from kernelscope.runs.store import load_run

        for path in args.runs:
            run = load_run(path)
            reclassify_run(run)
            print(f"{path}: {len(run.table)} rows classified again")
        return 0
