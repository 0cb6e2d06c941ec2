"""Sub-commands beyond profile / modes / summary, each a thin layer over core functions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kernelscope.errors import KernelscopeError
from kernelscope.recipes import DTYPES


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
                   choices=("native-quantized", "dequant-then-compute", "fallback", "unquantized"),
                   help="keep one path")
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

    register_comparison(sub)

    p = sub.add_parser("tui", help="inspect runs interactively: overview, kernels, modules, why, compare")
    p.add_argument("inputs", type=Path, nargs="+", help="run folders, or torch.profiler traces (analysed first)")
    p.add_argument("--view", choices=("overview", "kernels", "modules", "why", "compare"), default="overview")
    p.add_argument("--screenshot", type=Path, default=None, metavar="FILE.svg",
                   help="render the view headless to an SVG file and exit")
    p.add_argument("--size", default="120x40", help="terminal size of --screenshot, COLUMNSxROWS (default 120x40)")
    p.add_argument("--export-dir", type=Path, default=None, help="where `e` writes CSV files (default: here)")
    p.set_defaults(func=cmd_tui)


def add_compare_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("comparison")
    g.add_argument("--baseline", default=None, help="the run (folder name or config) the ratios are taken against "
                                                    "(default: the first)")
    g.add_argument("--allow-mismatch", action="store_true",
                   help="compare runs whose fixed variables differ, listing the differences")
    g.add_argument("--gate", default=None, metavar="CONDITIONS",
                   help="rollback gates, e.g. 'kld_mean<0.05,fallback_share==0,tpot_ratio<=1.1'; a breach exits 5")
    g.add_argument("--memory-budget", default=None, metavar="SIZE",
                   help="device memory for the capacity column, e.g. 80GiB (default: the run's device memory)")
    g.add_argument("--context", type=int, default=None, metavar="TOKENS",
                   help="context length per sequence for the capacity column (default: prompt + output)")
    g.add_argument("--format", choices=("rich", "md", "csv", "json", "html"), default="rich")
    g.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                   help="write the formatted comparison here instead of stdout (html needs it)")
    g.add_argument("--force", action="store_true", help="overwrite --output")


def register_comparison(sub: Any) -> None:
    p = sub.add_parser("compare", help="the comparison table of saved runs: memory, latency, quality, kernel paths, "
                                       "capacity, risk checklist, gates")
    p.add_argument("runs", type=Path, nargs="+")
    add_compare_args(p)
    p.set_defaults(func=cmd_compare)

    from kernelscope.cli import add_quality_args, add_workload_args

    p = sub.add_parser("sweep", help="profile each configuration in its own process, then compare them")
    p.add_argument("model", nargs="?", default=None, help="model folder or hub id (default: the embedded tiny Llama)")
    p.add_argument("--quant", default="bf16,int8,int4,kv-int4",
                   help="comma-separated MODE[@BACKEND] configurations (default: bf16,int8,int4,kv-int4)")
    p.add_argument("--dtype", default=None, choices=DTYPES, help="compute dtype for every config")
    p.add_argument("--device", default="auto", help="cpu|cuda|auto")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="kill a configuration after this")
    p.add_argument("--no-quality", action="store_true", help="skip the quality pass (on by default in a sweep)")
    add_workload_args(p)
    add_quality_args(p, with_switch=False)
    add_compare_args(p)
    p.set_defaults(func=cmd_sweep)


def _select_baseline(runs: list[Any], baseline: str | None) -> list[Any]:
    if baseline is None:
        return runs
    for i, run in enumerate(runs):
        if baseline in (run.path.name, str(run.path), run.config.get("quant")):
            return [run, *runs[:i], *runs[i + 1:]]
    raise KernelscopeError(f"--baseline {baseline}: no such run among {', '.join(r.path.name for r in runs)}")


def _comparison(runs: list[Any], args: argparse.Namespace, failed: list[dict[str, Any]]) -> Any:
    from kernelscope.report.compare import compare_runs, parse_gates, parse_size

    return compare_runs(
        _select_baseline(runs, args.baseline), allow_mismatch=args.allow_mismatch,
        gates=parse_gates(args.gate) if args.gate else (),
        budget=parse_size(args.memory_budget) if args.memory_budget else None, context=args.context, failed=failed,
    )


def emit_comparison(cmp: Any, args: argparse.Namespace) -> int:
    from kernelscope.report import compare_render as compare_report
    from kernelscope.report.export import check_target
    from kernelscope.runs.store import atomic_write_bytes

    if args.format == "rich" and args.output is None:
        compare_report.render_terminal(cmp)
        return int(cmp.exit_code())
    if args.format == "html" and args.output is None:
        raise KernelscopeError("--format html needs --output FILE.html")
    text = {"md": compare_report.render_markdown, "csv": compare_report.render_csv,
            "json": compare_report.render_json}.get(args.format)
    body = text(cmp) if text else (compare_report.render_html(cmp) if args.format == "html"
                                   else compare_report.render_text(cmp))
    if args.output is None:
        sys.stdout.write(body)
    else:
        check_target(args.output, args.force)
        atomic_write_bytes(args.output, body.encode())
        print(f"{args.output}: {args.format} comparison of {len(cmp.rows)} runs")
    for b in cmp.breaches:
        print(f"kernelscope: gate breached: {b['run']}: {b['gate']} ({b['why']})", file=sys.stderr)
    return int(cmp.exit_code())


def cmd_compare(args: argparse.Namespace) -> int:
    from kernelscope.runs.store import load_run

    runs = [load_run(p) for p in args.runs]
    return emit_comparison(_comparison(runs, args, []), args)


def _sweep_common_args(args: argparse.Namespace) -> list[str]:
    """The workload, quality and device flags every configuration's profile process gets, unchanged."""
    out = ["--prompt-len", str(args.prompt_len), "--gen-len", str(args.gen_len), "--batch", str(args.batch),
           "--requests", str(args.requests), "--warmup", str(args.warmup), "--seed", str(args.seed),
           "--temperature", str(args.temperature), "--top-p", str(args.top_p), "--device", args.device]
    if args.eval is not None:
        out += ["--eval", str(args.eval)]
    if args.dtype:
        out += ["--dtype", args.dtype]
    if not args.no_quality:
        out += ["--quality", "--quality-baseline", args.quality_baseline, "--quality-windows",
                str(args.quality_windows), "--quality-context", str(args.quality_context), "--outlier-threshold",
                str(args.outlier_threshold)]
        if args.save_logits:
            out.append("--save-logits")
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernelscope.runs.store import load_run
    from kernelscope.runs.sweep import failed_rows, parse_configs, run_sweep

    configs = parse_configs(args.quant, args.dtype)
    if args.gate:
        from kernelscope.report.compare import parse_gates

        parse_gates(args.gate)  # a typo in a gate fails now, not after the sweep
    from kernelscope.runs.store import dated_run_dir

    out = args.out or dated_run_dir("sweep")
    console = Console(stderr=True)
    with console.status("") as status:
        def on_start(c: Any) -> None:
            status.update(f"sweep {configs.index(c) + 1}/{len(configs)}: profiling {c.spec} ...")

        def on_done(r: Any) -> None:
            verdict = f"[red]failed: {r.error}[/red]" if r.error else "[green]done[/green]"
            console.print(f"{r.config.spec:<18} {verdict} ({r.seconds:.1f} s) -> {r.run_dir}")

        results = run_sweep(configs, args.model, _sweep_common_args(args), out, args.timeout, on_start, on_done)
    runs = [load_run(r.run_dir) for r in results if not r.error]
    if not runs:
        raise KernelscopeError(f"every configuration failed; logs in {out}", 4)
    cmp = _comparison(runs, args, failed_rows(results))
    from kernelscope.report import compare_render as compare_report

    (out / "compare.json").write_text(compare_report.render_json(cmp))
    (out / "compare.html").write_text(compare_report.render_html(cmp))
    code = emit_comparison(cmp, args)
    console.print(f"sweep saved in {out} (compare.json, compare.html, one run and log per configuration)")
    if code == 0 and any(r.error for r in results):
        return 4
    return code


def _tui_runs(inputs: list[Path], scratch: Path) -> list[Any]:
    """Run folders as they are; a trace file is analysed into a run in `scratch` first."""
    from kernelscope.errors import BadInputError
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


def parse_size_arg(text: str) -> tuple[int, int]:
    try:
        cols, rows = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise KernelscopeError(f"--size {text!r}: expected COLUMNSxROWS, e.g. 120x40") from None
    if cols < 40 or rows < 12:
        raise KernelscopeError(f"--size {text!r}: at least 40x12")
    return cols, rows


def cmd_tui(args: argparse.Namespace) -> int:
    import tempfile

    try:
        from kernelscope.tui.app import KernelscopeApp
    except ImportError as exc:
        raise KernelscopeError(f"the TUI needs the tui extra ({exc.name} is missing): "
                               "pip install 'kernelscope[tui]'") from None
    size = parse_size_arg(args.size)
    with tempfile.TemporaryDirectory(prefix="kernelscope-tui-") as scratch:
        app = KernelscopeApp(_tui_runs(args.inputs, Path(scratch)), view=args.view, export_dir=args.export_dir)
        if args.screenshot is None:
            app.run()
            return 0
        from kernelscope.tui.shoot import screenshot

        screenshot(app, args.screenshot, size)
        print(f"{args.screenshot}: {args.view} view, {size[0]}x{size[1]}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from kernelscope.cli import print_summary
    from kernelscope.runs.ingest import analyze_to_run
    from kernelscope.runs.store import dated_run_dir

    out = args.out or dated_run_dir("analyze", args.trace.name.split(".")[0])
    analyze_to_run(args.trace, out, args.decode_max_tokens)
    return print_summary(out, args.json)


def cmd_export(args: argparse.Namespace) -> int:
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


def cmd_reclassify(args: argparse.Namespace) -> int:
    from kernelscope.runs.ingest import reclassify_run
    from kernelscope.runs.store import load_run

    for path in args.runs:
        run = load_run(path)
        reclassify_run(run)
        print(f"{path}: {len(run.table)} rows classified again")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from kernelscope.classify.rules.order import default_classifier
    from kernelscope.report.explain import explain_names, names_from_file, short

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

    from kernelscope.report.style import CLASS_COLORS

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
