"""The capture environment: quiet imports, library versions, hardware, devices."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import warnings

import msgspec

from kernelscope.errors import KernelscopeError
from kernelscope.report.peaks import data_sheet_peaks
from kernelscope.runs.documents import Hardware

_LIBRARIES = ("torch", "transformers", "tokenizers", "torchao", "bitsandbytes", "optimum-quanto", "hqq",
              "nvidia-ml-py", "pyinstrument", "psutil", "tensorrt-llm", "kernelscope")


def quiet_imports() -> None:
    """Silence import-time chatter of the quantization libraries (torchao's optional CUDA .so files,
    pytree deprecation notes, transformers' advisory warnings) so the CLI prints only what it means."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # torch.profiler's C++ side: errors only
    for name in ("torchao", "torch.utils._pytree", "torch._logging", "transformers", "accelerate",
                 "bitsandbytes", "optimum.quanto", "hqq", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def library_versions() -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for dist in _LIBRARIES:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# Instruction sets that decide which CPU kernels libraries pick (bitsandbytes' 4-bit GEMV needs
# avx512_bf16; oneDNN int8 and bf16 GEMMs use VNNI / AMX when present).
CPU_FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8",
                         "amx_tile", "avx512_fp16")


def cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [f for f in CPU_FLAGS_OF_INTEREST if f in present]
    except OSError:
        pass
    return []


def hardware(device: str) -> Hardware:
    import psutil
    import torch

    info = Hardware(device=device, cpu=cpu_model(), cpu_flags=cpu_flags(), cpu_count=os.cpu_count(),
                    torch_threads=torch.get_num_threads(),
                    torch_cpu_capability=torch.backends.cpu.get_cpu_capability(),
                    memory_bytes=psutil.virtual_memory().total, platform=platform.platform(), cuda=torch.version.cuda)
    if device != "cuda":
        from kernelscope.tracers.peaks import cpu_peaks

        return msgspec.structs.replace(info, peaks=cpu_peaks())
    props = torch.cuda.get_device_properties(0)
    return msgspec.structs.replace(info, gpu=props.name, gpu_memory_bytes=props.total_memory,
                                   gpu_driver=_nvml_driver(), peaks=data_sheet_peaks(props.name))


def _nvml_driver() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # noqa: BLE001 - NVML absent or failing: the driver is simply unknown
        return None


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if cuda_available() else "cpu"
    if requested == "cuda" and not cuda_available():
        raise KernelscopeError("--device cuda: no CUDA device is visible (torch.cuda.is_available() is False)")
    if requested not in ("cpu", "cuda"):
        raise KernelscopeError(f"unknown device '{requested}'; use cpu, cuda or auto")
    return requested
