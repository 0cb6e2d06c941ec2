"""`kernelscope profile [MODEL] --quant MODE`: load, quantize, time, profile, classify, save a run."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from kernelscope.commands.args import (
    add_quality_args,
    add_quant_args,
    add_workload_args,
    non_negative,
    positive,
    quality_windows,
)
from kernelscope.commands.summary import print_summary
from kernelscope.errors import KernelscopeError
from kernelscope.recipes import Recipe
from kernelscope.runs.documents import QualitySpec


def default_run_dir(model: str | None, quant: str) -> Path:
    from kernelscope.runs.store import dated_run_dir

    short = "tiny-llama" if model is None else re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).name or model)
    return dated_run_dir(short, quant.replace("+", "_"))


class Profile:
    name = "profile"
    help = "run a model in one configuration, time it, profile it, classify every kernel"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model", nargs="?", default=None,
                            help="local HF causal-LM folder or hub id (default: the embedded tiny Llama)")
        parser.add_argument("--trust-remote-code", action="store_true",
                            help="run the model folder's own Python code (its config's auto_map); off by default, "
                                 "and never asked for at a prompt")
        add_quant_args(parser, None)
        parser.add_argument("--baseline", dest="baseline_model", default=None, metavar="MODEL",
                            help="a quantized checkpoint's unquantized parent: the quality baseline, and the fixed "
                                 "'model' that compare lines runs up by")
        add_workload_args(parser)
        g = parser.add_argument_group("profiled pass")
        g.add_argument("--profile-requests", type=positive, default=1, help="requests recorded by torch.profiler")
        g.add_argument("--profile-steps", type=non_negative, default=16, help="decode steps recorded per request")
        g.add_argument("--compile", action="store_true",
                       help="run the forward through torch.compile (Inductor, default mode); compilation and the first "
                            "request are timed apart and excluded from the timings")
        g.add_argument("--compile-mode", default=None,
                       choices=("default", "max-autotune-no-cudagraphs", "reduce-overhead", "max-autotune"),
                       help="torch.compile mode (implies --compile); reduce-overhead and max-autotune capture CUDA "
                            "graphs (a GPU)")
        g.add_argument("--tp", type=positive, default=1, metavar="N",
                       help="tensor parallel over N ranks (torch.distributed: gloo on a CPU, NCCL on GPUs; "
                            "transformers' tp_plan); dtype and KV-cache modes")
        g.add_argument("--train-mode", action="store_true",
                       help="run the forwards with the model in training mode (as a QLoRA fine-tuning forward does)")
        add_quality_args(parser, with_switch=True)
        g.add_argument("--no-summary", action="store_true",
                       help="save the run without printing its summary (what sweep's configurations do)")
        g.add_argument("--python-profile", action="store_true",
                       help="also record the host-side Python of one request with pyinstrument "
                            "(python-profile.html)")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.recipes import check_shipped_request, parse_quant, shipped_quantization

        shipped = shipped_quantization(Path(args.model).expanduser()) if args.model else None
        default = (args.dtype or "bf16") if shipped else "int4"  # a quantized checkpoint runs as shipped
        recipe = parse_quant(args.quant or default, args.backend, args.kv_backend, args.dtype, args.group_size)
        if shipped is not None:
            check_shipped_request(shipped, recipe, args.quant is not None, args.model)
            _check_loader_installed(shipped.method)
        try:
            from kernelscope.tracers.capture import CaptureRequest, capture
            from kernelscope.tracers.workload import Workload, parse_prompt_len
        except ImportError as exc:
            raise KernelscopeError(f"profiling needs the capture extra ({exc.name} is missing): "
                                   "pip install 'kernelscope[capture]'") from None
        workload = Workload(
            prompt_len=parse_prompt_len(args.prompt_len), gen_len=args.gen_len, batch=args.batch,
            requests=args.requests, warmup=args.warmup, seed=args.seed, temperature=args.temperature,
            top_p=args.top_p,
        )
        from kernelscope.progress import Progress
        from kernelscope.runs.outputs import check_run_folder

        out = args.out or default_run_dir(args.model, f"{shipped.method}-as-shipped" if shipped else recipe.quant)
        check_run_folder(out)  # before the model loads
        if args.tp > 1:
            return self._tensor_parallel(args, recipe, workload, out)
        run_dir = capture(CaptureRequest(
            model=args.model, recipe=recipe, device=args.device, workload=workload, out=out, eval_path=args.eval,
            profile_requests=args.profile_requests, profile_steps=args.profile_steps,
            python_profile=args.python_profile, train_mode=args.train_mode,
            quality=_quality_spec(args, workload.prompt_len[1] + workload.gen_len),
            progress=Progress(quiet=args.quiet or args.json), trust_remote_code=args.trust_remote_code,
            quant_given=args.quant is not None, baseline_model=args.baseline_model,
            compile_mode=args.compile_mode or ("default" if args.compile else None),
        ))
        return self._finish(args, run_dir)

    def _tensor_parallel(self, args: argparse.Namespace, recipe: Recipe, workload: Any, out: Path) -> int:
        from kernelscope.progress import Progress
        from kernelscope.tracers.tp import refuse, run_tp

        refuse(recipe, bool(args.quality), {"--compile": bool(args.compile or args.compile_mode),
                                            "--train-mode": args.train_mode, "--python-profile": args.python_profile,
                                            "a quantized checkpoint (profiled as shipped)": args.quant is None and
                                            args.model is not None and _is_shipped(args.model)})
        run_dir = run_tp(args.tp, _tp_request(args, recipe, workload), out,
                         Progress(quiet=args.quiet or args.json))
        if run_dir is None:  # a rank of the user's torchrun other than 0: rank 0 writes the run
            return 0
        return self._finish(args, run_dir)

    def _finish(self, args: argparse.Namespace, run_dir: Path) -> int:
        if args.no_summary:
            print(f"run saved in {run_dir}")
        else:
            print_summary(run_dir, args.json)
        return 0


def _tp_request(args: argparse.Namespace, recipe: Recipe, workload: Any) -> dict[str, object]:
    return {"model": args.model, "quant": recipe.quant, "kv_backend": args.kv_backend, "dtype": args.dtype,
            "device": "cuda" if args.device == "cuda" else "cpu",
            "workload": {"prompt_len": list(workload.prompt_len), "gen_len": workload.gen_len, "batch": workload.batch,
                         "requests": workload.requests, "warmup": workload.warmup, "seed": workload.seed,
                         "temperature": workload.temperature, "top_p": workload.top_p},
            "profile_requests": args.profile_requests, "profile_steps": args.profile_steps,
            "trust_remote_code": args.trust_remote_code, "eval_path": str(args.eval) if args.eval else None}


def _is_shipped(model: str) -> bool:
    from kernelscope.recipes import shipped_quantization

    return shipped_quantization(Path(model).expanduser()) is not None


def _check_loader_installed(method: str) -> None:
    """The library a checkpoint's loader needs, found without importing it: one line naming the extra."""
    import importlib.util

    from kernelscope.recipes import CHECKPOINT_LOADERS, missing_loader

    needed = CHECKPOINT_LOADERS.get(method)
    if needed is None:
        return
    try:
        found = importlib.util.find_spec(needed[0].split(".")[0]) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise KernelscopeError(missing_loader(method))


def _quality_spec(args: argparse.Namespace, workload_tokens: int) -> QualitySpec | None:
    if not args.quality:
        return None
    context = workload_tokens if args.quality_context == "workload" else args.quality_context
    return QualitySpec(context=context, windows=quality_windows(context, args.quality_budget, args.quality_windows),
                       budget=None if args.quality_windows is not None else args.quality_budget,
                       baseline=args.quality_baseline, outlier_threshold=args.outlier_threshold,
                       save_logits=args.save_logits)
