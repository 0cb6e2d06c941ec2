"""TensorRT-LLM: imported lazily, so kernelscope runs where it is absent (everywhere but NVIDIA GPU
hosts with NVIDIA's own wheel index). Traces of TensorRT-LLM's PyTorch backend are analysed with
`kernelscope analyze`; this module only finds the library and says clearly when it is missing."""

from __future__ import annotations

from types import ModuleType

from kernelscope.errors import KernelscopeError

INSTALL_HINT = ("TensorRT-LLM is not installed: it needs an NVIDIA GPU host and NVIDIA's package index "
                "(pip install tensorrt-llm --extra-index-url https://pypi.nvidia.com); the PyPI package is a "
                "stub that downloads the real wheel at build time")


def import_tensorrt_llm() -> ModuleType:
    """The tensorrt_llm module, or a KernelscopeError that says how to get it."""
    try:
        import tensorrt_llm
    except ImportError:
        raise KernelscopeError(INSTALL_HINT) from None
    except Exception as exc:  # noqa: BLE001 - a broken CUDA stack raises anything while importing
        raise KernelscopeError(f"tensorrt_llm is installed but failed to import: {exc}") from None
    module: ModuleType = tensorrt_llm
    return module


def version() -> str | None:
    try:
        return str(import_tensorrt_llm().__version__)
    except KernelscopeError:
        return None
