"""This CPU's peaks, measured (tracers/peaks.py): real copies and matmuls, cached, and recorded in every
CPU run's manifest so that its roofline needs no data sheet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kernelscope.report.compare import compare_runs
from kernelscope.runs.codec import decode_document
from kernelscope.runs.documents import Peaks
from kernelscope.tracers import peaks as measure
from tests.tracers.conftest import Captured


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(measure, "COPY_BYTES", 8 * 2**20)
    monkeypatch.setattr(measure, "GEMM_N", 256)
    monkeypatch.setattr(measure, "TRY_SECONDS", 0.02)
    monkeypatch.setenv("KERNELSCOPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_measured_once_then_read_from_the_cache(quick: Path) -> None:
    first = measure.cpu_peaks()
    assert first.measured and first.bandwidth_bytes_per_s > 1e8
    assert {"fp32", "bf16"} <= set(first.flops_per_s) and all(v > 1e8 for v in first.flops_per_s.values())
    cached = measure.cache_path()
    assert cached.parent.parent == quick and decode_document(cached.read_bytes(), Peaks, "cache") == first
    assert measure.cpu_peaks() == first  # from the cache: the same figures, not a new measurement
    cached.write_text("{not json")
    again = measure.cpu_peaks()  # a damaged cache is measured again, never trusted
    assert again.measured and decode_document(cached.read_bytes(), Peaks, "cache") == again


def test_a_cpu_run_carries_its_peaks_and_roofline(capture: Callable[..., Captured]) -> None:
    bf16, int4 = capture("--quant", "bf16"), capture("--quant", "int4", "--backend", "torchao")
    peaks = bf16.run.config.hardware.peaks
    assert peaks is not None and peaks.measured and peaks.compute_peak("bf16")
    roofline = bf16.summary.roofline
    assert roofline is not None and roofline.peaks == peaks
    decode = roofline.phases["decode"]
    assert decode.flops > 0 and decode.bytes > 0 and decode.bound == "memory"  # batch-1 decode reads weights
    row = compare_runs([bf16.run, int4.run], allow_mismatch=True).rows[1]
    # int4 weights (packed, with their scales) promise at least 2x on decode's modelled work
    assert (row.dividend["decode"].ideal_speedup or 0) > 2.0
