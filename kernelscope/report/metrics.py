"""Latency and throughput metrics from the timing pass. Definitions (also in docs/metrics.md):

- TTFT: from the prefill call to the first token on the host (prefill forward + sampling).
- decode step latency (ITL): one decode forward + sampling, per step.
- TPOT, per request: (E2E - TTFT) / (n_out - 1), i.e. the mean decode step of that request.
- tokens/s decode: batch * (n_out - 1) / (E2E - TTFT), summed over requests;
  tokens/s end-to-end: batch * n_out / E2E, summed over requests.
- percentiles: linear interpolation between closest ranks (numpy 'linear', the R-7 definition).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from kernelscope.errors import BadInputError
from kernelscope.runs.documents import Metrics, RequestTiming, Stats, TokensPerS


def percentile(values: Sequence[float] | npt.NDArray[np.float64], q: float) -> float:
    if not len(values):
        raise ValueError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q, method="linear"))


def stats(values: Sequence[float], scale: float = 1.0) -> Stats:
    """mean, p50, p95, p99, min, max and n of values (multiplied by scale, e.g. 1000 for ms)."""
    if not len(values):
        return Stats(n=0)
    arr = np.asarray(values, dtype=np.float64) * scale
    return Stats(mean=float(arr.mean()), p50=percentile(arr, 50), p95=percentile(arr, 95), p99=percentile(arr, 99),
                 min=float(arr.min()), max=float(arr.max()), n=int(arr.size))


def latency_metrics(requests: Sequence[RequestTiming]) -> Metrics:
    """The latency/throughput fields of metrics.json from per-request timing records."""
    if not requests:
        raise BadInputError("no timed requests: nothing to compute metrics from")
    ttft = [r.ttft_s for r in requests]
    tpot = [(r.e2e_s - r.ttft_s) / (r.n_out - 1) for r in requests if r.n_out > 1]
    itl = [s for r in requests for s in r.decode_step_s]
    decode_time = sum(r.e2e_s - r.ttft_s for r in requests)
    decode_tokens = sum(r.batch * (r.n_out - 1) for r in requests)
    e2e_time = sum(r.e2e_s for r in requests)
    e2e_tokens = sum(r.batch * r.n_out for r in requests)
    prefill_tokens = sum(r.batch * r.prompt_len for r in requests)
    prefill_time = sum(ttft)
    return Metrics(
        ttft_ms=stats(ttft, 1000.0),
        tpot_ms=stats(tpot, 1000.0),
        itl_ms=stats(itl, 1000.0),
        e2e_ms=stats([r.e2e_s for r in requests], 1000.0),
        tokens_per_s=TokensPerS(
            decode=decode_tokens / decode_time if decode_time > 0 else None,
            end_to_end=e2e_tokens / e2e_time if e2e_time > 0 else None,
            prefill=prefill_tokens / prefill_time if prefill_time > 0 else None,
        ),
        requests=len(requests),
    )
