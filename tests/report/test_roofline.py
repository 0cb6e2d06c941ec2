"""The roofline and the quantization dividend on the recorded H200 runs (fixtures/runs-cuda): pinned
figures that make physical sense, peaks from the data sheets, and the user's overrides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kernelscope.errors import BadInputError
from kernelscope.report.aggregate import check_invariants, run_peaks, summarize_run
from kernelscope.report.compare import compare_runs
from kernelscope.report.dividend import CAUSES, promised_ideal
from kernelscope.report.peaks import PeakOverride, PeaksFile, data_sheet_peaks, parse_peak_flag, read_peaks_file
from kernelscope.report.roofline import RowIdeals
from kernelscope.runs.store import Run, load_run
from tests.helpers import GPU_RUNS

RECORDED = sorted(p.name for p in GPU_RUNS.iterdir() if (p / "manifest.json").is_file())
H200_BW = 4.8e12


def run(name: str) -> Run:
    return load_run(GPU_RUNS / name)


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_runs_make_physical_sense(name: str) -> None:
    r = run(name)
    doc = summarize_run(r)
    check_invariants(r.table, doc)
    roofline = doc.roofline
    assert roofline is not None and roofline.peaks is not None and roofline.peaks.device == "NVIDIA H200 SXM"
    assert set(roofline.phases) == {"prefill", "decode"}
    for group in (*roofline.phases.values(), *roofline.sites, *roofline.layers):
        assert group.achieved_gbs is None or group.achieved_gbs * 1e9 < H200_BW  # never above the device's peak
        assert group.pct_of_peak is None or 0 < group.pct_of_peak < 1
        assert group.ideal_ms is None or group.ideal_ms <= group.work_ms
    decode_gemms = [s for s in roofline.sites if s.phase == "decode" and s.flops and s.name.endswith("proj")]
    assert decode_gemms and all(s.bound == "memory" for s in decode_gemms)  # batch-1 decode reads weights


# (bound, % of peak, ideal ms, lost ms) per phase: the medium model (2 layers of 2048, 512-token prefill)
PINNED = {
    "medium-bf16": {"prefill": ("compute", 0.5321, 0.13805, 0.11484), "decode": ("memory", 0.3525, 0.17053, 0.31331)},
    "medium-int4-torchao": {"prefill": ("compute", 0.0295, 0.13805, 4.4192),
                            "decode": ("memory", 0.1989, 0.05503, 0.22162)},
    "medium-nf4-bitsandbytes": {"prefill": ("compute", 0.3359, 0.20523, 0.19576),
                                "decode": ("memory", 0.1428, 0.05748, 0.34504)},
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_phase_figures(name: str) -> None:
    roofline = summarize_run(run(name)).roofline
    assert roofline is not None
    got = {phase: (b.bound, round(b.pct_of_peak or 0, 4), round(b.ideal_ms or 0, 5), round(b.lost_ms or 0, 5))
           for phase, b in roofline.phases.items()}
    assert got == PINNED[name]


def test_int4_prefill_loses_on_the_compute_side() -> None:
    """The recorded finding: torchao's int4 tinygemm at a 512-token prefill is ~18x slower than cuBLAS bf16;
    the roofline puts that time on compute-bound sites, as time lost against the bf16 peak."""
    bf16, int4 = (summarize_run(run(n)).roofline for n in ("medium-bf16", "medium-int4-torchao"))
    assert bf16 is not None and int4 is not None
    quantized = [s for s in int4.sites if s.phase == "prefill" and s.name != "lm_head" and s.flops]
    assert len(quantized) == 14 and all(s.bound == "compute" and (s.pct_of_peak or 1) < 0.05 for s in quantized)
    lost = sum(s.lost_ms or 0 for s in quantized)
    assert lost > 4.0 and lost > 30 * sum(s.lost_ms or 0 for s in bf16.sites if s.phase == "prefill"
                                          and s.name != "lm_head")


def test_the_int4_decode_promise_comes_from_its_real_bytes() -> None:
    base, int4 = run("medium-bf16"), run("medium-int4-torchao")
    peaks = run_peaks(base.manifest)
    assert peaks is not None
    ideal, stored = promised_ideal(base, int4, peaks, base.table.phase.mask("decode"))
    # the bf16 run's work with each weight at its int4 stored bytes (manifest) is exactly what the int4 run's
    # own trace shapes say it moved (its packed weights and scales, as the tinygemm op received them)
    own = RowIdeals(int4.table, peaks)
    mask = int4.table.phase.mask("decode") & own.has_work
    assert stored == pytest.approx(float(own.ideal_us[mask].sum()), rel=1e-12)
    assert round(ideal / stored, 3) == 3.099
    row = compare_runs([base, int4], allow_mismatch=True).rows[1]
    decode = row.dividend["decode"]
    assert decode.ideal_speedup == pytest.approx(ideal / stored)
    assert row.dividend["prefill"].ideal_speedup == pytest.approx(1.0)  # compute-bound: bytes promise nothing
    for d in row.dividend.values():
        assert set(d.lost_by_cause_ms) == set(CAUSES)
        assert sum(d.lost_by_cause_ms.values()) == pytest.approx(d.lost_ms_per_step)
        assert d.promised_ms_per_step is not None and d.promised_ms_per_step <= d.baseline_ms_per_step + 1e-9


def test_w8a8_promises_the_int8_peak_at_prefill() -> None:
    row = compare_runs([run("medium-bf16"), run("medium-w8a8-torchao")], allow_mismatch=True).rows[1]
    assert round(row.dividend["prefill"].ideal_speedup or 0, 2) == 1.89  # int8 tensor cores: twice bf16's peak
    assert row.dividend["decode"].lost_by_cause_ms["dequant"] > 0  # decode falls back to dequantized fp32


@pytest.mark.parametrize(("name", "device"), [
    ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM"), ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe"),
    ("NVIDIA H100 NVL", "NVIDIA H100 NVL"), ("NVIDIA H200", "NVIDIA H200 SXM"), ("NVIDIA H200 NVL", "NVIDIA H200 NVL"),
    ("NVIDIA B200", "NVIDIA B200"), ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 40GB"),
    ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB SXM"), ("NVIDIA A100 80GB PCIe", "NVIDIA A100 80GB PCIe"),
    ("NVIDIA A10", "NVIDIA A10"), ("NVIDIA L4", "NVIDIA L4"), ("NVIDIA L40S", "NVIDIA L40S"),
    ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"), ("AMD Instinct MI300X", "AMD Instinct MI300X"),
    ("AMD Instinct MI325X", "AMD Instinct MI325X"), ("AMD Instinct MI355X", "AMD Instinct MI355X"),
])
def test_data_sheets_match_device_names(name: str, device: str) -> None:
    peaks = data_sheet_peaks(name)
    assert peaks is not None and peaks.device == device and peaks.source
    assert peaks.compute_peak("bf16") and peaks.ridge("bf16")


def test_unknown_devices_have_no_peaks() -> None:
    assert data_sheet_peaks("NVIDIA A10G") is None and data_sheet_peaks("NVIDIA L40") is None
    assert data_sheet_peaks("Tesla T4") is None


def test_overrides_replace_what_they_name(tmp_path: Path) -> None:
    base = data_sheet_peaks("H100 SXM")
    file = tmp_path / "peaks.json"
    file.write_text('{"bandwidth_gbs": 2000, "tflops": {"bf16": 500}}')
    got = PeakOverride(file=read_peaks_file(file), tflops=dict([parse_peak_flag("fp8=900")])).apply(base)
    assert got is not None and got.bandwidth_bytes_per_s == 2e12
    assert got.flops_per_s["bf16"] == 500e12 and got.flops_per_s["fp8"] == 900e12
    assert base is not None and got.flops_per_s["int8"] == base.flops_per_s["int8"]
    assert "user override" in got.source
    with pytest.raises(BadInputError, match="DTYPE=TFLOPS"):
        parse_peak_flag("bf16:3")
    with pytest.raises(BadInputError, match="without a memory bandwidth"):
        PeakOverride(tflops={"bf16": 1.0}).apply(None)
    file.write_text('{"tflops": {"fp7": 1}}')
    with pytest.raises(BadInputError, match="unknown dtypes"):
        read_peaks_file(file)
    assert PeaksFile().bandwidth_gbs is None


def test_a_run_without_peaks_says_how_to_give_them() -> None:
    from tests.helpers import RUNS

    doc = summarize_run(load_run(RUNS / "bf16"))
    assert doc.roofline is not None and doc.roofline.peaks is None and "--peaks" in doc.roofline.note
    given = summarize_run(load_run(RUNS / "bf16"), peaks=PeakOverride(bandwidth_gbs=20.0, tflops={"bf16": 1.0}))
    assert given.roofline is not None and given.roofline.phases["decode"].bound == "memory"
    assert not np.isnan(given.roofline.phases["decode"].flops)


def test_the_html_comparison_plots_the_dividend() -> None:
    from kernelscope.report.compare_render import render_html

    page = render_html(compare_runs([run("medium-bf16"), run("medium-int4-torchao")], allow_mismatch=True))
    assert "quantization dividend" in page and "<title>promised:" in page and "<title>rest:" in page


SHARED_H100 = (Path(__file__).resolve().parents[3] / "shared" / "traces"
               / "tracelens-h100-qwen1.5-0.5b-hf-eager-bf16.json.gz")


@pytest.mark.skipif(not SHARED_H100.is_file(), reason="../shared/traces is not beside this checkout")
def test_a_trace_without_phases_gets_its_roofline_whole(tmp_path: Path) -> None:
    """The shared HF eager H100 trace (one 8,944-token forward, no decode): matched to the H100 SXM data
    sheet from its device properties, its GEMMs compute-bound below the bf16 peak."""
    from kernelscope.runs.ingest import analyze_to_run

    doc = summarize_run(load_run(analyze_to_run(SHARED_H100, tmp_path / "run")))
    roofline = doc.roofline
    assert roofline is not None and roofline.peaks is not None and roofline.peaks.device == "NVIDIA H100 SXM"
    whole = roofline.phases["other"]
    assert whole.bound == "compute" and whole.pct_of_peak is not None and 0.3 < whole.pct_of_peak < 1.0
    assert all((s.achieved_gbs or 0) * 1e9 < roofline.peaks.bandwidth_bytes_per_s for s in roofline.sites)
