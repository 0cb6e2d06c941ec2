"""Sub-commands beyond profile / modes / summary, each a thin layer over core functions."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

from kernelscope.errors import KernelscopeError


def register_all(sub: Any) -> None:
    """Add every further command to the `kernelscope` sub-parser."""
    p = sub.add_parser("analyze", help="classify any torch.profiler trace (a .json/.json.gz, or a folder of "
                                       "per-rank traces) into a run")
    p.add_argument("trace", type=Path)
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<time>-analyze-<name>)")
    p.add_argument("--decode-max-tokens", type=int, default=32,
                   help="only when the trace has no step annotations: GEMMs with at most this many activation "
                        "rows count as decode")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("export", help="write a run as a Chrome/Perfetto trace with verdicts, a table, a summary")
    p.add_argument("run", type=Path)
    p.add_argument("--chrome", type=Path, help="Chrome trace (.json or .json.gz) with ks.* args and extra tracks")
    p.add_argument("--table", type=Path, help="the classified kernel table (.parquet or .csv)")
    p.add_argument("--summary", type=Path, help="the summary document (.json)")
    p.add_argument("--markdown", type=Path, help="the per-phase breakdown as a Markdown table (.md)")
    p.add_argument("--phase", choices=("prefill", "decode", "mixed", "other"), help="keep one phase")
    p.add_argument("--path", dest="path_filter",
                   choices=("native-quantized", "dequant-then-compute", "fallback", "unquantized"), help="keep one path")
    p.add_argument("--steps", help="keep decode steps A:B (half open)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("reclassify", help="classify saved runs' raw traces again with this kernelscope's rules")
    p.add_argument("runs", type=Path, nargs="+")
    p.set_defaults(func=cmd_reclassify)

    p = sub.add_parser("explain", help="role, backend, format and the deciding rule for kernel names")
    p.add_argument("names", nargs="*", help="kernel or op names")
    p.add_argument("--from", dest="source", type=Path, default=None,
                   help="a file of names, one per line, or an nsys cuda_gpu_kern_sum CSV")
    p.add_argument("--json", action="store_true", help="one JSON object per line per name")
    p.set_defaults(func=cmd_explain)


def cmd_analyze(args: argparse.Namespace) -> int:
    from kernelscope.cli import print_summary
    from kernelscope.ingest import analyze_to_run

    out = args.out or Path("runs") / (
        _dt.datetime.now().strftime("%Y%m%d-%H%M%S") + "-analyze-" + args.trace.name.split(".")[0]
    )
    analyze_to_run(args.trace, out, args.decode_max_tokens)
    return print_summary(out, args.json)


def cmd_export(args: argparse.Namespace) -> int:
    from kernelscope import export
    from kernelscope.aggregate import summarize
    from kernelscope.run import load_run

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
        doc = summarize(run.manifest, run.metrics, run.table if run.has_table else None, str(run.path))
        if args.summary:
            export.write_json(doc, args.summary, args.force)
            print(f"{args.summary}: summary")
        if args.markdown:
            export.write_markdown(doc, args.markdown, args.force)
            print(f"{args.markdown}: markdown")
    return 0


def cmd_reclassify(args: argparse.Namespace) -> int:
    from kernelscope.ingest import reclassify_run
    from kernelscope.run import load_run

    for path in args.runs:
        run = load_run(path)
        reclassify_run(run)
        print(f"{path}: {len(run.table)} rows classified again")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from kernelscope.explain import explain_names, names_from_file, short
    from kernelscope.rules.tables import default_classifier

    names = list(args.names)
    if args.source is not None:
        names.extend(names_from_file(args.source))
    if not names:
        raise KernelscopeError("explain needs kernel names, or --from FILE")
    explained = explain_names(names, default_classifier())
    if args.json:
        for e in explained:
            sys.stdout.write(json.dumps(e.to_json()) + "\n")
        return 0
    from rich.console import Console
    from rich.text import Text

    from kernelscope.style import CLASS_COLORS

    console = Console(highlight=False)
    for e in explained:
        v = e.verdict
        console.print(Text(short(e.name, 100), style="bold"))
        line = Text("  ")
        line.append(v.kernel_class.value, style=CLASS_COLORS.get(v.kernel_class.value, ""))
        line.append(f"  role {v.role.value}  backend {v.backend or '-'}  format {v.format or '-'}  rule {v.rule}")
        console.print(line)
        console.print(Text(f"  {v.reason}" + (f" [{e.conditions}]" if e.conditions else ""), style="dim"))
    return 0
