"""`kernelscope sweep [MODEL] --quant bf16,int8,int4,kv-int4`: one profile process per configuration,
then the comparison of the runs that completed."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernelscope.commands.args import add_compare_args, add_quality_args, add_workload_args, positive, positive_float
from kernelscope.commands.compare import comparison, emit_comparison
from kernelscope.errors import EXIT_RUNTIME, KernelscopeError
from kernelscope.recipes import DTYPES
from kernelscope.report.documents import Row

if TYPE_CHECKING:
    from kernelscope.runs.sweep import ConfigResult


def failed_rows(results: Sequence[ConfigResult]) -> list[Row]:
    """Comparison rows for the configurations that did not produce a complete run."""
    return [Row(run=r.config.label, quant=r.config.spec, status="failed", error=r.error or "failed",
                path=str(r.run_dir)) for r in results if r.error]


def common_profile_args(args: argparse.Namespace) -> list[str]:
    """The workload, quality and device flags every configuration's profile process gets, unchanged."""
    out = ["--prompt-len", str(args.prompt_len), "--gen-len", str(args.gen_len), "--batch", str(args.batch),
           "--requests", str(args.requests), "--warmup", str(args.warmup), "--seed", str(args.seed),
           "--temperature", str(args.temperature), "--top-p", str(args.top_p), "--device", args.device]
    if args.eval is not None:
        out += ["--eval", str(args.eval)]
    if args.dtype:
        out += ["--dtype", args.dtype]
    if args.trust_remote_code:
        out.append("--trust-remote-code")
    if not args.no_quality:
        out += ["--quality", "--quality-baseline", args.quality_baseline, "--quality-budget", str(args.quality_budget),
                "--quality-context", str(args.quality_context), "--outlier-threshold", str(args.outlier_threshold)]
        if args.quality_windows is not None:
            out += ["--quality-windows", str(args.quality_windows)]
        if args.save_logits:
            out.append("--save-logits")
    return out


class Sweep:
    name = "sweep"
    help = "profile each configuration in its own process, then compare them"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model", nargs="?", default=None,
                            help="model folder or hub id (default: the embedded tiny Llama)")
        parser.add_argument("--trust-remote-code", action="store_true",
                            help="run the model folder's own Python code (its auto_map) in every configuration")
        parser.add_argument("--quant", default="bf16,int8,int4,kv-int4",
                            help="comma-separated MODE[@BACKEND] configurations (default: bf16,int8,int4,kv-int4)")
        parser.add_argument("--dtype", default=None, choices=DTYPES, help="compute dtype for every config")
        parser.add_argument("--device", default="auto", help="cpu|cuda|auto")
        parser.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                            help="kill a configuration after this")
        parser.add_argument("--no-quality", action="store_true",
                            help="skip the quality pass (on by default in a sweep)")
        parser.add_argument("--repeat", type=positive, default=1,
                            help="run every configuration this many times, interleaved (a b a b), to see how far its "
                                 "timings repeat")
        add_workload_args(parser, out_help="sweep folder: one run and log per configuration, compare.json, "
                                           "compare.html (default: runs/<time>-sweep)")
        add_quality_args(parser, with_switch=False)
        add_compare_args(parser)

    def run(self, args: argparse.Namespace) -> int:
        from rich.console import Console

        from kernelscope.report.compare_render import render_html, render_json
        from kernelscope.report.gates import parse_gates
        from kernelscope.runs.store import dated_run_dir, load_run
        from kernelscope.runs.sweep import SweepConfig, interleaved, parse_configs, run_sweep

        configs = interleaved(parse_configs(args.quant, args.dtype), args.repeat)
        if args.gate is not None:
            parse_gates(args.gate)  # a typo in a gate fails now, not after the sweep
        from kernelscope.runs.outputs import check_run_folder

        out = args.out or dated_run_dir("sweep")
        check_run_folder(out)
        console = Console(stderr=True)
        with console.status("") as status:
            def on_start(c: SweepConfig) -> None:
                status.update(f"sweep {configs.index(c) + 1}/{len(configs)}: profiling {c.spec} ...")

            def on_done(r: ConfigResult) -> None:
                verdict = f"[red]failed: {r.error}[/red]" if r.error else "[green]done[/green]"
                console.print(f"{r.config.spec:<18} {verdict} ({r.seconds:.1f} s) -> {r.run_dir}")

            results = run_sweep(configs, args.model, common_profile_args(args), out, args.timeout, on_start, on_done)
        runs = [load_run(r.run_dir) for r in results if not r.error]
        if not runs:
            raise KernelscopeError(f"every configuration failed; logs in {out}", EXIT_RUNTIME)
        cmp = comparison(runs, args, failed_rows(results))
        (out / "compare.json").write_text(render_json(cmp))
        (out / "compare.html").write_text(render_html(cmp))
        code = emit_comparison(cmp, args)
        console.print(f"sweep saved in {out} (compare.json, compare.html, one run and log per configuration)")
        if code == 0 and any(r.error for r in results):
            return EXIT_RUNTIME
        return code
