"""SVG snapshots of every view at fixed terminal sizes, on the recorded fixture runs.

After an intended change of the TUI: `pytest tests/tui/test_snapshots.py --snapshot-update`, then
look at the new SVGs in tests/tui/__snapshots__ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kernelscope.runs.store import load_run
from kernelscope.tui.app import KernelscopeApp
from kernelscope.tui.views import VIEWS
from tests.helpers import RUNS

NAMES = ("nf4-bitsandbytes", "int4-torchao", "bf16")
SnapCompare = Callable[..., bool]


def app(view: str = "overview") -> KernelscopeApp:
    return KernelscopeApp([load_run(RUNS / n) for n in NAMES], view=view)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", VIEWS)
def test_view(snap_compare: SnapCompare, view: str, size: tuple[int, int]) -> None:
    assert snap_compare(app(view), terminal_size=size)


def test_kernels_filtered_and_opened(snap_compare: SnapCompare) -> None:
    assert snap_compare(app("kernels"), press=["p", "p", "f", "f", "enter"], terminal_size=(120, 40))


def test_help(snap_compare: SnapCompare) -> None:
    assert snap_compare(app(), press=["question_mark"], terminal_size=(100, 30))


def test_no_color(snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(app("modules"), terminal_size=(100, 30))


def test_second_run_selected(snap_compare: SnapCompare) -> None:
    def before(pilot: Any) -> None:
        pilot.app.action_run(1)

    assert snap_compare(app("overview"), run_before=before, terminal_size=(120, 40))


def test_roofline_of_recorded_gpu_runs(snap_compare: SnapCompare) -> None:
    from tests.helpers import GPU_RUNS

    runs = [load_run(GPU_RUNS / n) for n in ("medium-int4-torchao", "medium-bf16")]
    assert snap_compare(KernelscopeApp(runs, view="roofline"), press=["f"], terminal_size=(120, 40))
