"""Exports other tools read: a Chrome/Perfetto trace that carries the verdicts, the kernel table for
pandas / polars / DuckDB, the summary as JSON and Markdown.

Chrome trace: the run's raw trace events, with `ks.*` args on every kernel (GPU trace) or CPU op
(CPU trace) and on the ops that launched kernels, plus tracks under a "kernelscope" process: the
phases, one track per path mirroring the kernels on it, and memory counters; the run's config and
sites travel as the top-level "kernelscope" key. Argument names (docs/exports.md):

    ks.path ks.role ks.class ks.rule ks.path_rule ks.module ks.site ks.phase ks.step ks.format ks.backend
    ks.flops ks.bytes ks.pct_peak (where the op's work is known)
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from kernelscope import __version__
from kernelscope.classify.table import KernelTable
from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.report.aggregate import run_peaks, shown_phases
from kernelscope.report.documents import Summary
from kernelscope.report.roofline import row_pct_of_peak
from kernelscope.report.style import PATH_CNAMES
from kernelscope.runs.atomic import atomic_target, atomic_write_bytes
from kernelscope.runs.codec import encode_document
from kernelscope.runs.documents import Peaks
from kernelscope.runs.outputs import check_output_file
from kernelscope.runs.store import Run
from kernelscope.trace.events import KERNEL_CATS, OP_CATS
from kernelscope.trace.files import read_trace_bytes
from kernelscope.vocabulary import PATH_ORDER

KS_PID = "kernelscope"
EXPORT_KEY = "kernelscope"
LAUNCHING_OP_ARGS = ("ks.module", "ks.site", "ks.phase", "ks.path", "ks.step")
ROW_ARGS = ("path", "role", "kernel_class", "rule", "path_rule", "module", "site", "phase", "format", "backend")
ARG_NAMES = {"kernel_class": "ks.class"}
WORK_ARGS = ("ks.flops", "ks.bytes", "ks.pct_peak")  # on rows whose op's work is known (report/roofline.py)


@dataclass(frozen=True)
class Cut:
    """Which rows an export keeps: --phase, --path, --steps (decode steps, half-open A:B)."""

    phase: str | None = None
    path: str | None = None
    steps: tuple[int, int] | None = None

    @property
    def active(self) -> bool:
        return self.phase is not None or self.path is not None or self.steps is not None

    def mask(self, table: KernelTable) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(table), dtype=bool)
        if self.phase is not None:
            keep &= table.phase.mask(self.phase)
        if self.path is not None:
            keep &= table.path.mask(self.path)
        if self.steps is not None:
            step = table.step
            keep &= (step >= self.steps[0]) & (step < self.steps[1])
        return keep


def parse_steps(text: str) -> tuple[int, int]:
    try:
        lo_s, hi_s = text.split(":", 1)
        lo, hi = int(lo_s or 0), int(hi_s)
    except ValueError:
        raise KernelscopeError(f"--steps {text!r}: expected A:B (decode steps A to B-1)") from None
    if lo < 0 or hi <= lo:
        raise KernelscopeError(f"--steps {text!r}: need 0 <= A < B")
    return lo, hi


def check_target(path: Path, force: bool) -> None:
    """The output-path policy (runs/outputs.py)."""
    check_output_file(path, force)


# ------------------------------------------------------------------------------------------ chrome


def _row_args(table: KernelTable, r: int, pct_peak: npt.NDArray[np.float64]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in ROW_ARGS:
        out[ARG_NAMES.get(col, "ks." + col)] = table.category(col)[r]
    out["ks.step"] = int(table.step[r])
    for key, value in (("ks.flops", table.number("flops")[r]), ("ks.bytes", table.number("bytes")[r]),
                       ("ks.pct_peak", pct_peak[r])):
        if not np.isnan(value):
            out[key] = round(float(value), 4) if key == "ks.pct_peak" else float(value)
    return out


def _kept_events(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trace's kernel events and CPU op events in the order the loader saw them."""
    kernels: list[dict[str, Any]] = []
    ops: list[dict[str, Any]] = []
    for ev in doc.get("traceEvents", []):
        if not isinstance(ev, dict):
            continue
        cat = ev.get("cat")
        if cat in KERNEL_CATS:
            kernels.append(ev)
        elif cat in OP_CATS:
            ops.append(ev)
    return kernels, ops


def chrome_document(run: Run, cut: Cut = Cut(), peaks: Peaks | None = None) -> dict[str, Any]:
    """The run's trace with the verdicts on its events; `peaks` (default: the run's) for ks.pct_peak. A run
    with several ranks' traces becomes one trace with one process per rank ("rank N: <pid>")."""
    table = run.table
    keep = cut.mask(table)
    pct_peak = row_pct_of_peak(table, peaks or run_peaks(run.manifest))
    held = run.rank_traces()
    if held:
        doc: dict[str, Any] = {"traceEvents": []}
        for rank in sorted(held):
            mine = table.rank == rank
            part = _tagged(held[rank], table.where(mine), cut, keep[mine], pct_peak[mine])
            doc["traceEvents"].extend(_as_rank(part.get("traceEvents", []), rank))
            doc.setdefault("deviceProperties", part.get("deviceProperties", []))
    else:
        doc = _tagged(run.trace_path, table, cut, keep, pct_peak)
    doc["traceEvents"].extend(_extra_tracks(run, table, np.flatnonzero(keep)))
    doc[EXPORT_KEY] = {"version": __version__, "run": str(run.path), "config": msgspec.to_builtins(run.config),
                       "sites": msgspec.to_builtins(run.manifest.sites), "cut": cut.__dict__,
                       "args": sorted({ARG_NAMES.get(c, "ks." + c) for c in ROW_ARGS} | set(WORK_ARGS) | {"ks.step"})}
    return doc


RANK_PID_STRIDE = 10_000_000


def _as_rank(events: list[Any], rank: int) -> list[Any]:
    """One rank's events under processes of their own: pid shifted by rank x 10^7, each named for its rank."""
    pids: set[Any] = set()
    for ev in events:
        if isinstance(ev, dict) and isinstance(ev.get("pid"), int):
            ev["pid"] += rank * RANK_PID_STRIDE
            pids.add(ev["pid"])
        elif isinstance(ev, dict) and "pid" in ev:
            ev["pid"] = f"rank {rank}: {ev['pid']}"
    for ev in events:
        if isinstance(ev, dict) and ev.get("ph") == "M" and ev.get("name") == "process_name" and ev.get("pid") in pids:
            ev.setdefault("args", {})["name"] = f"rank {rank}: {ev.get('args', {}).get('name', '')}"
    return events


def _tagged(path: Path, table: KernelTable, cut: Cut, keep: npt.NDArray[np.bool_],
            pct_peak: npt.NDArray[np.float64]) -> dict[str, Any]:
    """One trace file with `ks.*` args on the events of its table's rows (and their launching ops)."""
    raw = read_trace_bytes(path)
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadInputError(f"{path}: {exc}") from None
    if not isinstance(doc, dict):
        doc = {"traceEvents": doc}
    kernels, ops = _kept_events(doc)
    gpu = bool(len(kernels))
    kept_rows = np.flatnonzero(keep)
    tagged: set[int] = set()
    for r in kept_rows.tolist():
        op_id = int(table.op_id[r])
        if gpu and r < len(kernels):
            event = kernels[r]
        elif 0 <= op_id < len(ops):
            event = ops[op_id]
        else:
            continue
        row_args = _row_args(table, r, pct_peak)
        event.setdefault("args", {}).update(row_args)
        tagged.add(id(event))
        if gpu and 0 <= op_id < len(ops) and id(ops[op_id]) not in tagged:  # the op that launched it
            args = ops[op_id].setdefault("args", {})
            args.update({k: v for k, v in row_args.items() if k in LAUNCHING_OP_ARGS})
            tagged.add(id(ops[op_id]))
    events = doc.get("traceEvents", [])
    if cut.active:
        events = list(_cut_events(events, kernels, table, kept_rows, tagged))
    doc["traceEvents"] = events
    return doc


def _cut_events(events: list[Any], kernels: list[dict[str, Any]], table: KernelTable,
                kept_rows: npt.NDArray[np.int64], kept_ids: set[int]) -> Iterator[Any]:
    """Keep metadata, the tagged kernels/ops, their launches and flows, and annotations that overlap them."""
    correlations = {ev.get("args", {}).get("correlation") for ev in kernels if id(ev) in kept_ids}
    ts = table.ts_us[kept_rows]
    end = ts + table.dur_us[kept_rows]
    lo, hi = (float(ts.min()), float(end.max())) if len(kept_rows) else (0.0, 0.0)
    for ev in events:
        if not isinstance(ev, dict):
            continue
        ph, cat = ev.get("ph"), ev.get("cat")
        if ph == "M" or id(ev) in kept_ids:
            yield ev
        elif cat in ("ac2g",) or ph in ("s", "f", "t"):
            if ev.get("id") in correlations:
                yield ev
        elif cat in ("cuda_runtime", "cuda_driver"):
            if ev.get("args", {}).get("correlation") in correlations:
                yield ev
        elif cat in ("user_annotation", "gpu_user_annotation") and ph == "X":
            start = float(ev.get("ts", 0.0))
            if start <= hi and start + float(ev.get("dur", 0.0)) >= lo:
                yield ev


def _extra_tracks(run: Run, table: KernelTable, rows: npt.NDArray[np.int64]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": KS_PID, "tid": 0, "args": {"name": "kernelscope verdicts"}},
        {"ph": "M", "name": "process_sort_index", "pid": KS_PID, "tid": 0, "args": {"sort_index": -1}},
        {"ph": "M", "name": "thread_name", "pid": KS_PID, "tid": "phases",
         "args": {"name": "phases (prefill / decode step)"}},
    ]
    ts, dur = table.ts_us, table.dur_us
    phase, step, request = table.phase, table.step, table.request
    spans: dict[tuple[str, int, int], list[float]] = {}
    for r in rows.tolist():
        key = (phase[r], int(request[r]), int(step[r]))
        lohi = spans.setdefault(key, [float(ts[r]), float(ts[r] + dur[r])])
        lohi[0], lohi[1] = min(lohi[0], float(ts[r])), max(lohi[1], float(ts[r] + dur[r]))
    for (ph_name, req, st), (lo, hi) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        label = ph_name if st < 0 else f"{ph_name} step {st}"
        out.append({"ph": "X", "cat": "ks_phase", "name": label, "pid": KS_PID, "tid": "phases", "ts": lo,
                    "dur": max(hi - lo, 0.0), "args": {"ks.phase": ph_name, "ks.request": req, "ks.step": st}})
    for p in PATH_ORDER:
        tid = f"path: {p.value}"
        out.append({"ph": "M", "name": "thread_name", "pid": KS_PID, "tid": tid, "args": {"name": tid}})
        mask = table.path.codes[rows] == table.path.code(p.value)
        for r in rows[mask].tolist():
            out.append({"ph": "X", "cat": "ks_path", "name": table.name[r], "pid": KS_PID, "tid": tid,
                        "ts": float(ts[r]), "dur": float(dur[r]), "cname": PATH_CNAMES[p.value],
                        "args": {"ks.path": p.value, "ks.role": table.role[r], "ks.site": table.site[r]}})
    out.extend(_memory_counters(run))
    return out


def _memory_counters(run: Run) -> list[dict[str, Any]]:
    """Counter tracks from the memory samples taken during the profiled pass (trace clock)."""
    samples = run.metrics.memory_samples
    if samples is None:
        return []
    times = samples.trace_ts_us
    out: list[dict[str, Any]] = []
    for source, values in samples.series.items():
        for t, v in zip(times, values, strict=False):
            if v is not None:
                out.append({"ph": "C", "name": f"memory: {source}", "pid": KS_PID, "ts": float(t),
                            "args": {"bytes": int(v)}})
    return out


def write_chrome(run: Run, target: Path, cut: Cut, force: bool, peaks: Peaks | None = None) -> int:
    check_target(target, force)
    doc = chrome_document(run, cut, peaks)
    data = msgspec.json.encode(doc)
    if target.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6)
    atomic_write_bytes(target, data)
    return len(doc["traceEvents"])


# ------------------------------------------------------------------------------------------ tables


def write_table(run: Run, target: Path, cut: Cut, force: bool) -> int:
    check_target(target, force)
    table = run.table.where(cut.mask(run.table)) if cut.active else run.table
    if target.suffix not in (".parquet", ".csv"):
        raise KernelscopeError(f"--table {target}: use a .parquet or .csv file name")
    arrow = table.to_arrow()
    with atomic_target(target) as tmp:
        if target.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(arrow, tmp, compression="zstd")
        else:
            import pyarrow as pa
            import pyarrow.csv as pacsv

            plain = pa.Table.from_arrays([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                                          for c in arrow.columns], names=arrow.column_names)
            pacsv.write_csv(plain, tmp)
    return len(table)


def write_json(doc: Summary, target: Path, force: bool) -> None:
    check_target(target, force)
    atomic_write_bytes(target, encode_document(doc))


def markdown(doc: Summary) -> str:
    cfg = doc.config
    lines = [f"### kernelscope: {cfg.model.name or '?'}, `--quant {cfg.quant}` ({cfg.device or '?'})", ""]
    lines += ["| phase | total | native-quantized | dequant-then-compute | fallback | unquantized "
              "| in dequant kernels |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, block in shown_phases(doc):
        total = block.total_us
        cells = [f"{block.time_by_path[p.value] / 1000:.2f} ms ({block.time_by_path[p.value] / total * 100:.1f}%)"
                 if total else "0" for p in PATH_ORDER]
        lines.append(f"| {name} | {total / 1000:.2f} ms | " + " | ".join(cells)
                     + f" | {block.dequant_share * 100:.1f}% |")
    m = doc.metrics
    if m.ttft_ms is not None and m.tpot_ms is not None and m.tokens_per_s is not None:
        lines += ["", f"TTFT p50 {m.ttft_ms.p50 or 0:.2f} ms, TPOT p50 {m.tpot_ms.p50 or 0:.2f} ms, "
                      f"decode {m.tokens_per_s.decode or 0:.1f} tok/s"]
    return "\n".join(lines) + "\n"


def write_markdown(doc: Summary, target: Path, force: bool) -> None:
    check_target(target, force)
    atomic_write_bytes(target, markdown(doc).encode())
