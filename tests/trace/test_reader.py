from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from kernelscope.errors import BadInputError
from kernelscope.trace import Trace, decode, load_trace, parse_trace, split
from tests.helpers import trace_digest
from tests.trace_events import TraceBuilder


def test_buckets_events_by_category_and_drops_python_functions() -> None:
    b = TraceBuilder()
    ext = b.op("aten::mm", 10, 5, ["c10::BFloat16", "c10::BFloat16"], [[4, 8], [8, 16]])
    corr = b.launch(11, ext)
    b.kernel("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_32x5_tn", 20, 3, corr, ext)
    b.range("ks/prefill/r0", 0, 50)
    b.python("model.py(12): forward", 0, 40)
    trace = parse_trace(b.dumps())
    assert trace.ops.names.to_list() == ["aten::mm"]
    assert trace.ranges.names.to_list() == ["ks/prefill/r0"]
    assert trace.launches.correlation.tolist() == [corr]
    assert trace.kernels.names[0].startswith("ampere_bf16")
    assert trace.kernels.kinds.to_list() == ["kernel"]
    assert trace.kernels.external_id.tolist() == [ext]
    assert trace.dropped_events == 1  # the python_function
    assert json.loads(trace.ops.args.types(0)) == ["c10::BFloat16", "c10::BFloat16"]
    assert json.loads(trace.ops.args.dims(0)) == [[4, 8], [8, 16]]


def test_reads_gzip_and_plain_files_alike(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.op("aten::add", 0, 1)
    plain = load_trace(b.write(tmp_path / "t.json"))
    gz = load_trace(b.write(tmp_path / "t.json.gz"))
    assert plain.ops.names.to_list() == gz.ops.names.to_list() == ["aten::add"]


def test_accepts_the_bare_array_form_of_the_chrome_format() -> None:
    events = [{"ph": "X", "cat": "cpu_op", "name": "aten::mul", "pid": 1, "tid": 1, "ts": 0, "dur": 2, "args": {}}]
    assert parse_trace(json.dumps(events).encode()).ops.names.to_list() == ["aten::mul"]


def test_device_metadata_is_kept() -> None:
    b = TraceBuilder()
    trace = parse_trace(b.dumps(deviceProperties=[{"id": 0, "name": "NVIDIA H100 80GB HBM3"}],
                                cuda_runtime_version=12040, distributedInfo={"rank": 3, "world_size": 8}))
    assert trace.meta.devices == ("NVIDIA H100 80GB HBM3",)
    assert trace.meta.runtime == "cuda"
    assert (trace.meta.rank, trace.meta.world_size) == (3, 8)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"hello", "not a JSON trace"),
        (b'{"traceEvents": [', "invalid JSON"),
        (b'{"traceEvents": 5}', "not a torch.profiler trace"),
        (b'{"traceEvents": [{"ph": "X", "ts": "soon"}]}', "not a torch.profiler trace"),
        (b'{"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", '
         b'"args": {"correlation": 99999999999999999999999}}]}',
         "unexpected event args"),
        (b'{"traceEvents": [{"ph": "X", "name": "\xff\xfe"}]}', "invalid JSON"),
    ],
)
def test_bad_traces_raise_one_line_errors(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(payload)
    with pytest.raises(BadInputError) as err:
        load_trace(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.op("aten::add", 0, 1)
    data = gzip.compress(b.dumps())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="gzip"):
        load_trace(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such trace file"):
        load_trace(tmp_path / "absent.json")


def _mixed_trace() -> bytes:
    """Kept and dropped categories, one never seen before, events without a cat (metadata), a
    conversion op with Concrete Inputs, string thread ids."""
    b = TraceBuilder()
    for step in range(30):
        t = step * 100.0
        b.range(f"ks/decode/r0/s{step}", t, 90)
        ext = b.op("aten::mm", t + 1, 20, ["c10::BFloat16", "c10::BFloat16"], [[step + 1, 8], [8, 16]])
        b.kernel("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN", t + 30, 5, b.launch(t + 3, ext), ext)
        conv = b.op("aten::to", t + 40, 5, ["c10::BFloat16", "", "", "", ""], concrete=["", "15", "", "", ""])
        b.kernel("void at::native::unrolled_elementwise_kernel<copy>", t + 50, 1, b.launch(t + 41, conv), conv)
        b.python("model.py(1): f", t, 50)
        b.events.append({"ph": "X", "cat": f"brand_new_{step % 3}", "name": "x", "pid": 1, "tid": 1, "ts": t,
                         "dur": 1, "args": {}})
        b.events.append({"ph": "X", "cat": "gpu_memcpy", "name": "Memcpy HtoD", "pid": 0, "tid": 7, "ts": t + 60,
                         "dur": 2, "args": {"correlation": 1, "device": 0, "stream": 7}})
        if step % 10 == 9:
            b.events.append({"name": "thread_name", "ph": "M", "pid": 100, "tid": "stream 7", "args": {"name": "s"}})
    return b.dumps(deviceProperties=[{"id": 0, "name": "NVIDIA H100 80GB HBM3"}], cuda_runtime_version=12040)


@pytest.mark.parametrize("block_size", [1, 5, 97, 1024, 4096])
def test_any_block_size_loads_the_same_trace(block_size: int) -> None:
    data = _mixed_trace()
    whole = parse_trace(data, block_size=len(data))
    assert trace_digest(parse_trace(data, block_size=block_size)) == trace_digest(whole)
    assert len(whole.kernels) == 90 and whole.kernels.kinds.to_list().count("memcpy") == 30
    assert json.loads(whole.ops.concrete[1]) == ["", "15", "", "", ""] and whole.ops.concrete[0] == b"[]"
    assert whole.dropped_events == 30 + 30 + 3  # python functions, new categories, metadata


def test_tagged_and_plain_decoding_agree() -> None:
    """The fast decoder (a union tagged by cat) must load exactly what plain structs load."""
    data = _mixed_trace()
    tagged = parse_trace(data, block_size=512)
    original = decode.PieceDecoder
    decode.PieceDecoder = lambda: decode.PLAIN_DECODER.decode  # type: ignore[assignment,misc,return-value]
    try:
        plain = parse_trace(data, block_size=512)
    finally:
        decode.PieceDecoder = original  # type: ignore[misc]
    assert trace_digest(tagged) == trace_digest(plain)


def test_a_traceEvents_key_nested_in_another_value_is_not_the_trace() -> None:
    b = TraceBuilder()
    b.op("aten::add", 0, 1)
    inner = json.dumps({"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::decoy", "ts": 0, "dur": 1}]})
    data = b'{"notes": ' + inner.encode() + b', ' + b.dumps()[1:]
    assert parse_trace(data, block_size=16).ops.names.to_list() == ["aten::add"]
    only_nested = b'{"notes": ' + inner.encode() + b'}'
    assert len(parse_trace(only_nested, block_size=16).ops) == 0


def test_reading_holds_a_block_not_the_file(tmp_path: Path) -> None:
    """The loader's own allocations stay far below the file's size (tracemalloc, numpy included)."""
    b = TraceBuilder()
    for i in range(20_000):
        ext = b.op("aten::mm", i * 10.0, 5, ["c10::BFloat16", "c10::BFloat16"], [[1, 8], [8, 16]])
        b.python(f"model.py({i % 50}): forward", i * 10.0, 8)
        b.kernel("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN", i * 10.0 + 6, 1, b.launch(i * 10.0 + 1, ext), ext)
    path = b.write(tmp_path / "big.json")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        trace = load_trace(path, block_size=64 << 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(trace.kernels) == 20_000
    assert peak < size / 2, (peak, size)  # reading the whole file at once would be over 1x by itself


# ------------------------------------------------------------------- two processes, a half each


def _needs_fork() -> None:
    if not split.fork_is_safe():
        pytest.skip("splitting needs Linux's fork and no other threads")


def _split(path: Path, block_size: int = 256) -> Trace | None:
    """The trace as two processes read it, or None where they gave up (any split point is allowed)."""
    return split.split_parse(path, block_size, 0)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("block_size", [64, 256, 4096])
def test_two_processes_load_the_same_trace_as_one(tmp_path: Path, gz: bool, block_size: int) -> None:
    _needs_fork()
    data = _mixed_trace()
    path = tmp_path / ("t.json.gz" if gz else "t.json")
    path.write_bytes(gzip.compress(data) if gz else data)
    split = _split(path, block_size)
    assert split is not None  # the split was taken, not fallen back from
    assert trace_digest(split) == trace_digest(load_trace(path, split=False))


def test_two_processes_read_a_bare_event_array(tmp_path: Path) -> None:
    _needs_fork()
    events = json.loads(_mixed_trace())["traceEvents"]
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(events))
    split = _split(path)
    assert split is not None and trace_digest(split) == trace_digest(load_trace(path, split=False))


def test_a_split_point_inside_a_string_falls_back_to_one_process(tmp_path: Path) -> None:
    """Every cut the split could take is inside an op name: the first half does not close, and the
    whole file is read by one process, with the same result."""
    _needs_fork()
    b = TraceBuilder()
    b.op("aten::mm", 0, 1)
    b.op("x" + "}, {" * 4000, 2, 1)  # the middle of the document is inside this name
    b.op("aten::add", 3, 1)
    path = b.write(tmp_path / "t.json")
    assert _split(path) is None
    loaded = load_trace(path, split=True)
    assert loaded.ops.names.to_list() == ["aten::mm", "x" + "}, {" * 4000, "aten::add"]


@pytest.mark.parametrize("damage", ["truncated", "bad_json_late", "bad_json_early"])
def test_a_bad_trace_reports_the_same_error_either_way(tmp_path: Path, damage: str) -> None:
    data = _mixed_trace()
    if damage == "truncated":
        data = data[: len(data) * 3 // 4]
    elif damage == "bad_json_late":
        at = data.index(b'"cat"', len(data) * 3 // 4)
        data = data[:at] + b"!" + data[at + 1:]
    else:
        at = data.index(b'"cat"', len(data) // 4)
        data = data[:at] + b"!" + data[at + 1:]
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(BadInputError) as one:
        load_trace(path, split=False)
    with pytest.raises(BadInputError) as two:
        load_trace(path, split=True, block_size=256)
    assert str(two.value) == str(one.value)


def test_an_array_that_ends_before_the_split_point_is_read_by_one_process(tmp_path: Path) -> None:
    """Most of the document after traceEvents (objects in a list, so cuts exist there too): the split
    point falls outside the events, and one process reads the file."""
    _needs_fork()
    doc = json.loads(_mixed_trace())
    doc["extra"] = [{"k": i, "v": "x" * 20} for i in range(2000)]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    assert _split(path) is None
    assert trace_digest(load_trace(path, split=True, block_size=256)) == trace_digest(load_trace(path, split=False))


def test_new_threads_are_numbered_as_they_first_appear_however_the_file_is_cut(tmp_path: Path) -> None:
    """Threads met for the first time in descending id order, around the split point and inside one
    piece: codes follow first appearance, as a one-by-one read gives them."""
    _needs_fork()
    b = TraceBuilder()
    for i in range(300):
        tid = 1 if i < 150 else (3 if i % 2 else 9)
        b.events.append({"ph": "X", "cat": "cpu_op", "name": f"aten::op{i % 7}", "pid": 1, "tid": tid, "ts": float(i),
                         "dur": 0.5, "args": {}})
    path = b.write(tmp_path / "t.json")
    one = load_trace(path, split=False, block_size=1 << 20)
    assert one.threads == [("1", "1"), ("1", "9"), ("1", "3")]
    split = _split(path)
    assert split is not None and trace_digest(split) == trace_digest(one)
