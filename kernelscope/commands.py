"""Sub-commands beyond profile / modes / summary, each a thin layer over core functions."""

from __future__ import annotations

import argparse
from typing import Any


def register_all(sub: Any) -> None:
    """Add every further command to the `kernelscope` sub-parser."""
    del sub


__all__ = ["argparse", "register_all"]
