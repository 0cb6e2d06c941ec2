"""The command line: thin commands over pure functions.

Every user-facing failure is a KernelscopeError, turned here (and only here) into one line on
stderr and an exit code. Capture (torch) and the TUI (textual) are imported only by the commands
that need them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from kernelscope import __version__
from kernelscope.errors import EXIT_INTERRUPTED, EXIT_USAGE, KernelscopeError
from kernelscope.recipes import DTYPES

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr, like every other kernelscope error."""

    def error(self, message: str) -> NoReturn:
        raise KernelscopeError(f"{message} (see: {self.prog} --help)", EXIT_USAGE)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_workload_args(p: argparse.ArgumentParser) -> None:
    """The workload flags, named the same in every command that runs a model."""
    g = p.add_argument_group("workload (fixed variables)")
    g.add_argument("--prompt-len", default="128", help="prompt tokens: N, or MIN:MAX drawn per request (seeded)")
    g.add_argument("--gen-len", type=_positive, default=32, help="tokens generated per request (EOS ignored)")
    g.add_argument("--batch", type=_positive, default=1, help="sequences per request")
    g.add_argument("--requests", type=_positive, default=8, help="timed requests after warm-up")
    g.add_argument("--warmup", type=_non_negative, default=2, help="warm-up requests, discarded")
    g.add_argument("--seed", type=int, default=0, help="seed for prompt selection and sampling")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--eval", type=Path, default=None, metavar="FILE",
                   help="eval text the prompts are cut from (default: the fixture's held-out split)")
    g.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<time>-<model>-<quant>)")
    g.add_argument("--json", action="store_true", help="print the summary as JSON")


def add_quant_args(p: argparse.ArgumentParser, quant_default: str | None) -> None:
    g = p.add_argument_group("configuration")
    g.add_argument("--quant", default=quant_default, help="fp32|bf16|fp16|int8|w8a8|int4|nf4|fp4|kv-int4|kv-int2, "
                   "joined with + (int4+kv-int4); see `kernelscope modes`")
    g.add_argument("--backend", default=None, help="weight backend: torchao|bitsandbytes|quanto|hqq|torch")
    g.add_argument("--kv-backend", default=None, help="KV-cache backend: quanto|hqq")
    g.add_argument("--dtype", default=None, choices=DTYPES, help="compute dtype")
    g.add_argument("--group-size", type=_positive, default=None,
                   help="quantization group size (int4 torchao: 128, int4 hqq: 64)")
    g.add_argument("--device", default="auto", help="cpu|cuda|auto")


def add_quality_args(p: argparse.ArgumentParser, with_switch: bool) -> None:
    q = p.add_argument_group("quality (teacher-forced, against a baseline)")
    if with_switch:
        q.add_argument("--quality", action="store_true",
                       help="measure KLD / top-1 agreement / PPL against the baseline")
    q.add_argument("--quality-baseline", choices=DTYPES, default="fp32")
    q.add_argument("--quality-windows", type=_positive, default=8, help="eval windows scored")
    q.add_argument("--quality-context", type=_positive, default=256, help="tokens per window (second half scored)")
    q.add_argument("--outlier-threshold", type=float, default=6.0, help="|activation| flagged as an outlier")
    q.add_argument("--save-logits", action="store_true", help="keep both models' log-probs in the run")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kernelscope", description="What did quantization actually do to my run?")
    parser.add_argument("--version", action="version", version=f"kernelscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("profile", help="run a model in one configuration, time it, profile it, classify every kernel")
    p.add_argument("model", nargs="?", default=None,
                   help="local HF causal-LM folder or hub id (default: the embedded tiny Llama)")
    add_quant_args(p, "int4")
    add_workload_args(p)
    g = p.add_argument_group("profiled pass")
    g.add_argument("--profile-requests", type=_positive, default=1, help="requests recorded by torch.profiler")
    g.add_argument("--profile-steps", type=_non_negative, default=16, help="decode steps recorded per request")
    g.add_argument("--train-mode", action="store_true",
                   help="run the forwards with the model in training mode (as a QLoRA fine-tuning forward does)")
    add_quality_args(p, with_switch=True)
    g.add_argument("--python-profile", action="store_true",
                   help="also record the host-side Python of one request with pyinstrument (python-profile.html)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("modes", help="the quantization modes and backends, and which run here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_modes)

    p = sub.add_parser("summary", help="print a saved run's summary")
    p.add_argument("run", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_summary)

    from kernelscope.commands import _old as commands

    commands.register_all(sub)
    return parser


def default_run_dir(model: str | None, quant: str) -> Path:
    from kernelscope.runs.store import dated_run_dir

    short = "tiny-llama" if model is None else re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).name or model)
    return dated_run_dir(short, quant.replace("+", "_"))


def cmd_profile(args: argparse.Namespace) -> int:
    from kernelscope.recipes import parse_quant

    recipe = parse_quant(args.quant, args.backend, args.kv_backend, args.dtype, args.group_size)
    try:
        from kernelscope.tracers.capture import CaptureRequest, capture
        from kernelscope.tracers.workload import Workload, parse_prompt_len
    except ImportError as exc:
        raise KernelscopeError(f"profiling needs the capture extra ({exc.name} is missing): "
                               "pip install 'kernelscope[capture]'") from None
    workload = Workload(
        prompt_len=parse_prompt_len(args.prompt_len), gen_len=args.gen_len, batch=args.batch,
        requests=args.requests, warmup=args.warmup, seed=args.seed, temperature=args.temperature, top_p=args.top_p,
    )
    out = args.out or default_run_dir(args.model, recipe.quant)
    run_dir = capture(CaptureRequest(
        model=args.model, recipe=recipe, device=args.device, workload=workload, out=out, eval_path=args.eval,
        profile_requests=args.profile_requests, profile_steps=args.profile_steps, python_profile=args.python_profile,
        train_mode=args.train_mode, quality=_quality_spec(args),
    ))
    return print_summary(run_dir, args.json)


def _quality_spec(args: argparse.Namespace) -> object:
    if not args.quality:
        return None
    from kernelscope.tracers.quality import QualitySpec

    return QualitySpec(context=args.quality_context, windows=args.quality_windows, baseline=args.quality_baseline,
                       outlier_threshold=args.outlier_threshold, save_logits=args.save_logits)


def print_summary(run_dir: Path, as_json: bool) -> int:
    from kernelscope.report.aggregate import summarize_run
    from kernelscope.runs.store import load_run

    run = load_run(run_dir)
    doc = summarize_run(run, str(run_dir))
    if as_json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        from kernelscope.report.console import render_summary

        render_summary(doc)
        print(f"run saved in {run_dir}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    return print_summary(args.run, args.json)


def cmd_modes(args: argparse.Namespace) -> int:
    from kernelscope.report.modes import mode_matrix, render_modes

    rows = mode_matrix()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        render_modes(rows)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        handler: Handler = args.func
        return handler(args)
    except KernelscopeError as exc:
        print(f"kernelscope: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kernelscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
