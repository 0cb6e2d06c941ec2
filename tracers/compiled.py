"""`profile --compile`: the model's forward through torch.compile (Inductor), compiled and warmed up before
anything is timed, with what that cost (seconds, graphs) reported on its own.

Module hooks cannot run inside a compiled graph without breaking it, so a compiled run records instead
the order in which one eager forward first calls each Linear: classification matches the graph's GEMMs
to their Linears by that order and their weight shapes (kernelscope/classify/compiled.py). On a CPU,
Inductor is asked to put a profiler range around each C++ kernel it generates, so that they show in the
trace by name (cpp_fused_...).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from kernelscope.errors import KernelscopeError
from kernelscope.runs.documents import CompileInfo
from kernelscope.tracers.quantize import is_linear_like

MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead", "max-autotune")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


def check_mode(mode: str, device: str) -> None:
    if mode not in MODES:
        raise KernelscopeError(f"--compile-mode {mode}: one of {', '.join(MODES)}")
    if mode in CUDA_GRAPH_MODES and device != "cuda":
        raise KernelscopeError(f"--compile-mode {mode} captures CUDA graphs: it needs a GPU (on a CPU: default or "
                               "max-autotune-no-cudagraphs)")


def linear_call_order(model: torch.nn.Module, run_once: Callable[[], Any]) -> dict[str, int]:
    """The index at which each Linear-like module is first called in one eager forward."""
    order: dict[str, int] = {}
    handles = []
    for name, mod in model.named_modules():
        if name and is_linear_like(mod):
            def hook(_mod: Any, _args: Any, name: str = name) -> None:
                order.setdefault(name, len(order))
            handles.append(mod.register_forward_pre_hook(hook))
    try:
        run_once()
    finally:
        for h in handles:
            h.remove()
    return order


def compile_forward(model: torch.nn.Module, mode: str, device: str) -> None:
    """The model's forward replaced by its compiled version (compiled on its first call)."""
    import torch._inductor.config as inductor

    if device != "cuda":
        inductor.cpp.enable_kernel_profile = True  # each generated C++ kernel under a profiler range
    model.forward = torch.compile(model.forward, mode=None if mode == "default" else mode)  # type: ignore[method-assign]


def graphs_compiled() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


class CompileClock:
    """Compilation and warm-up, timed apart from everything measured later."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.seconds = 0.0
        self.graphs = 0
        self._start_graphs = graphs_compiled()

    def first_run(self, run: Callable[[], Any]) -> None:
        started = time.perf_counter()
        run()
        self.seconds = time.perf_counter() - started
        self.graphs = graphs_compiled() - self._start_graphs

    def info(self, timed_graphs: int) -> CompileInfo:
        return CompileInfo(mode=self.mode, seconds=self.seconds, graphs=self.graphs,
                           recompiled_while_timed=timed_graphs,
                           what="torch.compile (Inductor): compile + the first request, before warm-up and timing; "
                                "recompiled_while_timed counts graphs compiled during the timing pass (their cost "
                                "is then in the timings)")
