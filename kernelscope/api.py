"""The Python API behind `kernelscope`'s top-level names: the same functions the commands call, taking
paths or runs and returning the typed documents (see kernelscope/__init__.py for the five-line tour)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kernelscope.report.aggregate import summarize_run
from kernelscope.report.compare import compare_runs, parse_size
from kernelscope.report.documents import Comparison, Summary
from kernelscope.report.gates import parse_gates
from kernelscope.runs import store
from kernelscope.runs.ingest import analyze_to_run
from kernelscope.runs.store import Run


def load_run(path: str | Path) -> Run:
    """A saved run: `run.manifest`, `run.metrics` (typed, validated), `run.table` (read on first use;
    `run.table.to_arrow()` for a pyarrow Table)."""
    return store.load_run(Path(path))


def analyze(trace: str | Path, out: str | Path | None = None, decode_max_tokens: int = 32) -> Run:
    """Classify a torch.profiler trace (a .json / .json.gz file, or a folder of per-rank traces) into a run
    saved at `out` (default: runs/<time>-analyze-<name>), and return it."""
    source = Path(trace)
    target = Path(out) if out is not None else store.dated_run_dir("analyze", source.name.split(".")[0])
    return store.load_run(analyze_to_run(source, target, decode_max_tokens))


def summarize(run: Run) -> Summary:
    """The summary document of a run: per phase time by path, the sites and their verdicts, metrics."""
    return summarize_run(run)


def compare(runs: Sequence[Run], gates: str = "", allow_mismatch: bool = False, memory_budget: str | None = None,
            context: int | None = None) -> Comparison:
    """The comparison of runs (the first is the baseline): one row each, ratios, capacity, the risk
    checklist, and the breaches of `gates` (e.g. "kld_mean<0.05,fallback_share==0")."""
    return compare_runs(runs, allow_mismatch=allow_mismatch, gates=parse_gates(gates) if gates else (),
                        budget=parse_size(memory_budget) if memory_budget else None, context=context)
