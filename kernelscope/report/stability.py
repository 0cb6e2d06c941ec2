"""Are a run's timings to be trusted? The spread of its own measurements (as pyperf judges a benchmark:
a standard deviation over 10% of the mean is unstable) and what the machine was doing meanwhile (load
above the CPUs it may use, CPU steal). The summary and `compare` warn when a run is unstable."""

from __future__ import annotations

import statistics

from kernelscope.report.documents import Stability
from kernelscope.runs.documents import Metrics, RequestTiming

MAX_CV = 0.10  # pyperf: "the standard deviation is greater than 10% of the mean"
MAX_TAIL = 2.0  # the slowest decode steps (p99) at more than twice the median
MAX_STEAL = 0.05


def timing_stability(metrics: Metrics) -> Stability | None:
    timing = metrics.timing
    if timing is None or not timing.requests:
        return None
    reasons: list[str] = []
    cv = _tpot_spread(timing.requests)
    if cv is not None and cv > MAX_CV:
        reasons.append(f"TPOT varies {cv * 100:.0f}% between requests (more than {MAX_CV * 100:.0f}% is unstable)")
    steps = sorted(s for r in timing.requests for s in r.decode_step_s)
    tail = None
    if len(steps) >= 10 and steps[len(steps) // 2] > 0:
        tail = steps[min(len(steps) - 1, int(0.99 * len(steps)))] / steps[len(steps) // 2]
        if tail > MAX_TAIL:
            reasons.append(f"the slowest decode steps take {tail:.1f}x the median")
    machine = timing.machine
    if machine is not None:
        loads = [v for v in (machine.load_1m_before, machine.load_1m_after) if v is not None]
        if machine.cpus and loads and max(loads) > machine.cpus:
            reasons.append(f"load average {max(loads):.1f} on {machine.cpus} CPU(s): other work competed")
        if machine.steal_share is not None and machine.steal_share > MAX_STEAL:
            reasons.append(f"CPU steal {machine.steal_share * 100:.0f}% (the hypervisor took the time)")
    return Stability(unstable=bool(reasons), reasons=reasons, tpot_cv=cv, decode_tail_ratio=tail)


def _tpot_spread(requests: list[RequestTiming]) -> float | None:
    """Standard deviation / mean of TPOT over requests of the same prompt length (a longer prompt makes every
    decode step slower: that is the workload, not noise); the largest over the lengths seen twice or more."""
    by_length: dict[tuple[int, int], list[float]] = {}
    for r in requests:
        if r.decode_step_s:
            by_length.setdefault((r.prompt_len, r.batch), []).append(sum(r.decode_step_s) / len(r.decode_step_s))
    spreads = [statistics.stdev(v) / statistics.mean(v) for v in by_length.values()
               if len(v) >= 2 and statistics.mean(v) > 0]
    return max(spreads) if spreads else None
