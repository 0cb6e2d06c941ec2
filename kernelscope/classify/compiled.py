"""Modules for a compiled graph's kernels, as far as the graph allows.

Module hooks do not run inside a graph that torch.compile made: its kernels carry no module range. What
still ties a kernel to a Linear is its GEMM: each forward calls the Linears' GEMMs (an extern aten /
library call, or a GEMM template) in the order the eager model called the Linears, each with that Linear's
weight shape (N x K), though the graph may schedule independent GEMMs (q, k, v) in another order. So, within
each step of each request, in time order, each GEMM row takes the first still-unmatched Linear site (in
the call order recorded by one eager forward at capture, `SiteSpec.order`) that has its (N, K) and lies
within a window past the first unmatched one; a GEMM whose shape fits no such site stays unattributed.
Every other row of a compiled region (fused pointwise / reduction kernels, attention) keeps no module:
the attribution note says how much time that is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernelscope.classify.sites import SiteSpec
from kernelscope.trace.columns import Categorical
from kernelscope.vocabulary import SiteKind

WINDOW = 8  # how far past the first unmatched site a GEMM may land (a layer's Linears, scheduled in any order)


@dataclass(frozen=True)
class OrderAttribution:
    module: Categorical
    matched: int  # GEMM rows given a module
    unmatched: int  # GEMM rows whose shape fits no site near the pointer
    share: float  # of all row time, the share that now has a module


def ordered_linears(specs: Mapping[str, SiteSpec]) -> list[tuple[str, tuple[int, int]]]:
    found = [(s.order, name, s.weight_shape) for name, s in specs.items()
             if s.kind is SiteKind.LINEAR and s.order is not None and len(s.weight_shape) == 2]
    return [(name, (shape[0], shape[1])) for _, name, shape in sorted(found)]


def attribute_by_gemm_order(module: Categorical, gemm_nk: npt.NDArray[np.int64], carries: npt.NDArray[np.bool_],
                            request: npt.NDArray[np.int64], step: npt.NDArray[np.int64], ts: npt.NDArray[np.float64],
                            time: npt.NDArray[np.float64], specs: Mapping[str, SiteSpec]) -> OrderAttribution | None:
    """Modules for the GEMM rows of rows that have none (None: no ordered Linear sites, or rows already
    have modules from ranges)."""
    linears = ordered_linears(specs)
    has_module = module.codes != module.values.index("") if "" in module.values else np.ones(len(module.codes), bool)
    if not linears or has_module.any():
        return None
    names = [name for name, _ in linears]
    assigned = np.full(len(ts), -1, dtype=np.int64)
    gemms = np.flatnonzero(carries & (gemm_nk[:, 0] > 0))
    matched = unmatched = 0
    keys = request[gemms] * (1 << 32) + step[gemms]
    for key in np.unique(keys):
        rows = gemms[keys == key]
        free = list(range(len(linears)))  # unmatched sites, in call order
        for row in rows[np.argsort(ts[rows], kind="stable")]:
            shape = (int(gemm_nk[row, 0]), int(gemm_nk[row, 1]))
            limit = free[0] + WINDOW if free else -1
            hit = next((i for i in free if i <= limit and linears[i][1] == shape), None)
            if hit is None:
                unmatched += 1
                continue
            assigned[row] = hit
            free.remove(hit)
            matched += 1
    values = ["", *names]
    codes = (assigned + 1).astype(np.int32)
    total = float(time.sum())
    share = float(time[assigned >= 0].sum()) / total if total > 0 else 0.0
    return OrderAttribution(Categorical(codes, tuple(values)), matched, unmatched, share)
