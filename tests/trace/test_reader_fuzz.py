"""Fuzz: damaged traces either load or fail with the one user-facing error type, never anything else."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelscope.classify.pipeline import classify_trace
from kernelscope.errors import BadInputError
from kernelscope.trace import load_trace, parse_trace, read_trace_bytes, split
from tests.helpers import trace_digest
from tests.trace_events import TraceBuilder


def _valid() -> bytes:
    b = TraceBuilder()
    b.range("ks/decode/r0/s0", 0, 100)
    ext = b.op("aten::mm", 1, 20, ["c10::BFloat16", "c10::BFloat16"], [[4, 8], [8, 16]])
    b.kernel("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN", 30, 5, b.launch(3, ext), ext)
    b.python("model.py(1): f", 0, 50)
    return b.dumps()


VALID = _valid()


def _load(data: bytes, block_size: int = 1 << 20) -> None:
    try:
        trace = parse_trace(data, block_size=block_size)
    except BadInputError as exc:
        assert "\n" not in str(exc)
        return
    classify_trace(trace)  # whatever loads must also classify


BLOCK_SIZES = st.sampled_from([1, 7, 64, 1 << 20])  # read piece by piece, or at once


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=len(VALID)), block_size=BLOCK_SIZES)
def test_truncated(cut: int, block_size: int) -> None:
    _load(VALID[:cut], block_size)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(VALID) - 1), byte=st.integers(min_value=0, max_value=255),
       block_size=BLOCK_SIZES)
def test_one_byte_changed(position: int, byte: int, block_size: int) -> None:
    data = bytearray(VALID)
    data[position] = byte
    _load(bytes(data), block_size)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
FIELDS = ("ph", "cat", "name", "pid", "tid", "ts", "dur", "args")


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES, index=st.integers(min_value=0, max_value=4))
def test_wrong_field_values(field: str, value: object, index: int) -> None:
    doc = json.loads(VALID)
    events = doc["traceEvents"]
    events[index % len(events)][field] = value
    _load(json.dumps(doc).encode())


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from(["correlation", "External id", "Input type", "Input Dims", "stream"]), value=JSON_VALUES)
def test_wrong_arg_values(key: str, value: object) -> None:
    doc = json.loads(VALID)
    for e in doc["traceEvents"]:
        e.setdefault("args", {})[key] = value
    _load(json.dumps(doc).encode())


@settings(max_examples=50, deadline=None)
@given(top=JSON_VALUES)
def test_wrong_document_shapes(top: object) -> None:
    _load(json.dumps(top).encode())


def test_invalid_utf8_and_bad_gzip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _load(VALID.replace(b"aten::mm", b"aten::\xff\xfe"))
    path = tmp_path / "t.json.gz"
    path.write_bytes(gzip.compress(VALID)[:-9])
    with pytest.raises(BadInputError, match="gzip"):
        read_trace_bytes(path)


def _outcome(data: bytes, block_size: int) -> object:
    try:
        trace = parse_trace(data, block_size=block_size)
    except BadInputError:
        return "error"
    return (trace.ops.names.to_list(), trace.kernels.names.to_list(), trace.ops.ts.tolist(), trace.dropped_events)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0, max_value=len(VALID) - 1), byte=st.integers(min_value=0, max_value=255),
       block_size=st.integers(min_value=1, max_value=200))
def test_piecewise_reading_accepts_and_rejects_what_one_read_does(position: int, byte: int, block_size: int) -> None:
    data = bytearray(VALID)
    data[position] = byte
    assert _outcome(bytes(data), block_size) == _outcome(bytes(data), len(data))


def _file_outcome(path: Path, split: bool) -> object:
    try:
        trace = load_trace(path, block_size=32, split=split)
    except BadInputError as exc:
        return str(exc)
    return trace_digest(trace)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0, max_value=len(VALID) - 1), byte=st.integers(min_value=0, max_value=255))
def test_two_processes_accept_and_reject_what_one_does(tmp_path: Path, position: int, byte: int) -> None:
    """A damaged byte anywhere (in either half, or at the split point): the same trace or the same
    message, whether a second process read the second half or not."""
    if not split.fork_is_safe():
        pytest.skip("splitting needs Linux's fork and no other threads")
    data = bytearray(VALID)
    data[position] = byte
    path = tmp_path / "t.json"
    path.write_bytes(bytes(data))
    assert _file_outcome(path, split=True) == _file_outcome(path, split=False)
