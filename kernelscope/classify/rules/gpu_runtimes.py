"""Rule tables for runtimes that ship their own quantized kernels outside the serving engines: ONNX
Runtime's CUDA contrib ops (MatMulNBits, GatherBlockQuantized, QDQ), NVIDIA Transformer Engine (the casts
into fp8 / MXFP8 / NVFP4 before its GEMMs) and ExLlamaV2 / V3 (EXL2 / EXL3 / GPTQ GEMMs, the weight
reconstruction before cuBLAS, the quantized KV cache). Sources: each project's CUDA sources; the labelled
names are in tests/classify/corpus.
"""

from __future__ import annotations

from kernelscope.classify.rules.base import Arg, Fn, Name, Not, RuleTable, rule, words
from kernelscope.vocabulary import Device
from kernelscope.vocabulary import KernelClass as C
from kernelscope.vocabulary import Role as R

LOW = frozenset({"fp8e4m3", "fp8e5m2", "fp4", "fp6", "int8", "int4", "mx"})

ONNXRUNTIME = RuleTable("ONNX Runtime", (
    rule("ort.matmul-nbits", Name(r"onnxruntime::"), Fn(r"^MatMul\w*(Int4|Int8|\db|NBits|Bnb4|Q4|Q8)\w*Kernel"),
         role=R.GEMM, cls=C.NATIVE, format="int4 / int8 blockwise (MatMulNBits)",
         reason="ONNX Runtime MatMulNBits GEMV: unpacks the 4- / 8-bit weight in registers as it multiplies"),
    rule("ort.dequantize", Name(r"onnxruntime::"), Fn(r"(Dequantize\w*|GatherBlockQuantized\w*)"), role=R.DEQUANT,
         cls=C.DEQUANT, format="int4 / int8 blockwise",
         reason="ONNX Runtime dequantization (MatMulNBits' prefill path, DequantizeLinear, GatherBlockQuantized): "
                "writes the weights (or gathered rows) as floats"),
    rule("ort.quantize", Name(r"onnxruntime::"), Fn(r"(Quantize\w*|BlockwiseQuant\w*)"), role=R.QUANTIZE,
         cls=C.QUANTIZE, reason="ONNX Runtime QuantizeLinear / blockwise quantization"),
), device=Device.GPU)

TRANSFORMER_ENGINE = RuleTable("Transformer Engine", (
    rule("te.cast-to-lowp", Name(r"transformer_engine::"), Fn(r"(unary_kernel|cast\w*|quantize\w*)"),
         Arg(-1, LOW), role=R.QUANTIZE, cls=C.QUANTIZE,
         reason="Transformer Engine cast whose output type (its last template argument) is fp8 / fp4: quantizes"),
    rule("te.cast-from-lowp", Name(r"transformer_engine::"), Fn(r"(unary_kernel|cast\w*)"), Arg(-2, LOW),
         role=R.DEQUANT, cls=C.DEQUANT,
         reason="Transformer Engine cast whose input type (its second last template argument) is fp8 / fp4"),
    rule("te.amax", Name(r"transformer_engine::"), Fn(r"(amax|scale)"), Not(Fn(r"cast|quantize")), role=R.OTHER,
         cls=C.OTHER, reason="Transformer Engine amax / scale bookkeeping: writes no quantized data"),
), device=Device.GPU)

EXLLAMA = RuleTable("ExLlama", (
    rule("exllama.gemm", Fn(r"^(exl3_\w*(gemm|gemv|mgemm|moe)\w*|gemm_half_q_half\w*|q4_matmul\w*|"
                            r"q4v2_\w*matmul\w*)$"), Not(Name(r"^vllm::")), role=R.GEMM, cls=C.NATIVE,
         format="EXL2 / EXL3 / GPTQ", reason="ExLlama GEMM / GEMV reading the packed EXL2 / EXL3 / GPTQ weight"),
    rule("exllama.reconstruct", Fn(r"^(reconstruct(_gptq|_exl2)?_kernel|exl3_\w*(reconstruct|dequant)\w*)$"),
         role=R.DEQUANT, cls=C.DEQUANT, format="EXL2 / EXL3 / GPTQ",
         reason="ExLlama rebuilds the fp16 weight matrix so that a large-batch GEMM can run on cuBLAS"),
    rule("exllama.hadamard", Fn(r"^(had_\w+|exl3_\w*had\w*)_kernel$"), Not(words("quant", "quantize", "qdq")),
         role=R.ELEMENTWISE, cls=C.OTHER,
         reason="EXL3 Hadamard rotation of activations"),
), device=Device.GPU)
