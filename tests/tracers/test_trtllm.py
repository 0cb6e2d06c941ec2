from __future__ import annotations

import importlib.util

import pytest

from kernelscope.errors import KernelscopeError
from kernelscope.tracers import trtllm


@pytest.mark.skipif(importlib.util.find_spec("tensorrt_llm") is not None, reason="TensorRT-LLM is installed here")
def test_absent_tensorrt_llm_is_a_clear_error() -> None:
    with pytest.raises(KernelscopeError, match="TensorRT-LLM is not installed"):
        trtllm.import_tensorrt_llm()
    assert trtllm.version() is None
