"""Stage 5, the commands: one module per `kernelscope` sub-command, each a `Command` (base.py).

To add a command: write a module with a class that has `name`, `help`, `add_arguments(parser)` and
`run(args) -> int`, and list an instance in COMMANDS below (the order is the order of `--help`).
"""

from __future__ import annotations

from kernelscope.commands.analyze import Analyze
from kernelscope.commands.base import Command
from kernelscope.commands.compare import Compare
from kernelscope.commands.explain import Explain
from kernelscope.commands.export import Export
from kernelscope.commands.modes import Modes
from kernelscope.commands.peaks import PeaksCommand
from kernelscope.commands.profile import Profile
from kernelscope.commands.reclassify import Reclassify
from kernelscope.commands.summary import Summary
from kernelscope.commands.sweep import Sweep
from kernelscope.commands.tui import Tui

COMMANDS: tuple[Command, ...] = (Profile(), Modes(), PeaksCommand(), Summary(), Analyze(), Export(), Reclassify(),
                                 Explain(), Compare(), Sweep(), Tui())

__all__ = ["COMMANDS", "Command"]
