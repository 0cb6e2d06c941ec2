"""The package layout: tracers/ and tui/ install inside kernelscope, and the core needs neither
torch nor textual."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True,
    )
    (found,) = out.glob("kernelscope-*.whl")
    return found


def test_wheel_maps_tracers_tui_and_fixtures_into_the_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names}
    assert "tracers" not in top_level and "tui" not in top_level and "fixtures" not in top_level
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"kernelscope"}
    assert "kernelscope/tracers/capture.py" in names
    assert "kernelscope/tui/__init__.py" in names
    assert "kernelscope/fixtures/tiny-llama/model.safetensors" in names
    assert "kernelscope/fixtures/text/eval.txt" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "kernelscope = kernelscope.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_editable_install_resolves_the_mapped_folders() -> None:
    import kernelscope.tracers
    import kernelscope.tui

    assert Path(kernelscope.tracers.__file__).parent == ROOT / "tracers"
    assert Path(kernelscope.tui.__file__).parent == ROOT / "tui"


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'torch', 'textual', 'transformers', 'torchao', 'bitsandbytes'}:
            raise ModuleNotFoundError('No module named ' + repr(name), name=name)
        return None
sys.meta_path.insert(0, Block())
"""

# every module of the core, found on disk (a new module is covered without editing this list)
CORE_MODULES = ["kernelscope", *sorted(
    "kernelscope." + ".".join(p.relative_to(ROOT / "kernelscope").with_suffix("").parts)
    for p in (ROOT / "kernelscope").rglob("*.py") if p.name not in {"__init__.py", "__main__.py"})]


def test_core_imports_without_torch_or_textual() -> None:
    code = BLOCKER + "".join(f"import {m}\n" for m in CORE_MODULES) + "print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_core_cli_runs_without_torch(tmp_path: Path) -> None:
    code = BLOCKER + "import sys\nfrom kernelscope.cli import main\nsys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, "summary", str(tmp_path / "absent")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 3
    assert result.stderr.strip().startswith("kernelscope: error: no run at")
    profile = subprocess.run([sys.executable, "-c", code, "profile"], capture_output=True, text=True, check=False)
    assert profile.returncode == 2
    assert "needs the capture extra (torch is missing)" in profile.stderr
    assert len(profile.stderr.strip().splitlines()) == 1
    runs = ROOT / "fixtures" / "runs"
    compared = subprocess.run([sys.executable, "-c", code, "compare", str(runs / "bf16"), str(runs / "int4-torchao"),
                               "--format", "csv"], capture_output=True, text=True, check=False)
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.splitlines()[2].startswith("int4-torchao,complete,int4,torchao")
    tui = subprocess.run([sys.executable, "-c", code, "tui", str(runs / "bf16")], capture_output=True, text=True,
                         check=False)
    assert tui.returncode == 2 and "the TUI needs the tui extra (textual is missing)" in tui.stderr
