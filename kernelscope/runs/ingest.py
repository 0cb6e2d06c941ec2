"""`kernelscope analyze`: any torch.profiler trace (or a folder of per-rank traces) into a run."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from kernelscope import __version__
from kernelscope.classify.pipeline import Classified, classify_trace
from kernelscope.classify.table import KernelTable
from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.progress import QUIET, Progress
from kernelscope.runs.codec import convert_document
from kernelscope.runs.documents import (
    Attribution,
    Config,
    Engine,
    Hardware,
    Metrics,
    ModelInfo,
    RankAttribution,
    SiteEntry,
)
from kernelscope.runs.store import Run, RunWriter, replace_classification, site_specs
from kernelscope.trace import Trace, TraceMeta, load_trace
from kernelscope.vocabulary import Device

TRACE_SUFFIXES = (".json", ".json.gz")
_RANK_IN_NAME = re.compile(r"(?:rank|TP-|tp)[_-]?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class RankTrace:
    """One rank's classified trace. The parsed Trace itself is not kept: only its metadata and
    whether it had GPU kernels, so one rank's events are freed before the next rank is read."""

    path: Path
    rank: int
    meta: TraceMeta
    has_gpu: bool
    classified: Classified
    config: Config | None  # a kernelscope export's own config (None for a foreign trace)
    sites: dict[str, SiteEntry]  # a kernelscope export's own sites ({} for a foreign trace)


def trace_files(target: Path) -> list[Path]:
    """The trace files a path names: the file itself, or every *.json / *.json.gz in a folder."""
    if not target.exists():
        raise BadInputError(f"no such trace file or folder: {target}")
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise BadInputError(f"{target} is not a trace file or a folder of traces (a device, pipe or socket)")
    found = sorted(p for p in target.iterdir() if p.is_file() and p.name.endswith(TRACE_SUFFIXES))
    if not found:
        raise BadInputError(f"{target} holds no .json or .json.gz trace files")
    return found


def exported_metadata(trace: Trace) -> tuple[Config | None, dict[str, SiteEntry]]:
    """A trace exported by kernelscope carries its run's config and sites: analyse it with them again."""
    meta = trace.meta.kernelscope or {}
    source = f"{trace.meta.source_name} (kernelscope metadata)"
    config = meta.get("config")
    sites = meta.get("sites")
    return (convert_document(config, Config, source) if isinstance(config, dict) and config else None,
            {str(k): convert_document(v, SiteEntry, source) for k, v in sites.items()} if isinstance(sites, dict)
            else {})


def _rank_of(path: Path, trace: Trace, fallback: int) -> int:
    if trace.meta.rank is not None:
        return trace.meta.rank
    m = _RANK_IN_NAME.search(path.name)
    return int(m.group(1)) if m and len(m.group(1)) < 9 else fallback


def classify_files(paths: Sequence[Path], decode_max_tokens: int = 32, progress: Progress = QUIET
                   ) -> list[RankTrace]:
    out: list[RankTrace] = []
    for i, path in enumerate(paths):
        progress.stage(f"reading {path.name}" + (f" ({i + 1}/{len(paths)})" if len(paths) > 1 else ""))
        trace = load_trace(path)
        progress.stage(f"classifying {len(trace.kernels)} kernels and {len(trace.ops)} ops")
        if not len(trace.kernels) and not len(trace.ops):
            raise BadInputError(f"{path}: the trace has no kernels and no CPU ops to classify")
        rank = _rank_of(path, trace, i)
        config, sites = exported_metadata(trace)
        gpu = config is not None and config.device in ("cuda", "hip")
        device = (Device.GPU if gpu else Device.CPU) if config is not None and sites else None
        classified = classify_trace(trace, specs=site_specs(sites), model_device=device,
                                    decode_max_tokens=decode_max_tokens, rank=rank)
        out.append(RankTrace(path, rank, trace.meta, bool(len(trace.kernels)), classified, config, sites))
        del trace
    ranks = [r.rank for r in out]
    if len(set(ranks)) != len(ranks):  # duplicate rank ids: fall back to file order
        out = [dataclasses.replace(r, rank=i) for i, r in enumerate(out)]
    return out


def _config(ranked: list[RankTrace]) -> Config:
    first = ranked[0]
    sources = [str(r.path) for r in ranked]
    by = f"kernelscope {__version__}"
    if first.config is not None:  # a kernelscope export: keep the original run's fixed variables
        engine = msgspec.structs.replace(first.config.engine, source=sources, analyzed_by=by, reanalysed_export=True)
        return msgspec.structs.replace(first.config, engine=engine)
    meta = first.meta
    return Config(
        model=ModelInfo(name="unknown (analyzed trace)"),
        engine=Engine(name=f"torch.profiler trace ({meta.runtime})", source=sources, analyzed_by=by),
        device=_device_label(ranked),
        hardware=Hardware(gpu=meta.devices[0] if meta.devices else None, devices=list(meta.devices),
                          runtime=meta.runtime),
        ranks=sorted(r.rank for r in ranked),
        world_size=meta.world_size,
    )


def _device_label(ranked: list[RankTrace]) -> str:
    """cuda, hip (a ROCm trace: PyTorch calls the device cuda, its runtime is HIP) or cpu."""
    if not any(r.has_gpu for r in ranked):
        return "cpu"
    return "hip" if any(r.meta.runtime == "hip" for r in ranked) else "cuda"


def _attribution(ranked: list[RankTrace]) -> Attribution:
    sources = sorted({r.classified.phase_source.value for r in ranked})
    total = sum(float(r.classified.table.time_us.sum()) for r in ranked)
    replayed = sum(r.classified.graph_replayed_share * float(r.classified.table.time_us.sum()) for r in ranked)
    limits = {r.classified.decode_max_tokens for r in ranked if r.classified.decode_max_tokens is not None}
    return Attribution(
        phase_source=sources[0] if len(sources) == 1 else "+".join(sources),
        graph_replayed_share=replayed / total if total > 0 else 0.0,
        per_rank={str(r.rank): RankAttribution(phase_source=r.classified.phase_source.value,
                                               graph_replayed_share=r.classified.graph_replayed_share,
                                               rows=len(r.classified.table)) for r in ranked},
        heuristic=f"GEMM activation rows (M) <= {limits.pop()} are decode, larger are prefill" if limits else None,
        note="; ".join(sorted({r.classified.phase_note for r in ranked if r.classified.phase_note})) or None,
    )


def attribution_of(classified: Classified) -> Attribution:
    """The attribution block of one classified trace (a run's own trace)."""
    return Attribution(phase_source=classified.phase_source.value,
                       graph_replayed_share=classified.graph_replayed_share, note=classified.phase_note or None)


def reclassify_run(run: Run) -> None:
    """Classify a saved run's raw trace again with the current rules, in place."""
    if not run.trace_path.is_file():
        raise BadInputError(f"run {run.path} has no raw trace to classify again")
    specs = run.site_specs()
    device = Device.GPU if run.config.device in ("cuda", "hip") else Device.CPU
    held = run.rank_traces()
    if held:  # every rank's trace is in the run: all of them
        parts = [classify_trace(load_trace(held[r]), specs=specs, model_device=device if specs is not None else None,
                                rank=r) for r in sorted(held)]
        replace_classification(run, KernelTable.concat([p.table for p in parts]), attribution_of(parts[0]))
        return
    classified = classify_trace(load_trace(run.trace_path), specs=specs,
                                model_device=device if specs is not None else None)
    replace_classification(run, classified.table, attribution_of(classified))


def check_one_job(ranked: Sequence[RankTrace]) -> None:
    """Traces merged as the ranks of one run must come from one job: each says its rank and the same world
    size (torch.profiler's distributedInfo), on one kind of device and runtime."""
    if len(ranked) < 2:
        return
    problems = []
    sizes = {r.meta.world_size for r in ranked}
    if None in sizes:
        problems.append("not every trace has distributedInfo (rank, world size)")
    elif len(sizes) > 1:
        problems.append(f"world sizes differ ({', '.join(str(s) for s in sorted(s for s in sizes if s))})")
    elif len({r.meta.rank for r in ranked}) < len(ranked):
        problems.append("two traces claim the same rank")
    devices = {r.meta.devices[0] for r in ranked if r.meta.devices}
    if len(devices) > 1:
        problems.append(f"devices differ ({', '.join(sorted(devices))})")
    if len({r.meta.runtime for r in ranked}) > 1:
        problems.append("runtimes differ (cuda / hip / cpu)")
    if problems:
        raise BadInputError(f"these {len(ranked)} traces do not look like the ranks of one job: {'; '.join(problems)} "
                            "(analyze them one at a time, or pass --as-ranks to merge them anyway)")


def analyze_to_run(target: Path, out: Path, decode_max_tokens: int = 32, as_ranks: bool = False,
                   progress: Progress = QUIET) -> Path:
    paths = trace_files(target)
    ranked = classify_files(paths, decode_max_tokens, progress)
    if not as_ranks:
        check_one_job(ranked)
    table = KernelTable.concat([r.classified.table for r in ranked])
    if not len(table):
        raise BadInputError(f"{target}: nothing to classify (no kernels, no CPU ops)")
    progress.stage(f"writing the run to {out}")
    writer = RunWriter(out, _config(ranked), sites=ranked[0].sites,
                       traces={str(r.rank): r.path.name for r in ranked})
    try:
        writer.write_metrics(Metrics(source="analyzed trace: no timing pass (TTFT/TPOT need `kernelscope profile`)"))
        writer.update(attribution=_attribution(ranked))
        writer.write_table(table)
        writer.write_trace(ranked[0].path, compress=False)
        for r in ranked[1:]:
            writer.write_extra_trace(r.path, f"trace.rank{r.rank}")
        writer.finish()
    except OSError as exc:
        writer.fail(str(exc))
        raise KernelscopeError(f"cannot write the run to {out}: {exc.strerror}") from None
    return out


def verdict_changes(before: KernelTable | None, after: KernelTable, shown: int = 3) -> str:
    """What a reclassification changed, in words: how many rows got another rule, class or path, and the
    commonest changes."""
    if before is None or len(before) != len(after):
        return "no earlier table of the same rows to compare with"
    columns = ("rule", "kernel_class", "path")
    old = [np.asarray(before.category(c).to_list(), dtype=object) for c in columns]
    new = [np.asarray(after.category(c).to_list(), dtype=object) for c in columns]
    differs = np.zeros(len(after), dtype=bool)
    for o, n in zip(old, new, strict=True):
        differs |= o != n
    changes: dict[str, int] = {}
    for i in np.flatnonzero(differs).tolist():
        moved = [f"{c} {o[i]} -> {n[i]}" for c, o, n in zip(columns, old, new, strict=True) if o[i] != n[i]]
        if moved:
            key = ", ".join(moved)
            changes[key] = changes.get(key, 0) + 1
    if not changes:
        return "no verdict changed"
    top = sorted(changes.items(), key=lambda kv: -kv[1])[:shown]
    return (f"{sum(changes.values())} rows changed verdict: "
            + "; ".join(f"{what} ({n} rows)" for what, n in top) + ("; ..." if len(changes) > shown else ""))
