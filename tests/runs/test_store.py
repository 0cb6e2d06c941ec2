from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kernelscope.classify.table import NUMERIC_COLUMNS, STRING_COLUMNS, KernelTable
from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.runs.documents import Config, Metrics, SiteEntry, Stats
from kernelscope.runs.store import KERNELS, MANIFEST, METRICS, TRACE, RunWriter, load_run
from kernelscope.vocabulary import SiteKind


def small_table(n: int = 3) -> KernelTable:
    strings = {c: [f"{c}-{i % 2}" for i in range(n)] for c in STRING_COLUMNS}
    numbers = {c: np.arange(n) for c in NUMERIC_COLUMNS}
    return KernelTable.build(strings, numbers)


def test_table_round_trips_through_parquet(tmp_path: Path) -> None:
    table = small_table(5)
    table.write_parquet(tmp_path / "k.parquet")
    back = KernelTable.read_parquet(tmp_path / "k.parquet")
    for c in STRING_COLUMNS:
        assert back.category(c).to_list() == table.category(c).to_list()
    for c in NUMERIC_COLUMNS:
        assert back.number(c).tolist() == table.number(c).tolist()


def test_writer_marks_complete_only_when_every_part_is_there(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    writer = RunWriter(run_dir, Config(quant="int4"),
                       {"m.q": SiteEntry(kind=SiteKind.LINEAR, requested=True, quantized=True)})
    first = json.loads((run_dir / MANIFEST).read_text())
    assert first["status"] == "incomplete"
    assert set(first["missing"]) == {METRICS, KERNELS, TRACE}
    writer.write_metrics(Metrics(ttft_ms=Stats(n=0)))
    writer.write_table(small_table())
    (tmp_path / "t.json").write_text('{"traceEvents": []}')
    writer.write_trace(tmp_path / "t.json")
    writer.finish()
    run = load_run(run_dir)
    assert run.complete and run.missing == []
    assert len(run.table) == 3
    assert run.trace_path.read_bytes()[:2] == b"\x1f\x8b"  # stored gzip-compressed
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_an_interrupted_run_stays_readable_and_says_what_it_lacks(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path / "run", Config(quant="int8"))
    writer.write_metrics(Metrics(ttft_ms=Stats(n=1)))
    writer.fail("interrupted during the profiled pass")
    run = load_run(tmp_path / "run")
    assert not run.complete
    assert set(run.missing) == {KERNELS, TRACE}
    assert (run.manifest.error or "").startswith("interrupted")
    assert run.metrics.ttft_ms == Stats(n=1)
    with pytest.raises(BadInputError, match="no kernel table"):
        _ = run.table


def test_writer_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("keep me")
    with pytest.raises(KernelscopeError, match="not empty"):
        RunWriter(tmp_path / "x", Config())


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: None, "no run at"),
        (lambda d: d.write_text("x"), "is a file"),
        (lambda d: d.mkdir(), "not a kernelscope run"),
        (lambda d: (d.mkdir(), (d / MANIFEST).write_text("{not json")), "corrupt"),
        (lambda d: (d.mkdir(), (d / MANIFEST).write_text('{"format": "other"}')), "not a kernelscope run manifest"),
        (lambda d: (d.mkdir(), (d / MANIFEST).write_text('{"format": "kernelscope-run", "version": 99}')),
         "newer than this kernelscope"),
    ],
)
def test_bad_runs_are_clear_errors(tmp_path: Path, setup, message: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "r"
    setup(target)
    with pytest.raises(BadInputError, match=message):
        load_run(target)


def test_corrupt_kernel_table_is_a_clear_error(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path / "run", Config())
    writer.finish()
    (tmp_path / "run" / KERNELS).write_bytes(b"PAR1 garbage")
    with pytest.raises(BadInputError, match="cannot read kernel table"):
        _ = load_run(tmp_path / "run").table
