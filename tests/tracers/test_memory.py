from __future__ import annotations

import time

from kernelscope.tracers.memory import MemorySampler


def test_peaks_per_phase_and_unavailable_sources_say_why() -> None:
    with MemorySampler("cpu", interval_s=0.001) as sampler:
        sampler.set_phase("prefill")
        block = bytearray(64 * 2**20)  # 64 MiB touched during prefill
        block[::4096] = b"x" * len(block[::4096])
        wait_for_samples(sampler, 3)  # the sampler thread has seen the block
        sampler.set_phase("decode")
        del block
        wait_for_samples(sampler, 3)
    report = sampler.report()
    rss = report.rss
    assert rss is not None and rss.available and set(rss.by_phase) == {"load", "prefill", "decode"}
    assert rss.by_phase["prefill"] >= rss.by_phase["load"] + 32 * 2**20
    for source in (report.torch_cuda_allocated, report.torch_cuda_reserved):
        assert source is not None and source.available is False and source.reason == "CPU run: no device memory"
        assert source.peak_bytes is None and not source.by_phase and source.what
    nvml = report.nvml_device_used
    assert nvml is not None
    if not nvml.available:
        assert nvml.reason and nvml.peak_bytes is None
    assert report.samples >= 7  # the first, 3 + 3 awaited


def wait_for_samples(sampler: MemorySampler, count: int, timeout_s: float = 10.0) -> None:
    """Block until the sampler thread has taken `count` more samples (no fixed sleeps)."""
    target, deadline = sampler.samples + count, time.monotonic() + timeout_s
    while sampler.samples < target:
        assert time.monotonic() < deadline, "the memory sampler thread took no samples"
        time.sleep(0.001)
