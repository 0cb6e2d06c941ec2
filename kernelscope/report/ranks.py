"""What the ranks of a distributed run say (a run with more than one rank: `profile --tp`, or `analyze` of
one job's per-rank traces). Per rank and phase: its time, its communication (collectives) and its compute
(the rest); across ranks: the imbalance (slowest / fastest compute time), the straggler (the slowest rank),
communication's share, and verdict agreement: a site whose path differs between ranks is listed (one rank
native, another dequantizing, means the ranks did not run the same code)."""

from __future__ import annotations

import numpy as np

from kernelscope.classify.table import KernelTable
from kernelscope.report.documents import RankPhase, RankView, VerdictSplit
from kernelscope.vocabulary import PATH_ORDER, Phase, Role

PHASES = (Phase.PREFILL, Phase.DECODE, Phase.MIXED)


def rank_view(table: KernelTable) -> RankView | None:
    ranks = sorted(int(r) for r in np.unique(table.rank))
    if len(ranks) < 2:
        return None
    comm = table.role.mask(Role.COMMUNICATION.value)
    per_rank: dict[str, dict[str, RankPhase]] = {}
    for rank in ranks:
        mine = table.rank == rank
        per_rank[str(rank)] = {p.value: _phase(table, mine & table.phase.mask(p.value), comm) for p in PHASES
                               if (mine & table.phase.mask(p.value)).any()}
    imbalance, straggler, share = {}, {}, {}
    for phase in PHASES:
        blocks = {r: per_rank[str(r)][phase.value] for r in ranks if phase.value in per_rank[str(r)]}
        if len(blocks) < 2:
            continue
        compute = {r: b.compute_us for r, b in blocks.items()}
        slowest = max(compute, key=lambda r: compute[r])
        fastest = min(compute.values())
        imbalance[phase.value] = compute[slowest] / fastest if fastest > 0 else None
        straggler[phase.value] = slowest
        total = sum(b.total_us for b in blocks.values())
        share[phase.value] = sum(b.communication_us for b in blocks.values()) / total if total > 0 else 0.0
    return RankView(ranks=ranks, per_rank=per_rank, imbalance=imbalance, straggler=straggler,
                    communication_share=share, disagreements=_disagreements(table, ranks))


def _phase(table: KernelTable, mask: np.ndarray, comm: np.ndarray) -> RankPhase:
    time = table.time_us
    total = float(time[mask].sum())
    communication = float(time[mask & comm].sum())
    by_path = {p.value: float(time[mask & table.path.mask(p.value)].sum()) for p in PATH_ORDER}
    return RankPhase(total_us=total, communication_us=communication, compute_us=total - communication,
                     time_by_path=by_path)


def _disagreements(table: KernelTable, ranks: list[int]) -> list[VerdictSplit]:
    """(site, phase) whose main path (the one holding most of its time) is not the same on every rank."""
    in_site = ~table.site.mask("")
    out: list[VerdictSplit] = []
    sites = np.asarray(table.site.values, dtype=object)[table.site.codes]
    paths = np.asarray(table.path.values, dtype=object)[table.path.codes]
    for phase in PHASES:
        mask = in_site & table.phase.mask(phase.value)
        if not mask.any():
            continue
        for site in np.unique(sites[mask]):
            by_rank: dict[str, str] = {}
            for rank in ranks:
                rows = mask & (sites == site) & (table.rank == rank)
                if rows.any():
                    times = {p: float(table.time_us[rows & (paths == p)].sum()) for p in np.unique(paths[rows])}
                    by_rank[str(rank)] = max(times, key=lambda p: times[p])
            if len(set(by_rank.values())) > 1:
                out.append(VerdictSplit(site=str(site), phase=phase.value, paths=by_rank))
    return out
