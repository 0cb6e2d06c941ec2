"""The columnar trace model: CPU ops, user ranges, runtime launches and device kernels of one
trace, one numpy column (or dictionary-encoded column) per field. The reader (reader.py) builds it;
linking and classification (kernelscope.classify) read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kernelscope.trace.columns import Categorical, Codes, Encoded

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]

KERNEL_KINDS = ("kernel", "memcpy", "memset")
# ops whose "Concrete Inputs" are kept (the target dtype of a conversion); other ops' are not read
CONCRETE_KEPT_FOR = frozenset({"aten::to", "aten::_to_copy"})
EMPTY_ARGS = b"[]"  # the raw value of an absent (or not kept) Input type / Input Dims / Concrete Inputs



@dataclass(frozen=True)
class OpArgs:
    """The raw JSON of each op's args["Input type"] and ["Input Dims"], kept as one byte string with
    offsets. Only the ops that launched something need them: `encode` dictionary-encodes those few
    (copying every op's values out of the decoder costs twice as much as this)."""

    blob: bytes
    spans: npt.NDArray[np.int32] | I64  # (n, 4): types start, types end, dims start, dims end in blob

    @staticmethod
    def empty(n: int) -> OpArgs:
        spans = np.tile(np.array([0, len(EMPTY_ARGS), 0, len(EMPTY_ARGS)], dtype=np.int32), (n, 1))
        return OpArgs(EMPTY_ARGS, spans)

    def __len__(self) -> int:
        return len(self.spans)

    def types(self, i: int) -> bytes:
        a, b = self.spans[i, :2].tolist()
        return self.blob[a:b]

    def dims(self, i: int) -> bytes:
        a, b = self.spans[i, 2:].tolist()
        return self.blob[a:b]

    def encode(self, index: npt.NDArray[np.int64]) -> tuple[Encoded[bytes], Encoded[bytes]]:
        """Input types and Input Dims of the ops at index, dictionary-encoded (codes follow index)."""
        rows = self.spans[index]
        return self._slices(rows[:, 0], rows[:, 1]), self._slices(rows[:, 2], rows[:, 3])

    def _slices(self, starts: npt.NDArray[np.integer], ends: npt.NDArray[np.integer]) -> Encoded[bytes]:
        codes: Codes[bytes] = Codes()
        pieces = map(self.blob.__getitem__, map(slice, starts.tolist(), ends.tolist()))
        return Encoded(np.fromiter(map(codes.__getitem__, pieces), dtype=np.int32, count=len(starts)), tuple(codes))

    def take(self, index: npt.NDArray[np.int64]) -> OpArgs:
        return OpArgs(self.blob, self.spans[index])


@dataclass(frozen=True)
class Ops:
    """CPU ops (cat cpu_op) or user ranges (cat user_annotation), one column per field."""

    names: Categorical
    ts: F64
    end: F64
    thread: I32  # index into Trace.threads
    external_id: I64
    args: OpArgs  # raw Input type / Input Dims
    # the raw JSON of args["Concrete Inputs"], dictionary-encoded; kept for CONCRETE_KEPT_FOR ops
    # only (EMPTY_ARGS for the rest)
    concrete: Encoded[bytes]

    def __len__(self) -> int:
        return len(self.names)

    def take(self, index: Sequence[int] | npt.NDArray[np.int64]) -> Ops:
        idx = np.asarray(index, dtype=np.int64)
        return Ops(names=self.names.take(idx), ts=self.ts[idx], end=self.end[idx], thread=self.thread[idx],
                   external_id=self.external_id[idx], args=self.args.take(idx), concrete=self.concrete.take(idx))


@dataclass(frozen=True)
class Launches:
    """Runtime/driver API calls (cudaLaunchKernel, hipGraphLaunch, ...)."""

    names: Categorical
    ts: F64
    end: F64
    thread: I32
    correlation: I64
    external_id: I64

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Kernels:
    """Device activity: kernels, memcpys, memsets."""

    names: Categorical
    kinds: Categorical  # KERNEL_KINDS
    ts: F64
    dur: F64
    device: I64
    stream: I64
    correlation: I64
    external_id: I64

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class TraceMeta:
    devices: tuple[str, ...]
    rank: int | None
    world_size: int | None
    runtime: str  # cuda | hip | cpu
    record_shapes: bool
    source_name: str
    base_time_ns: int | None
    kernelscope: dict[str, Any] | None = None  # a kernelscope export's metadata (config, sites)


@dataclass(frozen=True)
class Trace:
    ops: Ops
    ranges: Ops
    launches: Launches
    kernels: Kernels
    threads: list[tuple[str, str]]  # (pid, tid) as strings, indexed by the thread columns
    meta: TraceMeta = field(default_factory=lambda: TraceMeta((), None, None, "cpu", False, "", None))
    dropped_events: int = 0
