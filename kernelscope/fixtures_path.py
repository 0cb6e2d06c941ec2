"""Where the embedded fixtures live (installed as the package kernelscope.fixtures)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL_NAME = "tiny-llama (embedded)"


def fixtures_dir() -> Path:
    return Path(str(files("kernelscope.fixtures")))


def fixture_model_dir() -> Path:
    return fixtures_dir() / "tiny-llama"


def fixture_eval_text() -> Path:
    return fixtures_dir() / "text" / "eval.txt"
