"""Coverage: how much of each phase's kernel time the rule tables decided, and how.

A verdict by a rule written for a library's or a family's own kernels is worth more than one by a
generic rule (a kernel named for attention whose stated types decided), and both more than none.
The summary states the three shares per phase, with the names no rule knew, so a user can see how far
to trust the headline figures and report the names.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kernelscope.classify.engine import UNKNOWN_RULE
from kernelscope.classify.rules.order import generic_rule_ids
from kernelscope.classify.table import KernelTable
from kernelscope.report.documents import Coverage, PhaseCoverage, UnknownName
from kernelscope.vocabulary import Phase

UNKNOWN_WARN_SHARE = 0.05  # `analyze` warns above this share of unknown time


def rule_kinds(table: KernelTable) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per row: decided by a generic rule; decided by no rule."""
    rule = table.rule
    generic = generic_rule_ids()
    generic_codes = np.array([i for i, v in enumerate(rule.values) if v in generic], dtype=np.int64)
    return np.isin(rule.codes, generic_codes), rule.mask(UNKNOWN_RULE)


def phase_coverage(table: KernelTable, mask: npt.NDArray[np.bool_], generic: npt.NDArray[np.bool_],
                   unknown: npt.NDArray[np.bool_], top: int = 5) -> PhaseCoverage:
    time = table.time_us
    total = float(time[mask].sum())
    generic_us = float(time[mask & generic].sum())
    unknown_us = float(time[mask & unknown].sum())
    rule_us = max(total - generic_us - unknown_us, 0.0)

    def share(part: float) -> float:
        return part / total if total > 0 else 0.0

    return PhaseCoverage(total_us=total, rule_us=rule_us, generic_us=generic_us, unknown_us=unknown_us,
                         rule_share=share(rule_us), generic_share=share(generic_us), unknown_share=share(unknown_us),
                         top_unknown=top_unknown(table, mask & unknown, top))


def top_unknown(table: KernelTable, mask: npt.NDArray[np.bool_], top: int) -> list[UnknownName]:
    codes = table.name.codes[mask]
    if not len(codes):
        return []
    size = len(table.name.values)
    times = np.bincount(codes, weights=table.time_us[mask], minlength=size)
    counts = np.bincount(codes, minlength=size)
    order = np.lexsort((-counts, -times))[:top]
    return [UnknownName(name=table.name.values[i], kernels=int(counts[i]), time_us=float(times[i]))
            for i in order.tolist() if counts[i] > 0]


def coverage(table: KernelTable, phases: tuple[Phase, ...]) -> Coverage:
    generic, unknown = rule_kinds(table)
    every = np.ones(len(table), dtype=np.bool_)
    return Coverage(total=phase_coverage(table, every, generic, unknown),
                    phases={p.value: phase_coverage(table, table.phase.mask(p.value), generic, unknown)
                            for p in phases})
