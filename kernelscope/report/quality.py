"""Quality against a baseline, teacher-forced over the same token stream (as llama.cpp's
`perplexity --kl-divergence` reports it), computed from per-token arrays:

    kld[i]          KL(base || quantized) of the next-token distributions at scored position i
    same_top1[i]    whether both models' most likely next token agree
    logp_base[i]    log p_base(correct next token)
    logp_q[i]       log p_quantized(correct next token)
    position[i]     the token's position in its window (later = further into a long output)

Standard errors: of a mean, sample std / sqrt(n); of a proportion p, sqrt(p (1 - p) / (n - 1)).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

from kernelscope.report.metrics import percentile
from kernelscope.runs.documents import PositionBucket, Quality

F = npt.NDArray[np.float64]


def _se(values: F) -> float:
    n = len(values)
    return float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def kld_from_logprobs(base: npt.NDArray[np.floating], quant: npt.NDArray[np.floating]) -> F:
    """Per-row KL(base || quant) from two [n, vocab] arrays of log-probabilities: element-wise in the
    inputs' dtype (no float64 copy of a large vocabulary), summed in float64."""
    b, q = np.asarray(base), np.asarray(quant)
    out: F = np.sum(np.exp(b) * (b - q), axis=-1, dtype=np.float64)
    return out


def quality_stats(kld: F, same_top1: npt.NDArray[np.bool_], logp_base: F, logp_q: F, position: npt.NDArray[np.integer],
                  buckets: int = 8) -> Quality:
    kld = np.maximum(np.asarray(kld, dtype=np.float64), 0.0)
    same = np.asarray(same_top1, dtype=np.float64)
    lb = np.asarray(logp_base, dtype=np.float64)
    lq = np.asarray(logp_q, dtype=np.float64)
    n = len(kld)
    if n == 0:
        return Quality(tokens=0)
    p_same = float(same.mean())
    delta_p = np.exp(lq) - np.exp(lb)
    ppl_q, ppl_base = math.exp(-lq.mean()), math.exp(-lb.mean())
    return Quality(
        tokens=n,
        kld_mean=float(kld.mean()),
        kld_mean_se=_se(kld),
        kld_median=percentile(kld, 50),
        kld_p90=percentile(kld, 90),
        kld_p99=percentile(kld, 99),
        kld_max=float(kld.max()),
        same_top1=p_same,
        same_top1_se=math.sqrt(p_same * (1 - p_same) / (n - 1)) if n > 1 else 0.0,
        ppl_q=ppl_q,
        ppl_base=ppl_base,
        ppl_ratio=ppl_q / ppl_base,
        delta_p_mean=float(delta_p.mean()),
        delta_p_mean_se=_se(delta_p),
        by_position=by_position(kld, same, np.asarray(position), buckets),
        kld_slope_per_1k_tokens=kld_slope(kld, np.asarray(position)),
    )


def by_position(kld: F, same: F, position: npt.NDArray[np.integer], buckets: int) -> list[PositionBucket]:
    lo, hi = int(position.min()), int(position.max()) + 1
    edges = np.linspace(lo, hi, buckets + 1).round().astype(int)
    out = []
    for a, b in itertools.pairwise(edges.tolist()):
        mask = (position >= a) & (position < b)
        if mask.any():
            out.append(PositionBucket(start=int(a), end=int(b), tokens=int(mask.sum()),
                                      kld_mean=float(kld[mask].mean()), same_top1=float(same[mask].mean())))
    return out


def kld_slope(kld: F, position: npt.NDArray[np.integer]) -> float:
    """Least-squares slope of KLD against position, per 1000 tokens: > 0 means quality degrades
    further into the output."""
    x = position.astype(np.float64)
    if len(x) < 2 or float(np.ptp(x)) == 0.0:
        return 0.0
    slope = np.polyfit(x, np.asarray(kld, dtype=np.float64), 1)[0]
    return float(slope * 1000.0)
