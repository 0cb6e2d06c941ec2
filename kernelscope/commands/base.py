"""What a command is: a name, its arguments, and a `run` that returns an exit code.

Commands are thin: they read arguments, call the stages' functions and print. They raise
`KernelscopeError` for anything a user can fix; `kernelscope.cli.main` is the one place that turns
it into one line on stderr and an exit code. Heavy imports (torch, textual, pyarrow-backed stages)
happen inside `run`, so `kernelscope --help` stays fast and the core runs without torch.
"""

from __future__ import annotations

import argparse
from typing import Protocol


class Command(Protocol):
    name: str
    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...
