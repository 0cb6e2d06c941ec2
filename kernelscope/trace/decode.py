"""Decode a trace's events into columns: each piece of the traceEvents array into structs tagged by
`cat` (a kept category builds its fields and only the args fields its table reads; a dropped one is
parsed but never built), then into numpy columns and dictionary codes at once (`PieceColumns`), so
the piece can be freed. The document around the array (its metadata) is decoded last.
"""

from __future__ import annotations

import gc
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any, Union

import msgspec
import numpy as np
import numpy.typing as npt

from kernelscope.errors import BadInputError
from kernelscope.trace.columnar import (
    CONCRETE_KEPT_FOR,
    EMPTY_ARGS,
    I32,
    KERNEL_KINDS,
    Kernels,
    Launches,
    OpArgs,
    Ops,
    Trace,
    TraceMeta,
)
from kernelscope.trace.columns import Categorical, Codes, Encoded
from kernelscope.trace.events import KERNEL_CATS, LAUNCH_CATS, OP_CATS, RANGE_CATS, Args, Doc, Event
from kernelscope.trace.files import first_byte
from kernelscope.trace.stream import ArrayStream, Cut, Envelope, NestedKeyError

# Tables the kept categories go to; memcpy and memset rows go to the kernel table with their kind.
_OP, _RANGE, _LAUNCH, _KERNEL, _MEMCPY, _MEMSET, _DROPPED, _BY_CAT = 0, 1, 2, 3, 4, 5, -1, 9
_TABLE_OF = {**dict.fromkeys(OP_CATS, _OP), **dict.fromkeys(RANGE_CATS, _RANGE),
             **dict.fromkeys(LAUNCH_CATS, _LAUNCH),
             **{cat: _KERNEL + KERNEL_KINDS.index(kind) for cat, kind in KERNEL_CATS.items()}}


class _Tables(dict[Any, int]):
    """Category (or tagged struct class) -> table; every category not kept is dropped. Plain
    Event structs -> _BY_CAT: look at their cat field."""

    def __missing__(self, key: Any) -> int:
        table = self[key] = _BY_CAT if key is Event else _DROPPED
        return table


PLAIN_DECODER = msgspec.json.Decoder(list[Event])

# The fast way to decode a piece: a union tagged by "cat", one struct per kept category spelling,
# and an empty struct per dropped category: a python_function or flow event is parsed but none of
# its strings and numbers are built (a quarter less decode time, half the time freeing).
_EVENT_FIELDS = [(f.name, f.type, f.default) for f in msgspec.structs.fields(Event) if f.name not in ("cat", "args")]
# each table's events decode only the args fields it reads (fewer keys to match, no defaults to fill)
_RAW_ARGS = ("input_type", "input_dims", "concrete")
_ARG_FIELDS = {_OP: ("external_id", *_RAW_ARGS),
               _LAUNCH: ("external_id", "correlation"),
               _KERNEL: ("external_id", "correlation", "stream", "device")}
KNOWN_DROPPED_CATS = ("python_function", "ac2g", "cpu_instant_event", "gpu_user_annotation", "Trace", "",
                      "overhead", "cuda_profiler_range", "gpu_mem_alloc", "fwdbwd")
_MAX_NEW_CATS = 64  # categories met beyond the known ones, before the plain decoder takes over
_UNKNOWN_CAT = re.compile(r"^Invalid value '(.*)' - at `\$\[\d+\]\.cat`$", re.DOTALL)


def _args_struct(table: int) -> type[msgspec.Struct]:
    wanted = _ARG_FIELDS[min(table, _KERNEL)]
    fields = [(f.name, f.type, f.default) for f in msgspec.structs.fields(Args) if f.name in wanted]
    renamed = {f.name: f.encode_name for f in msgspec.structs.fields(Args) if f.name in wanted}
    return msgspec.defstruct(f"Args{table}", fields, rename=renamed, frozen=True, gc=False)


_ARGS_OF = {table: _args_struct(table) for table in (_OP, _LAUNCH, _KERNEL, _MEMCPY, _MEMSET)}


def _tagged(cat: str, table: int, n: int) -> type[msgspec.Struct]:
    """The struct for one category: a kept table's fields (and its args), or none at all."""
    if table == _DROPPED:
        return msgspec.defstruct(f"_DroppedEvent{n}", [], tag_field="cat", tag=cat, gc=False)
    fields = list(_EVENT_FIELDS)
    if table in _ARGS_OF:
        args = _ARGS_OF[table]
        fields.append(("args", args, args()))
    return msgspec.defstruct(f"_KeptEvent{n}", fields, tag_field="cat", tag=cat, gc=False)


_KEPT_CLASSES = {_tagged(cat, table, i): table for i, (cat, table) in enumerate(_TABLE_OF.items())}


class PieceDecoder:
    """One piece of traceEvents, tagged by "cat"; a category not seen before joins the dropped
    structs and the piece is decoded again. A piece with events that have no "cat" at all (process
    and thread metadata, "ph": "M", at the end of a Kineto trace) is decoded plain."""

    def __init__(self) -> None:
        self.dropped = list(KNOWN_DROPPED_CATS)
        self._build()

    def _build(self) -> None:
        dropped = [_tagged(cat, _DROPPED, i) for i, cat in enumerate(self.dropped)]
        union: Any = Union.__getitem__(tuple([*_KEPT_CLASSES, *dropped]))
        self.decoder: msgspec.json.Decoder[list[Any]] = msgspec.json.Decoder(list[union])

    def __call__(self, piece: bytearray) -> list[Any]:
        try:
            return self._tagged(piece)
        except msgspec.ValidationError:
            return PLAIN_DECODER.decode(piece)  # no "cat" somewhere, or a real error the plain structs word

    def _tagged(self, view: bytearray) -> list[Any]:
        while True:
            try:
                return self.decoder.decode(view)
            except msgspec.ValidationError as exc:
                unknown = _UNKNOWN_CAT.match(str(exc))
                if unknown is None or len(self.dropped) >= len(KNOWN_DROPPED_CATS) + _MAX_NEW_CATS:
                    raise
                self.dropped.append(unknown.group(1))
                self._build()



@contextmanager
def gc_paused() -> Iterator[None]:
    """Loading allocates millions of short-lived tuples and lists that never form cycles: the
    cyclic collector would only walk them (3% of the load time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decode_trace(blocks: Callable[[], Iterator[bytes | memoryview]], source_name: str) -> Trace:
    with gc_paused():
        return decode_events(blocks, source_name)


def decode_events(blocks: Callable[[], Iterator[bytes | memoryview]], source_name: str) -> Trace:
    columns = PieceColumns()
    stream = ArrayStream(blocks(), "traceEvents", PieceDecoder())
    try:
        for events in stream:
            columns.add(events)
            del events
        assert stream.envelope is not None
        doc = decode_envelope(stream.envelope, source_name)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _bad_json(exc, source_name) from None
    except NestedKeyError:  # "traceEvents" inside some other value first: decode the whole document
        columns = PieceColumns()
        doc = decode_whole(b"".join(blocks()), source_name)
    if doc.traceEvents:
        columns.add(doc.traceEvents)
        doc.traceEvents = []
    return columns.trace(trace_meta(doc, source_name))

@dataclass(frozen=True)
class ColumnsHalf:
    """What the child sends back: the second half's columns, its dictionaries in code order (to be
    re-coded into the parent's), the document's tail after the array, and the cut it started at."""

    cut: Cut
    tail: bytes
    events: int
    names: dict[int, list[str]]
    threads: list[tuple[Any, Any]]
    concrete: list[bytes]
    arg_blob: bytes
    columns: dict[int, dict[str, npt.NDArray[Any]]]



def decode_envelope(envelope: Envelope, source_name: str) -> Doc:
    if envelope.bare:
        return Doc()
    if not envelope.found:
        return decode_whole(envelope.head, source_name)
    doc = msgspec.json.decode(envelope.head + b"[]" + envelope.tail, type=Doc)
    if doc.traceEvents is None or doc.traceEvents:  # the array streamed was not the top-level one
        raise NestedKeyError
    return doc


def decode_whole(data: bytes, source_name: str) -> Doc:
    head = first_byte(data)
    if head == b"":
        raise BadInputError(f"{source_name}: the trace is empty")
    if head not in (b"{", b"["):
        raise BadInputError(f"{source_name}: not a JSON trace (it does not start with '{{' or '[')")
    try:
        if head == b"[":
            return Doc(traceEvents=PLAIN_DECODER.decode(data))
        return msgspec.json.decode(data, type=Doc)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _bad_json(exc, source_name) from None


def _bad_json(exc: msgspec.MsgspecError, source_name: str) -> BadInputError:
    if isinstance(exc, msgspec.ValidationError):
        what = "unexpected event args" if ".args" in str(exc) else "not a torch.profiler trace"
        return BadInputError(f"{source_name}: {what} ({exc})")
    return BadInputError(f"{source_name}: invalid JSON ({exc})")


_CAT, _NAME = attrgetter("cat"), attrgetter("name")
_TIMES, _THREAD = attrgetter("ts", "dur"), attrgetter("pid", "tid")
_TYPES_DIMS = attrgetter("args.input_type", "args.input_dims")
_SEPARATOR = b"\x1e"
_INT_ARGS = {t: tuple(f for f in fields if f not in _RAW_ARGS) for t, fields in _ARG_FIELDS.items()}


class PieceColumns:
    """The kept events, piece by piece, as numpy columns and dictionary codes. Everything taken
    from an event is copied out of it (msgspec.Raw values become bytes), so pieces can be freed."""

    def __init__(self) -> None:
        self.tables = _Tables(_TABLE_OF)
        self.tables.update(_KEPT_CLASSES)
        self.threads: Codes[tuple[Any, Any]] = Codes()
        self.names: dict[int, Codes[str]] = {t: Codes() for t in (_OP, _RANGE, _LAUNCH, _KERNEL)}
        self.arg_blob = bytearray()
        self.concrete: Codes[bytes] = Codes()
        self.concrete[EMPTY_ARGS] = 0
        self.parts: dict[int, dict[str, list[npt.NDArray[Any]]]] = {t: defaultdict(list) for t in self.names}
        self.events = 0

    def add(self, events: list[Any]) -> None:
        """A piece's events: tagged structs (their class says the category) or plain Event."""
        self.events += len(events)
        table = np.fromiter(map(self.tables.__getitem__, map(type, events)), dtype=np.int8, count=len(events))
        plain = np.flatnonzero(table == _BY_CAT)
        if len(plain):
            table[plain] = np.fromiter(map(self.tables.__getitem__, map(_CAT, map(events.__getitem__, plain.tolist()))),
                                       dtype=np.int8, count=len(plain))
        merged = np.minimum(table, _KERNEL)
        for t in self.names:
            picked = np.flatnonzero(merged == t)
            if len(picked):
                self._add_table(t, list(map(events.__getitem__, picked.tolist())), table[picked])

    def half(self, cut: Cut, tail: bytes) -> ColumnsHalf:
        """Everything kept so far, to be sent to the process that merges it after its own events."""
        columns = {t: {name: np.concatenate(arrays) for name, arrays in parts.items()}
                   for t, parts in self.parts.items()}
        return ColumnsHalf(cut=cut, tail=tail, events=self.events, names={t: list(c) for t, c in self.names.items()},
                     threads=list(self.threads), concrete=list(self.concrete), arg_blob=bytes(self.arg_blob),
                     columns=columns)

    def merge(self, half: ColumnsHalf) -> None:
        """Append the events of a later part of the same document, re-coding its dictionary codes."""
        recode = {"thread": _recode(self.threads, half.threads), "concrete": _recode(self.concrete, half.concrete)}
        for t, columns in half.columns.items():
            names = _recode(self.names[t], half.names[t])
            for name, column in columns.items():
                codes = names if name == "name" else recode.get(name)
                self.parts[t][name].append(codes[column] if codes is not None and len(column) else column)
        self.arg_blob += half.arg_blob
        self.events += half.events

    def _add_table(self, t: int, events: list[Event], table: npt.NDArray[np.int8]) -> None:
        """One table's columns from this piece. Each map() below walks the events once; fields are
        taken together (attrgetter tuples, flattened) because the walk, not the call, is the cost."""
        parts, n = self.parts[t], len(events)
        times = np.fromiter(chain.from_iterable(map(_TIMES, events)), dtype=np.float64, count=2 * n).reshape(n, 2)
        parts["ts"].append(times[:, 0])
        # a negative or NaN duration (a profiler's clock glitch) counts as none: time is never negative
        parts["dur"].append(np.where(times[:, 1] > 0, times[:, 1], 0.0))
        names = np.fromiter(map(self.names[t].__getitem__, map(_NAME, events)), dtype=np.int32, count=n)
        parts["name"].append(names)
        if t == _KERNEL:
            parts["kind"].append((table - _KERNEL).astype(np.int32))
        else:
            parts["thread"].append(self._thread_codes(events))
        fields = _INT_ARGS.get(t, ())
        if fields:
            getter = attrgetter(*(f"args.{f}" for f in fields))
            flat = chain.from_iterable(map(getter, events)) if len(fields) > 1 else map(getter, events)
            ints = np.fromiter(flat, dtype=np.int64, count=len(fields) * n).reshape(n, len(fields))
            for j, name in enumerate(fields):
                parts[name].append(ints[:, j])
        if t == _OP:
            self._add_op_args(parts, events, names)

    def _thread_codes(self, events: list[Any]) -> I32:
        """The (pid, tid) code of each event. A piece's events mostly share one or two threads:
        numeric ids are compared as numpy rows; string ids ("Spans") go through the dictionary."""
        n = len(events)
        try:
            ids = np.fromiter(chain.from_iterable(map(_THREAD, events)), dtype=np.int64, count=2 * n).reshape(n, 2)
        except (TypeError, ValueError, OverflowError):
            return np.fromiter(map(self.threads.__getitem__, map(_THREAD, events)), dtype=np.int32, count=n)
        if n and (ids == ids[0]).all():
            return np.full(n, self.threads[tuple(ids[0].tolist())], dtype=np.int32)
        distinct, first, inverse = np.unique(ids, axis=0, return_index=True, return_inverse=True)
        codes = np.empty(len(distinct), dtype=np.int32)
        for i in np.argsort(first).tolist():  # new threads numbered as they first appear, as one by one would
            codes[i] = self.threads[tuple(distinct[i].tolist())]
        return codes[inverse.reshape(-1)]

    def _add_op_args(self, parts: dict[str, list[npt.NDArray[Any]]], events: list[Event], names: I32) -> None:
        """Input type / Input Dims: every op's raw values joined into one byte string (a record
        separator, which valid JSON cannot hold raw, between them); Concrete Inputs: of conversions."""
        self.arg_blob += _SEPARATOR.join(chain.from_iterable(map(_TYPES_DIMS, events)))
        self.arg_blob += _SEPARATOR
        n = len(events)
        concrete = np.zeros(n, dtype=np.int32)
        wanted = [self.names[_OP][c] for c in CONCRETE_KEPT_FOR if c in self.names[_OP]]
        for i in np.flatnonzero(np.isin(names, wanted)).tolist():
            concrete[i] = self.concrete[bytes(events[i].args.concrete)]
        parts["concrete"].append(concrete)

    def _op_args(self) -> OpArgs:
        blob, self.arg_blob = self.arg_blob, bytearray()
        ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == _SEPARATOR[0]).astype(np.int64)
        starts = np.concatenate([np.zeros(min(1, len(ends)), dtype=np.int64), ends[:-1] + 1])
        spans = np.stack([starts[0::2], ends[0::2], starts[1::2], ends[1::2]], axis=1)
        return OpArgs(bytes(blob), spans.astype(np.int32) if len(blob) < 2**31 else spans)

    def _column(self, t: int, name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
        """A finished column; its pieces are let go as it is built, so they are not held twice."""
        parts = self.parts[t].pop(name, None)
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    def _names(self, t: int) -> Categorical:
        return Categorical(self._column(t, "name", np.int32), tuple(self.names[t]))

    def _ops(self, t: int) -> Ops:
        ts = self._column(t, "ts", np.float64)
        n = len(ts)
        if t == _RANGE:
            return Ops(names=self._names(t), ts=ts, end=ts + self._column(t, "dur", np.float64),
                       thread=self._column(t, "thread", np.int32), external_id=np.full(n, -1, dtype=np.int64),
                       args=OpArgs.empty(n), concrete=Encoded(np.zeros(n, dtype=np.int32), (EMPTY_ARGS,)))
        return Ops(names=self._names(t), ts=ts, end=ts + self._column(t, "dur", np.float64),
                   thread=self._column(t, "thread", np.int32), external_id=self._column(t, "external_id", np.int64),
                   args=self._op_args(), concrete=Encoded(self._column(t, "concrete", np.int32), tuple(self.concrete)))

    def trace(self, meta: TraceMeta) -> Trace:
        ops, ranges = self._ops(_OP), self._ops(_RANGE)
        ts = self._column(_LAUNCH, "ts", np.float64)
        launches = Launches(names=self._names(_LAUNCH), ts=ts, end=ts + self._column(_LAUNCH, "dur", np.float64),
                            thread=self._column(_LAUNCH, "thread", np.int32),
                            correlation=self._column(_LAUNCH, "correlation", np.int64),
                            external_id=self._column(_LAUNCH, "external_id", np.int64))
        kernels = Kernels(names=self._names(_KERNEL),
                          kinds=Categorical(self._column(_KERNEL, "kind", np.int32), KERNEL_KINDS),
                          ts=self._column(_KERNEL, "ts", np.float64), dur=self._column(_KERNEL, "dur", np.float64),
                          device=self._column(_KERNEL, "device", np.int64),
                          stream=self._column(_KERNEL, "stream", np.int64),
                          correlation=self._column(_KERNEL, "correlation", np.int64),
                          external_id=self._column(_KERNEL, "external_id", np.int64))
        kept = len(ops) + len(ranges) + len(launches) + len(kernels)
        return Trace(ops=ops, ranges=ranges, launches=launches, kernels=kernels,
                     threads=[(str(p), str(t)) for p, t in self.threads], meta=meta,
                     dropped_events=self.events - kept)


def _recode(codes: Codes[Any], values: list[Any]) -> I32:
    """For each value (in the other dictionary's code order), its code in `codes` (new ones added)."""
    return np.fromiter(map(codes.__getitem__, values), dtype=np.int32, count=len(values))


def trace_meta(doc: Doc, source_name: str) -> TraceMeta:
    devices = tuple(str(d.get("name", "")) for d in doc.deviceProperties if isinstance(d, dict))
    runtime = "hip" if doc.hip_runtime_version is not None else ("cuda" if doc.cuda_runtime_version else "cpu")
    rank = doc.distributedInfo.get("rank")
    world = doc.distributedInfo.get("world_size")
    return TraceMeta(
        devices=devices,
        rank=rank if isinstance(rank, int) and 0 <= rank < 2**31 else None,  # anything else is not a rank
        world_size=world if isinstance(world, int) and 0 < world < 2**31 else None,
        runtime=runtime,
        record_shapes=bool(doc.record_shapes),
        source_name=source_name,
        base_time_ns=doc.baseTimeNanoseconds,
        kernelscope=doc.kernelscope,
    )

