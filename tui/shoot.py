"""Headless rendering of one view to an SVG (`kernelscope tui RUN --view NAME --screenshot FILE`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from kernelscope.errors import EXIT_RUNTIME, KernelscopeError


def screenshot(app: App[Any], target: Path, size: tuple[int, int]) -> None:
    if target.suffix.lower() != ".svg":
        raise KernelscopeError(f"--screenshot {target}: the file name must end in .svg")
    if not target.parent.is_dir():
        raise KernelscopeError(f"folder {target.parent} does not exist")

    async def shoot(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        pilot.app.save_screenshot(filename=target.name, path=str(target.parent.resolve()))
        pilot.app.exit()

    app.run(headless=True, size=size, auto_pilot=shoot)
    if app.return_code:  # the app failed while rendering: no picture of a crash, and not a success
        target.unlink(missing_ok=True)
        raise KernelscopeError("the TUI failed while rendering the view; no screenshot written",
                               EXIT_RUNTIME)
