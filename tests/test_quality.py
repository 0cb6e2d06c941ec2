"""Lint and type checks as tests, so CI holds the code to them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (dev extra)")
    return found


def test_ruff_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "kernelscope", "tracers", "tui", "tests", "benchmarks",
                             "fixtures"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    """mypy sees the installed layout: kernelscope/, with tracers/ and tui/ mapped inside it."""
    pkg = tmp_path / "kernelscope"
    pkg.mkdir()
    for entry in (ROOT / "kernelscope").iterdir():
        if entry.name != "__pycache__":
            os.symlink(entry, pkg / entry.name)
    for mapped in ("tracers", "tui"):
        os.symlink(ROOT / mapped, pkg / mapped)
    result = subprocess.run([_tool("mypy"), "--config-file", str(ROOT / "pyproject.toml"), "-p", "kernelscope"],
                            cwd=tmp_path, capture_output=True, text=True, check=False,
                            env={**os.environ, "MYPYPATH": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
