"""Load a torch.profiler Chrome trace (`.json` / `.json.gz`) into a columnar model.

Only what classification needs is decoded: every event into a small typed struct with its `args`
left as raw bytes; then the args of kernels, launches and CPU ops are decoded in one batch each.
`python_function` events, flows and instant events are dropped while bucketing.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt

from kernelscope.errors import BadInputError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Event(msgspec.Struct, gc=False):
    ph: str = ""
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


_KERNEL_CATS = {"kernel": "kernel", "gpu_memcpy": "memcpy", "gpu_memset": "memset"}
_OP_CATS = frozenset({"cpu_op", "operator"})
_LAUNCH_CATS = frozenset({"cuda_runtime", "cuda_driver", "runtime", "driver"})
_RANGE_CATS = frozenset({"user_annotation"})


@dataclass(frozen=True)
class Ops:
    """CPU ops (cat cpu_op) or user ranges (cat user_annotation), one column per field."""

    names: list[str]
    ts: F64
    end: F64
    thread: I32  # index into Trace.threads
    external_id: I64
    input_types: list[bytes]  # raw JSON of args["Input type"], decoded lazily
    input_dims: list[bytes]
    concrete: list[bytes]

    def __len__(self) -> int:
        return len(self.names)

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


@dataclass(frozen=True)
class Trace:
    ops: Ops
    ranges: Ops
    launches: Launches
    kernels: Kernels
    threads: list[tuple[str, str]]  # (pid, tid) as strings, indexed by the thread columns
    thread_names: dict[tuple[str, str], str] = field(default_factory=dict)
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
    if not raw.strip():
        raise BadInputError(f"{path}: the trace is empty")
    return raw


def load_trace(path: FsPath) -> Trace:
    return parse_trace(read_trace_bytes(path), source_name=str(path))


def parse_trace(data: bytes, source_name: str = "<bytes>") -> Trace:
    doc = _decode_doc(data, source_name)
    return _build(doc, source_name)


def _decode_doc(data: bytes, source_name: str) -> _Doc:
    try:
        head = data.lstrip()[:1]
        if head == b"[":
            return _Doc(traceEvents=msgspec.json.decode(data, type=list[_Event]))
        if head != b"{":
            raise BadInputError(f"{source_name}: not a JSON trace (it does not start with '{{' or '[')")
        return msgspec.json.decode(data, type=_Doc)
    except msgspec.ValidationError as exc:
        raise BadInputError(f"{source_name}: not a torch.profiler trace ({exc})") from None
    except msgspec.DecodeError as exc:
        raise BadInputError(f"{source_name}: invalid JSON ({exc})") from None


def _decode_args(raws: list[msgspec.Raw], kind: type[Any], source_name: str) -> list[Any]:
    if not raws:
        return []
    blob = b"[" + b",".join(bytes(r) for r in raws) + b"]"
    try:
        return msgspec.json.decode(blob, type=list[kind])  # type: ignore[valid-type]
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadInputError(f"{source_name}: unexpected event args ({exc})") from None


class _ThreadIndex:
    def __init__(self) -> None:
        self.keys: list[tuple[str, str]] = []
        self._index: dict[tuple[Any, Any], int] = {}

    def code(self, pid: Any, tid: Any) -> int:
        key = (pid, tid)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.keys)
            self.keys.append((str(pid), str(tid)))
        return found


def _build(doc: _Doc, source_name: str) -> Trace:
    ops: list[_Event] = []
    ranges: list[_Event] = []
    launches: list[_Event] = []
    kernels: list[_Event] = []
    kernel_kinds: list[str] = []
    thread_names: dict[tuple[str, str], str] = {}
    dropped = 0
    for ev in doc.traceEvents:
        if ev.ph != "X":
            if ev.ph == "M" and ev.name == "thread_name":
                thread_names[(str(ev.pid), str(ev.tid))] = _meta_name(ev.args)
            continue
        cat = ev.cat.lower()
        if cat in _OP_CATS:
            ops.append(ev)
        elif cat in _KERNEL_CATS:
            kernels.append(ev)
            kernel_kinds.append(_KERNEL_CATS[cat])
        elif cat in _LAUNCH_CATS:
            launches.append(ev)
        elif cat in _RANGE_CATS:
            ranges.append(ev)
        else:
            dropped += 1
    threads = _ThreadIndex()
    return Trace(
        ops=_ops_columns(ops, threads, source_name, with_args=True),
        ranges=_ops_columns(ranges, threads, source_name, with_args=False),
        launches=_launch_columns(launches, threads, source_name),
        kernels=_kernel_columns(kernels, kernel_kinds, source_name),
        threads=threads.keys,
        thread_names=thread_names,
        meta=_meta(doc, source_name),
        dropped_events=dropped,
    )


def _meta_name(raw: msgspec.Raw) -> str:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return ""
    return str(value.get("name", "")) if isinstance(value, dict) else ""


def _ops_columns(events: list[_Event], threads: _ThreadIndex, source_name: str, with_args: bool) -> Ops:
    ts = np.fromiter((e.ts for e in events), dtype=np.float64, count=len(events))
    dur = np.fromiter((e.dur for e in events), dtype=np.float64, count=len(events))
    thread = np.fromiter((threads.code(e.pid, e.tid) for e in events), dtype=np.int32, count=len(events))
    if with_args:
        args: list[_OpArgs] = _decode_args([e.args for e in events], _OpArgs, source_name)
    else:
        args = [_OpArgs()] * len(events)
    return Ops(
        names=[e.name for e in events],
        ts=ts,
        end=ts + dur,
        thread=thread,
        external_id=np.fromiter((a.external_id for a in args), dtype=np.int64, count=len(args)),
        input_types=[bytes(a.input_type) for a in args],
        input_dims=[bytes(a.input_dims) for a in args],
        concrete=[bytes(a.concrete) for a in args],
    )


def _launch_columns(events: list[_Event], threads: _ThreadIndex, source_name: str) -> Launches:
    args: list[_LaunchArgs] = _decode_args([e.args for e in events], _LaunchArgs, source_name)
    ts = np.fromiter((e.ts for e in events), dtype=np.float64, count=len(events))
    return Launches(
        names=[e.name for e in events],
        ts=ts,
        end=ts + np.fromiter((e.dur for e in events), dtype=np.float64, count=len(events)),
        thread=np.fromiter((threads.code(e.pid, e.tid) for e in events), dtype=np.int32, count=len(events)),
        correlation=np.fromiter((a.correlation for a in args), dtype=np.int64, count=len(args)),
        external_id=np.fromiter((a.external_id for a in args), dtype=np.int64, count=len(args)),
    )


def _kernel_columns(events: list[_Event], kinds: list[str], source_name: str) -> Kernels:
    args: list[_KernelArgs] = _decode_args([e.args for e in events], _KernelArgs, source_name)
    n = len(events)
    return Kernels(
        names=[e.name for e in events],
        kinds=kinds,
        ts=np.fromiter((e.ts for e in events), dtype=np.float64, count=n),
        dur=np.fromiter((e.dur for e in events), dtype=np.float64, count=n),
        device=np.fromiter((a.device for a in args), dtype=np.int64, count=n),
        stream=np.fromiter((a.stream for a in args), dtype=np.int64, count=n),
        correlation=np.fromiter((a.correlation for a in args), dtype=np.int64, count=n),
        external_id=np.fromiter((a.external_id for a in args), dtype=np.int64, count=n),
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
    )
