from __future__ import annotations

import numpy as np

from kernelscope.classify.link import build_rows, innermost_enclosing, op_tree, root_ops
from kernelscope.trace.reader import parse_trace
from kernelscope.vocabulary import Device
from tests.trace_events import TraceBuilder


def test_op_tree_parents_and_self_time() -> None:
    b = TraceBuilder()
    b.op("aten::linear", 0, 100)
    b.op("aten::t", 1, 4)
    b.op("aten::matmul", 10, 80)
    b.op("aten::mm", 12, 70)
    b.op("aten::add", 120, 10)
    trace = parse_trace(b.dumps())
    tree = op_tree(trace.ops)
    names = trace.ops.names.to_list()
    parent = {names[i]: (names[p] if p >= 0 else None) for i, p in enumerate(tree.parent.tolist())}
    assert parent == {"aten::linear": None, "aten::t": "aten::linear", "aten::matmul": "aten::linear",
                      "aten::mm": "aten::matmul", "aten::add": None}
    self_time = dict(zip(names, tree.self_time.tolist(), strict=True))
    assert self_time == {"aten::linear": 16.0, "aten::t": 4.0, "aten::matmul": 10.0, "aten::mm": 70.0,
                         "aten::add": 10.0}
    assert [names[r] for r in root_ops(tree).tolist()] == ["aten::linear"] * 4 + ["aten::add"]


def test_cpu_rows_count_self_time_and_sum_to_the_top_level_ops() -> None:
    b = TraceBuilder()
    b.op("aten::linear", 0, 100)
    b.op("aten::mm", 12, 70)
    b.op("aten::add", 120, 10)
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    assert rows.device.to_list() == [Device.CPU] * 3
    assert float(rows.time.sum()) == 110.0  # linear 100 + add 10, split without double counting


def test_kernel_links_through_its_own_external_id() -> None:
    b = TraceBuilder()
    ext = b.op("aten::mm", 0, 10)
    corr = b.launch(2, ext)
    b.kernel("gemm_a", 30, 5, corr, ext)
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    assert trace.ops.names[int(rows.op_index[0])] == "aten::mm"
    assert rows.host_ts[0] == 0.0  # attributed at the op's start on the host


def test_kernel_without_external_id_links_through_its_launch() -> None:
    b = TraceBuilder()
    ext = b.op("aten::mm", 0, 10)
    corr = b.launch(2, ext)
    b.kernel("gemm_b", 30, 5, corr)  # older traces: no External id on the kernel
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    assert trace.ops.names[int(rows.op_index[0])] == "aten::mm"


def test_kernel_links_by_containment_when_no_external_id_anywhere() -> None:
    b = TraceBuilder()
    b.op("aten::linear", 0, 20)
    b.op("aten::mm", 1, 10)
    corr = b.launch(5, None)
    b.kernel("gemm_c", 30, 5, corr)
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    assert trace.ops.names[int(rows.op_index[0])] == "aten::mm"  # the innermost op around the launch


def test_graph_replayed_kernels_are_flagged_and_keep_the_launch_as_host_point() -> None:
    b = TraceBuilder()
    corr = b.launch(100, None, name="cudaGraphLaunch")
    b.kernel("k1", 200, 5, corr)
    b.kernel("k2", 206, 5, corr)
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    assert rows.graph_replayed.tolist() == [True, True]
    assert rows.op_index.tolist() == [-1, -1]
    assert rows.host_ts.tolist() == [100.0, 100.0]


def test_compute_op_that_launched_nothing_on_a_gpu_trace_is_a_cpu_row() -> None:
    b = TraceBuilder()
    ext = b.op("aten::mm", 0, 10)
    b.kernel("gemm_d", 30, 5, b.launch(2, ext), ext)
    b.op("aten::linear", 50, 40)
    b.op("aten::matmul", 51, 38)
    b.op("aten::mm", 52, 30)  # offloaded: no launch inside it
    trace = parse_trace(b.dumps())
    rows = build_rows(trace, op_tree(trace.ops))
    assert rows.device.to_list() == [Device.GPU, Device.CPU]
    assert rows.names.to_list() == ["gemm_d", "aten::mm"]  # the innermost host op only
    assert rows.time[1] == 30.0


def refused_then_fallback(scope: str, fallback_first: bool = False) -> list[str]:
    """torchao's int8 matmul at decode on CUDA: aten::_int_mm refuses (no launch), an fp32 mm runs instead."""
    b = TraceBuilder()
    if scope == "module":
        b.range("ks/module/model.layers.0.mlp.down_proj", 0, 100)
    elif scope == "op":
        b.op("aten::linear", 0, 100)
    refused_at, fallback_at = (40, 10) if fallback_first else (10, 40)
    b.op("aten::_int_mm", refused_at, 20)
    ext = b.op("aten::mm", fallback_at, 20)
    b.kernel("gemv_fp32", 200, 5, b.launch(fallback_at + 2, ext), ext)
    trace = parse_trace(b.dumps())
    return build_rows(trace, op_tree(trace.ops)).names.to_list()


def test_a_compute_op_that_launched_nothing_before_its_modules_device_fallback_is_no_cpu_row() -> None:
    assert refused_then_fallback("module") == ["gemv_fp32"]


def test_a_compute_op_that_launched_nothing_stays_a_cpu_row_without_a_later_launch_in_its_module() -> None:
    assert refused_then_fallback("none") == ["gemv_fp32", "aten::_int_mm"]  # two separate top-level calls
    assert refused_then_fallback("module", fallback_first=True) == ["gemv_fp32", "aten::_int_mm"]
    # an op scope is not enough: a compiled region or a step wraps real CPU compute and GPU work alike
    assert refused_then_fallback("op") == ["gemv_fp32", "aten::_int_mm"]


def test_innermost_enclosing_picks_the_deepest_range_on_the_same_thread() -> None:
    b = TraceBuilder()
    b.range("ks/module/model.layers.0", 0, 100)
    b.range("ks/module/model.layers.0.mlp", 10, 50)
    b.range("ks/module/model.layers.0.mlp.up_proj", 20, 10)
    b.range("ks/module/other-thread", 0, 1000, tid=7)
    trace = parse_trace(b.dumps())
    thread = trace.ranges.thread[0]
    points = np.array([5.0, 15.0, 25.0, 75.0, 200.0])
    inner = innermost_enclosing(trace.ranges, np.full(5, thread, dtype=np.int64), points)
    names = [trace.ranges.names[i] if i >= 0 else None for i in inner.tolist()]
    assert names == ["ks/module/model.layers.0", "ks/module/model.layers.0.mlp",
                     "ks/module/model.layers.0.mlp.up_proj", "ks/module/model.layers.0", None]
