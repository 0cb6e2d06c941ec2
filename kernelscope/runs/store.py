"""The saved run: the one hand-off from capture (or analyze) to every view.

    RUN/manifest.json    format, version, status (complete | incomplete), missing parts, config
                         (the fixed variables), sites (what the recipe did to each module)
    RUN/metrics.json     timing records, latency metrics, memory, hooks overhead, model bytes
    RUN/kernels.parquet  the classified kernel table (kernelscope.table)
    RUN/trace.json.gz    the raw torch.profiler trace of the profiled pass

Every file is written to a temporary name and renamed into place, so a reader never sees half a
file. The manifest is written first as `incomplete` and rewritten `complete` at the end: a run cut
short by Ctrl-C or an out-of-memory error stays readable and says what it lacks.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from kernelscope.classify.sites import SiteSpec
from kernelscope.classify.table import KernelTable
from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.runs.atomic import atomic_copy_gzip, atomic_target, atomic_write_bytes, is_gzip, link_or_copy
from kernelscope.runs.codec import encode_document, read_document
from kernelscope.runs.documents import (
    RUN_FORMAT,
    RUN_VERSION,
    Attribution,
    Config,
    Manifest,
    Metrics,
    SiteEntry,
)

MANIFEST = "manifest.json"
METRICS = "metrics.json"
KERNELS = "kernels.parquet"
TRACE = "trace.json.gz"  # the part's name; a run may hold it uncompressed as trace.json (analyze of a .json)
TRACE_PLAIN = "trace.json"
PARTS = (METRICS, KERNELS, TRACE)


def write_table_file(run_dir: Path, table: KernelTable) -> None:
    with atomic_target(run_dir / KERNELS) as tmp:
        table.write_parquet(tmp)


def write_document(path: Path, doc: msgspec.Struct) -> None:
    atomic_write_bytes(path, encode_document(doc))


def dated_run_dir(*parts: str) -> Path:
    """The default place of a new run: runs/<YYYYmmdd-HHMMSS>-<parts joined by ->."""
    return Path("runs") / "-".join((_dt.datetime.now().strftime("%Y%m%d-%H%M%S"), *parts))


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class RunWriter:
    """Writes one run directory part by part; `finish()` marks it complete."""

    def __init__(self, path: Path, config: Config, sites: dict[str, SiteEntry] | None = None,
                 traces: dict[str, str] | None = None) -> None:
        if path.exists() and any(path.iterdir()):
            raise KernelscopeError(f"{path} exists and is not empty; choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.manifest = Manifest(created=now_iso(), status="incomplete", missing=list(PARTS), config=config,
                                 sites=sites or {}, traces=traces or {})
        self._flush()

    def _flush(self) -> None:
        write_document(self.path / MANIFEST, self.manifest)

    def _have(self, part: str) -> None:
        self.update(missing=[m for m in self.manifest.missing if m != part])

    def update(self, **fields: Any) -> None:
        """Manifest fields replaced (keyword names are Manifest's fields), written at once."""
        self.manifest = msgspec.structs.replace(self.manifest, **fields)
        self._flush()

    def write_metrics(self, metrics: Metrics) -> None:
        write_document(self.path / METRICS, metrics)
        self._have(METRICS)

    def write_table(self, table: KernelTable) -> None:
        write_table_file(self.path, table)
        self._have(KERNELS)

    def write_trace(self, source: Path, compress: bool = True) -> None:
        """Store the raw trace: gzip-compressed, or (compress=False, for large uncompressed inputs of
        `analyze`) hard-linked or copied as it is."""
        if compress or is_gzip(source):
            atomic_copy_gzip(source, self.path / TRACE)
        else:
            link_or_copy(source, self.path / TRACE_PLAIN)
        self._have(TRACE)

    def write_extra_trace(self, source: Path, stem: str) -> None:
        """Another rank's raw trace, beside the main one: STEM.json.gz (or STEM.json as it came)."""
        if is_gzip(source):
            atomic_copy_gzip(source, self.path / f"{stem}.json.gz")
        else:
            link_or_copy(source, self.path / f"{stem}.json")

    def fail(self, reason: str) -> None:
        self.update(status="incomplete", error=reason)

    def finish(self) -> None:
        self.update(status="complete" if not self.manifest.missing else "incomplete", finished=now_iso())


@dataclass
class Run:
    """A saved run: its documents (read and validated), and its kernel table (read on first use)."""

    path: Path
    manifest: Manifest
    metrics: Metrics = field(default_factory=Metrics)
    _table: KernelTable | None = None

    def rank_traces(self) -> dict[int, Path]:
        """Every rank's raw trace in the run folder, by rank, where the run holds more than one and all of them
        (`profile --tp`, `analyze` of a rank folder); else {}."""
        held = {int(r): self.path / name for r, name in self.manifest.traces.items() if (self.path / name).is_file()}
        return held if len(held) > 1 and len(held) == len(self.manifest.traces) else {}

    @property
    def complete(self) -> bool:
        return self.manifest.status == "complete"

    @property
    def missing(self) -> list[str]:
        return list(self.manifest.missing)

    @property
    def config(self) -> Config:
        return self.manifest.config

    @property
    def has_table(self) -> bool:
        return (self.path / KERNELS).is_file()

    @property
    def table(self) -> KernelTable:
        if self._table is None:
            if not self.has_table:
                raise BadInputError(f"run {self.path} has no kernel table (it is {self.manifest.status})")
            self._table = KernelTable.read_parquet(self.path / KERNELS)
        return self._table

    @property
    def trace_path(self) -> Path:
        plain = self.path / TRACE_PLAIN
        return plain if plain.is_file() and not (self.path / TRACE).is_file() else self.path / TRACE

    def site_specs(self) -> dict[str, SiteSpec] | None:
        return site_specs(self.manifest.sites)


def site_specs(sites: dict[str, SiteEntry]) -> dict[str, SiteSpec] | None:
    """What classification needs of a manifest's sites (None when it has none: a foreign trace)."""
    if not sites:
        return None
    return {name: SiteSpec(e.kind, e.requested, e.quantized, e.format, tuple(e.weight_shape), e.order)
            for name, e in sites.items()}


def replace_classification(run: Run, table: KernelTable, attribution: Attribution) -> None:
    """Store a new classification of a run's raw trace (after the rules changed)."""
    write_table_file(run.path, table)
    run.manifest = msgspec.structs.replace(run.manifest, attribution=attribution, reclassified=now_iso(),
                                           missing=[m for m in run.manifest.missing if m != KERNELS])
    write_document(run.path / MANIFEST, run.manifest)
    run._table = table


class _Head(msgspec.Struct):
    """What is read of a manifest before the rest: is it one, and of a version this kernelscope reads."""

    format: object = None
    version: object = None


def load_run(path: Path) -> Run:
    if not path.exists():
        raise BadInputError(f"no run at {path}")
    if not path.is_dir():
        raise BadInputError(f"{path} is a file, not a run folder")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BadInputError(f"{path} is not a kernelscope run (no {MANIFEST})")
    head = read_document(manifest_path, _Head)
    if head.format != RUN_FORMAT:
        raise BadInputError(f"{manifest_path}: not a kernelscope run manifest")
    if not isinstance(head.version, int) or isinstance(head.version, bool):
        raise BadInputError(f"{manifest_path}: field version: expected an integer, got {head.version!r}")
    if head.version > RUN_VERSION:
        raise BadInputError(f"{path}: run format version {head.version} is newer than this kernelscope "
                            f"({RUN_VERSION})")
    manifest = read_document(manifest_path, Manifest)
    metrics = read_document(path / METRICS, Metrics) if (path / METRICS).is_file() else Metrics()
    return Run(path, manifest, metrics)
