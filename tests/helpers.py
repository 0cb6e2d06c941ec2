"""Helpers shared by the tests: the CLI in a subprocess, and the recorded fixture runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from kernelscope.fixtures_path import fixtures_dir
from kernelscope.run import Run, load_run

RUNS = fixtures_dir() / "runs"  # recorded CPU runs of the embedded model (fixtures/record_runs.py)
# recorded CUDA runs (fixtures/record_gpu_runs.py on an H200); in the repository only, not in the wheel
GPU_RUNS = Path(__file__).resolve().parent.parent / "fixtures" / "runs-cuda"


def ks(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m kernelscope ARGS` in a fresh process."""
    return subprocess.run([sys.executable, "-m", "kernelscope", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kernelscope: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def fixture_run(name: str) -> Run:
    return load_run(RUNS / name)


def copy_run(tmp_path: Path, name: str, config: dict[str, Any] | None = None, manifest: dict[str, Any] | None = None,
             drop: tuple[str, ...] = (), target: str | None = None) -> Path:
    """A copy of a recorded run with edits: `config` maps dotted keys of manifest.config to new
    values, `manifest` updates top-level manifest keys, `drop` deletes files of the run."""
    out = tmp_path / (target or f"{name}-edited")
    shutil.copytree(RUNS / name, out)
    doc = json.loads((out / "manifest.json").read_text())
    for dotted, value in (config or {}).items():
        cur = doc["config"]
        *parents, last = dotted.split(".")
        for part in parents:
            cur = cur[part]
        cur[last] = value
    doc.update(manifest or {})
    (out / "manifest.json").write_text(json.dumps(doc))
    for file in drop:
        (out / file).unlink()
    return out
