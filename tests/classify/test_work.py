"""FLOPs and bytes per op (classify/work.py) and their place in the kernel table: the conventional GEMM
definitions, quantized operands as stored, each op's work counted once."""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kernelscope.classify.pipeline import classify_trace
from kernelscope.classify.table import KernelTable
from kernelscope.classify.work import op_work
from kernelscope.runs.store import load_run
from kernelscope.trace.reader import load_trace
from tests.helpers import GPU_RUNS, RUNS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "traces"
HF_H100 = SHARED / "tracelens-h100-qwen1.5-0.5b-hf-eager-bf16.json.gz"
SIZE = {"float": 4, "c10::BFloat16": 2, "c10::Half": 2, "double": 8}


def test_plain_gemms_follow_the_conventional_definitions() -> None:
    mm = op_work("aten::mm", ("bf16", "bf16"), ((32, 256), (256, 512)))
    assert mm is not None and (mm.flops, mm.bytes, mm.dtype) == (2 * 32 * 512 * 256, (32 * 256 + 256 * 512
                                                                                      + 32 * 512) * 2, "bf16")
    addmm = op_work("aten::addmm", ("fp16", "fp16", "fp16", "scalar", "scalar"), ((512,), (8, 64), (64, 512), (), ()))
    assert addmm is not None and addmm.bytes == (512 + 8 * 64 + 64 * 512 + 8 * 512) * 2  # the bias too
    bmm = op_work("aten::bmm", ("fp32", "fp32"), ((4, 8, 16), (4, 16, 2)))
    assert bmm is not None and bmm.flops == 2 * 4 * 8 * 2 * 16
    assert op_work("aten::mm", ("bf16", "bf16"), ((32, 256), (128, 512))) is None  # shapes that do not fit
    assert op_work("aten::relu", ("bf16",), ((32, 256),)) is None  # no form: no figure, never a guess


def test_quantized_operands_count_as_stored() -> None:
    # torchao int4 on CUDA (tinygemm): packed int32 [N/8, K/64, 32, 4], scales and zeros [K/g, N, 2] bf16
    int4 = op_work("aten::_weight_int4pack_mm", ("bf16", "int32", "scalar", "bf16"),
                   ((1, 2048), (256, 16, 32, 4), (), (16, 2048, 2)))
    assert int4 is not None
    assert int4.flops == 2 * 2048 * 2048
    assert int4.bytes == 2048 * 2 + 256 * 16 * 32 * 4 * 4 + 16 * 2048 * 2 * 2 + 2048 * 2
    assert int4.bytes < 2048 * 2048 * 2 / 3.5  # about a quarter of the bf16 weight, plus the scales
    int8 = op_work("aten::_int_mm", ("int8", "int8"), ((512, 2048), (2048, 2048)))
    assert int8 is not None and int8.dtype == "int8" and int8.bytes == 512 * 2048 + 2048 * 2048 + 512 * 2048 * 4
    nf4 = op_work("bitsandbytes::gemm_4bit", ("bf16", "uint8", "list", "fp32"),
                  ((1, 1, 2048), (2097152, 1), (), (65536,)))
    assert nf4 is not None and nf4.flops == 2 * 2048 * 2048 and nf4.bytes == 2048 * 2 + 2097152 + 65536 * 4 + 2048 * 2
    # the same op's dequantize kernel (above bitsandbytes' fused-GEMV threshold): packed in, bf16 weight out
    dq = op_work("bitsandbytes::gemm_4bit", ("bf16", "uint8", "list", "fp32"),
                 ((1, 512, 2048), (2097152, 1), (), (65536,)), role="dequant")
    assert dq is not None and dq.bytes == 2097152 + 65536 * 4 + 2048 * 2048 * 2
    fp8 = op_work("aten::_scaled_mm", ("fp8e4m3", "fp8e4m3", "fp32", "fp32"), ((16, 64), (64, 32), (), ()))
    assert fp8 is not None and fp8.dtype == "fp8" and fp8.bytes is None  # its output dtype is not in the trace


def test_attention_and_conversions() -> None:
    sdpa = op_work("aten::_scaled_dot_product_flash_attention_for_cpu", ("bf16", "bf16", "bf16"),
                   ((1, 4, 32, 64), (1, 2, 32, 64), (1, 2, 32, 64)), role="attention")
    assert sdpa is not None and sdpa.flops == 2 * 4 * 32 * 32 * (64 + 64)
    assert sdpa.bytes == (4 * 32 * 64 + 2 * 2 * 32 * 64 + 4 * 32 * 64) * 2
    bshd = op_work("aten::_flash_attention_forward", ("bf16", "bf16", "bf16"),
                   ((1, 32, 4, 64), (1, 32, 2, 64), (1, 32, 2, 64)), role="attention")
    assert bshd is not None and bshd.flops == sdpa.flops
    # elementwise (de)quantize steps follow torch's promotion: a bf16 scale times a uint8 tensor is bf16
    mul = op_work("aten::mul", ("bf16", "uint8"), ((64, 1), (64, 64)), role="dequant")
    assert mul is not None and (mul.dtype, mul.bytes) == ("bf16", 64 * 2 + 64 * 64 + 64 * 64 * 2)
    assert op_work("aten::mul", ("bf16", "uint8"), ((64, 1), (64, 64)), role="gemm") is None
    assert op_work("aten::mul", ("int8", "scalar"), ((64, 64), ()), role="quantize") is None  # may be a float
    assert op_work("aten::add", ("bf16", "fp16"), ((8,), (8,)), role="quantize").dtype == "fp32"  # type: ignore[union-attr]
    copy = op_work("aten::copy_", ("bf16", "int8", "scalar"), ((256, 256), (256, 256), ()), role="dequant")
    assert copy is not None and copy.bytes == 256 * 256 * 3


def _carriers(table: KernelTable) -> np.ndarray:
    return ~np.isnan(table.number("flops"))


@pytest.mark.parametrize("name", ["bf16", "int4-torchao", "int8-torchao", "nf4-bitsandbytes", "kv-int4-quanto"])
def test_each_op_carries_its_work_once(name: str) -> None:
    for root in (RUNS, GPU_RUNS):
        table = load_run(root / name).table
        carries = _carriers(table)
        roles = np.asarray(table.role.to_list())[carries].tolist()
        pairs = Counter(zip(table.op_id[carries].tolist(), roles, strict=True))
        assert pairs and max(pairs.values()) == 1
        ops = set(np.asarray(table.op.to_list())[carries].tolist())
        assert "aten::linear" not in ops and "aten::matmul" not in ops  # the wrappers around aten::mm never do
        assert not np.isnan(table.number("flops")[table.role.mask("gemm") & (table.op.mask("aten::mm"))]).all()


def _conventional(event: dict[str, object]) -> tuple[str, float, float]:
    args = event["args"]
    assert isinstance(args, dict)
    dims, types = args["Input Dims"], args["Input type"]
    name = str(event["name"])
    a, b, extra = (1, 2, (0,)) if name == "aten::addmm" else (0, 1, ())
    batch = dims[a][0] if name == "aten::bmm" else 1
    m, k = dims[a][-2], dims[a][-1]
    n = dims[b][-1]
    size = SIZE[types[a]]
    moved = sum(math.prod(dims[i]) * SIZE[types[i]] for i in (a, b, *extra)) + batch * m * n * size
    return name, 2.0 * batch * m * n * k, float(moved)


@pytest.mark.skipif(not HF_H100.is_file(), reason="../shared/traces is not beside this checkout")
def test_every_plain_gemm_of_the_hf_h100_trace_has_the_conventional_work() -> None:
    names = ("aten::mm", "aten::addmm", "aten::bmm")
    with gzip.open(HF_H100) as fh:
        raw = json.load(fh)["traceEvents"]
    expected = Counter(_conventional(e) for e in raw if e.get("cat") == "cpu_op" and e.get("name") in names)
    table = classify_trace(load_trace(HF_H100)).table
    carries = _carriers(table) & table.op.isin(list(names))
    ops = np.asarray(table.op.to_list())[carries]
    got = Counter(zip(ops.tolist(), table.number("flops")[carries].tolist(), table.number("bytes")[carries].tolist(),
                      strict=True))
    assert sum(expected.values()) == 169
    assert got == expected


def test_a_version_1_table_reads_with_unknown_work(tmp_path: Path) -> None:
    table = load_run(RUNS / "bf16").table
    arrow = table.to_arrow().drop_columns(["flops", "bytes", "work_dtype"])
    old = KernelTable.from_arrow(arrow)
    assert np.isnan(old.number("flops")).all() and set(old.work_dtype.to_list()) == {""}
    path = tmp_path / "k.parquet"
    table.write_parquet(path)
    again = KernelTable.read_parquet(path)
    assert np.array_equal(again.number("flops"), table.number("flops"), equal_nan=True)
