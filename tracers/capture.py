"""`kernelscope profile`: load, quantize, time, profile, classify, save one run.

    timing pass    warm-ups (discarded), then --requests requests with no profiler active:
                   TTFT and every decode step, memory sampled per phase
    profiled pass  torch.profiler over --profile-requests requests, at most --profile-steps decode
                   steps each, with phase and module ranges
    classify       the exported trace goes through the same pipeline as `kernelscope analyze`,
                   with the manifest's sites
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from kernelscope.errors import KernelscopeError
from kernelscope.progress import QUIET, Progress
from kernelscope.recipes import Recipe, check_device
from kernelscope.runs.documents import (
    Config,
    Engine,
    EvalSet,
    Hardware,
    HooksOverhead,
    KVCacheSize,
    Metrics,
    ModelInfo,
    Profiled,
    Profiling,
    Quality,
    QualitySpec,
    RecipeInfo,
    SiteEntry,
    Timing,
    TokenizerInfo,
    Weights,
)
from kernelscope.runs.ingest import attribution_of
from kernelscope.runs.store import RunWriter, site_specs
from kernelscope.tracers.workload import Workload
from kernelscope.vocabulary import SiteKind


@dataclass(frozen=True)
class CaptureRequest:
    model: str | None
    recipe: Recipe
    device: str
    workload: Workload
    out: Path
    eval_path: Path | None = None
    profile_requests: int = 1
    profile_steps: int = 16
    python_profile: bool = False
    train_mode: bool = False  # run the forwards with module.training=True (a QLoRA-style forward)
    quality: QualitySpec | None = None  # measure quality against a baseline
    progress: Progress = QUIET
    trust_remote_code: bool = False  # run a model folder's own Python (its config's auto_map)
    quant_given: bool = True  # --quant was on the command line (a quantized checkpoint refuses a weight mode)
    baseline_model: str | None = None  # a quantized checkpoint's parent: the quality baseline and fixed "model"
    compile_mode: str | None = None  # torch.compile mode (profile --compile), None: eager


class SamplerPhases:
    """PhaseObserver of the timing pass: tells the memory sampler which phase is running."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler

    @contextlib.contextmanager
    def phase(self, kind: str, request: int, step: int) -> Iterator[None]:
        if self.sampler.phase != kind:
            self.sampler.set_phase(kind)
        yield


def _needs_grad_mode(recipe: Recipe) -> bool:
    # quanto qint4 in fp32 dequantizes through a path that fails under torch.inference_mode
    w = recipe.weight
    return w is not None and w.backend == "quanto" and w.mode == "int4" and recipe.dtype == "fp32"


def capture(req: CaptureRequest) -> Path:
    from kernelscope.tracers.env import quiet_imports

    progress = req.progress
    loaded = "torch" in sys.modules  # a sweep's configuration is forked with the libraries loaded
    progress.stage(f"profile {req.recipe.quant} of {req.model or 'the embedded tiny Llama'}"
                   + ("" if loaded else ": importing torch"))
    quiet_imports()

    from kernelscope.tracers import checkpoint, detect, guards, loading, quantize
    from kernelscope.tracers.env import hardware, library_versions, resolve_device
    from kernelscope.tracers.generate import inference_context
    from kernelscope.tracers.memory import MemorySampler
    from kernelscope.tracers.peaks import peaks_cached
    from kernelscope.tracers.workload import make_prompts

    if req.device != "auto":
        check_device(req.recipe, req.device)  # say what the recipe supports before probing the machine
    device = resolve_device(req.device)
    check_device(req.recipe, device)
    ref = loading.resolve_model(req.model, req.trust_remote_code)
    shipped = checkpoint.declared(ref, req)
    guards.check_model_limits(loading.max_positions(ref), req)
    progress.stage(f"loading {ref.name} ({req.recipe.dtype}) on {device}"
                   + (f": a {shipped.method} checkpoint, as shipped" if shipped else ""))
    tokenizer = loading.load_tokenizer(ref)
    ids, eval_path = loading.eval_token_ids(tokenizer, req.eval_path)
    prompts = make_prompts(ids, req.workload, req.workload.warmup + req.workload.requests)
    dtype = quantize.TORCH_DTYPES[req.recipe.dtype]
    sampler = MemorySampler(device)
    with sampler:
        model = checkpoint.load(ref, dtype, device, shipped) if shipped else \
            loading.load_model(ref, dtype, device, quantize.load_time_kwargs(req.recipe))
        if shipped is None and not ref.local and not quantize.load_time_kwargs(req.recipe):
            shipped = checkpoint.after_load(model, req, ref.name)  # a hub model's config, known once loaded
        requested = quantize.target_linears(model) if req.recipe.weight is not None else []
        if req.recipe.weight is not None:
            progress.stage(f"quantizing weights: {req.recipe.weight_how_on(device)}")
        quantize.apply_weight_recipe(model, req.recipe, device)
        sites = detect.stock(model, req.recipe.kv.kv_format if req.recipe.kv else "") if shipped else \
            quantize.take_stock(model, req.recipe, requested)
        if shipped:
            progress.note(checkpoint.loaded_as(sites))
        else:
            guards.warn_if_nothing_quantized(sites, req.recipe, progress)
        model.train(req.train_mode)
        make_cache = quantize.make_cache_factory(model, req.recipe.kv)
        clock = None
        if req.compile_mode is not None:
            sites, clock = _compile(model, sites, req, prompts[0], make_cache, device)
        if device != "cuda" and not peaks_cached():
            progress.stage("measuring this CPU's bandwidth and GEMM peaks for the roofline (once, then cached)")
        config = run_config(req, ref, loading.model_hash(ref), model, tokenizer, ids, eval_path, device,
                         hardware(device), library_versions())
        if shipped:
            config = checkpoint.as_shipped(config, shipped, sites, req, ref, model)
        writer = RunWriter(req.out, config, sites)
        with guards.failures_recorded(writer, req):
            with inference_context(_needs_grad_mode(req.recipe)):
                graphs_before = _graphs() if clock else 0
                metrics = replace(timing_pass(model, prompts, req, make_cache, device, sampler),
                                  weights=weights_block(model, sites),
                                  kv_cache=_kv_block(model, prompts[-1], req, make_cache, device),
                                  compile=clock.info(_graphs() - graphs_before) if clock else None)
    with guards.failures_recorded(writer, req):
        metrics = replace(metrics, peak_memory=sampler.report())
        writer.write_metrics(metrics)
        if req.quality is not None:
            metrics = replace(metrics, quality=_quality(model, make_cache, req.quality, req, ref, ids, config,
                                                        device, writer, metrics))
            writer.write_metrics(metrics)
        if req.python_profile:
            progress.stage("python profile: one request under pyinstrument")
            _python_profile(model, prompts[req.workload.warmup], req, make_cache, device, writer)
        _profiled_pass(model, prompts, req, make_cache, device, writer, metrics)
    progress.stage(f"done in {progress.elapsed():.1f} s")
    return req.out


def _graphs() -> int:
    from kernelscope.tracers.compiled import graphs_compiled

    return graphs_compiled()


def _compile(model: Any, sites: dict[str, SiteEntry], req: CaptureRequest, prompt: Any, make_cache: Any,
             device: str) -> tuple[dict[str, SiteEntry], Any]:
    """The Linears' call order from one eager forward, then the forward compiled and run once (timed apart)."""
    from kernelscope.tracers.compiled import CompileClock, check_mode, compile_forward, linear_call_order
    from kernelscope.tracers.generate import inference_context, run_request

    mode = req.compile_mode or "default"
    check_mode(mode, device)
    with inference_context(_needs_grad_mode(req.recipe)):
        order = linear_call_order(model, lambda: run_request(model, prompt, req.workload, make_cache, -300, device,
                                                              max_steps=0))
        compile_forward(model, mode, device)
        req.progress.stage(f"compiling: torch.compile mode {mode} (Inductor), the first request (not timed)")
        clock = CompileClock(mode)
        clock.first_run(lambda: run_request(model, prompt, req.workload, make_cache, -301, device))
    req.progress.note(f"compiled {clock.graphs} graph(s) in {clock.seconds:.1f} s")
    return {name: replace(entry, order=order.get(name)) for name, entry in sites.items()}, clock


def _quality(model: Any, make_cache: Any, spec: QualitySpec, req: CaptureRequest, ref: Any, ids: list[int],
             config: Config, device: str, writer: RunWriter, timed: Metrics) -> Quality:
    from kernelscope.tracers import loading, quality
    from kernelscope.tracers.generate import inference_context
    from kernelscope.tracers.quantize import TORCH_DTYPES

    progress = req.progress
    started = time.perf_counter()
    windows = quality.eval_windows(ids, spec)
    one_pass = req.recipe.scores_in_one_pass
    scored = sum(len(w) - len(w) // 2 for w in windows)
    batched = "" if one_pass or not req.recipe.scores_in_batches else f", {quality.STEPWISE_BATCH} windows at a time"
    how = "one forward per window" if one_pass else f"token by token through the configuration's KV cache{batched}"
    progress.stage(f"quality: {len(windows)} windows of {spec.context} tokens ({scored} scored), {how}")
    batch = 1 if one_pass or not req.recipe.scores_in_batches else quality.STEPWISE_BATCH
    estimate = _quality_estimate(timed, windows, one_pass, batch)
    if estimate is not None:
        progress.note(f"estimated {estimate:.1f} s from the timing pass (baseline not included)")

    parent = ref if req.baseline_model is None else loading.resolve_model(req.baseline_model, req.trust_remote_code)

    def load_baseline() -> Any:
        progress.note(f"baseline {spec.baseline}: not cached, loading and scoring it (cached for next time)")
        return loading.load_model(parent, TORCH_DTYPES[spec.baseline], device, {})

    eval_sha = config.eval_set.sha256 if config.eval_set is not None else ""
    base, outliers, cached = quality.baseline(load_baseline, config.model.hash, eval_sha, spec, windows, device,
                                              lambda i, n: progress.count(i, n, "baseline window"))
    gc.collect()
    with inference_context(_needs_grad_mode(req.recipe)):
        result = quality.quality_pass(model, make_cache, device, windows, base, spec, cached, outliers, writer.path,
                                      one_pass, lambda i, n: progress.count(i, n, "quality window"), batch)
    seconds = time.perf_counter() - started
    progress.note(f"quality took {seconds:.1f} s")
    return replace(result, seconds=seconds)


def _quality_estimate(timed: Metrics, windows: list[list[int]], one_pass: bool, batch: int = 1) -> float | None:
    """Seconds the quality pass should take, from the timing pass's prefill rate and decode step time (a
    step of `batch` windows taken as 1.5 steps of one: a small model's step is mostly fixed cost)."""
    ttft, tpot, prefill_rate = timed.ttft_ms, timed.tpot_ms, timed.tokens_per_s.prefill if timed.tokens_per_s else None
    if ttft is None or tpot is None or not prefill_rate or tpot.mean is None:
        return None
    total = 0.0
    for window in windows:
        half = len(window) // 2
        decoded = (len(window) - half) * tpot.mean / 1000 * (1.5 / batch if batch > 1 else 1.0)
        total += len(window) / prefill_rate if one_pass else half / prefill_rate + decoded
    return total


PYTHON_PROFILE = "python-profile.html"


def _python_profile(model: Any, prompt: Any, req: CaptureRequest, make_cache: Any, device: str,
                    writer: RunWriter) -> None:
    """One request under pyinstrument: where the host-side Python of a quantized forward goes (the
    wrappers, unpacking code and dispatch that sit between the kernels)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise KernelscopeError("--python-profile needs pyinstrument: pip install pyinstrument") from None
    from kernelscope.runs.atomic import atomic_write_bytes
    from kernelscope.tracers.generate import inference_context, run_request

    profiler = Profiler(interval=0.0005)
    with inference_context(_needs_grad_mode(req.recipe)):
        profiler.start()
        run_request(model, prompt, req.workload, make_cache, -200, device)
        profiler.stop()
    atomic_write_bytes(writer.path / PYTHON_PROFILE, profiler.output_html().encode())
    writer.update(extras={**writer.manifest.extras, "python_profile": PYTHON_PROFILE})


def timing_pass(model: Any, prompts: list[Any], req: CaptureRequest, make_cache: Any, device: str,
                 sampler: Any) -> Metrics:
    from kernelscope.report.metrics import latency_metrics
    from kernelscope.tracers.generate import run_request
    from kernelscope.tracers.machine import watch_load

    observer = SamplerPhases(sampler)
    warm = req.workload.warmup
    progress = req.progress
    started = time.perf_counter()
    if warm:
        progress.stage(f"warm-up: {warm} request(s), discarded")
    for i in range(warm):
        run_request(model, prompts[i], req.workload, make_cache, -1 - i, device, observer)
        progress.count(i + 1, warm, "warm-up request")
    gc.collect()
    records = []
    n = req.workload.requests
    progress.stage(f"timing: {n} request(s) of {req.workload.gen_len} tokens, no profiler")
    with watch_load() as load:
        for i in range(n):
            timing = run_request(model, prompts[warm + i], req.workload, make_cache, i, device, observer)
            records.append(timing)
            gc.collect()
            progress.count(i + 1, n, "timing request")
    sampler.set_phase("load")
    clock = "CUDA events" if device == "cuda" else "time.perf_counter (synchronous CPU)"
    return replace(latency_metrics(records), timing=Timing(requests=records, warmup_discarded=warm, clock=clock,
                                                           wall_s=time.perf_counter() - started, machine=load.result))


def weights_block(model: Any, sites: dict[str, SiteEntry]) -> Weights:
    from kernelscope.tracers.quantize import model_bytes

    linear = [s for s in sites.values() if s.kind is SiteKind.LINEAR]
    return Weights(model_bytes=model_bytes(model), linear_bytes=sum(s.stored_bytes or 0 for s in linear),
                   quantized_linear_bytes=sum(s.stored_bytes or 0 for s in linear if s.quantized),
                   what="bytes of weights as stored, scales, zero points and packing included")


def _kv_block(model: Any, prompt: Any, req: CaptureRequest, make_cache: Any, device: str) -> KVCacheSize:
    """KV bytes per token, measured from the cache tensors after one prefill + decode."""
    import torch

    from kernelscope.tracers.generate import run_request
    from kernelscope.tracers.quantize import tensor_bytes

    holder: dict[str, Any] = {}

    def factory() -> Any:
        holder["cache"] = make_cache()
        return holder["cache"]

    timing = run_request(model, prompt, req.workload, factory, -100, device)
    cache = holder["cache"]
    total = 0
    for value in _walk_tensors(cache):
        total += tensor_bytes(value) if isinstance(value, torch.Tensor) else 0
    tokens = timing.batch * (timing.prompt_len + timing.n_out - 1)
    return KVCacheSize(bytes=total, tokens=tokens, bytes_per_token=total / tokens if tokens else None,
                       what="all tensors held by the KV cache after prefill + decode, divided by the cached tokens")


def _walk_tensors(obj: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[Any]:
    import torch

    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk_tensors(v, depth + 1, seen)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _walk_tensors(v, depth + 1, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for v in vars(obj).values():
            yield from _walk_tensors(v, depth + 1, seen)


def _profiled_pass(model: Any, prompts: list[Any], req: CaptureRequest, make_cache: Any, device: str,
                   writer: RunWriter, metrics: Metrics) -> None:
    from torch.autograd.profiler import record_function

    from kernelscope.classify.pipeline import classify_trace
    from kernelscope.classify.ranges import clock_offset_us, clock_range
    from kernelscope.trace.reader import load_trace
    from kernelscope.tracers.generate import inference_context, run_request
    from kernelscope.tracers.memory import MemorySampler
    from kernelscope.tracers.profiling import ModuleRanges, PhaseRanges, export_trace, marked_cache_factory, profiler
    from kernelscope.vocabulary import Device

    warm = req.workload.warmup
    n = min(req.profile_requests, req.workload.requests)
    req.progress.stage(f"profiling: {n} request(s) under torch.profiler, up to {req.profile_steps} decode steps each")
    ranges = ModuleRanges(model, enabled=req.compile_mode is None)  # hooks would break a compiled graph
    marked_cache = marked_cache_factory(make_cache)
    sampler = MemorySampler(device, interval_s=0.005, record=True)
    try:
        with tempfile.TemporaryDirectory(prefix="kernelscope-") as tmp:
            trace_file = Path(tmp) / "trace.json"
            started = time.perf_counter()
            with inference_context(_needs_grad_mode(req.recipe)), profiler(device, n) as prof, sampler:
                for i in range(-1, n):  # request -1: the profiler's warm-up, not recorded
                    if i >= 0:
                        with record_function(clock_range(time.perf_counter_ns())):
                            pass
                    run_request(model, prompts[warm + max(i, 0)], req.workload, marked_cache, i, device,
                                PhaseRanges(), max_steps=req.profile_steps)
                    prof.step()
            profiled_wall = time.perf_counter() - started
            req.progress.stage("exporting the trace")
            export_trace(prof, trace_file)
            del prof
            gc.collect()
            writer.write_trace(trace_file)
            hooks = HooksOverhead(
                calls=ranges.cost.calls, seconds=ranges.cost.seconds,
                share_of_profiled_wall=ranges.cost.seconds / profiled_wall if profiled_wall > 0 else None,
                what="time spent inside kernelscope's module-range hooks during the profiled pass")
            trace = load_trace(trace_file, split=False)  # no fork from a process holding CUDA
            offset = clock_offset_us(trace.ranges.names.to_list(), trace.ranges.ts.tolist())
            metrics = replace(metrics, hooks_overhead=hooks,
                              profiled=Profiled(requests=n, max_decode_steps=req.profile_steps, wall_s=profiled_wall),
                              memory_samples=sampler.timeline(offset) if offset is not None else None)
            writer.write_metrics(metrics)
            req.progress.stage(f"classifying {len(trace.kernels) + len(trace.ops)} kernels and ops")
            classified = classify_trace(trace, specs=site_specs(writer.manifest.sites),
                                        model_device=Device.GPU if device == "cuda" else Device.CPU)
    finally:
        ranges.remove()
    writer.update(attribution=attribution_of(classified))
    writer.write_table(classified.table)
    writer.finish()


def run_config(req: CaptureRequest, ref: Any, model_hash: str, model: Any, tokenizer: Any, ids: list[int],
            eval_path: str, device: str, hw: Hardware, versions: dict[str, str]) -> Config:
    from kernelscope.tracers.quantize import logical_parameters

    recipe = req.recipe
    eval_bytes = Path(eval_path).read_bytes()
    return Config(
        model=ModelInfo(name=ref.name, path=ref.path, hash=model_hash,
                        architecture=list(getattr(model.config, "architectures", None) or []),
                        parameters=logical_parameters(model),
                        max_positions=getattr(model.config, "max_position_embeddings", None)),
        tokenizer=TokenizerInfo(name=ref.name, class_name=type(tokenizer).__name__, vocab_size=len(tokenizer)),
        eval_set=EvalSet(path=eval_path, tokens=len(ids), sha256=hashlib.sha256(eval_bytes).hexdigest()),
        quant=recipe.quant,
        dtype=recipe.dtype,
        backend=recipe.weight.backend if recipe.weight else None,
        kv_backend=recipe.kv.backend if recipe.kv else None,
        quantized=recipe.quantized_parts(),
        recipe=RecipeInfo(weights=recipe.weight_how or None, group_size=recipe.group_size,
                          kv_cache=recipe.kv.how if recipe.kv else None,
                          calibration=recipe.weight.calibration if recipe.weight else "none"),
        workload=req.workload.info(),
        engine=Engine(name="kernelscope eager loop (transformers)",
                      compile=f"inductor {req.compile_mode}" if req.compile_mode else "",
                      attention=str(getattr(model.config, "_attn_implementation", "")),
                      inference_mode=not _needs_grad_mode(recipe), module_mode="train" if req.train_mode else "eval"),
        device=device,
        hardware=hw,
        versions=versions,
        profiling=Profiling(requests=req.profile_requests, max_decode_steps=req.profile_steps, record_shapes=True,
                            with_stack=False),
    )
