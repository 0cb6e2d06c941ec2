"""Apply a recipe (kernelscope.recipes) to a loaded model, and take stock of what it did.

Every backend quantizes the same targets: each nn.Linear inside the decoder layers. `lm_head` stays
in the compute dtype, as bitsandbytes, AWQ and GPTQ checkpoints keep it; the manifest says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from kernelscope.errors import KernelscopeError
from kernelscope.recipes import KVRecipe, Recipe, WeightRecipe
from kernelscope.runs.documents import SiteEntry
from kernelscope.vocabulary import SiteKind

TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
KEEP_DENSE = ("lm_head",)


def target_linears(model: nn.Module) -> list[str]:
    """Fully qualified names of the Linear layers a weight recipe quantizes."""
    return [
        name
        for name, mod in model.named_modules()
        if isinstance(mod, nn.Linear) and not any(name == k or name.endswith("." + k) for k in KEEP_DENSE)
    ]


def load_time_kwargs(recipe: Recipe) -> dict[str, Any]:
    """from_pretrained keyword arguments a recipe needs at load time (bitsandbytes quantizes while loading)."""
    weight = recipe.weight
    if weight is None or weight.backend != "bitsandbytes":
        return {}
    from transformers import BitsAndBytesConfig

    dtype = TORCH_DTYPES[recipe.dtype]
    if weight.mode == "int8":
        cfg = BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=list(KEEP_DENSE))
    else:
        cfg = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=weight.mode,
            bnb_4bit_compute_dtype=dtype,
            llm_int8_skip_modules=list(KEEP_DENSE),
        )
    return {"quantization_config": cfg}


def apply_weight_recipe(model: nn.Module, recipe: Recipe, device: str) -> None:
    weight = recipe.weight
    if weight is None or weight.backend == "bitsandbytes":
        return
    apply = _APPLY.get(weight.backend)
    if apply is None:  # the recipe table and this module disagree: a programming error
        raise KernelscopeError(f"no capture code for backend {weight.backend}")
    try:
        apply(model, weight, recipe, device)
    except (RuntimeError, NotImplementedError, ImportError, AssertionError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KernelscopeError(f"{weight.mode} ({weight.backend}) failed to quantize on {device}: {first}") from None


def _torchao(model: nn.Module, weight: WeightRecipe, recipe: Recipe, device: str) -> None:
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, quantize_

    config: Any
    if weight.mode == "int8":
        config = Int8WeightOnlyConfig()
    elif weight.mode == "w8a8":
        config = Int8DynamicActivationInt8WeightConfig()
    elif device == "cpu":
        from torchao.prototype.quantization.int4 import PrototypeInt4WeightOnlyConfig

        config = PrototypeInt4WeightOnlyConfig(group_size=recipe.group_size)
    else:
        from torchao.quantization import Int4WeightOnlyConfig

        config = Int4WeightOnlyConfig(group_size=recipe.group_size, int4_packing_format="tile_packed_to_4d")
    targets = set(target_linears(model))
    quantize_(model, config, filter_fn=lambda mod, fqn: fqn in targets)


def _quanto(model: nn.Module, weight: WeightRecipe, recipe: Recipe, device: str) -> None:
    from optimum.quanto import freeze, qint4, qint8, quantize

    qtype = qint8 if weight.mode == "int8" else qint4
    quantize(model, weights=qtype, include=target_linears(model))
    freeze(model)


def _hqq(model: nn.Module, weight: WeightRecipe, recipe: Recipe, device: str) -> None:
    from hqq.core.quantize import BaseQuantizeConfig, HQQBackend, HQQLinear

    HQQLinear.set_backend(HQQBackend.PYTORCH)
    quant_config = BaseQuantizeConfig(nbits=4, group_size=recipe.group_size)
    dtype = TORCH_DTYPES[recipe.dtype]
    for name in target_linears(model):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        linear = getattr(parent, child)
        setattr(parent, child, HQQLinear(linear, quant_config, compute_dtype=dtype, device=device))


def _torch_dynamic(model: nn.Module, weight: WeightRecipe, recipe: Recipe, device: str) -> None:
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    spec = {name: default_dynamic_qconfig for name in target_linears(model)}
    quantize_dynamic(model, qconfig_spec=spec, dtype=torch.qint8, inplace=True)


_APPLY: dict[str, Callable[[nn.Module, WeightRecipe, Recipe, str], None]] = {
    "torchao": _torchao,
    "quanto": _quanto,
    "hqq": _hqq,
    "torch": _torch_dynamic,
}


def make_cache_factory(model: nn.Module, kv: KVRecipe | None) -> Callable[[], Any]:
    """A fresh KV cache per request: DynamicCache, or transformers' QuantizedCache for KV modes."""
    from transformers import DynamicCache

    if kv is None:
        return lambda: DynamicCache(config=model.config)
    from transformers.cache_utils import QuantizedCache

    def quantized() -> Any:
        return QuantizedCache(backend=kv.backend, config=model.config, nbits=kv.nbits)

    try:
        quantized()
    except (ImportError, ValueError, RuntimeError) as exc:
        raise KernelscopeError(f"{kv.mode} ({kv.backend}) cache cannot be built: {exc}") from None
    return quantized


def tensor_bytes(t: Any) -> int:
    """Bytes a tensor really stores, looking inside tensor subclasses (torchao, quanto) and
    quantized tensors (torch.ao: int8 payload plus per-channel scales and zero points)."""
    if not isinstance(t, torch.Tensor):
        return 0
    flatten = getattr(t, "__tensor_flatten__", None)
    if flatten is not None and type(t) not in (torch.Tensor, nn.Parameter):
        names, _ = flatten()
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    if t.is_quantized:
        extra = 0
        if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            extra = int(t.q_per_channel_scales().nbytes + t.q_per_channel_zero_points().nbytes)
        return int(t.numel() * t.element_size()) + extra
    return int(t.numel() * t.element_size())


def module_bytes(mod: nn.Module) -> int:
    """Bytes of one module's own weights as stored, scales and zero points included."""
    total = 0
    for p in list(mod.parameters(recurse=False)) + list(mod.buffers(recurse=False)):
        total += tensor_bytes(p)
        quant_state = getattr(p, "quant_state", None)  # bitsandbytes 4-bit: absmax and code
        if quant_state is not None:
            total += sum(tensor_bytes(v) for v in vars(quant_state).values())
            nested = getattr(quant_state, "state2", None)
            if nested is not None:
                total += sum(tensor_bytes(v) for v in vars(nested).values())
        scb = getattr(p, "SCB", None)  # bitsandbytes 8-bit: per-row scales
        total += tensor_bytes(scb)
    meta = getattr(mod, "meta", None)  # HQQLinear: scale / zero tensors live in a dict
    if isinstance(meta, dict):
        total += sum(tensor_bytes(v) for v in meta.values())
    packed = getattr(mod, "_packed_params", None)  # torch.ao dynamic Linear
    if packed is not None and hasattr(mod, "weight") and callable(mod.weight):
        total += tensor_bytes(mod.weight())
        bias = mod.bias()
        total += tensor_bytes(bias)
    return total


def model_bytes(model: nn.Module) -> int:
    return sum(module_bytes(m) for m in model.modules())


def _is_quantized_linear(mod: nn.Module) -> bool:
    if type(mod) is not nn.Linear:
        return True  # a backend swapped the class (bnb, quanto, HQQ, torch.ao)
    w = mod.weight
    return type(w) not in (torch.Tensor, nn.Parameter) or not w.dtype.is_floating_point


def _weight_shape(mod: nn.Module) -> tuple[int, ...]:
    out_f, in_f = getattr(mod, "out_features", None), getattr(mod, "in_features", None)
    if isinstance(out_f, int) and isinstance(in_f, int):
        return (out_f, in_f)
    return ()


def take_stock(model: nn.Module, recipe: Recipe, requested: list[str]) -> dict[str, SiteEntry]:
    """One site entry per Linear (requested or not) and, for KV modes, per attention module."""
    sites: dict[str, SiteEntry] = {}
    weight = recipe.weight
    wanted = set(requested) if weight is not None else set()
    for name, mod in model.named_modules():
        if not name:
            continue
        is_linear = name in wanted or is_linear_like(mod)
        if not is_linear:
            continue
        quantized = name in wanted and _is_quantized_linear(mod)
        if name in wanted and quantized:
            fmt, note = recipe.weight_format, ""
        elif name in wanted:
            mode = weight.mode if weight else ""
            fmt, note = recipe.dtype, f"asked for {mode} but still a dense {type(mod).__name__}"
        else:
            fmt = recipe.dtype
            note = "kept in the compute dtype by the recipe" if weight is not None else "baseline"
        sites[name] = SiteEntry(kind=SiteKind.LINEAR, requested=name in wanted, quantized=quantized, format=fmt,
                                module_type=type(mod).__name__, weight_shape=list(_weight_shape(mod)),
                                stored_bytes=module_bytes(mod), note=note)
    if recipe.kv is not None:
        for name, mod in model.named_modules():
            if name.endswith("self_attn"):
                sites[name] = SiteEntry(kind=SiteKind.ATTENTION, requested=True, quantized=True,
                                        format=recipe.kv.kv_format, module_type=type(mod).__name__, stored_bytes=0,
                                        note=f"{recipe.kv.backend} quantized KV cache")
    return sites


def is_linear_like(mod: nn.Module) -> bool:
    """An nn.Linear, or a library's replacement for one (a leaf module with in_ and out_features)."""
    return isinstance(mod, nn.Linear) or (
        hasattr(mod, "in_features") and hasattr(mod, "out_features") and not list(mod.children()))


def logical_parameters(model: Any) -> int:
    """The model's parameters as the checkpoint counts them: a quantized Linear counts in x out (its packed
    storage may hold half as many elements or fewer), a tied weight once."""
    seen: set[int] = set()
    total = 0
    for module in model.modules():
        own = {name: p for name, p in module.named_parameters(recurse=False) if id(p) not in seen}
        seen.update(id(p) for p in own.values())
        shaped = hasattr(module, "in_features") and hasattr(module, "out_features")
        linear = shaped and "Linear" in type(module).__name__
        if linear:  # packed weights (bitsandbytes, HQQ) or none at all (torch's dynamic quantized Linear)
            total += int(module.in_features) * int(module.out_features)
            own = {n: p for n, p in own.items() if n not in ("weight", "W_q")}
        total += sum(int(p.numel()) for p in own.values())
    return total
