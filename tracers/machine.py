"""What else the machine is doing while kernelscope times a run: load average, CPU steal, frequency
scaling (Linux /proc and /sys; anything unreadable is None). A busy 2-core machine can make the same
TPOT read 92 ms one minute and 5 ms the next: the run records this so the report can say so."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kernelscope.runs.documents import MachineLoad

CPUFREQ = Path("/sys/devices/system/cpu")


@dataclass
class LoadWatch:
    """Readings before and after a block of work; `result` is set when the block ends."""

    result: MachineLoad = field(default_factory=MachineLoad)


@contextmanager
def watch_load() -> Iterator[LoadWatch]:
    watch = LoadWatch()
    before, ticks = _load_1m(), _cpu_ticks()
    try:
        yield watch
    finally:
        after_ticks = _cpu_ticks()
        steal = None
        if ticks is not None and after_ticks is not None and after_ticks[1] > ticks[1]:
            steal = (after_ticks[0] - ticks[0]) / (after_ticks[1] - ticks[1])
        freqs = [f for f in (_read_number(p / "cpufreq" / "scaling_cur_freq") for p in _cpus()) if f is not None]
        watch.result = MachineLoad(
            cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            load_1m_before=before, load_1m_after=_load_1m(), steal_share=steal,
            governor=_read_text(CPUFREQ / "cpu0" / "cpufreq" / "scaling_governor"),
            freq_mhz=sum(freqs) / len(freqs) / 1000 if freqs else None,
            freq_max_mhz=_khz_to_mhz(_read_number(CPUFREQ / "cpu0" / "cpufreq" / "cpuinfo_max_freq")))


def _load_1m() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs, from the first line of /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    values = [int(v) for v in fields[1:]]
    return values[7], sum(values[:8])  # user nice system idle iowait irq softirq steal


def _cpus() -> list[Path]:
    try:
        return sorted(p for p in CPUFREQ.iterdir() if p.name.startswith("cpu") and p.name[3:].isdigit())
    except OSError:
        return []


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _read_number(path: Path) -> float | None:
    text = _read_text(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _khz_to_mhz(value: float | None) -> float | None:
    return value / 1000 if value is not None else None
