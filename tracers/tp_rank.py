"""One rank of `kernelscope profile --tp N`: started by torch.distributed's launcher (`python -m
torch.distributed.run --nproc-per-node N -m kernelscope.tracers.tp_rank REQUEST.json`), or inside a
torchrun the user started. The model is sharded by transformers' tensor-parallel plan (`tp_plan="auto"`,
gloo on a CPU, NCCL on GPUs); every rank runs the warm-ups, the timing pass and the profiled pass in step
(each forward's collectives hold the ranks together), and leaves in the staging folder its raw trace, its
timings, its peak memory and a status line; the launching command assembles the one run (tracers/tp.py).
A rank writes its status first ('running <stage>'), so a rank that dies is named by the one it left.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from kernelscope.runs.documents import Config, Metrics, SiteEntry


class RankRequest(msgspec.Struct, frozen=True, kw_only=True):
    model: str | None
    quant: str
    kv_backend: str | None
    dtype: str | None
    device: str
    workload: dict[str, Any]
    profile_requests: int
    profile_steps: int
    staging: str
    trust_remote_code: bool = False
    eval_path: str | None = None


class RankResult(msgspec.Struct, frozen=True, kw_only=True):
    rank: int
    world_size: int
    backend: str
    metrics: Metrics
    config: Config | None = None  # rank 0
    sites: dict[str, SiteEntry] = {}  # rank 0
    plan: str = ""


def status_path(staging: Path, rank: int) -> Path:
    return staging / f"rank{rank}.status"


def _status(staging: Path, rank: int, text: str) -> None:
    status_path(staging, rank).write_text(text + "\n")


def run_rank(request: RankRequest) -> None:
    import torch
    import torch.distributed as dist

    from kernelscope.recipes import parse_quant
    from kernelscope.tracers import loading, quantize
    from kernelscope.tracers.capture import CaptureRequest, run_config, timing_pass, weights_block
    from kernelscope.tracers.env import hardware, library_versions
    from kernelscope.tracers.memory import MemorySampler
    from kernelscope.tracers.workload import Workload, make_prompts

    staging = Path(request.staging)
    rank = int(os.environ.get("RANK", "0"))
    _status(staging, rank, "running: loading")
    recipe = parse_quant(request.quant, None, request.kv_backend, request.dtype)
    workload = Workload(**request.workload)
    eval_file = Path(request.eval_path) if request.eval_path else None
    req = CaptureRequest(model=request.model, recipe=recipe, device=request.device, workload=workload,
                         out=staging, eval_path=eval_file, profile_requests=request.profile_requests,
                         profile_steps=request.profile_steps, trust_remote_code=request.trust_remote_code)
    ref = loading.resolve_model(request.model, request.trust_remote_code)
    tokenizer = loading.load_tokenizer(ref)
    ids, eval_path = loading.eval_token_ids(tokenizer, eval_file)
    prompts = make_prompts(ids, workload, workload.warmup + workload.requests)
    sampler = MemorySampler(request.device)
    with sampler:
        model = loading.load_model(ref, quantize.TORCH_DTYPES[recipe.dtype], request.device, {"tp_plan": "auto"})
        make_cache = quantize.make_cache_factory(model, recipe.kv)
        sites = quantize.take_stock(model, recipe, [])
        _status(staging, rank, "running: timing")
        with torch.inference_mode():
            metrics = timing_pass(model, prompts, req, make_cache, request.device, sampler)
    metrics = msgspec.structs.replace(metrics, weights=weights_block(model, sites), peak_memory=sampler.report())
    _status(staging, rank, "running: profiling")
    _profile(model, prompts, req, make_cache, staging / f"trace.rank{rank}.json")
    config = None
    if rank == 0:
        config = run_config(req, ref, loading.model_hash(ref), model, tokenizer, ids, eval_path, request.device,
                         hardware(request.device), library_versions())
    result = RankResult(rank=rank, world_size=dist.get_world_size(), backend=str(dist.get_backend()),
                        metrics=metrics, config=config, sites=sites if rank == 0 else {},
                        plan=f"transformers tp_plan='auto' ({type(model).__name__}._tp_plan)")
    (staging / f"rank{rank}.json").write_bytes(msgspec.json.encode(result))
    _status(staging, rank, "done")
    dist.barrier()  # every rank's result is on disk before rank 0 assembles the run


def _profile(model: Any, prompts: list[Any], req: Any, make_cache: Any, trace: Path) -> None:
    import torch
    from torch.autograd.profiler import record_function

    from kernelscope.classify.ranges import clock_range
    from kernelscope.tracers.generate import run_request
    from kernelscope.tracers.profiling import ModuleRanges, PhaseRanges, export_trace, marked_cache_factory, profiler

    warm = req.workload.warmup
    n = min(req.profile_requests, req.workload.requests)
    ranges = ModuleRanges(model)
    marked = marked_cache_factory(make_cache)
    try:
        with torch.inference_mode(), profiler(req.device, n) as prof:
            for i in range(-1, n):
                if i >= 0:
                    with record_function(clock_range(time.perf_counter_ns())):
                        pass
                run_request(model, prompts[warm + max(i, 0)], req.workload, marked, i, req.device, PhaseRanges(),
                            max_steps=req.profile_steps)
                prof.step()
        export_trace(prof, trace)
    finally:
        ranges.remove()


def main(argv: list[str]) -> int:
    from kernelscope.tracers.env import quiet_imports

    quiet_imports()
    request = msgspec.json.decode(Path(argv[0]).read_bytes(), type=RankRequest)
    rank = int(os.environ.get("RANK", "0"))
    try:
        run_rank(request)
    except BaseException as exc:  # the rank's own failure, named in its status for the launcher
        first = str(exc).splitlines()[0] if str(exc) else ""
        _status(Path(request.staging), rank, f"failed: {type(exc).__name__}: {first}"[:300])
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
