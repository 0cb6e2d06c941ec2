"""Peak memory per phase, from every source that is available here, and why the others are not.

- rss: this process's resident set, sampled by a thread every `interval_s` (psutil).
- nvml: device memory in use and this process's device memory (NVIDIA driver, pynvml).
- torch_cuda: the caching allocator's peak allocated / reserved bytes (reset at each phase).
A source that cannot be read is reported as {"available": false, "reason": ...}, never as 0.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kernelscope.runs.documents import MemorySamples, MemorySource, PeakMemory

PHASES = ("load", "prefill", "decode")


@dataclass
class _Peaks:
    by_phase: dict[str, int] = field(default_factory=dict)

    def update(self, phase: str, value: int) -> None:
        if value > self.by_phase.get(phase, -1):
            self.by_phase[phase] = value


class MemorySampler:
    def __init__(self, device: str, interval_s: float = 0.002, record: bool = False) -> None:
        self.device = device
        self.interval_s = interval_s
        self.record = record  # keep every reading (perf_counter_ns, bytes per source), for counter tracks
        self.series: dict[str, list[int | None]] = {"rss": [], "nvml_device_used": [], "torch_cuda_allocated": []}
        self.times_ns: list[int] = []
        self.phase = "load"
        self._rss = _Peaks()
        self._nvml_device = _Peaks()
        self._nvml_process = _Peaks()
        self._torch_alloc = _Peaks()
        self._torch_reserved = _Peaks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples = 0
        self._process: Any = None
        self._nvml_handle: Any = None
        self.rss_reason = ""
        self.nvml_reason = ""
        self._open_sources()

    def _open_sources(self) -> None:
        try:
            import psutil

            self._process = psutil.Process(os.getpid())
        except ImportError:
            self.rss_reason = "psutil is not installed"
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml_handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except ImportError:
            self.nvml_reason = "nvidia-ml-py (pynvml) is not installed"
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound and friends
            self.nvml_reason = f"NVML unavailable: {type(exc).__name__}"

    def set_phase(self, phase: str) -> None:
        self._sample()  # close the previous phase with a reading at its boundary
        if self.device == "cuda":
            self._torch_phase_end()
        self.phase = phase
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()

    def _torch_phase_end(self) -> None:
        import torch

        self._torch_alloc.update(self.phase, int(torch.cuda.max_memory_allocated()))
        self._torch_reserved.update(self.phase, int(torch.cuda.max_memory_reserved()))

    def _sample(self) -> None:
        phase = self.phase
        rss = int(self._process.memory_info().rss) if self._process is not None else None
        if rss is not None:
            self._rss.update(phase, rss)
        nvml_used = self._sample_nvml(phase) if self._nvml_handle is not None else None
        self.samples += 1
        if self.record:
            self.times_ns.append(time.perf_counter_ns())
            self.series["rss"].append(rss)
            self.series["nvml_device_used"].append(nvml_used)  # the reading, not the phase's running peak
            self.series["torch_cuda_allocated"].append(self._torch_allocated_now())

    def _torch_allocated_now(self) -> int | None:
        if self.device != "cuda":
            return None
        import torch

        return int(torch.cuda.memory_allocated())

    def timeline(self, offset_us: float) -> MemorySamples:
        """The recorded readings on another clock: trace time = perf_counter time (us) + offset_us."""
        return MemorySamples(trace_ts_us=[t / 1000.0 + offset_us for t in self.times_ns],
                             series={k: v for k, v in self.series.items() if any(x is not None for x in v)},
                             interval_s=self.interval_s,
                             what="memory readings taken during the profiled pass, on the trace's clock")

    def _sample_nvml(self, phase: str) -> int:
        """Update the NVML peaks; return the device's memory in use now."""
        import pynvml

        info = pynvml.nvmlDeviceGetMemoryInfo(self._nvml_handle)
        used = int(info.used)
        self._nvml_device.update(phase, used)
        pid = os.getpid()
        try:
            procs = pynvml.nvmlDeviceGetComputeRunningProcesses(self._nvml_handle)
        except Exception:  # noqa: BLE001 - some drivers refuse per-process queries in containers
            return used
        for p in procs:
            if p.pid == pid and p.usedGpuMemory is not None:
                self._nvml_process.update(phase, int(p.usedGpuMemory))
        return used

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> MemorySampler:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="kernelscope-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        if self.device == "cuda":
            self._torch_phase_end()

    def report(self) -> PeakMemory:
        return PeakMemory(
            rss=_source(self._rss, self.rss_reason,
                        f"resident set size of this process, sampled every {self.interval_s * 1000:g} ms"),
            nvml_device_used=_source(self._nvml_device, self.nvml_reason or self._cpu_reason(),
                                     "device memory in use (all processes), NVML"),
            nvml_process_used=_source(self._nvml_process, self.nvml_reason or self._cpu_reason(),
                                      "this process's device memory, NVML"),
            torch_cuda_allocated=_source(self._torch_alloc, self._cpu_reason(),
                                         "torch caching allocator peak allocated, reset per phase"),
            torch_cuda_reserved=_source(self._torch_reserved, self._cpu_reason(),
                                        "torch caching allocator peak reserved, reset per phase"),
            samples=self.samples,
        )

    def _cpu_reason(self) -> str:
        return "CPU run: no device memory" if self.device != "cuda" else ""


def _source(peaks: _Peaks, reason: str, what: str) -> MemorySource:
    if not peaks.by_phase:
        return MemorySource(available=False, reason=reason or "no reading was taken", what=what)
    by_phase = {p: peaks.by_phase[p] for p in PHASES if p in peaks.by_phase}
    return MemorySource(available=True, what=what, peak_bytes=max(by_phase.values()), by_phase=by_phase)
