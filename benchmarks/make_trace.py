"""Write a realistic synthetic torch.profiler trace of N kernels, for benchmarks and scale tests.

    python benchmarks/make_trace.py --kernels 100000 --out /tmp/t100k.json
    python benchmarks/make_trace.py --kernels 1000000 --quant nf4 --out /tmp/t1m.json.gz
    python benchmarks/make_trace.py --repeat-trace real.json.gz --times 46 --out big.json

The synthetic trace has the shape of a Hugging Face eager decode on an H100: per decoder layer an
RMSNorm, q/k/v/o and gate/up/down projections (aten::linear > aten::t / aten::matmul > aten::mm with
Input type / Input Dims), SDPA, element-wise ops; each op's kernels have a cudaLaunchKernel runtime
event, ac2g flows and External ids; python_function events (noise kernelscope must drop), memory
instant events, ProfilerStep and ks/prefill / ks/decode annotations. With --quant nf4 the projections
dequantize with bitsandbytes in prefill and use its 4-bit GEMV in decode; with --quant int4 they use
tinygemm. --repeat-trace instead repeats a real trace N times, shifting timestamps and ids.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path
from typing import IO, Any

PID, TID, STREAM = 4242, 4242, 7
DENSE_GEMM = ("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN",
              "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off"
              "_kernel__5x_cublas")
ELEMENTWISE = {
    "aten::add": "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, "
                 "std::array<char*, 3ul> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, std::array<char*, 3ul>)",
    "aten::mul": "void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl_nocast<at::native::"
                 "BinaryFunctor<c10::BFloat16, c10::BFloat16, c10::BFloat16, at::native::binary_internal::"
                 "MulFunctor<float> > >(at::TensorIteratorBase&)",
    "aten::silu": "void at::native::vectorized_elementwise_kernel<4, at::native::(anonymous namespace)::silu_kernel"
                  "(at::TensorIteratorBase&)::{lambda()#1}::operator()() const::{lambda(c10::BFloat16)#1}, "
                  "std::array<char*, 2ul> >(int)",
    "aten::rsqrt": "void at::native::vectorized_elementwise_kernel<4, at::native::rsqrt_kernel_cuda(at::"
                   "TensorIteratorBase&)::{lambda()#2}, std::array<char*, 2ul> >(int)",
}
FLASH = ("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, "
         "cutlass::bfloat16_t, Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t> >, false, true, false, "
         "false, true, true, false, false>(pytorch_flash::Flash_fwd_params)")
BNB_DEQUANT = ("void kDequantizeBlockwise<__nv_bfloat16, 512, 64, 8, 2>(float*, unsigned char*, float*, "
               "__nv_bfloat16*, int, int)")
BNB_GEMV = ("void kgemm_4bit_inference_naive<__nv_bfloat16, 128, 16>(int, int, int, __nv_bfloat16*, unsigned char*, "
            "float*, float const*, __nv_bfloat16*, int, int, int, int)")
TINYGEMM = ("void at::native::tinygemm_m16n8k16_chunk_kernel<at::native::ALayout_RM<(at::native::KReductionType)0>, "
            "at::native::BLayout_TC_int4<8, 128>, at::native::ALayout_RM<(at::native::KReductionType)0>, 8, 8>"
            "(void const*, void const*, void const*, void*, int, int, int, int, int, int)")
PROJECTIONS = (("q_proj", 2048, 2048), ("k_proj", 512, 2048), ("v_proj", 512, 2048), ("o_proj", 2048, 2048),
               ("gate_proj", 5632, 2048), ("up_proj", 5632, 2048), ("down_proj", 2048, 5632))


class Writer:
    """Streams events into a Chrome trace file, with the ids the profiler would give them."""

    def __init__(self, fh: IO[str], python_noise: int, rng: random.Random) -> None:
        self.fh = fh
        self.first = True
        # ids start where a real process's counters would be after warm-up (HTA 0.5 downcasts small
        # correlation ids to int16 and then fails to store row indices in that column)
        self.ext = 18_000
        self.corr = 650_000
        self.kernels = 0
        self.gpu_ts = 0.0
        self.python_noise = python_noise
        self.rng = rng

    def emit(self, event: dict[str, Any]) -> None:
        self.fh.write(("" if self.first else ",\n") + json.dumps(event, separators=(",", ":")))
        self.first = False

    def op(self, name: str, ts: float, dur: float, types: list[str], dims: list[list[int]]) -> int:
        self.ext += 1
        self.emit({"ph": "X", "cat": "cpu_op", "name": name, "pid": PID, "tid": TID, "ts": round(ts, 3),
                   "dur": round(dur, 3), "args": {"External id": self.ext, "Record function id": 0,
                                                 "Concrete Inputs": ["" for _ in types], "Input type": types,
                                                 "Input Strides": [[1] * len(d) for d in dims], "Input Dims": dims,
                                                 "Ev Idx": self.ext}})
        for i in range(self.python_noise):
            self.emit({"ph": "X", "cat": "python_function", "name": f"torch/nn/modules/module.py({1700 + i}): "
                       "_call_impl", "pid": PID, "tid": TID, "ts": round(ts - 2.0 + 0.1 * i, 3),
                       "dur": round(dur + 4.0, 3),
                       "args": {"Python parent id": self.ext, "Python id": self.ext * 8 + i, "Ev Idx": self.ext}})
        return self.ext

    def launch(self, ext: int, ts: float, kernel: str, kdur: float) -> None:
        self.corr += 1
        self.emit({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": PID, "tid": TID,
                   "ts": round(ts, 3), "dur": 3.1, "args": {"External id": ext, "cbid": 211, "correlation": self.corr}})
        self.emit({"ph": "s", "id": self.corr, "pid": PID, "tid": TID, "ts": round(ts, 3), "cat": "ac2g",
                   "name": "ac2g"})
        self.gpu_ts = max(self.gpu_ts + 0.8, ts + 5.0)
        self.emit({"ph": "X", "cat": "kernel", "name": kernel, "pid": 0, "tid": STREAM, "ts": round(self.gpu_ts, 3),
                   "dur": round(kdur, 3), "args": {"External id": ext, "queued": 0, "device": 0, "context": 1,
                                                  "stream": STREAM, "correlation": self.corr,
                                                  "registers per thread": 128, "shared memory": 49152,
                                                  "blocks per SM": 1.2, "warps per SM": 9.6, "grid": [132, 1, 1],
                                                  "block": [384, 1, 1], "est. achieved occupancy %": 19}})
        self.emit({"ph": "f", "id": self.corr, "pid": 0, "tid": STREAM, "ts": round(self.gpu_ts, 3), "cat": "ac2g",
                   "name": "ac2g", "bp": "e"})
        self.gpu_ts += kdur
        self.kernels += 1

    def annotation(self, name: str, ts: float, dur: float) -> None:
        self.ext += 1
        self.emit({"ph": "X", "cat": "user_annotation", "name": name, "pid": PID, "tid": TID, "ts": round(ts, 3),
                   "dur": round(dur, 3), "args": {"External id": self.ext, "Record function id": 0}})

    def memory(self, ts: float) -> None:
        self.emit({"ph": "i", "cat": "cpu_instant_event", "s": "t", "name": "[memory]", "pid": PID, "tid": TID,
                   "ts": round(ts, 3), "args": {"Total Reserved": 2629828608, "Total Allocated": 1003059712,
                                                "Bytes": 18317312, "Addr": 137877174353920, "Device Id": 0,
                                                "Device Type": 1}})


def _linear(w: Writer, ts: float, tokens: int, out_f: int, in_f: int, quant: str, decode: bool) -> float:
    """One projection; returns the CPU time it took."""
    act = [1, tokens, in_f]
    start = ts
    w.op("aten::linear", ts, 60.0, ["c10::BFloat16", "c10::BFloat16", ""], [act, [out_f, in_f], []])
    ts += 2.0
    if quant == "nf4":
        packed = [out_f * in_f // 2, 1]
        if decode:
            ext = w.op("bitsandbytes::gemv_4bit", ts, 20.0, ["c10::BFloat16", "unsigned char"], [act, packed])
            w.launch(ext, ts + 5, BNB_GEMV, 6.0 + out_f * in_f / 4e6)
            return 62.0
        ext = w.op("bitsandbytes::dequantize_4bit", ts, 15.0, ["unsigned char", "float"],
                   [packed, [out_f * in_f // 64]])
        w.launch(ext, ts + 5, BNB_DEQUANT, 4.0 + out_f * in_f / 2e6)
        ts += 18.0
    if quant == "int4":
        ext = w.op("aten::_weight_int4pack_mm", ts, 20.0, ["c10::BFloat16", "int", "Scalar", "c10::BFloat16"],
                   [[tokens, in_f], [out_f // 8, in_f // 256, 32, 4], [], [in_f // 128, out_f, 2]])
        w.launch(ext, ts + 5, TINYGEMM, 5.0 + tokens * out_f * in_f / 3e8)
        return 62.0
    w.op("aten::t", ts, 3.0, ["c10::BFloat16"], [[out_f, in_f]])
    ts += 4.0
    w.op("aten::matmul", ts, 40.0, ["c10::BFloat16", "c10::BFloat16"], [act, [in_f, out_f]])
    ext = w.op("aten::mm", ts + 3.0, 30.0, ["c10::BFloat16", "c10::BFloat16"], [[tokens, in_f], [in_f, out_f]])
    w.launch(ext, ts + 8.0, DENSE_GEMM[(out_f + tokens) % 2], 3.0 + tokens * out_f * in_f / 4e8)
    return ts + 50.0 - start


def _elementwise(w: Writer, ts: float, name: str, tokens: int, hidden: int) -> float:
    ext = w.op(name, ts, 8.0, ["c10::BFloat16", "c10::BFloat16"], [[1, tokens, hidden], [1, tokens, hidden]])
    w.launch(ext, ts + 2.0, ELEMENTWISE[name], 1.5 + tokens * hidden / 2e7)
    return 10.0


def _layer(w: Writer, ts: float, tokens: int, quant: str, decode: bool) -> float:
    start = ts
    for name in ("aten::mul", "aten::rsqrt", "aten::mul"):
        ts += _elementwise(w, ts, name, tokens, 2048)
    for proj in PROJECTIONS[:3]:
        ts += _linear(w, ts, tokens, proj[1], proj[2], quant, decode)
    ext = w.op("aten::scaled_dot_product_attention", ts, 30.0, ["c10::BFloat16"] * 3,
               [[1, 16, tokens, 128], [1, 4, tokens, 128], [1, 4, tokens, 128]])
    w.launch(ext, ts + 6.0, FLASH, 10.0 + tokens * 0.2)
    ts += 32.0
    ts += _linear(w, ts, tokens, *PROJECTIONS[3][1:], quant, decode)
    ts += _elementwise(w, ts, "aten::add", tokens, 2048)
    for proj in PROJECTIONS[4:6]:
        ts += _linear(w, ts, tokens, proj[1], proj[2], quant, decode)
    ts += _elementwise(w, ts, "aten::silu", tokens, 5632)
    ts += _linear(w, ts, tokens, *PROJECTIONS[6][1:], quant, decode)
    ts += _elementwise(w, ts, "aten::add", tokens, 2048)
    if w.rng.random() < 0.3:
        w.memory(ts)
    return ts - start


def synthetic_events(w: Writer, kernels: int, quant: str, layers: int = 24) -> None:
    ts = 1_000_000.0
    step = 0
    request = 0
    while w.kernels < kernels:
        decode = step > 0
        tokens = 1 if decode else 512
        start = ts
        label = f"ks/decode/r{request}/s{step - 1}" if decode else f"ks/prefill/r{request}"
        for _ in range(layers):
            ts += _layer(w, ts, tokens, quant, decode)
            if w.kernels >= kernels:
                break
        w.annotation(label, start - 1.0, ts - start + 2.0)
        w.annotation(f"ProfilerStep#{step}", start - 2.0, ts - start + 4.0)
        ts += 50.0
        step += 1
        if step == 64:
            step, request = 0, request + 1


def repeated_events(w: Writer, source: Path, times: int) -> None:
    raw = source.read_bytes()
    doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    numeric = [e for e in events if isinstance(e.get("ts"), (int, float))]
    span = max(e["ts"] + e.get("dur", 0) for e in numeric) - min(e["ts"] for e in numeric) + 1000.0
    id_span = 10 ** (len(str(len(events) * 4)) + 1)
    for k in range(times):
        for e in events:
            copy = dict(e)
            if isinstance(copy.get("ts"), (int, float)):
                copy["ts"] = round(copy["ts"] + k * span, 3)
            if "id" in copy and isinstance(copy["id"], int):
                copy["id"] += k * id_span
            args = copy.get("args")
            if isinstance(args, dict):
                args = dict(args)
                for key in ("correlation", "External id", "Python id", "Ev Idx"):
                    if isinstance(args.get(key), int):
                        args[key] += k * id_span
                copy["args"] = args
            w.emit(copy)
            if copy.get("cat") == "kernel":
                w.kernels += 1


def write_trace(out: Path, kernels: int, quant: str, seed: int, python_noise: int,
                repeat: Path | None = None, times: int = 1) -> int:
    opener = gzip.open if out.name.endswith(".gz") else open
    with opener(out, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
        fh.write('{"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3", '
                 '"computeMajor": 9, "computeMinor": 0}], "cuda_runtime_version": 12040, "record_shapes": 1, '
                 '"traceName": "kernelscope synthetic", "traceEvents": [\n')
        w = Writer(fh, python_noise, random.Random(seed))
        if repeat is not None:
            repeated_events(w, repeat, times)
        else:
            synthetic_events(w, kernels, quant)
        fh.write("\n]}\n")
    return w.kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", type=int, default=100_000)
    parser.add_argument("--quant", choices=("bf16", "nf4", "int4"), default="bf16")
    parser.add_argument("--python-noise", type=int, default=2, help="python_function events per CPU op")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat-trace", type=Path, default=None)
    parser.add_argument("--times", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    n = write_trace(args.out, args.kernels, args.quant, args.seed, args.python_noise, args.repeat_trace, args.times)
    print(json.dumps({"out": str(args.out), "kernels": n, "bytes": args.out.stat().st_size}))


if __name__ == "__main__":
    main()
