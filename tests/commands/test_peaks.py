"""`kernelscope peaks`, and the peak flags of summary / compare / export, in fresh processes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.helpers import GPU_RUNS, RUNS, assert_one_line_error, ks


def test_a_data_sheet_by_name_and_the_list() -> None:
    result = ks("peaks", "--device", "NVIDIA H100 80GB HBM3", "--json")
    assert result.returncode == 0, result.stderr
    (h100,) = json.loads(result.stdout)
    assert h100["device"] == "NVIDIA H100 SXM" and h100["bandwidth_bytes_per_s"] == 3.35e12
    assert h100["flops_per_s"]["bf16"] == 989.5e12 and not h100["measured"]
    listed = ks("peaks", "--list")
    assert listed.returncode == 0 and "AMD Instinct MI355X" in listed.stdout and "source" in listed.stdout
    assert_one_line_error(ks("peaks", "--device", "Voodoo 3"), 2, "no data sheet matches")


def test_summary_roofline_and_its_overrides(tmp_path: Path) -> None:
    result = ks("summary", str(GPU_RUNS / "medium-bf16"))
    assert result.returncode == 0, result.stderr
    assert "roofline: memory-bound, 35% of peak bandwidth" in result.stdout  # decode
    doc = json.loads(ks("summary", str(GPU_RUNS / "medium-bf16"), "--json").stdout)
    assert doc["roofline"]["phases"]["decode"]["bound"] == "memory"
    halved = json.loads(ks("summary", str(GPU_RUNS / "medium-bf16"), "--json", "--peak-bandwidth", "2400").stdout)
    pct = halved["roofline"]["phases"]["decode"]["pct_of_peak"]
    assert round(pct, 4) == round(2 * doc["roofline"]["phases"]["decode"]["pct_of_peak"], 4)
    file = tmp_path / "peaks.json"
    file.write_text(json.dumps({"device": "my CPU", "bandwidth_gbs": 20, "tflops": {"bf16": 1.0}}))
    cpu = json.loads(ks("summary", str(RUNS / "bf16"), "--json", "--peaks", str(file)).stdout)
    assert cpu["roofline"]["peaks"]["device"] == "my CPU" and cpu["roofline"]["phases"]["decode"]["bound"]
    assert_one_line_error(ks("summary", str(RUNS / "bf16"), "--peak-tflops", "bf17=3"), 3, "DTYPE=TFLOPS")
    assert_one_line_error(ks("summary", str(RUNS / "bf16"), "--peak-bandwidth", "-1"), 2, "expected a number > 0")


def test_compare_carries_the_dividend() -> None:
    runs = [str(GPU_RUNS / n) for n in ("medium-bf16", "medium-int4-torchao")]
    rich = ks("compare", *runs, "--allow-mismatch")
    assert rich.returncode == 0, rich.stderr
    assert "medium-int4-torchao decode: int4 promises 3.10x over bf16" in rich.stdout
    flat = list(csv.DictReader(io.StringIO(ks("compare", *runs, "--allow-mismatch", "--format", "csv").stdout)))
    assert round(float(flat[1]["ideal_speedup_decode"]), 3) == 3.099 and flat[0]["ideal_speedup_decode"] == ""
    doc = json.loads(ks("compare", *runs, "--allow-mismatch", "--format", "json").stdout)
    assert set(doc["runs"][1]["dividend"]) == {"prefill", "decode"}
    md = ks("compare", *runs, "--allow-mismatch", "--format", "md").stdout
    assert "Quantization dividend against medium-bf16" in md


def test_the_chrome_export_carries_work_and_pct_of_peak(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    result = ks("export", str(GPU_RUNS / "medium-int4-torchao"), "--chrome", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    carried = [e for e in doc["traceEvents"] if "ks.flops" in e.get("args", {})]
    tinygemm = [e for e in carried if "tinygemm" in e["name"]]
    assert tinygemm and all(0 < e["args"]["ks.pct_peak"] < 1 for e in carried)
    assert {"ks.flops", "ks.bytes", "ks.pct_peak"} <= set(doc["kernelscope"]["args"])
