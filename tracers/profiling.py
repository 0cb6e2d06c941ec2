"""The profiled pass: torch.profiler around a bounded number of requests, with kernelscope's
annotations (phase ranges, and module ranges from forward hooks) so that every op and kernel can be
attributed to (phase, module) without with_stack.

The hooks' own time is measured with a monotonic clock inside the hooks and reported.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.autograd.profiler import record_function

from kernelscope.classify.ranges import KV_DEQUANTIZE, KV_QUANTIZE, decode_range, module_range, prefill_range


@dataclass
class HookCost:
    calls: int = 0
    seconds: float = 0.0


class ModuleRanges:
    """Forward pre/post hooks that open and close a profiler range named ks/module/<path>."""

    def __init__(self, model: torch.nn.Module, enabled: bool = True) -> None:
        self.cost = HookCost()
        self._handles: list[Any] = []
        self._open: dict[int, list[record_function]] = {}
        for name, mod in model.named_modules() if enabled else ():
            if not name:
                continue
            label = module_range(name)
            self._handles.append(mod.register_forward_pre_hook(self._pre(label), with_kwargs=False))
            self._handles.append(mod.register_forward_hook(self._post(), always_call=True))

    def _pre(self, label: str) -> Any:
        def hook(mod: torch.nn.Module, args: Any) -> None:
            t0 = time.perf_counter()
            rf = record_function(label)
            rf.__enter__()
            self._open.setdefault(id(mod), []).append(rf)
            self.cost.calls += 1
            self.cost.seconds += time.perf_counter() - t0

        return hook

    def _post(self) -> Any:
        def hook(mod: torch.nn.Module, args: Any, output: Any) -> None:
            t0 = time.perf_counter()
            stack = self._open.get(id(mod))
            if stack:
                stack.pop().__exit__(None, None, None)
            self.cost.calls += 1
            self.cost.seconds += time.perf_counter() - t0

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


class PhaseRanges:
    """The PhaseObserver of the profiled pass: a ks/prefill or ks/decode range around each phase."""

    @contextlib.contextmanager
    def phase(self, kind: str, request: int, step: int) -> Iterator[None]:
        label = prefill_range(request) if kind == "prefill" else decode_range(request, step)
        with record_function(label):
            yield


def marked_cache_factory(make_cache: Callable[[], Any]) -> Callable[[], Any]:
    """Wrap a quantized KV cache's per-layer _quantize / _dequantize in ks/kv/* ranges: HQQ and quanto
    do that work in anonymous tensor ops, which nothing else would tie to the cache."""

    def make() -> Any:
        cache = make_cache()
        for layer in getattr(cache, "layers", []):
            for method, label in (("_quantize", KV_QUANTIZE), ("_dequantize", KV_DEQUANTIZE)):
                fn = getattr(layer, method, None)
                if fn is not None:
                    setattr(layer, method, _in_range(fn, label))
        return cache

    return make


def _in_range(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return fn(*args, **kwargs)

    return wrapped


@contextlib.contextmanager
def profiler(device: str, active_requests: int) -> Iterator[Any]:
    """torch.profiler with one warm-up request before the recorded ones: the first profiled
    request pays the profiler's own start-up costs; call prof.step() after each request."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    gc.collect()  # uncollected results of an earlier profile slow the next one down several-fold
    schedule = torch.profiler.schedule(wait=0, warmup=1, active=active_requests, repeat=1)
    prof = torch.profiler.profile(activities=activities, schedule=schedule, record_shapes=True, with_stack=False,
                                  profile_memory=False)
    with kineto_banner_filtered():
        prof.start()
    try:
        yield QuietProfiler(prof)
    finally:
        with kineto_banner_filtered():
            prof.stop()


class QuietProfiler:
    """The profiler handle the capture uses: step() and export without Kineto's stderr banners."""

    def __init__(self, prof: Any) -> None:
        self.prof = prof

    def step(self) -> None:
        with kineto_banner_filtered():
            self.prof.step()


_KINETO_BANNERS = ("USDT:", "STAGE:")


@contextlib.contextmanager
def kineto_banner_filtered() -> Iterator[None]:
    """Kineto's C++ side writes 'USDT: ... profiler_start' banners straight to fd 2 whatever its log
    level; hold stderr while the profiler starts or stops and pass on every other line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode(errors="replace").splitlines():
                if not line.startswith(_KINETO_BANNERS):
                    print(line, file=sys.stderr)


def export_trace(prof: QuietProfiler, path: Path) -> None:
    prof.prof.export_chrome_trace(str(path))
