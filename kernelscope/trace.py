"""Load a torch.profiler Chrome trace (`.json` / `.json.gz`) into a columnar model.

Only what classification needs is decoded: every event into a small typed struct with its `args`
left as raw bytes; then the args of kernels, launches and CPU ops are decoded in one batch each.
`python_function` events, flows and instant events are dropped while bucketing.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter
from pathlib import Path as FsPath
from typing import Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt

from kernelscope.columns import Categorical
from kernelscope.errors import BadInputError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Event(msgspec.Struct, gc=False):
    cat: str = ""
    name: str = ""
    pid: int | str = 0
    tid: int | str = 0
    ts: float = 0.0
    dur: float = 0.0
    args: msgspec.Raw = msgspec.Raw(b"{}")


class _Doc(msgspec.Struct, gc=False):
    traceEvents: list[_Event] = []
    deviceProperties: list[dict[str, Any]] = []
    distributedInfo: dict[str, Any] = {}
    schemaVersion: int | str | None = None
    record_shapes: int | bool | None = None
    baseTimeNanoseconds: int | None = None
    cuda_runtime_version: int | None = None
    hip_runtime_version: int | None = None
    traceName: str = ""
    kernelscope: dict[str, Any] | None = None  # set in traces exported by kernelscope: config and sites


class _KernelArgs(msgspec.Struct, gc=False):
    correlation: Int64 = -1
    external_id: Int64 = msgspec.field(name="External id", default=-1)
    stream: Int64 = -1
    device: Int64 = -1


class _LaunchArgs(msgspec.Struct, gc=False):
    correlation: Int64 = -1
    external_id: Int64 = msgspec.field(name="External id", default=-1)


class _OpArgs(msgspec.Struct, gc=False):
    external_id: Int64 = msgspec.field(name="External id", default=-1)
    input_type: msgspec.Raw = msgspec.field(name="Input type", default=msgspec.Raw(b"[]"))
    input_dims: msgspec.Raw = msgspec.field(name="Input Dims", default=msgspec.Raw(b"[]"))
    concrete: msgspec.Raw = msgspec.field(name="Concrete Inputs", default=msgspec.Raw(b"[]"))
    kernel_backend: str = ""


# Categories kept, as torch.profiler (and older Kineto) spell them; everything else is dropped while
# bucketing (python_function, ac2g flows, instant events, gpu_user_annotation, Trace spans).
OP_CATS = ("cpu_op", "operator", "Operator")
RANGE_CATS = ("user_annotation",)
LAUNCH_CATS = ("cuda_runtime", "cuda_driver", "runtime", "driver", "Runtime", "Driver")
KERNEL_CATS = {"kernel": "kernel", "Kernel": "kernel", "gpu_memcpy": "memcpy", "Memcpy": "memcpy",
                "gpu_memset": "memset", "Memset": "memset"}


@dataclass(frozen=True)
class Ops:
    """CPU ops (cat cpu_op) or user ranges (cat user_annotation), one column per field."""

    names: list[str]
    ts: F64
    end: F64
    thread: I32  # index into Trace.threads
    external_id: I64
    # raw JSON of args["Input type"], ["Input Dims"], ["Concrete Inputs"] (msgspec.Raw or bytes;
    # take bytes() of the ones you need): decoded lazily, for the few distinct values used
    input_types: list[Any]
    input_dims: list[Any]
    concrete: list[Any]

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def encoded_names(self) -> Categorical:
        return Categorical.encode(self.names)

    def take(self, index: Sequence[int] | npt.NDArray[np.int64]) -> Ops:
        idx = np.asarray(index, dtype=np.int64)
        pick = idx.tolist()
        return Ops(
            names=[self.names[i] for i in pick],
            ts=self.ts[idx],
            end=self.end[idx],
            thread=self.thread[idx],
            external_id=self.external_id[idx],
            input_types=[self.input_types[i] for i in pick],
            input_dims=[self.input_dims[i] for i in pick],
            concrete=[self.concrete[i] for i in pick],
        )


@dataclass(frozen=True)
class Launches:
    """Runtime/driver API calls (cudaLaunchKernel, hipGraphLaunch, ...)."""

    names: list[str]
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

    names: list[str]
    kinds: list[str]  # kernel | memcpy | memset
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


def read_trace_bytes(path: FsPath) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"no such trace file: {path}") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder, not a trace file") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise BadInputError(f"{path}: not a readable gzip file ({exc})") from None
    if _first_byte(raw) == b"":
        raise BadInputError(f"{path}: the trace is empty")
    return raw


_LEADING_SPACE = re.compile(rb"[ \t\r\n]*")


def _first_byte(data: bytes) -> bytes:
    """The first non-whitespace byte, without copying the data (strip() copies: 0.2 s on 200 MB)."""
    start = _LEADING_SPACE.match(data)
    i = start.end() if start else 0
    return data[i:i + 1]


def load_trace(path: FsPath) -> Trace:
    return parse_trace(read_trace_bytes(path), source_name=str(path))


def parse_trace(data: bytes, source_name: str = "<bytes>") -> Trace:
    return _build(_decode_doc(data, source_name), source_name)


def _decode_doc(data: bytes, source_name: str) -> _Doc:
    try:
        head = _first_byte(data)
        if head == b"[":
            return _Doc(traceEvents=msgspec.json.decode(data, type=list[_Event]))
        if head != b"{":
            raise BadInputError(f"{source_name}: not a JSON trace (it does not start with '{{' or '[')")
        return msgspec.json.decode(data, type=_Doc)
    except msgspec.ValidationError as exc:
        raise BadInputError(f"{source_name}: not a torch.profiler trace ({exc})") from None
    except msgspec.DecodeError as exc:
        raise BadInputError(f"{source_name}: invalid JSON ({exc})") from None


def _decode_args(events: list[_Event], kind: type[Any], source_name: str) -> list[Any]:
    """The args of many events in one decode: their raw bytes joined into one JSON array."""
    if not events:
        return []
    blob = b"[" + b",".join(map(_ARGS, events)) + b"]"
    try:
        return msgspec.json.decode(blob, type=list[kind])  # type: ignore[valid-type]
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadInputError(f"{source_name}: unexpected event args ({exc})") from None


_ARGS = attrgetter("args")
_TS = attrgetter("ts")
_DUR = attrgetter("dur")
_NAME = attrgetter("name")
_PID = attrgetter("pid")
_TID = attrgetter("tid")


def _f64(getter: Any, items: list[Any]) -> F64:
    return np.fromiter(map(getter, items), dtype=np.float64, count=len(items))


def _i64(name: str, items: list[Any]) -> I64:
    return np.fromiter(map(attrgetter(name), items), dtype=np.int64, count=len(items))


def _build(doc: _Doc, source_name: str) -> Trace:
    events = doc.traceEvents
    total = len(events)
    groups = _by_category(events)
    del events
    doc.traceEvents = []  # drop python_function / flow / instant events before anything else is allocated
    ops, ranges, launches, kernels = groups
    op_thread, range_thread, launch_thread, threads = _thread_codes((ops, ranges, launches))
    return Trace(
        ops=_ops_columns(ops, op_thread, source_name, with_args=True),
        ranges=_ops_columns(ranges, range_thread, source_name, with_args=False),
        launches=_launch_columns(launches, launch_thread, source_name),
        kernels=_kernel_columns(kernels, source_name),
        threads=threads,
        meta=_meta(doc, source_name),
        dropped_events=total - sum(len(g) for g in groups),
    )


_CAT = attrgetter("cat")
_KEPT = (OP_CATS, RANGE_CATS, LAUNCH_CATS, tuple(KERNEL_CATS))


def _by_category(events: list[_Event]) -> list[list[_Event]]:
    """ops, ranges, launches, kernels: the events of the kept categories, in trace order. The
    categories are dictionary-encoded once, so dropping python_function and flow events costs a
    numpy comparison, not a Python branch per event."""
    index: dict[str, int] = {}
    setdefault = index.setdefault
    codes = np.fromiter((setdefault(c, len(index)) for c in map(_CAT, events)), dtype=np.int32, count=len(events))
    take = events.__getitem__
    out = []
    for cats in _KEPT:
        wanted = [index[c] for c in cats if c in index]
        picked = np.flatnonzero(np.isin(codes, wanted)) if wanted else np.zeros(0, dtype=np.int64)
        out.append(list(map(take, picked.tolist())))
    return out


def _thread_codes(groups: tuple[list[_Event], ...]) -> tuple[I32, I32, I32, list[tuple[str, str]]]:
    """One code per (pid, tid), shared by every group, so an op and a launch on one thread agree."""
    sizes = [len(g) for g in groups]
    try:
        pid = np.concatenate([np.fromiter(map(_PID, g), dtype=np.int64, count=len(g)) for g in groups])
        tid = np.concatenate([np.fromiter(map(_TID, g), dtype=np.int64, count=len(g)) for g in groups])
        if len(pid) and (pid.min() < 0 or tid.min() < 0 or pid.max() >= 2**31 or tid.max() >= 2**32):
            raise ValueError("ids out of the packing range")
        uniq, inverse = np.unique((pid << 32) | tid, return_inverse=True)
        codes = inverse.reshape(-1).astype(np.int32)
        names = [(str(int(u) >> 32), str(int(u) & 0xFFFFFFFF)) for u in uniq.tolist()]
    except (ValueError, TypeError, OverflowError):  # string pids/tids ("Spans", "Traces") or huge ids
        pids = [p for g in groups for p in map(_PID, g)]
        tids = [t for g in groups for t in map(_TID, g)]
        index: dict[tuple[Any, Any], int] = {}
        codes = np.fromiter((index.setdefault(k, len(index)) for k in zip(pids, tids, strict=True)), dtype=np.int32,
                            count=len(pids))
        names = [(str(p), str(t)) for p, t in index]
    bounds = np.cumsum([0, *sizes])
    return codes[bounds[0]:bounds[1]], codes[bounds[1]:bounds[2]], codes[bounds[2]:bounds[3]], names


def _ops_columns(events: list[_Event], thread: I32, source_name: str, with_args: bool) -> Ops:
    ts = _f64(_TS, events)
    n = len(events)
    if with_args:
        args: list[_OpArgs] = _decode_args(events, _OpArgs, source_name)
        external = _i64("external_id", args)
        types = list(map(attrgetter("input_type"), args))
        dims = list(map(attrgetter("input_dims"), args))
        concrete = list(map(attrgetter("concrete"), args))
    else:
        external = np.full(n, -1, dtype=np.int64)
        types = dims = concrete = [b"[]"] * n
    return Ops(names=list(map(_NAME, events)), ts=ts, end=ts + _f64(_DUR, events), thread=thread,
               external_id=external, input_types=types, input_dims=dims, concrete=concrete)


def _launch_columns(events: list[_Event], thread: I32, source_name: str) -> Launches:
    args: list[_LaunchArgs] = _decode_args(events, _LaunchArgs, source_name)
    ts = _f64(_TS, events)
    return Launches(names=list(map(_NAME, events)), ts=ts, end=ts + _f64(_DUR, events), thread=thread,
                    correlation=_i64("correlation", args), external_id=_i64("external_id", args))


def _kernel_columns(events: list[_Event], source_name: str) -> Kernels:
    args: list[_KernelArgs] = _decode_args(events, _KernelArgs, source_name)
    return Kernels(
        names=list(map(_NAME, events)),
        kinds=[KERNEL_CATS[c] for c in map(attrgetter("cat"), events)],
        ts=_f64(_TS, events),
        dur=_f64(_DUR, events),
        device=_i64("device", args),
        stream=_i64("stream", args),
        correlation=_i64("correlation", args),
        external_id=_i64("external_id", args),
    )


def _meta(doc: _Doc, source_name: str) -> TraceMeta:
    devices = tuple(str(d.get("name", "")) for d in doc.deviceProperties if isinstance(d, dict))
    runtime = "hip" if doc.hip_runtime_version is not None else ("cuda" if doc.cuda_runtime_version else "cpu")
    rank = doc.distributedInfo.get("rank")
    world = doc.distributedInfo.get("world_size")
    return TraceMeta(
        devices=devices,
        rank=rank if isinstance(rank, int) else None,
        world_size=world if isinstance(world, int) else None,
        runtime=runtime,
        record_shapes=bool(doc.record_shapes),
        source_name=source_name,
        base_time_ns=doc.baseTimeNanoseconds,
        kernelscope=doc.kernelscope,
    )
