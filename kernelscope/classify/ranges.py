"""Names of the ranges kernelscope's capture emits, and their parsers.

The capture side (tracers/) writes them with torch.profiler record_function; the analysis side
reads them back from the trace's user_annotation events. Keeping both in one module keeps them in
step.

    ks/prefill/r3            request 3's prefill forward
    ks/decode/r3/s7          request 3's decode step 7 (the forward that produces token 8)
    ks/module/model.layers.0.self_attn.q_proj
    ks/kv/quantize, ks/kv/dequantize   around a quantized KV cache's own quantize / dequantize calls
                                       (HQQ and quanto do that work in anonymous tensor ops)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kernelscope.vocabulary import Phase

PREFIX = "ks/"
MODULE_PREFIX = "ks/module/"
MARK_PREFIX = "ks/kv/"
CLOCK_PREFIX = "ks/clock/"  # ks/clock/<time.perf_counter_ns()>: ties the host clock to the trace clock
KV_QUANTIZE = "ks/kv/quantize"
KV_DEQUANTIZE = "ks/kv/dequantize"

_STEP = re.compile(r"^ks/(prefill|decode)/r(\d+)(?:/s(\d+))?$")


def prefill_range(request: int) -> str:
    return f"ks/prefill/r{request}"


def decode_range(request: int, step: int) -> str:
    return f"ks/decode/r{request}/s{step}"


def module_range(path: str) -> str:
    return MODULE_PREFIX + path


def clock_range(perf_counter_ns: int) -> str:
    return f"{CLOCK_PREFIX}{perf_counter_ns}"


def clock_offset_us(names: list[str], trace_ts_us: list[float]) -> float | None:
    """trace time - perf_counter time (us), from the ks/clock ranges of a trace (their mean)."""
    offsets = [ts - int(name[len(CLOCK_PREFIX):]) / 1000.0 for name, ts in zip(names, trace_ts_us, strict=True)
               if name.startswith(CLOCK_PREFIX) and name[len(CLOCK_PREFIX):].isdigit()]
    return sum(offsets) / len(offsets) if offsets else None


@dataclass(frozen=True)
class StepLabel:
    phase: Phase
    request: int
    step: int  # -1 for prefill and for steps whose index is unknown


def parse_step(name: str) -> StepLabel | None:
    m = _STEP.match(name)
    if m is None:
        return None
    phase = Phase.PREFILL if m.group(1) == "prefill" else Phase.DECODE
    step = int(m.group(3)) if m.group(3) is not None else -1
    return StepLabel(phase, int(m.group(2)), step)


def parse_module(name: str) -> str | None:
    return name[len(MODULE_PREFIX) :] if name.startswith(MODULE_PREFIX) else None
