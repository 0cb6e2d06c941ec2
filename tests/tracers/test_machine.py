"""Machine readings around the timing pass (tracers/machine.py)."""

from __future__ import annotations

import sys

import pytest

from kernelscope.tracers.machine import watch_load


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and /sys")
def test_readings_around_a_block_of_work() -> None:
    with watch_load() as watch:
        sum(i * i for i in range(200_000))
    load = watch.result
    assert load.cpus is not None and load.cpus >= 1
    assert load.load_1m_before is not None and load.load_1m_after is not None
    assert load.steal_share is None or 0.0 <= load.steal_share <= 1.0
