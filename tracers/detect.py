"""What a loaded model's Linears hold, read from the modules themselves: for a model kernelscope did not
quantize (a checkpoint loaded as shipped, or the model a user hands to `session`). Each library marks its
work in its own way: a swapped module class (bitsandbytes, quanto, HQQ, torch.ao, compressed-tensors,
GPTQ / AWQ kernels) or a tensor subclass as the weight (torchao). A float weight in a plain nn.Linear is
dense, whatever the checkpoint it came from (GGUF is dequantized at load)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kernelscope.runs.documents import SiteEntry
from kernelscope.tracers.quantize import is_linear_like, module_bytes
from kernelscope.vocabulary import SiteKind

SHORT_DTYPES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


@dataclass(frozen=True)
class LinearFormat:
    quantized: bool
    format: str  # what the weight is stored as ("nf4 blockwise absmax (block 64)", or the dtype)
    backend: str = ""  # the library that holds it ('' for a dense weight)
    activations: str = ""  # '' for weight-only
    mode: str = ""  # kernelscope's name for it: int4, int8, nf4, fp4, fp8, w8a8, ... ('' for dense)


def linear_format(mod: nn.Module) -> LinearFormat:
    name = type(mod).__name__
    for reader in (_bitsandbytes, _quanto, _hqq, _torch_ao, _compressed, _gptq_awq, _torchao):
        found = reader(mod, name)
        if found is not None:
            return found
    weight = getattr(mod, "weight", None)
    dtype = SHORT_DTYPES.get(getattr(weight, "dtype", None), str(getattr(weight, "dtype", "")).replace("torch.", ""))
    return LinearFormat(False, dtype)


def _bitsandbytes(mod: nn.Module, name: str) -> LinearFormat | None:
    if name in ("Linear4bit", "LinearNF4", "LinearFP4"):
        state = getattr(mod.weight, "quant_state", None)
        kind = getattr(state, "quant_type", None) or getattr(mod.weight, "quant_type", "nf4")
        block = getattr(state, "blocksize", None) or getattr(mod.weight, "blocksize", 64)
        return LinearFormat(True, f"{kind} blockwise absmax (block {block})", "bitsandbytes", mode=str(kind))
    if name == "Linear8bitLt":
        threshold = getattr(getattr(mod, "state", None), "threshold", 0.0) or 0.0
        acts = f"int8 per-token (outliers > {threshold} in fp16)" if threshold > 0 else "int8 per-token"
        return LinearFormat(True, "int8 per-row absmax (LLM.int8)", "bitsandbytes", acts, "int8")
    return None


def _quanto(mod: nn.Module, name: str) -> LinearFormat | None:
    qtype = getattr(mod, "weight_qtype", None)
    if name != "QLinear" or qtype is None:
        return None
    bits = str(getattr(qtype, "name", qtype)).removeprefix("q")
    act = getattr(mod, "activation_qtype", None)
    acts = f"{str(getattr(act, 'name', act)).removeprefix('q')} per-tensor" if act is not None else ""
    return LinearFormat(True, f"{bits} per-channel (quanto)" if bits == "int8" else f"{bits} group 128 (quanto)",
                        "quanto", acts, bits if not acts else f"w{bits[-1]}a8")


def _hqq(mod: nn.Module, name: str) -> LinearFormat | None:
    if name != "HQQLinear":
        return None
    meta = getattr(mod, "meta", None) or {}
    bits, group = meta.get("nbits", "?"), meta.get("group_size", "?")
    return LinearFormat(True, f"int{bits} asymmetric group {group} (HQQ optimised zero/scale)", "hqq",
                        mode=f"int{bits}")


def _torch_ao(mod: nn.Module, name: str) -> LinearFormat | None:
    if "torch.ao.nn.quantized" in type(mod).__module__ and name == "Linear":
        return LinearFormat(True, "qint8 per-tensor (fbgemm/x86 packed)", "torch", "quint8 dynamic per-tensor", "w8a8")
    return None


def _compressed(mod: nn.Module, name: str) -> LinearFormat | None:
    scheme = getattr(mod, "quantization_scheme", None)
    if scheme is None:
        return None
    weights, acts = getattr(scheme, "weights", None), getattr(scheme, "input_activations", None)
    if weights is None:
        return None
    bits, kind = getattr(weights, "num_bits", "?"), str(getattr(weights, "type", "int")).split(".")[-1].lower()
    strategy = str(getattr(weights, "strategy", "")).split(".")[-1].lower()
    group = getattr(weights, "group_size", None)
    fmt = f"{kind}{bits} " + (f"group {group}" if group else strategy) + " (compressed-tensors)"
    act = "" if acts is None else f"{str(getattr(acts, 'type', 'int')).split('.')[-1].lower()}{acts.num_bits} " + (
        "dynamic" if getattr(acts, "dynamic", False) else "static")
    mode = f"{kind}{bits}" if not act else f"w{bits}a{getattr(acts, 'num_bits', '?')}"
    weight = getattr(mod, "weight", None)
    # transformers decompresses these checkpoints at load unless run_compressed: a float weight is dense
    stored = name == "CompressedLinear" or hasattr(mod, "weight_packed") or (
        isinstance(weight, torch.Tensor) and not weight.dtype.is_floating_point) or (
        isinstance(weight, torch.Tensor) and weight.dtype in (torch.float8_e4m3fn, torch.float8_e5m2))
    if not stored:
        return None
    return LinearFormat(True, fmt, "compressed-tensors", act, mode.replace("float8", "fp8"))


def _gptq_awq(mod: nn.Module, name: str) -> LinearFormat | None:
    if not hasattr(mod, "qweight"):
        return None
    bits, group = getattr(mod, "bits", getattr(mod, "w_bit", 4)), getattr(mod, "group_size", None)
    library = "awq" if "awq" in type(mod).__module__.lower() or name.startswith("WQLinear") else "gptq"
    return LinearFormat(True, f"int{bits} group {group} ({library}, {name})", library, mode=f"int{bits}")


_BITS = (("nvfp4", "fp4"), ("mxfp4", "fp4"), ("float8", "fp8"), ("int4", "int4"), ("int8", "int8"),
         ("uint4", "int4"), ("intx", "intx"))


def _torchao(mod: nn.Module, name: str) -> LinearFormat | None:
    weight = getattr(mod, "weight", None)
    if not isinstance(weight, torch.Tensor) or type(weight) in (torch.Tensor, nn.Parameter):
        return None
    kind = type(weight).__name__
    original = getattr(weight, "original_weight_tensor", None)  # older torchao: activations quantized around it
    inner = type(original).__name__ if original is not None else kind
    act_kwargs = getattr(weight, "act_quant_kwargs", None)  # torchao 0.1x: the weight says how to quantize inputs
    target = str(getattr(weight, "target_dtype", "")).replace("torch.", "")  # intx: int1..int8 held unpacked
    mode = target if target.startswith(("int", "uint")) else next(
        (short for key, short in _BITS if key in inner.lower()), "quantized")
    block = getattr(original if original is not None else weight, "block_size", None)
    in_features = getattr(mod, "in_features", None)
    granularity = (f"group {block[-1]}" if block and in_features and block[-1] < in_features
                   else "per-channel" if block else "")
    acts = "int8 dynamic per-token" if original is not None or act_kwargs is not None else ""
    return LinearFormat(True, " ".join(p for p in (mode, granularity, f"(torchao {inner})") if p), "torchao", acts,
                        f"w{mode[-1]}a8" if acts and mode.startswith("int") else mode)


def stock(model: nn.Module, kv_cache: str = "") -> dict[str, SiteEntry]:
    """One site per Linear, quantized as its module says, and per attention module when a KV cache
    format is given (the cache is the caller's: kernelscope cannot see it from the model)."""
    sites: dict[str, SiteEntry] = {}
    for name, mod in model.named_modules():
        if not name or not is_linear_like(mod):
            continue
        found = linear_format(mod)
        shape = [getattr(mod, "out_features", 0), getattr(mod, "in_features", 0)]
        sites[name] = SiteEntry(kind=SiteKind.LINEAR, requested=found.quantized, quantized=found.quantized,
                                format=found.format, module_type=type(mod).__name__, weight_shape=shape,
                                stored_bytes=module_bytes(mod), note="" if found.quantized else "dense as loaded")
    if kv_cache:
        for name, mod in model.named_modules():
            if re.search(r"(self_attn|attention|attn)$", name) and not name.endswith("_attn.attn"):
                sites[name] = SiteEntry(kind=SiteKind.ATTENTION, requested=True, quantized=True, format=kv_cache,
                                        module_type=type(mod).__name__, stored_bytes=0, note="quantized KV cache")
    return sites


def summary(model: nn.Module) -> tuple[str, str, str, str]:
    """(mode, backend, weight format, activation format) of the model's quantized Linears: the most common."""
    formats = [linear_format(m) for _, m in model.named_modules() if is_linear_like(m)]
    quantized = [f for f in formats if f.quantized]
    if not quantized:
        return "", "", "", ""
    counts: dict[LinearFormat, int] = {}
    for f in quantized:
        counts[f] = counts.get(f, 0) + 1
    top = max(counts, key=lambda f: counts[f])
    return top.mode, top.backend, top.format, top.activations


def model_dtype(model: Any) -> str:
    for p in model.parameters():
        if p.dtype.is_floating_point:
            return SHORT_DTYPES.get(p.dtype, str(p.dtype).replace("torch.", ""))
    return "bf16"
