"""The msgspec structs a Chrome trace's events decode into.

This module keeps its annotations as real types (no `from __future__ import annotations`): msgspec
would otherwise resolve each string annotation with `compile()` on first use, which costs tens of
milliseconds inside every `analyze`.
"""

from typing import Annotated, Any

import msgspec

# Categories kept, as torch.profiler (and older Kineto) spell them; everything else is dropped while
# decoding (python_function, ac2g flows, instant events, gpu_user_annotation, Trace spans).
OP_CATS = ("cpu_op", "operator", "Operator")
RANGE_CATS = ("user_annotation",)
LAUNCH_CATS = ("cuda_runtime", "cuda_driver", "runtime", "driver", "Runtime", "Driver")
KERNEL_CATS = {"kernel": "kernel", "Kernel": "kernel", "gpu_memcpy": "memcpy", "Memcpy": "memcpy",
               "gpu_memset": "memset", "Memset": "memset"}

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Args(msgspec.Struct, frozen=True, gc=False):
    """The args fields any kept event uses; everything else in args is skipped while decoding."""

    external_id: Int64 = msgspec.field(name="External id", default=-1)
    correlation: Int64 = -1
    stream: Int64 = -1
    device: Int64 = -1
    input_type: msgspec.Raw = msgspec.field(name="Input type", default=msgspec.Raw(b"[]"))
    input_dims: msgspec.Raw = msgspec.field(name="Input Dims", default=msgspec.Raw(b"[]"))
    concrete: msgspec.Raw = msgspec.field(name="Concrete Inputs", default=msgspec.Raw(b"[]"))


NO_ARGS = Args()


class Event(msgspec.Struct, gc=False):
    cat: str = ""
    name: str = ""
    pid: int | str = 0
    tid: int | str = 0
    ts: float = 0.0
    dur: float = 0.0
    args: Args = NO_ARGS


class Doc(msgspec.Struct, gc=False):
    traceEvents: list[Event] | None = None  # None: the document has no such key
    deviceProperties: list[dict[str, Any]] = []
    distributedInfo: dict[str, Any] = {}
    schemaVersion: int | str | None = None
    record_shapes: int | bool | None = None
    baseTimeNanoseconds: int | None = None
    cuda_runtime_version: int | None = None
    hip_runtime_version: int | None = None
    traceName: str = ""
    kernelscope: dict[str, Any] | None = None  # set in traces exported by kernelscope: config and sites
