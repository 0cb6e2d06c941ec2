"""A capture session around the user's own loop: `with session(model, out=...) as s:` and, inside it,
`with s.prefill(request=i):` / `with s.decode(request=i, step=j):` around the user's forwards. It writes a
run like `kernelscope profile` does (manifest, metrics, raw trace, classified table), so that `summary`,
`tui`, `export` and `compare` read it like any other.

- timings: each region timed with CUDA events on a GPU, a monotonic clock on the CPU (the region's end
  is where the user's code hands back: synchronise inside it if the loop does not already);
- profile=True (default): torch.profiler over the whole session, ks/prefill and ks/decode ranges around the
  regions and ks/module ranges from hooks on the model given, then the same classification as `profile`;
  profile=False: timings and memory only (no profiler overhead in the figures), a run without a table;
- memory: RSS (and NVML / the CUDA allocator on a GPU) sampled through the session, by phase;
- sites: every Linear of the model as its module says it is stored (tracers/detect.py); a quantized KV
  cache is the caller's and is named with `kv_cache="int4 KV ..."`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from msgspec.structs import replace

from kernelscope.errors import KernelscopeError
from kernelscope.runs.documents import (
    Config,
    Engine,
    HooksOverhead,
    ModelInfo,
    Profiled,
    Profiling,
    PromptLen,
    QuantizedParts,
    RecipeInfo,
    RequestTiming,
    Timing,
    WorkloadInfo,
)
from kernelscope.runs.store import KERNELS, METRICS, TRACE, RunWriter, site_specs
from kernelscope.tracers import detect


@dataclass
class _Request:
    prompt_len: int = 0
    batch: int = 1
    prefill: list[int] = field(default_factory=list)  # region indices
    decode: list[int] = field(default_factory=list)


class Session:
    """Regions of the user's loop, timed (and profiled); the run is written when the session ends."""

    def __init__(self, model: torch.nn.Module, out: Path, label: str, device: str, profile: bool,
                 kv_cache: str) -> None:
        from kernelscope.tracers.memory import MemorySampler

        self.model, self.out, self.label, self.device, self.profiled = model, out, label, device, profile
        self.sites = detect.stock(model, kv_cache)
        self.writer = RunWriter(out, self._config(kv_cache), self.sites)
        self.writer.update(missing=[METRICS, KERNELS, TRACE] if profile else [METRICS])
        self.sampler = MemorySampler(device, interval_s=0.005, record=profile)
        self.requests: dict[int, _Request] = {}
        self._spans: list[tuple[Any, Any]] = []
        self._open = False

    @contextlib.contextmanager
    def prefill(self, request: int = 0, tokens: int | None = None, batch: int = 1) -> Iterator[None]:
        """The prefill of one request: `tokens` prompt tokens per sequence, `batch` sequences."""
        entry = self.requests.setdefault(request, _Request())
        entry.prompt_len, entry.batch = tokens or entry.prompt_len, batch
        with self._region("prefill", request, -1) as index:
            entry.prefill.append(index)
            yield

    @contextlib.contextmanager
    def decode(self, request: int = 0, step: int = 0) -> Iterator[None]:
        """One decode step (one new token per sequence) of one request."""
        if request not in self.requests:
            raise KernelscopeError(f"session: decode of request {request} before its prefill")
        with self._region("decode", request, step) as index:
            self.requests[request].decode.append(index)
            yield

    @contextlib.contextmanager
    def _region(self, kind: str, request: int, step: int) -> Iterator[int]:
        from torch.autograd.profiler import record_function

        from kernelscope.classify.ranges import decode_range, prefill_range

        if self._open:
            raise KernelscopeError("session: prefill / decode regions do not nest")
        self._open = True
        self.sampler.set_phase(kind)
        label = prefill_range(request) if kind == "prefill" else decode_range(request, step)
        ranged = record_function(label) if self.profiled else contextlib.nullcontext()
        try:
            with ranged:
                start = self._mark()
                yield len(self._spans)
                self._spans.append((start, self._mark()))
        finally:
            self._open = False
            self.sampler.set_phase("load")

    def _mark(self) -> Any:
        if self.device == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def seconds(self) -> list[float]:
        if self.device == "cuda":
            torch.cuda.synchronize()
            return [a.elapsed_time(b) / 1000.0 for a, b in self._spans]
        return [b - a for a, b in self._spans]

    def timings(self) -> list[RequestTiming]:
        spans = self.seconds()
        out = []
        for request, entry in sorted(self.requests.items()):
            if not entry.prefill:
                continue
            ttft = sum(spans[i] for i in entry.prefill)
            steps = [spans[i] for i in entry.decode]
            out.append(RequestTiming(request=request, prompt_len=entry.prompt_len, batch=entry.batch, ttft_s=ttft,
                                     decode_step_s=steps, e2e_s=ttft + sum(steps), n_out=1 + len(steps)))
        return out

    def _config(self, kv_cache: str) -> Config:
        from kernelscope.tracers.env import hardware, library_versions
        from kernelscope.tracers.quantize import logical_parameters

        mode, backend, weights, acts = detect.summary(self.model)
        dtype = detect.model_dtype(self.model)
        cfg = getattr(self.model, "config", None)
        name = self.label or str(getattr(cfg, "_name_or_path", "") or type(self.model).__name__)
        quant = "+".join(p for p in (mode or dtype, "kv" if kv_cache else "") if p)
        return Config(
            model=ModelInfo(name=name, path=str(getattr(cfg, "_name_or_path", "") or ""),
                            architecture=list(getattr(cfg, "architectures", None) or [type(self.model).__name__]),
                            parameters=logical_parameters(self.model),
                            max_positions=getattr(cfg, "max_position_embeddings", None)),
            quant=quant, dtype=dtype, backend=backend or None, kv_backend="user" if kv_cache else None,
            quantized=QuantizedParts(weights=weights, activations=acts, kv_cache=kv_cache),
            recipe=RecipeInfo(weights=f"as given to session() ({backend})" if backend else None,
                              kv_cache=kv_cache or None, calibration="unknown (the user's model)"),
            engine=Engine(name=f"user loop: {self.label}" if self.label else "user loop (kernelscope session)",
                          attention=str(getattr(cfg, "_attn_implementation", "") or ""),
                          inference_mode=torch.is_inference_mode_enabled(),
                          module_mode="train" if self.model.training else "eval"),
            device=self.device, hardware=hardware(self.device), versions=library_versions(),
            profiling=Profiling(requests=0, max_decode_steps=0, record_shapes=True, with_stack=False)
            if self.profiled else None)

    def workload(self) -> WorkloadInfo:
        lengths = [r.prompt_len for r in self.requests.values()]
        steps = [len(r.decode) for r in self.requests.values()]
        return WorkloadInfo(prompt_len=PromptLen(min=min(lengths), max=max(lengths),
                                                 distribution="the user's") if lengths else None,
                            gen_len=max(steps) + 1 if steps else None,
                            batch=max((r.batch for r in self.requests.values()), default=None),
                            requests=len(self.requests), warmup=0)


@contextlib.contextmanager
def session(model: torch.nn.Module, out: str | Path, label: str = "", profile: bool = True,
            device: str | None = None, kv_cache: str = "") -> Iterator[Session]:
    """Capture the user's own loop into a kernelscope run at `out` (see the module's docstring)."""
    chosen = device or next((p.device.type for p in model.parameters()), "cpu")
    s = Session(model, Path(out), label, "cuda" if chosen == "cuda" else "cpu", profile, kv_cache)
    with contextlib.ExitStack() as stack:
        stack.enter_context(s.sampler)
        prof = stack.enter_context(_profiled(s)) if profile else None
        started = time.perf_counter()
        try:
            yield s
        except BaseException as exc:
            s.writer.fail(f"the session's block raised {type(exc).__name__}: {exc}"[:300])
            raise
        wall = time.perf_counter() - started
    _write(s, prof, wall)


@contextlib.contextmanager
def _profiled(s: Session) -> Iterator[Any]:
    from kernelscope.tracers.profiling import ModuleRanges, kineto_banner_filtered

    activities = [torch.profiler.ProfilerActivity.CPU]
    if s.device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    ranges = ModuleRanges(s.model)
    prof = torch.profiler.profile(activities=activities, record_shapes=True, with_stack=False)
    with kineto_banner_filtered():
        prof.start()
    try:
        yield (prof, ranges)
    finally:
        with kineto_banner_filtered():
            prof.stop()
        ranges.remove()


def _write(s: Session, prof: Any, wall: float) -> None:
    import tempfile

    from kernelscope.classify.pipeline import classify_trace
    from kernelscope.report.metrics import latency_metrics
    from kernelscope.runs.ingest import attribution_of
    from kernelscope.trace.reader import load_trace
    from kernelscope.tracers.capture import weights_block
    from kernelscope.vocabulary import Device

    records = s.timings()
    if not records:
        s.writer.fail("the session timed no prefill: nothing to report")
        raise KernelscopeError(f"session: no prefill region was timed; the incomplete run is at {s.out}")
    clock = "CUDA events" if s.device == "cuda" else "time.perf_counter"
    clock += " (under torch.profiler)" if s.profiled else " (no profiler)"
    metrics = replace(latency_metrics(records), timing=Timing(requests=records, clock=clock),
                      weights=weights_block(s.model, s.sites), peak_memory=s.sampler.report())
    s.writer.update(config=replace(s.writer.manifest.config, workload=s.workload()))
    if prof is not None:  # what the profiled session cost, as a profile run's profiled pass says
        cost = prof[1].cost
        metrics = replace(metrics, profiled=Profiled(requests=len(records), wall_s=wall, max_decode_steps=max(
            len(r.decode_step_s) for r in records)), hooks_overhead=HooksOverhead(
            calls=cost.calls, seconds=cost.seconds, share_of_profiled_wall=cost.seconds / wall if wall > 0 else None,
            what="time spent inside kernelscope's module-range hooks during the session"))
    s.writer.write_metrics(metrics)
    if prof is not None:
        with tempfile.TemporaryDirectory(prefix="kernelscope-") as tmp:
            trace_file = Path(tmp) / "trace.json"
            prof[0].export_chrome_trace(str(trace_file))
            s.writer.write_trace(trace_file)
            classified = classify_trace(load_trace(trace_file, split=False), specs=site_specs(s.sites),
                                        model_device=Device.GPU if s.device == "cuda" else Device.CPU)
        s.writer.update(attribution=attribution_of(classified))
        s.writer.write_table(classified.table)
    s.writer.finish()
