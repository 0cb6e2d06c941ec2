"""Argument groups shared by several commands, named the same everywhere."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from kernelscope.recipes import DTYPES

if TYPE_CHECKING:
    from kernelscope.report.peaks import PeakOverride


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def path_arg(text: str) -> Path:
    """A path from the command line (a NUL byte, impossible in a file name, is a usage mistake)."""
    if "\x00" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL byte")
    return Path(text)


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    value = _finite(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in (0, 1], got {text!r}")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**32 - 1, got {value}")
    return value


def group_size(text: str) -> int:
    value = positive(text)
    if value < 8 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"expected a power of two from 8 up, got {value}")
    return value


def context_length(text: str) -> int | str:
    if text == "workload":
        return text
    value = positive(text)
    if value < 4:
        raise argparse.ArgumentTypeError(f"a quality window needs at least 4 tokens, got {value}")
    return value


def quality_windows(context: int, budget: int, windows: int | None) -> int:
    """Windows of `context` tokens that score `budget` tokens (the second half of each), unless given."""
    return windows if windows is not None else max(1, -(-budget // (context - context // 2)))


def add_workload_args(p: argparse.ArgumentParser, out_help: str = "run folder (default: runs/<time>-<model>-<quant>)"
                      ) -> None:
    """The workload flags, named the same in every command that runs a model."""
    g = p.add_argument_group("workload (fixed variables)")
    g.add_argument("--prompt-len", default="128", help="prompt tokens: N, or MIN:MAX drawn per request (seeded)")
    g.add_argument("--gen-len", type=positive, default=32, help="tokens generated per request (EOS ignored)")
    g.add_argument("--batch", type=positive, default=1, help="sequences per request")
    g.add_argument("--requests", type=positive, default=8, help="timed requests after warm-up")
    g.add_argument("--warmup", type=non_negative, default=2, help="warm-up requests, discarded")
    g.add_argument("--seed", type=seed, default=0, help="seed for prompt selection and sampling")
    g.add_argument("--temperature", type=non_negative_float, default=0.0, help="sampling temperature; 0 = greedy")
    g.add_argument("--top-p", type=probability, default=1.0, help="nucleus sampling mass (with --temperature > 0)")
    g.add_argument("--eval", type=path_arg, default=None, metavar="FILE",
                   help="eval text the prompts are cut from (default: the fixture's held-out split)")
    g.add_argument("--out", type=path_arg, default=None, help=out_help)
    add_output_args(p)


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the summary as JSON (no progress lines)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")


def add_quant_args(p: argparse.ArgumentParser, quant_default: str | None) -> None:
    g = p.add_argument_group("configuration")
    g.add_argument("--quant", default=quant_default, help="fp32|bf16|fp16|int8|w8a8|int4|nf4|fp4|kv-int4|kv-int2, "
                   "joined with + (int4+kv-int4); see `kernelscope modes`" + (
                       "" if quant_default else " (default: int4; a quantized checkpoint runs as shipped)"))
    g.add_argument("--backend", default=None, help="weight backend: torchao|bitsandbytes|quanto|hqq|torch")
    g.add_argument("--kv-backend", default=None, help="KV-cache backend: quanto|hqq")
    g.add_argument("--dtype", default=None, choices=DTYPES, help="compute dtype")
    g.add_argument("--group-size", type=group_size, default=None,
                   help="quantization group size (int4 torchao: 128, int4 hqq: 64)")
    g.add_argument("--device", default="auto", help="cpu|cuda|auto")


def add_quality_args(p: argparse.ArgumentParser, with_switch: bool) -> None:
    q = p.add_argument_group("quality (teacher-forced, against a baseline)")
    if with_switch:
        q.add_argument("--quality", action="store_true",
                       help="measure KLD / top-1 agreement / PPL against the baseline")
    q.add_argument("--quality-baseline", choices=DTYPES, default="fp32",
                   help="the dtype the quantized model is scored against, unquantized")
    q.add_argument("--quality-budget", type=positive, default=1024, metavar="TOKENS",
                   help="tokens scored in all; the windows follow from it")
    q.add_argument("--quality-windows", type=positive, default=None,
                   help="eval windows scored (overrides --quality-budget)")
    q.add_argument("--quality-context", type=context_length, default=256, metavar="TOKENS|workload",
                   help="tokens per window, the second half scored; 'workload': prompt + generated tokens")
    q.add_argument("--outlier-threshold", type=positive_float, default=6.0, help="|activation| flagged as an outlier")
    q.add_argument("--save-logits", action="store_true", help="keep both models' log-probs in the run")


# the names of report.compare_render.FORMATS (not imported here: that would load numpy and pyarrow for --help)
COMPARISON_FORMATS = ("rich", "md", "csv", "json", "html")


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
    g.add_argument("--context", type=positive, default=None, metavar="TOKENS",
                   help="context length per sequence for the capacity column (default: prompt + output)")
    g.add_argument("--format", choices=COMPARISON_FORMATS, default="rich",
                   help="rich: a table on the terminal; md, csv, json: for files and CI; html: a page (needs --output)")
    g.add_argument("--output", "-o", type=path_arg, default=None, metavar="FILE",
                   help="write the formatted comparison here instead of stdout (html needs it)")
    g.add_argument("--force", action="store_true", help="overwrite --output")
    add_peak_arguments(p)


def add_peak_arguments(parser: argparse.ArgumentParser) -> None:
    """What the roofline holds a run against, where its recorded or data-sheet peaks are wrong or absent."""
    group = parser.add_argument_group("peaks (the roofline's ceilings; default: the run's own)")
    group.add_argument("--peaks", dest="peaks_file", type=path_arg, default=None, metavar="FILE",
                       help='JSON: {"bandwidth_gbs": 3350, "tflops": {"bf16": 989.4}} (any subset)')
    group.add_argument("--peak-bandwidth", type=positive_float, default=None, metavar="GB/S",
                       help="peak memory bandwidth in GB/s")
    group.add_argument("--peak-tflops", action="append", default=[], metavar="DTYPE=TFLOPS",
                       help="dense peak of one dtype (fp32, tf32, bf16, fp16, fp8, int8, fp4); repeatable")


def user_peaks(args: argparse.Namespace) -> PeakOverride | None:
    """The peak flags (checked: one line on a mistake), or None where none was given."""
    from kernelscope.report.peaks import PeakOverride, parse_peak_flag, read_peaks_file

    if args.peaks_file is None and args.peak_bandwidth is None and not args.peak_tflops:
        return None
    return PeakOverride(file=read_peaks_file(args.peaks_file) if args.peaks_file is not None else None,
                        bandwidth_gbs=args.peak_bandwidth,
                        tflops=dict(parse_peak_flag(text) for text in args.peak_tflops))
