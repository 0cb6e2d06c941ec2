"""Progress lines (kernelscope/progress.py): stages with elapsed time, counters, quiet."""

from __future__ import annotations

import io

from kernelscope.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_carry_the_elapsed_time_and_throttle_counters() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress(out, live=False, clock=clock)
    p.stage("loading")
    clock.now += 1.5
    for i in range(1, 5):
        p.count(i, 4, "timing request")  # the first, then nothing within a second, then the last
    p.note("estimated 3 s")
    assert out.getvalue().splitlines() == ["[   0.0s] loading", "[   1.5s] timing request 1/4",
                                           "[   1.5s] timing request 4/4", "[   1.5s]   estimated 3 s"]


def test_on_a_terminal_a_counter_rewrites_its_line() -> None:
    out = io.StringIO()
    p = Progress(out, live=True, clock=Clock())
    p.count(1, 3, "window")
    p.count(2, 3, "window")
    p.stage("next")
    text = out.getvalue()
    assert text.count("\r") == 2 and "window 2/3" in text
    assert text.endswith("\n[   0.0s] next\n")


def test_quiet_prints_nothing() -> None:
    out = io.StringIO()
    p = Progress(out, quiet=True)
    p.stage("loading")
    p.count(1, 1, "x")
    p.note("y")
    assert out.getvalue() == ""
