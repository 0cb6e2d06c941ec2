"""Checkpoints quantized before they were shipped, loaded as they are (kernelscope/recipes.py reads what
they declare; tracers/detect.py reads what the loaded modules hold).

How a loader treats the weights decides the verdicts, and the run says which: kept in the quantized
format (torchao, bitsandbytes, GPTQ / AWQ kernels), kept compressed and decompressed on every call
(compressed-tensors' CompressedLinear), or dequantized at load into dense weights (GGUF in transformers,
FP8 on a machine without an FP8 GPU): a checkpoint that runs as dense bf16 is unquantized everywhere.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from kernelscope.errors import KernelscopeError
from kernelscope.recipes import CHECKPOINT_LOADERS, Shipped, missing_loader
from kernelscope.runs.documents import CheckpointInfo, Config, RecipeInfo, SiteEntry
from kernelscope.vocabulary import SiteKind


def check_loader(shipped: Shipped) -> None:
    """The library the checkpoint's loader needs, importable, or one line naming the extra to install."""
    needed = CHECKPOINT_LOADERS.get(shipped.method)
    if needed is None:
        return
    try:
        importlib.import_module(needed[0])
    except ImportError:
        raise KernelscopeError(missing_loader(shipped.method)) from None


def load_kwargs(shipped: Shipped, device: str) -> dict[str, Any]:
    """from_pretrained's arguments for the checkpoint as shipped (its own quantization_config applies)."""
    kwargs: dict[str, Any] = {"device_map": device}
    if shipped.gguf_file:
        kwargs["gguf_file"] = shipped.gguf_file
    return kwargs


def load(ref: Any, dtype: Any, device: str, shipped: Shipped) -> Any:
    """The checkpoint loaded as shipped: by transformers (its quantization_config, or a GGUF file), or by
    optimum-quanto for quanto's own format (quanto_qmap.json: transformers cannot serialize quanto)."""
    from kernelscope.tracers import loading

    if shipped.method != "quanto":
        return loading.load_model(ref, dtype, device, load_kwargs(shipped, device))
    from optimum.quanto import QuantizedModelForCausalLM

    try:
        wrapped = QuantizedModelForCausalLM.from_pretrained(ref.path)
    except Exception as exc:  # noqa: BLE001 - a damaged qmap or state dict fails in library-specific ways
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KernelscopeError(f"loading the quanto checkpoint {ref.name} failed: {first}") from None
    model = wrapped._wrapped.to(device)
    model.eval()
    return model


def loaded_as(sites: dict[str, SiteEntry]) -> str:
    linear = [s for s in sites.values() if s.kind is SiteKind.LINEAR]
    quantized = [s for s in linear if s.quantized]
    if not quantized:
        dtypes = sorted({s.format for s in linear})
        return f"dequantized at load: runs as dense {', '.join(dtypes) or 'float'} (no Linear holds a quantized weight)"
    if any(s.module_type == "CompressedLinear" for s in quantized):
        return "kept compressed: decompressed to float on every call (compressed-tensors run_compressed)"
    share = f"{len(quantized)} of {len(linear)} Linears" if len(quantized) < len(linear) else "every Linear"
    return f"kept quantized in memory ({share})"


def checkpoint_info(shipped: Shipped, sites: dict[str, SiteEntry], path: str, own_hash: str) -> CheckpointInfo:
    if shipped.gguf_file:
        shipped = _gguf_types(shipped, path)
    dense = [name for name, s in sites.items() if s.kind is SiteKind.LINEAR and not s.quantized]
    kept = sorted(set(shipped.kept) | set(dense)) if any(s.quantized for s in sites.values()) else list(shipped.kept)
    return CheckpointInfo(method=shipped.method, parameters=dict(shipped.parameters),
                          kept_in_high_precision=kept, loaded_as=loaded_as(sites),
                          source=shipped.source, path=path, hash=own_hash)


def _gguf_types(shipped: Shipped, folder: str) -> Shipped:
    """A GGUF file's tensor types, counted (Q4_K (196), F32 (65), ...): what it stored before the dequantize."""
    import dataclasses
    from collections import Counter
    from pathlib import Path

    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(Path(folder) / shipped.gguf_file))
        counts = Counter(t.tensor_type.name for t in reader.tensors)
    except Exception:  # noqa: BLE001 - the types are a description; the load itself already succeeded
        return shipped
    types = ", ".join(f"{name} ({n})" for name, n in counts.most_common())
    return dataclasses.replace(shipped, parameters={**shipped.parameters, "tensor_types": types})


def shipped_of_loaded(model: Any) -> Shipped | None:
    """The quantization a model loaded from the hub turned out to ship with (its config says so)."""
    from kernelscope.recipes import shipped_from_config

    qc = getattr(getattr(model, "config", None), "quantization_config", None)
    if qc is None:
        return None
    as_dict = qc.to_dict() if hasattr(qc, "to_dict") else qc
    return shipped_from_config(as_dict) if isinstance(as_dict, dict) else None


def declared(ref: Any, req: Any) -> Shipped | None:
    """The checkpoint's own quantization (a local folder's declaration), checked against the request."""
    from kernelscope.recipes import shipped_quantization
    from kernelscope.tracers.checkpoint import check_loader

    shipped = shipped_quantization(Path(ref.path)) if ref.local else None
    if shipped is not None:
        _check(shipped, req, ref.name)
        check_loader(shipped)
    return shipped


def _check(shipped: Shipped, req: Any, name: str) -> None:
    from kernelscope.recipes import check_shipped_request

    check_shipped_request(shipped, req.recipe, req.quant_given, name)
    if req.quality is not None and req.baseline_model is None:
        raise KernelscopeError(f"{name} is a quantized checkpoint ({shipped.method}): --quality scores it against "
                               "its unquantized parent, named with --baseline MODEL")


def after_load(model: Any, req: Any, name: str) -> Shipped | None:
    """A hub model's quantization, known once its config is loaded."""
    shipped = shipped_of_loaded(model)
    if shipped is not None:
        _check(shipped, req, name)
    return shipped


def as_shipped(config: Config, shipped: Shipped, sites: dict[str, SiteEntry], req: Any, ref: Any,
               model: Any) -> Config:
    """The configuration of a checkpoint as shipped: its method and settings, what the loaded modules hold,
    and (with --baseline) its parent as the fixed model, so that compare lines it up with the parent's runs."""
    from kernelscope.tracers import detect, loading

    mode, backend, weights, acts = detect.summary(model)
    info = checkpoint_info(shipped, sites, ref.path, config.model.hash)
    model_info = config.model
    if req.baseline_model is not None:
        parent = loading.resolve_model(req.baseline_model, req.trust_remote_code)
        model_info = replace(model_info, name=parent.name, path=parent.path, hash=loading.model_hash(parent))
    kv = config.quantized.kv_cache
    quant = "+".join(p for p in (mode or config.dtype, req.recipe.kv.mode if req.recipe.kv else "") if p)
    return replace(config, model=model_info, checkpoint=info, quant=quant, backend=backend or shipped.method,
                   quantized=replace(config.quantized, weights=weights, activations=acts, kv_cache=kv),
                   recipe=RecipeInfo(weights=f"as shipped: {shipped.method} ({shipped.source})",
                                     kv_cache=config.recipe.kv_cache if config.recipe else None,
                                     calibration="the checkpoint's (not recorded in it)" if mode else "none"))
