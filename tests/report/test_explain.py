from __future__ import annotations

import json
from pathlib import Path

from kernelscope.report.explain import names_from_file
from tests.helpers import ks

NSYS_CSV = """Generating SQLite file report.sqlite from report.nsys-rep
Processing [report.sqlite] with [cuda_gpu_kern_sum.py]...
"Time (%)","Total Time (ns)","Instances","Avg (ns)","Med (ns)","Min (ns)","Max (ns)","StdDev (ns)","Name"
"41.2","123456","240","514.4","512.0","480","600","12.1","void kgemm_4bit_inference_naive<__nv_bfloat16, (int)128, (int)16>(int, int, int, __nv_bfloat16 *, unsigned char *, float *, const float *, __nv_bfloat16 *, int, int, int, int)"
"30.0","90000","240","375.0","370.0","350","400","5.0","void kDequantizeBlockwise<__nv_bfloat16, (int)512, (int)64, (int)8, (int)2>(float *, unsigned char *, float *, __nv_bfloat16 *, int, int)"
"28.8","86000","24","3583.3","3580.0","3500","3700","40.0","nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN"
"""



def test_explain_json_lines() -> None:
    result = ks("explain", "--json", "void kgemm_4bit_inference_naive<__nv_bfloat16, 128, 16>(int)",
                "sm90_xmma_gemm_e4m3bf16_e4m3f32_f32_tn_n_tilesize128x128x128", "totally_unknown_kernel")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(d) >= {"name", "role", "backend", "format", "kernel_class", "rule"} for d in lines] == [True] * 3
    assert [d["kernel_class"] for d in lines] == ["native-quantized", "native-quantized", "other"]
    assert lines[1]["format"] == "fp8 e4m3"
    assert lines[2]["rule"] == "unknown" and lines[2]["role"] == "other"


def test_explain_reads_an_nsys_kern_sum_csv(tmp_path: Path) -> None:
    csv_file = tmp_path / "kern.csv"
    csv_file.write_text(NSYS_CSV)
    names = names_from_file(csv_file)
    assert len(names) == 3 and names[0].startswith("void kgemm_4bit_inference_naive")
    result = ks("explain", "--from", str(csv_file), "--json")
    rules = [json.loads(line)["rule"] for line in result.stdout.splitlines()]
    assert rules == ["bnb-cuda.gemv_4bit", "bnb-cuda.dequantize_4bit", "cublas.nvjet"]


def test_explain_reads_one_name_per_line_and_prints_a_table(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# kernels from a log\nmarlin::Marlin<1125899906910725l, 256>(int4 const*)\n\naten::_int_mm\n")
    result = ks("explain", "--from", str(names))
    assert result.returncode == 0
    assert "marlin.gemm" in result.stdout and "aten.int_mm" in result.stdout  # an op name is explained as the CPU op


def test_explain_without_names_is_a_usage_error(tmp_path: Path) -> None:
    result = ks("explain")
    assert result.returncode == 2 and "explain needs kernel names" in result.stderr
    missing = ks("explain", "--from", str(tmp_path / "absent.txt"))
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
