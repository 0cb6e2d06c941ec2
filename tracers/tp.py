"""`kernelscope profile --tp N`: N ranks through torch.distributed's own launcher, one run with every rank.

The command starts `python -m torch.distributed.run --standalone --nproc-per-node N -m
kernelscope.tracers.tp_rank REQUEST` (inside a torchrun the user started, WORLD_SIZE is already set and
the ranks are the user's: the same rank module runs in each). Each rank leaves its trace, timings, memory
and status in a staging folder; this process then writes the run once: rank 0's configuration and timing
pass, every rank's peak memory, every rank's raw trace (`trace.json.gz` for rank 0, `trace.rank<r>.json.gz`
for the others) classified with the sites into one table (its `rank` column), and the manifest's world
size, backend and plan. A rank that fails or is killed makes an incomplete run naming that rank; the
launcher stops the others (no rank waits forever on a dead peer's collective).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from kernelscope.errors import EXIT_RUNTIME, KernelscopeError
from kernelscope.progress import Progress
from kernelscope.recipes import Recipe
from kernelscope.runs.documents import Config, Metrics
from kernelscope.runs.store import RunWriter, site_specs
from kernelscope.signals import die_with_parent

if TYPE_CHECKING:
    from kernelscope.tracers.tp_rank import RankResult

TIMEOUT_S = 1800


def refuse(recipe: Recipe, quality: bool, others: dict[str, bool] | None = None) -> None:
    """What --tp cannot run, refused before anything starts (one line each); `others` names flags given
    with it that a tensor-parallel run does not do (--compile, --train-mode, ...)."""
    for flag, given in (others or {}).items():
        if given:
            raise KernelscopeError(f"--tp does not run with {flag}: profile that at --tp 1")
    if recipe.weight is not None:
        raise KernelscopeError(
            f"--tp with --quant {recipe.quant}: {recipe.weight.backend} quantizes whole nn.Linear weights, and under "
            "tensor parallelism they are DTensor shards (torchao's quantize_ fails on them with 'Cannot set "
            "version_counter for inference tensor'); profile weight modes at --tp 1, or a dtype / KV-cache mode")
    if quality:
        raise KernelscopeError("--tp does not score quality (each rank holds part of the logits' inputs); "
                               "measure it at --tp 1")


def run_tp(tp: int, request: dict[str, object], out: Path, progress: Progress) -> Path | None:
    """The run at `out` (None on a rank other than 0 of a torchrun the user started: rank 0 writes it)."""
    from kernelscope.tracers.tp_rank import RankRequest, main

    world = os.environ.get("WORLD_SIZE")
    if world is not None and int(world) != tp:
        raise KernelscopeError(f"--tp {tp} inside a torchrun of {world} processes: give --tp {world}")
    inside = world is not None
    # the user's torchrun: every rank must find the one staging folder, so its name follows from --out
    staging = out.parent / f".{out.name}.tp-staging" if inside else Path(tempfile.mkdtemp(
        prefix=".kernelscope-tp-", dir=out.parent if out.parent.exists() else None))
    staging.mkdir(parents=True, exist_ok=True)
    rank = int(os.environ.get("RANK", "0"))
    try:
        rank_request = RankRequest(**{**request, "staging": str(staging)})  # type: ignore[arg-type]
        request_file = staging / f"request.rank{rank}.json"
        request_file.write_bytes(msgspec.json.encode(rank_request))
        if inside:
            progress.stage(f"tensor parallel: rank {rank} of the torchrun's {tp}")
            code = main([str(request_file)])
            if rank != 0:
                return None
        else:
            progress.stage(f"tensor parallel: {tp} ranks through torch.distributed.run (gloo on a CPU, NCCL on GPUs)")
            code = _launch(tp, request_file)
        return _assemble(staging, out, tp, code, progress)
    finally:
        if not inside or rank == 0:
            shutil.rmtree(staging, ignore_errors=True)


def _launch(tp: int, request_file: Path) -> int:
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={tp}",
            "-m", "kernelscope.tracers.tp_rank", str(request_file)]
    threads = os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // tp)))
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    try:
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=TIMEOUT_S, check=False, preexec_fn=die_with_parent)
    except subprocess.TimeoutExpired:
        return 124
    return done.returncode


def _statuses(staging: Path, tp: int) -> dict[int, str]:
    from kernelscope.tracers.tp_rank import status_path

    out = {}
    for rank in range(tp):
        path = status_path(staging, rank)
        out[rank] = path.read_text().strip() if path.is_file() else "never started"
    return out


def _assemble(staging: Path, out: Path, tp: int, code: int, progress: Progress) -> Path:
    from kernelscope.tracers.tp_rank import RankResult

    statuses = _statuses(staging, tp)
    results = {}
    for rank in range(tp):
        path = staging / f"rank{rank}.json"
        if path.is_file():
            results[rank] = msgspec.json.decode(path.read_bytes(), type=RankResult)
    if code != 0 or len(results) != tp or any(s != "done" for s in statuses.values()):
        failed = [f"rank {r} ({s})" for r, s in statuses.items() if s != "done"] or [f"launcher exit {code}"]
        writer = RunWriter(out, results[0].config if 0 in results and results[0].config else Config())
        reason = f"tensor-parallel run failed: {'; '.join(failed)}"
        writer.fail(reason)
        raise KernelscopeError(f"{reason}; the incomplete run is at {out}", EXIT_RUNTIME)
    return _write(staging, out, results, progress)


def _rss_peak(metrics: Metrics) -> int | None:
    memory = metrics.peak_memory
    return memory.rss.peak_bytes if memory is not None and memory.rss is not None else None


def _write(staging: Path, out: Path, results: dict[int, RankResult], progress: Progress) -> Path:
    from kernelscope.classify.pipeline import classify_trace
    from kernelscope.classify.table import KernelTable
    from kernelscope.runs.ingest import attribution_of
    from kernelscope.trace.reader import load_trace
    from kernelscope.vocabulary import Device

    first = results[0]
    assert first.config is not None
    ranks = sorted(results)
    config = msgspec.structs.replace(first.config, ranks=ranks, world_size=first.world_size,
                                     engine=msgspec.structs.replace(
                                         first.config.engine, parallel=f"tensor parallel {first.world_size} "
                                         f"({first.backend}; {first.plan})"))
    writer = RunWriter(out, config, first.sites)
    peaks = {str(r): _rss_peak(results[r].metrics) for r in ranks}
    metrics: Metrics = msgspec.structs.replace(first.metrics, source=f"timing pass of rank 0 of {len(ranks)}",
                                               peak_rss_by_rank=peaks)
    writer.write_metrics(metrics)
    specs = site_specs(first.sites)
    device = Device.GPU if config.device == "cuda" else Device.CPU
    tables = []
    classified = None
    for rank in ranks:
        trace = staging / f"trace.rank{rank}.json"
        progress.stage(f"classifying rank {rank}")
        classified = classify_trace(load_trace(trace, split=False), specs=specs, model_device=device, rank=rank)
        tables.append(classified.table)
        if rank == 0:
            writer.write_trace(trace)
        else:
            writer.write_extra_trace(trace, f"trace.rank{rank}")
    assert classified is not None
    held = {str(r): next(f.name for f in out.iterdir() if f.name.startswith(f"trace.rank{r}.json")) if r else
            "trace.json.gz" for r in ranks}
    writer.update(attribution=attribution_of(classified), traces=held)
    writer.write_table(KernelTable.concat(tables))
    writer.finish()
    return out

