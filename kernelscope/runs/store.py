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
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelscope.classify.sites import SiteSpec, specs_from_manifest
from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.runs.atomic import atomic_copy_gzip, atomic_target, atomic_write_json, is_gzip, link_or_copy
from kernelscope.runs.table import KernelTable

RUN_FORMAT = "kernelscope-run"
RUN_VERSION = 1
MANIFEST = "manifest.json"
METRICS = "metrics.json"
KERNELS = "kernels.parquet"
TRACE = "trace.json.gz"  # the part's name; a run may hold it uncompressed as trace.json (analyze of a .json)
TRACE_PLAIN = "trace.json"
PARTS = (METRICS, KERNELS, TRACE)


def write_table_file(run_dir: Path, table: KernelTable) -> None:
    with atomic_target(run_dir / KERNELS) as tmp:
        table.write_parquet(tmp)


def dated_run_dir(*parts: str) -> Path:
    """The default place of a new run: runs/<YYYYmmdd-HHMMSS>-<parts joined by ->."""
    return Path("runs") / "-".join((_dt.datetime.now().strftime("%Y%m%d-%H%M%S"), *parts))


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class RunWriter:
    """Writes one run directory part by part; `finish()` marks it complete."""

    def __init__(self, path: Path, config: dict[str, Any], sites: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        if path.exists() and any(path.iterdir()):
            raise KernelscopeError(f"{path} exists and is not empty; choose another --out")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.manifest: dict[str, Any] = {
            "format": RUN_FORMAT,
            "version": RUN_VERSION,
            "created": now_iso(),
            "status": "incomplete",
            "missing": list(PARTS),
            "config": config,
            "sites": sites or {},
            **(extra or {}),
        }
        self._flush()

    def _flush(self) -> None:
        atomic_write_json(self.path / MANIFEST, self.manifest)

    def _have(self, part: str) -> None:
        if part in self.manifest["missing"]:
            self.manifest["missing"].remove(part)
        self._flush()

    def update(self, **fields: Any) -> None:
        self.manifest.update(fields)
        self._flush()

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic_write_json(self.path / METRICS, metrics)
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
        self.manifest["status"] = "incomplete"
        self.manifest["error"] = reason
        self._flush()

    def finish(self) -> None:
        self.manifest["status"] = "complete" if not self.manifest["missing"] else "incomplete"
        self.manifest["finished"] = now_iso()
        self._flush()


@dataclass
class Run:
    path: Path
    manifest: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    _table: KernelTable | None = None

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @property
    def missing(self) -> list[str]:
        return list(self.manifest.get("missing", []))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.manifest.get("config", {}))

    @property
    def has_table(self) -> bool:
        return (self.path / KERNELS).is_file()

    @property
    def table(self) -> KernelTable:
        if self._table is None:
            if not self.has_table:
                raise BadInputError(f"run {self.path} has no kernel table (it is {self.manifest.get('status')})")
            self._table = KernelTable.read_parquet(self.path / KERNELS)
        return self._table

    @property
    def trace_path(self) -> Path:
        plain = self.path / TRACE_PLAIN
        return plain if plain.is_file() and not (self.path / TRACE).is_file() else self.path / TRACE

    def site_specs(self) -> dict[str, SiteSpec] | None:
        return specs_from_manifest(self.manifest.get("sites"))


def replace_classification(run: Run, table: KernelTable, attribution: dict[str, Any]) -> None:
    """Store a new classification of a run's raw trace (after the rules changed)."""
    write_table_file(run.path, table)
    run.manifest["attribution"] = attribution
    run.manifest["reclassified"] = now_iso()
    atomic_write_json(run.path / MANIFEST, run.manifest)
    run._table = table


def load_run(path: Path) -> Run:
    if not path.exists():
        raise BadInputError(f"no run at {path}")
    if not path.is_dir():
        raise BadInputError(f"{path} is a file, not a run folder")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BadInputError(f"{path} is not a kernelscope run (no {MANIFEST})")
    manifest = _read_json(manifest_path)
    if manifest.get("format") != RUN_FORMAT:
        raise BadInputError(f"{manifest_path}: not a kernelscope run manifest")
    version = manifest.get("version")
    if not isinstance(version, int) or version > RUN_VERSION:
        raise BadInputError(f"{path}: run format version {version} is newer than this kernelscope ({RUN_VERSION})")
    metrics = _read_json(path / METRICS) if (path / METRICS).is_file() else {}
    return Run(path, manifest, metrics)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInputError(f"{path} is corrupt: {exc}") from None
    if not isinstance(value, dict):
        raise BadInputError(f"{path} is corrupt: not a JSON object")
    return value
