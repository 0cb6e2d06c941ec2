"""`kernelscope compare RUN RUN ...`: the comparison table of saved runs, in the format asked for."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernelscope.commands.args import add_compare_args, path_arg, user_peaks
from kernelscope.errors import KernelscopeError

if TYPE_CHECKING:
    from kernelscope.report.documents import Comparison, Row
    from kernelscope.runs.store import Run


def select_baseline(runs: Sequence[Run], baseline: str | None) -> list[Run]:
    """The runs with the --baseline one first (by folder name, path or --quant)."""
    if baseline is None:
        return list(runs)
    for i, run in enumerate(runs):
        if baseline in (run.path.name, str(run.path), run.config.quant):
            return [run, *runs[:i], *runs[i + 1:]]
    raise KernelscopeError(f"--baseline {baseline}: no such run among {', '.join(r.path.name for r in runs)}")


def comparison(runs: Sequence[Run], args: argparse.Namespace, failed: Sequence[Row] = ()) -> Comparison:
    from kernelscope.report.compare import compare_runs, parse_size
    from kernelscope.report.gates import parse_gates

    return compare_runs(
        select_baseline(runs, args.baseline), allow_mismatch=args.allow_mismatch,
        gates=parse_gates(args.gate) if args.gate is not None else (),
        budget=parse_size(args.memory_budget) if args.memory_budget else None, context=args.context, failed=failed,
        peaks=user_peaks(args),
    )


def emit_comparison(cmp: Comparison, args: argparse.Namespace) -> int:
    """Show the comparison (or write it to --output) in --format; gate breaches on stderr; the exit code."""
    from kernelscope.report.compare_render import FORMATS
    from kernelscope.report.export import check_target
    from kernelscope.runs.atomic import atomic_write_bytes

    fmt = FORMATS[args.format]
    if args.output is None:
        fmt.show(cmp)
    else:
        check_target(args.output, args.force)
        atomic_write_bytes(args.output, fmt.render(cmp).encode())
        print(f"{args.output}: {args.format} comparison of {len(cmp.rows)} runs")
    if args.format != "rich" or args.output is not None:
        for b in cmp.breaches:
            print(f"kernelscope: gate breached: {b.run}: {b.gate} ({b.why})", file=sys.stderr)
    return cmp.exit_code()


class Compare:
    name = "compare"
    help = "the comparison table of saved runs: memory, latency, quality, kernel paths, capacity, risk checklist, gates"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("runs", type=path_arg, nargs="+",
                            help="run folders (kernelscope profile / analyze / sweep made them); the first is the "
                                 "baseline unless --baseline says otherwise")
        add_compare_args(parser)

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.runs.store import load_run

        if args.output is not None:
            from kernelscope.runs.outputs import check_output_file

            check_output_file(args.output, args.force)
        return emit_comparison(comparison([load_run(p) for p in args.runs], args), args)
