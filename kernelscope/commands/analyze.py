"""`kernelscope analyze TRACE`: any torch.profiler trace (or a folder of per-rank traces) into a run."""

from __future__ import annotations

import argparse
import sys

from kernelscope.commands.args import add_output_args, path_arg, positive
from kernelscope.commands.summary import print_summary


class Analyze:
    name = "analyze"
    help = "classify any torch.profiler trace (a .json/.json.gz, or a folder of per-rank traces) into a run"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("trace", type=path_arg,
                            help="a torch.profiler trace (.json / .json.gz), or a folder of one job's per-rank traces")
        parser.add_argument("--out", type=path_arg, default=None,
                            help="run folder (default: runs/<time>-analyze-<name>)")
        parser.add_argument("--decode-max-tokens", type=positive, default=32,
                            help="only when the trace has no step annotations: GEMMs with at most this many "
                                 "activation rows count as decode")
        parser.add_argument("--as-ranks", action="store_true",
                            help="merge a folder's traces as ranks of one run even when they do not say they share a "
                                 "job (rank, world size, device)")
        add_output_args(parser)

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.runs.ingest import analyze_to_run
        from kernelscope.runs.outputs import check_run_folder
        from kernelscope.runs.store import dated_run_dir

        out = args.out or dated_run_dir("analyze", args.trace.name.split(".")[0])
        check_run_folder(out)
        from kernelscope.progress import Progress

        analyze_to_run(args.trace, out, args.decode_max_tokens, args.as_ranks,
                       Progress(quiet=args.quiet or args.json))
        doc = print_summary(out, args.json)
        if doc.coverage is not None:
            from kernelscope.report.console import unknown_warning

            for line in unknown_warning(doc.coverage.total):
                print(line, file=sys.stderr)
        return 0
