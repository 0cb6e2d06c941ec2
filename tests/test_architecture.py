"""The layout docs/architecture.md describes, checked: data flows one way through the stages (a stage
imports only stages before it), there is no import cycle, the core imports neither torch nor textual
nor the capture and TUI packages (except lazily, inside the command that needs them), and no module
outside the rule tables outgrows a read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"kernelscope": ROOT / "kernelscope", "kernelscope.tracers": ROOT / "tracers",
            "kernelscope.tui": ROOT / "tui"}

# the stages, in the order data flows through them (docs/architecture.md)
STAGES = {
    "kernelscope.errors": 0, "kernelscope.vocabulary": 0, "kernelscope.fixtures_path": 0, "kernelscope.progress": 0,
    "kernelscope.signals": 0,
    "kernelscope.trace": 1,
    "kernelscope.classify": 2,
    "kernelscope.runs": 3, "kernelscope.recipes": 3,
    "kernelscope.report": 4,
    "kernelscope.commands": 5,
    "kernelscope.cli": 6,
    "kernelscope": 7, "kernelscope.__main__": 7, "kernelscope.api": 7,
}
HEAVY = ("torch", "transformers", "textual", "torchao", "bitsandbytes", "optimum", "hqq", "pynvml", "pyinstrument")
MAX_LINES = 450
RULE_TABLES = ("kernelscope/classify/rules/cpu.py",)  # one table of every CPU op: longer, and flat


def modules() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts))
            yield name.removesuffix(".__init__"), path


def imports(path: Path, name: str, top_level_only: bool) -> Iterator[str]:
    """The modules a file imports (absolute names); `top_level_only`: what runs at import time."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{name}: a relative import (the project spells every import in full)"
            base = node.module or ""
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def stage_of(module: str) -> int | None:
    best = max((k for k in STAGES if module == k or module.startswith(k + ".")), key=len, default=None)
    return STAGES[best] if best is not None else None


KNOWN = {name for name, _ in modules()}


def core_modules() -> list[tuple[str, Path]]:
    return [(n, p) for n, p in modules() if not n.startswith(("kernelscope.tracers", "kernelscope.tui"))]


@pytest.mark.parametrize("name, path", core_modules(), ids=[n for n, _ in core_modules()])
def test_a_stage_imports_only_stages_before_it(name: str, path: Path) -> None:
    mine = stage_of(name)
    assert mine is not None, f"{name} belongs to no stage: add it to STAGES and docs/architecture.md"
    for target in imports(path, name, top_level_only=False):
        if target.startswith(("kernelscope.tracers", "kernelscope.tui")):
            assert name.startswith("kernelscope.commands"), f"{name} imports {target}"
            continue
        if target in ("kernelscope", "kernelscope.__version__"):
            continue  # the package itself: its __init__ is light (the public API loads lazily)
        theirs = stage_of(target) if target in KNOWN else None
        if theirs is not None:
            assert theirs <= mine, f"{name} (stage {mine}) imports {target} (stage {theirs})"


@pytest.mark.parametrize("name, path", core_modules(), ids=[n for n, _ in core_modules()])
def test_the_core_imports_no_heavy_library_at_import_time(name: str, path: Path) -> None:
    heavy = [t for t in imports(path, name, top_level_only=True) if t.split(".")[0] in HEAVY]
    assert not heavy, f"{name} imports {heavy} when it is imported"


def test_the_tui_never_imports_capture_code() -> None:
    for name, path in modules():
        if name.startswith("kernelscope.tui"):
            assert not [t for t in imports(path, name, False) if t.startswith("kernelscope.tracers")], name


def test_no_import_cycle() -> None:
    graph = {name: {t for t in imports(path, name, top_level_only=True) if t in KNOWN and t != name}
             for name, path in modules()}
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_modules_stay_readable() -> None:
    long = [f"{p.relative_to(ROOT)}: {n} lines" for _, p in modules()
            if (n := len(p.read_text().splitlines())) > MAX_LINES and str(p.relative_to(ROOT)) not in RULE_TABLES]
    assert not long, long


def test_the_core_has_at_most_ten_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "kernelscope").glob("*.py"))
    assert len(top) <= 10, top
