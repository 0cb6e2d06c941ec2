"""This machine's peaks, measured (`kernelscope peaks`): on a CPU there is no data sheet that says what
PyTorch can get out of it, so the roofline's ceilings are measured once and cached.

- memory bandwidth: the best of several copies of a 256 MiB tensor (bytes read + bytes written, the
  STREAM "copy" convention), far larger than any cache;
- throughput per dtype: the best rate of square matmuls (2·n³ operations) in fp32, bf16 and fp16 at
  n = 2048, and int8 x int8 -> int32 through `torch._int_mm` where this build has it on the CPU.

A figure is the best of repeated tries within a fixed time, so another process on the machine lowers
it less than it would a mean. The cache key is the CPU model, its thread count and the torch version;
`--refresh` measures again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from kernelscope.runs.atomic import atomic_write_bytes
from kernelscope.runs.codec import decode_document, encode_document
from kernelscope.runs.documents import Peaks
from kernelscope.tracers.env import cpu_model

COPY_BYTES = 256 * 2**20
GEMM_N = 2048
TRY_SECONDS = 0.4  # per figure


def cache_dir() -> Path:
    root = os.environ.get("KERNELSCOPE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kernelscope")
    return Path(root) / "peaks"


def cache_path() -> Path:
    import torch

    key = f"{cpu_model()}|{torch.get_num_threads()}|{torch.__version__}"
    return cache_dir() / f"cpu-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def peaks_cached() -> bool:
    return cache_path().is_file()


def cpu_peaks(refresh: bool = False) -> Peaks:
    """This CPU's measured peaks, from the cache unless `refresh` (or the cache is unreadable)."""
    path = cache_path()
    if not refresh and path.is_file():
        try:
            return decode_document(path.read_bytes(), Peaks, str(path))
        except Exception:  # noqa: BLE001 - a damaged cache is measured again, never trusted
            pass
    peaks = measure_cpu()
    try:
        atomic_write_bytes(path, encode_document(peaks))
    except OSError:
        pass  # a read-only home: the figures are still used, just not kept
    return peaks


def measure_cpu() -> Peaks:
    import torch

    threads = torch.get_num_threads()
    figures = {dtype: rate for dtype, rate in ((d, _gemm_rate(d)) for d in ("fp32", "bf16", "fp16", "int8"))
               if rate is not None}
    when = time.strftime("%Y-%m-%d")
    return Peaks(device=f"{cpu_model() or 'CPU'} ({threads} threads)", bandwidth_bytes_per_s=_copy_rate(),
                 flops_per_s=figures, measured=True,
                 source=f"measured by kernelscope peaks on {when}: {COPY_BYTES >> 20} MiB copy, {GEMM_N}^3 matmuls, "
                        f"best of tries within {TRY_SECONDS} s each, torch {torch.__version__}")


def _best_rate(work: float, call: Callable[[], object]) -> float:
    call()  # warm-up: allocation, packing, thread pool start
    best = float("inf")
    deadline = time.perf_counter() + TRY_SECONDS
    while True:
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
        if time.perf_counter() > deadline:
            return work / best


def _copy_rate() -> float:
    import torch

    src = torch.ones(COPY_BYTES // 4, dtype=torch.float32)
    dst = torch.empty_like(src)
    return _best_rate(2.0 * COPY_BYTES, lambda: dst.copy_(src))


def _gemm_rate(dtype: str) -> float | None:
    import torch

    n = GEMM_N
    if dtype == "int8":
        a = torch.randint(-128, 127, (n, n), dtype=torch.int8)
        b = torch.randint(-128, 127, (n, n), dtype=torch.int8)
        try:
            torch._int_mm(a, b)
        except (RuntimeError, NotImplementedError):
            return None  # no int8 GEMM on this build's CPU path
        return _best_rate(2.0 * n**3, lambda: torch._int_mm(a, b))
    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    a = torch.randn(n, n).to(torch_dtype)
    b = torch.randn(n, n).to(torch_dtype)
    start = time.perf_counter()
    torch.mm(a, b)
    if time.perf_counter() - start > 5 * TRY_SECONDS:  # a dtype this CPU emulates slowly: one try is enough
        return 2.0 * n**3 / (time.perf_counter() - start)
    return _best_rate(2.0 * n**3, lambda: torch.mm(a, b))
