"""kernelscope: what did quantization actually do to my run?

The Python API, in five lines::

    import kernelscope
    run = kernelscope.analyze("trace.json.gz", "runs/mine")   # or kernelscope.load_run("runs/...")
    summary = kernelscope.summarize(run)                        # typed: summary.phases["decode"].time_by_path
    kernels = run.table.to_arrow()                              # one row per kernel, with its verdict
    table = kernelscope.compare([kernelscope.load_run(p) for p in paths])  # rows, ratios, risks, gates

Everything named in `__all__` is importable from here; the names load on first use, so `import
kernelscope` stays light (no numpy, no pyarrow, no torch). The stages behind them are documented in
docs/architecture.md; capture lives in kernelscope.tracers (needs torch), the TUI in kernelscope.tui.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from kernelscope.api import analyze, compare, load_run, summarize
    from kernelscope.classify.table import KernelTable
    from kernelscope.errors import BadInputError, KernelscopeError
    from kernelscope.report.documents import Comparison, Row, Summary
    from kernelscope.runs.documents import Config, Manifest, Metrics
    from kernelscope.runs.store import Run
    from kernelscope.vocabulary import KernelClass, Phase, Role, SitePath

# public name -> the module that defines it
_EXPORTS = {
    "analyze": "kernelscope.api", "compare": "kernelscope.api", "load_run": "kernelscope.api",
    "summarize": "kernelscope.api",
    "Run": "kernelscope.runs.store", "KernelTable": "kernelscope.classify.table",
    "Manifest": "kernelscope.runs.documents", "Config": "kernelscope.runs.documents",
    "Metrics": "kernelscope.runs.documents",
    "Summary": "kernelscope.report.documents", "Comparison": "kernelscope.report.documents",
    "Row": "kernelscope.report.documents",
    "SitePath": "kernelscope.vocabulary", "Role": "kernelscope.vocabulary", "KernelClass": "kernelscope.vocabulary",
    "Phase": "kernelscope.vocabulary",
    "KernelscopeError": "kernelscope.errors", "BadInputError": "kernelscope.errors",
}
__all__ = ["BadInputError", "Comparison", "Config", "KernelClass", "KernelTable", "KernelscopeError", "Manifest",
           "Metrics", "Phase", "Role", "Row", "Run", "SitePath", "Summary", "__version__", "analyze", "compare",
           "load_run", "summarize"]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kernelscope' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
