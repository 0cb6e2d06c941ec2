"""The quantization configurations kernelscope can run, as data.

A `--quant` string is a `+`-joined set of modes: at most one dtype baseline (fp32, bf16, fp16), at
most one weight mode (int8, w8a8, int4, nf4, fp4) and at most one KV-cache mode (kv-int4, kv-int2),
e.g. `int4+kv-int4` or `fp32+int8`. Each (mode, backend) pair is a recipe with what it stores, what
it needs and where it runs. Applying a recipe to a model is capture code (tracers/quantize.py); this
table is what both the CLI and the capture agree on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kernelscope.errors import KernelscopeError
from kernelscope.runs.documents import QuantizedParts

DTYPES = ("fp32", "bf16", "fp16")
WEIGHT_MODES = ("int8", "w8a8", "int4", "nf4", "fp4")
KV_MODES = ("kv-int4", "kv-int2")
ALL_MODES = DTYPES + WEIGHT_MODES + KV_MODES


@dataclass(frozen=True)
class WeightRecipe:
    mode: str
    backend: str
    weight_format: str
    activation_format: str  # '' for weight-only
    default_dtype: str
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    packages: tuple[str, ...]
    how: str  # the library call, for the manifest and `kernelscope modes`
    calibration: str = "none (data-free: weights quantized from their own statistics)"
    group_size: int | None = None  # default group size where --group-size applies, else None
    # one token's activations are quantized without looking at the others (weight-only, or per-token
    # scales); not so for per-tensor scales or LLM.int8's outlier columns, which depend on the batch
    token_independent: bool = True


@dataclass(frozen=True)
class KVRecipe:
    mode: str
    backend: str
    nbits: int
    kv_format: str
    devices: tuple[str, ...]
    packages: tuple[str, ...]
    how: str
    # each sequence of a batch is quantized on its own (quanto: bit-identical batched or alone); HQQ's
    # cache is not (its scales span the batch), so its quality windows are decoded one at a time
    batch_independent: bool = True


WEIGHT_RECIPES: tuple[WeightRecipe, ...] = (
    WeightRecipe("int8", "torchao", "int8 per-channel symmetric", "", "bf16", ("bf16", "fp32", "fp16"),
                 ("cpu", "cuda"), ("torchao",), "torchao.quantization.Int8WeightOnlyConfig()"),
    WeightRecipe("int8", "bitsandbytes", "int8 per-row absmax (LLM.int8)", "int8 per-token (outliers > 6.0 in fp16)",
                 "fp16", ("fp16", "bf16", "fp32"), ("cpu", "cuda"), ("bitsandbytes",),
                 "transformers BitsAndBytesConfig(load_in_8bit=True)", token_independent=False),
    WeightRecipe("int8", "quanto", "int8 per-channel symmetric", "", "bf16", ("bf16", "fp32", "fp16"),
                 ("cpu", "cuda"), ("optimum.quanto",), "optimum.quanto quantize(weights=qint8) + freeze"),
    WeightRecipe("w8a8", "torchao", "int8 per-channel symmetric", "int8 dynamic per-token", "bf16",
                 ("bf16", "fp32"), ("cpu", "cuda"), ("torchao",),
                 "torchao.quantization.Int8DynamicActivationInt8WeightConfig()"),
    WeightRecipe("w8a8", "torch", "qint8 per-tensor (fbgemm/x86 packed)", "quint8 dynamic per-tensor", "fp32",
                 ("fp32",), ("cpu",), (), "torch.ao.quantization.quantize_dynamic({nn.Linear}, qint8)",
                 token_independent=False),
    WeightRecipe("int4", "torchao", "int4 asymmetric group {group} (tinygemm packing)", "", "bf16", ("bf16", "fp32"),
                 ("cpu", "cuda"), ("torchao",),
                 "cpu: torchao PrototypeInt4WeightOnlyConfig(group_size={group}) (opaque CPU packing); "
                 "cuda: Int4WeightOnlyConfig(group_size={group}, int4_packing_format='tile_packed_to_4d')",
                 group_size=128),
    WeightRecipe("int4", "quanto", "int4 asymmetric group 128", "", "bf16", ("bf16", "fp32"), ("cpu", "cuda"),
                 ("optimum.quanto",), "optimum.quanto quantize(weights=qint4) + freeze"),
    WeightRecipe("int4", "hqq", "int4 asymmetric group {group} (HQQ optimised zero/scale)", "", "bf16",
                 ("bf16", "fp32", "fp16"), ("cpu", "cuda"), ("hqq",),
                 "hqq HQQLinear(BaseQuantizeConfig(nbits=4, group_size={group})), PyTorch backend", group_size=64),
    WeightRecipe("nf4", "bitsandbytes", "nf4 blockwise absmax (block 64)", "", "bf16", ("bf16", "fp16", "fp32"),
                 ("cpu", "cuda"), ("bitsandbytes",),
                 "transformers BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4')"),
    WeightRecipe("fp4", "bitsandbytes", "fp4 blockwise absmax (block 64)", "", "bf16", ("bf16", "fp16", "fp32"),
                 ("cpu", "cuda"), ("bitsandbytes",),
                 "transformers BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='fp4')"),
)

KV_RECIPES: tuple[KVRecipe, ...] = (
    KVRecipe("kv-int4", "quanto", 4, "int4 KV, per-channel keys / per-token values, group 64, residual 128",
             ("cpu", "cuda"), ("optimum.quanto",), "transformers QuantizedCache(backend='quanto', nbits=4)"),
    KVRecipe("kv-int2", "quanto", 2, "int2 KV, group 64, residual 128", ("cpu", "cuda"), ("optimum.quanto",),
             "transformers QuantizedCache(backend='quanto', nbits=2)"),
    KVRecipe("kv-int4", "hqq", 4, "int4 KV (HQQ), axis 1, group 64, residual 128", ("cpu", "cuda"), ("hqq",),
             "transformers QuantizedCache(backend='hqq', nbits=4)", batch_independent=False),
    KVRecipe("kv-int2", "hqq", 2, "int2 KV (HQQ), axis 1, group 64, residual 128", ("cpu", "cuda"), ("hqq",),
             "transformers QuantizedCache(backend='hqq', nbits=2)", batch_independent=False),
)

DEFAULT_BACKEND = {"int8": "torchao", "w8a8": "torchao", "int4": "torchao", "nf4": "bitsandbytes",
                   "fp4": "bitsandbytes", "kv-int4": "quanto", "kv-int2": "quanto"}


@dataclass(frozen=True)
class Recipe:
    """One configuration: compute dtype, optional weight recipe, optional KV recipe."""

    quant: str  # the canonical --quant string
    dtype: str
    weight: WeightRecipe | None
    kv: KVRecipe | None
    group_size: int | None = None

    @property
    def weight_format(self) -> str:
        return self.weight.weight_format.replace("{group}", str(self.group_size)) if self.weight else ""

    @property
    def weight_how(self) -> str:
        return self.weight.how.replace("{group}", str(self.group_size)) if self.weight else ""

    def weight_how_on(self, device: str) -> str:
        """The library call on one device (a how written `cpu: ...; cuda: ...` names both)."""
        for part in self.weight_how.split("; "):
            where, sep, call = part.partition(": ")
            if sep and where == device:
                return call
        return self.weight_how

    @property
    def devices(self) -> tuple[str, ...]:
        devs = set(("cpu", "cuda"))
        for part in (self.weight, self.kv):
            if part is not None:
                devs &= set(part.devices)
        return tuple(sorted(devs))

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(p for part in (self.weight, self.kv) if part is not None for p in part.packages)

    @property
    def scores_in_one_pass(self) -> bool:
        """A teacher-forced window gives the same next-token logits in one forward as token by token: the
        KV cache is not quantized and no token's activation quantization depends on the others."""
        return self.kv is None and (self.weight is None or self.weight.token_independent)

    @property
    def scores_in_batches(self) -> bool:
        """Token-by-token scoring may decode several windows as one batch: no sequence's quantization (of
        its activations or its KV cache) depends on another's."""
        token_independent = self.weight is None or self.weight.token_independent
        return token_independent and (self.kv is None or self.kv.batch_independent)

    def quantized_parts(self) -> QuantizedParts:
        return QuantizedParts(weights=self.weight_format,
                              activations=self.weight.activation_format if self.weight else "",
                              kv_cache=self.kv.kv_format if self.kv else "")


TENSORRT_LLM_ROUTE = (
    "kernelscope profile does not drive TensorRT-LLM (its executor runs its own loop and engines); profile its "
    "PyTorch backend with its own switches, TLLM_PROFILE_START_STOP=<first>-<last iteration> and "
    "TLLM_TORCH_PROFILE_TRACE=trace.json (e.g. with trtllm-bench ... --backend pytorch), then run "
    "`kernelscope analyze trace.json`: the rule tables know its kernels (weight-only GEMV, fpA_intB, FP8 / NVFP4 "
    "cubins, its quantize and KV-cache kernels)")


def _find_weight(mode: str, backend: str) -> WeightRecipe:
    if backend.lower().replace("_", "-") in ("tensorrt-llm", "trtllm", "tensorrtllm"):
        raise KernelscopeError(TENSORRT_LLM_ROUTE)
    for r in WEIGHT_RECIPES:
        if r.mode == mode and r.backend == backend:
            return r
    have = ", ".join(r.backend for r in WEIGHT_RECIPES if r.mode == mode)
    raise KernelscopeError(f"mode {mode} has no backend '{backend}'; supported: {have}")


def _find_kv(mode: str, backend: str) -> KVRecipe:
    for r in KV_RECIPES:
        if r.mode == mode and r.backend == backend:
            return r
    have = ", ".join(r.backend for r in KV_RECIPES if r.mode == mode)
    raise KernelscopeError(f"mode {mode} has no KV backend '{backend}'; supported: {have}")


def parse_quant(quant: str, backend: str | None = None, kv_backend: str | None = None,
                dtype: str | None = None, group_size: int | None = None) -> Recipe:
    """Turn `--quant`, `--backend`, `--kv-backend`, `--dtype` into a Recipe, or a one-line error."""
    parts = [p.strip().lower() for p in quant.split("+") if p.strip()]
    if not parts:
        raise KernelscopeError("--quant is empty; modes: " + ", ".join(ALL_MODES))
    unknown = [p for p in parts if p not in ALL_MODES]
    if unknown:
        raise KernelscopeError(f"unknown mode '{unknown[0]}'; modes: {', '.join(ALL_MODES)} (join with +)")
    dtypes = [p for p in parts if p in DTYPES]
    weights = [p for p in parts if p in WEIGHT_MODES]
    kvs = [p for p in parts if p in KV_MODES]
    for kind, found in (("dtype", dtypes), ("weight", weights), ("KV-cache", kvs)):
        if len(found) > 1:
            raise KernelscopeError(f"--quant {quant}: more than one {kind} mode ({', '.join(found)})")
    if dtype is not None and dtypes and dtype != dtypes[0]:
        raise KernelscopeError(f"--dtype {dtype} contradicts --quant {quant}")
    weight = _find_weight(weights[0], backend or DEFAULT_BACKEND[weights[0]]) if weights else None
    if backend is not None and weight is None:
        hint = (f"; for the KV cache say --kv-backend {backend}" if kvs and any(
            k.mode == kvs[0] and k.backend == backend for k in KV_RECIPES) else "")
        raise KernelscopeError(f"--backend {backend} is the weight backend and --quant {quant} has no weight mode "
                               f"(int8, w8a8, int4, nf4, fp4){hint}")
    kv = _find_kv(kvs[0], kv_backend or DEFAULT_BACKEND[kvs[0]]) if kvs else None
    chosen = dtype or (dtypes[0] if dtypes else (weight.default_dtype if weight else "bf16"))
    if chosen not in DTYPES:
        raise KernelscopeError(f"unknown dtype '{chosen}'; dtypes: {', '.join(DTYPES)}")
    if weight is not None and chosen not in weight.dtypes:
        raise KernelscopeError(
            f"{weight.mode} ({weight.backend}) runs in {', '.join(weight.dtypes)}, not {chosen}"
        )
    if group_size is not None and (weight is None or weight.group_size is None):
        have = ", ".join(f"{r.mode} ({r.backend})" for r in WEIGHT_RECIPES if r.group_size is not None)
        raise KernelscopeError(f"--group-size applies to {have}")
    if group_size is not None and group_size < 1:
        raise KernelscopeError(f"--group-size must be positive, not {group_size}")
    named_dtype = dtypes or ([] if weights or kvs else [chosen])
    return Recipe(quant="+".join(named_dtype + weights + kvs), dtype=chosen, weight=weight, kv=kv,
                  group_size=group_size or (weight.group_size if weight else None))


def check_device(recipe: Recipe, device: str) -> None:
    if device not in recipe.devices:
        raise KernelscopeError(
            f"--quant {recipe.quant} does not run on {device}; it runs on: {', '.join(recipe.devices)}"
        )


# ------------------------------------------------------------- checkpoints quantized before they were shipped

# method -> (the module its loader needs, the pip extra that installs it); fp8 and the others transformers
# handles itself need nothing beyond the capture extra
CHECKPOINT_LOADERS: dict[str, tuple[str, str]] = {
    "gptq": ("gptqmodel", "gptq"), "awq": ("gptqmodel", "awq"),
    "compressed-tensors": ("compressed_tensors", "checkpoints"), "gguf": ("gguf", "checkpoints"),
    "bitsandbytes": ("bitsandbytes", "capture"), "torchao": ("torchao", "capture"), "hqq": ("hqq", "capture"),
    "quanto": ("optimum.quanto", "capture"),
}
_KEPT_KEYS = ("modules_to_not_convert", "llm_int8_skip_modules", "ignore", "skip_modules",
              "modules_in_block_to_quantize")


def missing_loader(method: str) -> str:
    """The one line for a checkpoint whose loader library is not installed."""
    module, extra = CHECKPOINT_LOADERS[method]
    return (f"loading a {method} checkpoint needs {module.split('.')[0]}, which is not installed: "
            f"pip install 'kernelscope[{extra}]'")


@dataclass(frozen=True)
class Shipped:
    """A checkpoint's own quantization, as its files declare it (read before anything is loaded)."""

    method: str  # torchao | bitsandbytes | compressed-tensors | fp8 | gptq | awq | hqq | quanto | gguf | ...
    parameters: dict[str, str]  # what the checkpoint says: bits, group size, scheme, activation scheme, ...
    kept: tuple[str, ...]  # modules the checkpoint says it left in high precision
    source: str  # where it says so: config.json's quantization_config, a .gguf file, quanto_qmap.json
    gguf_file: str = ""


def shipped_quantization(folder: Path) -> Shipped | None:
    """The quantization a local model folder ships with, or None (a hub id is checked after download)."""
    if not folder.is_dir():
        return None
    ggufs = sorted(p.name for p in folder.glob("*.gguf"))
    if ggufs:
        return Shipped("gguf", {"file": ggufs[0]}, (), f"{ggufs[0]} (GGUF)", gguf_file=ggufs[0])
    if (folder / "quanto_qmap.json").is_file():
        return Shipped("quanto", _qmap_summary(_json(folder / "quanto_qmap.json")), (), "quanto_qmap.json")
    config = _json(folder / "config.json")
    qc = config.get("quantization_config") if isinstance(config, dict) else None
    return shipped_from_config(qc) if isinstance(qc, dict) else None


def shipped_from_config(qc: dict[str, object]) -> Shipped:
    """A `quantization_config` (config.json's, or a loaded model's as a dict) as a Shipped."""
    method = str(qc.get("quant_method", "unknown")).lower().replace("_", "-")
    lists = [v for key in _KEPT_KEYS if isinstance(v := qc.get(key), list)]
    kept = tuple(str(m) for names in lists for m in names)
    params = _flat({k: v for k, v in qc.items() if k not in _KEPT_KEYS and k != "quant_method"})
    return Shipped(method, params, kept, "config.json quantization_config")


def _qmap_summary(qmap: dict[str, object]) -> dict[str, str]:
    """optimum-quanto's per-module map as counts: {"weights": "qint8 (28 modules)", "activations": ...}."""
    counts: dict[str, dict[str, int]] = {}
    for setting in qmap.values():
        for key, value in (setting.items() if isinstance(setting, dict) else ()):
            counts.setdefault(str(key), {}).setdefault(str(value), 0)
            counts[str(key)][str(value)] += 1
    return {k: ", ".join(f"{v} ({n} modules)" for v, n in by.items()) for k, by in counts.items()}


def _json(path: Path) -> dict[str, object]:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _flat(value: object, prefix: str = "", depth: int = 6) -> dict[str, str]:
    """Nested settings as dotted keys with short text values (long lists summarised; None, versions and
    private duplicates dropped; torchao's `_type` / `_data` wrappers read through)."""
    out: dict[str, str] = {}
    if isinstance(value, dict) and depth > 0:
        for k, v in value.items():
            if k in ("_version", "version") or str(k).startswith("_load"):
                continue
            key = "" if k == "_data" else "type." if k == "_type" else f"{k}."
            out.update(_flat(v, f"{prefix}{key}", depth - 1))
    elif isinstance(value, list) and len(value) > 8:
        out[prefix.rstrip(".")] = f"{len(value)} entries"
    elif value is not None and prefix:
        out[prefix.rstrip(".")] = str(value)[:120]
    return out


def check_shipped_request(shipped: Shipped, recipe: Recipe, quant_given: bool, model: str) -> None:
    """A weight mode asked of a checkpoint that is already quantized is refused (a dtype or a KV mode is not)."""
    if quant_given and recipe.weight is not None:
        raise KernelscopeError(f"{model} is a quantized checkpoint ({shipped.method}, {shipped.source}); it is "
                               f"profiled as shipped: drop --quant {recipe.quant} (a dtype or a KV mode may stay)")
