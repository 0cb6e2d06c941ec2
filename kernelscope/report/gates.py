"""Rollback gates for CI: `--gate 'kld_mean<0.05,fallback_share==0,tpot_ratio<=1.1'` checks every run
of a comparison (but the baseline); a breach makes `compare` and `sweep` exit 5."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kernelscope.errors import KernelscopeError
from kernelscope.report.documents import Breach, Row

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq,
                                                   "!=": operator.ne, "<": operator.lt, ">": operator.gt}
GATE_METRICS = ("kld_mean", "kld_p99", "same_top1", "ppl_ratio", "fallback_share", "native_share",
                "dequant_share_prefill", "dequant_share_decode", "tpot_ratio", "ttft_ratio", "tokens_per_s_ratio",
                "peak_memory_ratio", "weights_ratio", "capacity_ratio", "tpot_p50_ms", "ttft_p50_ms")


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_gates(text: str) -> list[Gate]:
    """Comma-separated METRIC OP NUMBER conditions. An empty expression is refused: a CI guard whose
    variable came out empty must fail, not pass everything."""
    gates = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"([a-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*([^\s<>=!]+)", part)
        if not m:
            raise KernelscopeError(f"--gate {part!r}: expected METRIC OP NUMBER, e.g. kld_mean<0.05")
        if m.group(1) not in GATE_METRICS:
            raise KernelscopeError(f"--gate {part!r}: unknown metric; one of {', '.join(GATE_METRICS)}")
        try:
            value = float(m.group(3))
        except ValueError:
            raise KernelscopeError(f"--gate {part!r}: {m.group(3)!r} is not a number") from None
        if not math.isfinite(value):
            raise KernelscopeError(f"--gate {part!r}: the bound must be a finite number")
        gates.append(Gate(m.group(1), m.group(2), value))
    if not gates:
        raise KernelscopeError(f"--gate {text!r} names no condition (an empty gate would pass everything)")
    return gates


def check_gates(rows: Sequence[Row], gates: Sequence[Gate]) -> list[Breach]:
    """Every (run, gate) breach: the baseline row is not gated. A metric the run did not measure
    breaches its gate (a CI guard must not pass on missing data)."""
    breaches = []
    for row in rows[1:]:
        for g in gates:
            value = row.number(g.metric)
            if value is None or math.isnan(value):
                breaches.append(Breach(run=row.run, gate=str(g), value=None, why="not measured"))
            elif not _OPS[g.op](value, g.value):
                breaches.append(Breach(run=row.run, gate=str(g), value=value, why="breached"))
    return breaches
