from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from kernelscope.errors import BadInputError
from kernelscope.trace import load_trace, parse_trace
from tests.core.events import TraceBuilder


def test_buckets_events_by_category_and_drops_python_functions() -> None:
    b = TraceBuilder()
    ext = b.op("aten::mm", 10, 5, ["c10::BFloat16", "c10::BFloat16"], [[4, 8], [8, 16]])
    corr = b.launch(11, ext)
    b.kernel("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_32x5_tn", 20, 3, corr, ext)
    b.range("ks/prefill/r0", 0, 50)
    b.python("model.py(12): forward", 0, 40)
    trace = parse_trace(b.dumps())
    assert trace.ops.names == ["aten::mm"]
    assert trace.ranges.names == ["ks/prefill/r0"]
    assert trace.launches.correlation.tolist() == [corr]
    assert trace.kernels.names[0].startswith("ampere_bf16")
    assert trace.kernels.external_id.tolist() == [ext]
    assert trace.dropped_events == 1  # the python_function
    assert json.loads(bytes(trace.ops.input_types[0])) == ["c10::BFloat16", "c10::BFloat16"]


def test_reads_gzip_and_plain_files_alike(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.op("aten::add", 0, 1)
    plain = load_trace(b.write(tmp_path / "t.json"))
    gz = load_trace(b.write(tmp_path / "t.json.gz"))
    assert plain.ops.names == gz.ops.names == ["aten::add"]


def test_accepts_the_bare_array_form_of_the_chrome_format() -> None:
    events = [{"ph": "X", "cat": "cpu_op", "name": "aten::mul", "pid": 1, "tid": 1, "ts": 0, "dur": 2, "args": {}}]
    assert parse_trace(json.dumps(events).encode()).ops.names == ["aten::mul"]


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
