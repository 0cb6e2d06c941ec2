"""kernelscope's decode loop: one prefill forward, then one forward per new token, on a KV cache.

Written out (instead of calling generate()) so that each phase has an exact boundary for timing,
for profiler ranges and for memory sampling, and so that nothing else (logits processors, stopping
criteria, streamer threads) runs between the steps being measured.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch

from kernelscope.runs.documents import RequestTiming
from kernelscope.tracers.workload import Workload


class PhaseObserver(Protocol):
    def phase(self, kind: str, request: int, step: int) -> contextlib.AbstractContextManager[None]: ...


class NoObserver:
    def phase(self, kind: str, request: int, step: int) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class _Timer:
    """Wall time of each phase: CUDA events on a GPU, a synchronised monotonic clock on the CPU."""

    def __init__(self, device: str) -> None:
        self.cuda = device == "cuda"
        self._events: list[tuple[Any, Any]] = []
        self._cpu: list[float] = []
        self._start: Any = None

    def start(self) -> None:
        if self.cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._start.record()
        else:
            self._start = time.perf_counter()

    def stop(self) -> None:
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self._events.append((self._start, end))
        else:
            self._cpu.append(time.perf_counter() - self._start)

    def seconds(self) -> list[float]:
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) / 1000.0 for a, b in self._events]
        return list(self._cpu)


def _sampler(workload: Workload) -> Callable[[torch.Tensor], torch.Tensor]:
    if workload.temperature <= 0:
        return lambda logits: logits.argmax(dim=-1)
    gen = torch.Generator().manual_seed(workload.seed)

    def sample(logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.float() / workload.temperature, dim=-1)
        sorted_p, idx = probs.sort(dim=-1, descending=True)
        keep = sorted_p.cumsum(dim=-1) - sorted_p < workload.top_p
        sorted_p = sorted_p * keep
        choice = torch.multinomial(sorted_p.cpu(), 1, generator=gen).to(idx.device)
        return idx.gather(-1, choice).squeeze(-1)

    return sample


def run_request(
    model: torch.nn.Module,
    prompt: torch.Tensor,
    workload: Workload,
    make_cache: Callable[[], Any],
    request: int,
    device: str,
    observer: PhaseObserver | None = None,
    max_steps: int | None = None,
) -> RequestTiming:
    """Prefill the prompt, then decode gen_len - 1 steps (or max_steps). Returns the timings."""
    obs = observer or NoObserver()
    sample = _sampler(workload)
    ids = prompt.to(device)
    cache = make_cache()
    timer = _Timer(device)
    steps = workload.gen_len - 1 if max_steps is None else min(max_steps, workload.gen_len - 1)
    with obs.phase("prefill", request, -1):
        timer.start()
        out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        token = sample(out.logits[:, -1, :])
        _sync(device, token)
        timer.stop()
    for step in range(steps):
        with obs.phase("decode", request, step):
            timer.start()
            out = model(input_ids=token[:, None], past_key_values=cache, use_cache=True)
            token = sample(out.logits[:, -1, :])
            _sync(device, token)
            timer.stop()
    seconds = timer.seconds()
    return RequestTiming(request=request, prompt_len=int(prompt.shape[1]), batch=int(prompt.shape[0]),
                         ttft_s=seconds[0], decode_step_s=seconds[1:], e2e_s=sum(seconds), n_out=len(seconds))


def _sync(device: str, token: torch.Tensor) -> None:
    # The next step needs the token on the host side of the loop anyway; on a GPU this makes the
    # phase boundary real without a device-wide synchronise.
    if device == "cuda":
        token.to("cpu", non_blocking=False)


@contextlib.contextmanager
def inference_context(needs_grad_mode: bool) -> Iterator[None]:
    """torch.inference_mode, except for recipes that cannot run under it (quanto qint4 in fp32)."""
    ctx = torch.no_grad() if needs_grad_mode else torch.inference_mode()
    with ctx:
        yield
