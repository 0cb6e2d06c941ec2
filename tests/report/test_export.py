from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest

from kernelscope.errors import KernelscopeError
from kernelscope.report import export
from kernelscope.report.aggregate import summarize
from kernelscope.runs.ingest import analyze_to_run
from kernelscope.runs.store import Run, load_run
from tests.chrome_format import check_chrome_trace
from tests.helpers import RUNS


@pytest.fixture
def int8_run(tmp_path: Path) -> Run:
    shutil.copytree(RUNS / "int8-torchao", tmp_path / "run")
    return load_run(tmp_path / "run")


def load(path: Path) -> dict:  # type: ignore[type-arg]
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


def test_chrome_export_is_valid_and_carries_verdicts(int8_run: Run, tmp_path: Path) -> None:
    target = tmp_path / "out.json.gz"
    export.write_chrome(int8_run, target, export.Cut(), force=False)
    doc = load(target)
    assert check_chrome_trace(doc) == []
    ops = [e for e in doc["traceEvents"] if e.get("cat") == "cpu_op"]
    assert ops and all("ks.path" in e["args"] and "ks.rule" in e["args"] for e in ops)
    copies = [e for e in ops if e["args"]["ks.rule"] == "aten.dtype-flow-dequant"]
    assert copies and {e["args"]["ks.path"] for e in copies} == {"dequant-then-compute"}
    assert all(e["args"]["ks.role"] == "dequant" and e["args"]["ks.site"] for e in copies)
    names = {e["args"].get("name") for e in doc["traceEvents"] if e.get("ph") == "M" and e.get("pid") == "kernelscope"}
    assert {"kernelscope verdicts", "path: dequant-then-compute", "phases (prefill / decode step)"} <= names
    phases = {e["name"] for e in doc["traceEvents"] if e.get("cat") == "ks_phase"}
    assert {"prefill", "decode step 0", "decode step 2"} <= phases
    mirrored = [e for e in doc["traceEvents"] if e.get("cat") == "ks_path"]
    assert len(mirrored) == len(int8_run.table)
    counters = [e for e in doc["traceEvents"] if e.get("ph") == "C"]
    assert counters and {e["name"] for e in counters} == {"memory: rss"}
    meta = doc["kernelscope"]
    assert meta["config"]["quant"] == "int8" and "model.layers.0.mlp.up_proj" in meta["sites"]
    assert set(meta["args"]) >= {"ks.path", "ks.role", "ks.rule", "ks.module", "ks.phase", "ks.format"}


def test_cutting_by_phase_path_and_steps(int8_run: Run, tmp_path: Path) -> None:
    full = tmp_path / "full.json"
    export.write_chrome(int8_run, full, export.Cut(), force=False)
    decode = tmp_path / "decode.json"
    export.write_chrome(int8_run, decode, export.Cut(phase="decode", steps=(0, 1)), force=False)
    dequant = tmp_path / "dequant.json"
    export.write_chrome(int8_run, dequant, export.Cut(path="dequant-then-compute"), force=False)
    full_doc, decode_doc, dequant_doc = load(full), load(decode), load(dequant)
    for doc in (decode_doc, dequant_doc):
        assert check_chrome_trace(doc) == []
        assert len(doc["traceEvents"]) < len(full_doc["traceEvents"])
    tagged = [e for e in decode_doc["traceEvents"] if "ks.phase" in e.get("args", {}) and e.get("cat") == "cpu_op"]
    assert tagged and {(e["args"]["ks.phase"], e["args"]["ks.step"]) for e in tagged} == {("decode", 0)}
    assert {e["args"]["ks.path"] for e in dequant_doc["traceEvents"] if e.get("cat") == "cpu_op"} == {
        "dequant-then-compute"}


def test_chrome_export_round_trips_through_analyze(int8_run: Run, tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    export.write_chrome(int8_run, target, export.Cut(), force=False)
    again = load_run(analyze_to_run(target, tmp_path / "again"))
    def verdicts(run: Run) -> Counter[tuple[str, str, str, str]]:
        t = run.table
        return Counter(zip(t.name.to_list(), t.site.to_list(), t.path.to_list(), t.rule.to_list(),
                           strict=True))
    assert verdicts(again) == verdicts(int8_run)
    assert again.config.quant == "int8" and again.config.engine.reanalysed_export is True


def test_table_exports_read_back_with_pandas(int8_run: Run, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    export.write_table(int8_run, tmp_path / "k.parquet", export.Cut(), force=False)
    export.write_table(int8_run, tmp_path / "k.csv", export.Cut(phase="decode"), force=False)
    frame = pd.read_parquet(tmp_path / "k.parquet")
    assert len(frame) == len(int8_run.table)
    assert set(frame.columns) >= {"name", "time_us", "phase", "module", "role", "path", "rule", "format", "in_types"}
    dequant = frame[frame["role"] == "dequant"]
    assert (dequant["path"] == "dequant-then-compute").all()
    csv = pd.read_csv(tmp_path / "k.csv")
    assert set(csv["phase"]) == {"decode"}
    assert csv["time_us"].sum() == pytest.approx(frame[frame["phase"] == "decode"]["time_us"].sum())


def test_summary_and_markdown(int8_run: Run, tmp_path: Path) -> None:
    doc = summarize(int8_run.manifest, int8_run.metrics, int8_run.table)
    export.write_json(doc, tmp_path / "s.json", force=False)
    export.write_markdown(doc, tmp_path / "s.md", force=False)
    assert json.loads((tmp_path / "s.json").read_text())["phases"]["decode"]["dequant_share"] > 0
    md = (tmp_path / "s.md").read_text()
    assert "| decode |" in md and "dequant-then-compute" in md


def test_exports_do_not_overwrite_without_force(int8_run: Run, tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    target.write_text("keep")
    with pytest.raises(KernelscopeError, match="--force"):
        export.write_table(int8_run, target, export.Cut(), force=False)
    assert target.read_text() == "keep"
    export.write_table(int8_run, target, export.Cut(), force=True)
    assert target.read_text().startswith('"name","kind"')
    assert not list(tmp_path.glob(".*tmp"))


def test_hta_loads_an_exported_gpu_trace_and_sees_our_args(tmp_path: Path) -> None:
    pytest.importorskip("hta")
    from hta.common.trace import Trace
    from hta.configs.parser_config import ParserConfig

    from benchmarks.make_trace import write_trace

    write_trace(tmp_path / "gpu.json", 1000, "nf4", 0, 1)  # prefill (24 layers) then decode steps
    run = load_run(analyze_to_run(tmp_path / "gpu.json", tmp_path / "run"))
    export.write_chrome(run, tmp_path / "export.json", export.Cut(), force=False)
    logging.disable(logging.CRITICAL)
    try:
        trace = Trace(trace_files={0: str(tmp_path / "export.json")}, trace_dir=str(tmp_path),
                      parser_config=ParserConfig(parse_all_args=True))
        trace.load_traces()
    finally:
        logging.disable(logging.NOTSET)
    frame = trace.get_trace(0)
    symbols = trace.symbol_table.sym_table
    frame = frame.assign(kernel=frame["name"].map(lambda i: symbols[i]))
    kernels = frame[frame["kernel"].str.contains("kgemm_4bit_inference_naive")]
    assert len(kernels) > 0
    paths = {symbols[v] if isinstance(v, int) and 0 <= v < len(symbols) else v for v in kernels["ks_path"]}
    assert paths == {"native-quantized"}
