"""Small quantized checkpoints of a model, built at test time in each format (no hub): each library's own
save path where it has one, the documented on-disk layout where the library cannot quantize on a CPU
(block-wise FP8), and GGUF written with the gguf package as llama.cpp's converter lays it out."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

FP8_BLOCK = 128


def _save(model: Any, source: Path, out: Path, **kwargs: Any) -> Path:
    from transformers import AutoTokenizer

    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, **kwargs)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def _load(source: Path, **kwargs: Any) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(source, **kwargs)


def torchao(config: Any) -> Callable[[Path, Path], Path]:
    def build(source: Path, out: Path) -> Path:
        from transformers import TorchAoConfig

        model = _load(source, dtype=torch.bfloat16, quantization_config=TorchAoConfig(config))
        return _save(model, source, out, safe_serialization=False)

    return build


def bitsandbytes(**settings: Any) -> Callable[[Path, Path], Path]:
    def build(source: Path, out: Path) -> Path:
        from transformers import BitsAndBytesConfig

        dtype = torch.float16 if settings.get("load_in_8bit") else torch.bfloat16
        model = _load(source, dtype=dtype, device_map="cpu", quantization_config=BitsAndBytesConfig(**settings))
        return _save(model, source, out)

    return build


def quanto_int8(source: Path, out: Path) -> Path:
    from optimum.quanto import QuantizedModelForCausalLM, qint8

    quantized = QuantizedModelForCausalLM.quantize(_load(source, dtype=torch.bfloat16), weights=qint8,
                                                   exclude="lm_head")
    return _save(quantized, source, out)


def compressed(scheme: str) -> Callable[[Path, Path], Path]:
    """compressed-tensors' W8A8 int8, W4A16 int4 (group 128, packed) or FP8 (channel, dynamic tokens)."""

    def build(source: Path, out: Path) -> Path:
        from compressed_tensors.compressors import ModelCompressor
        from compressed_tensors.quantization import (
            QuantizationArgs,
            QuantizationConfig,
            QuantizationScheme,
            QuantizationStatus,
            apply_quantization_config,
        )

        weights, acts, fmt = {
            "w8a8": (QuantizationArgs(num_bits=8, type="int", strategy="channel", symmetric=True),
                     QuantizationArgs(num_bits=8, type="int", strategy="token", dynamic=True, symmetric=True),
                     "int-quantized"),
            "w4a16": (QuantizationArgs(num_bits=4, type="int", strategy="group", group_size=128, symmetric=True),
                      None, "pack-quantized"),
            "fp8": (QuantizationArgs(num_bits=8, type="float", strategy="channel", symmetric=True),
                    QuantizationArgs(num_bits=8, type="float", strategy="token", dynamic=True, symmetric=True),
                    "float-quantized"),
        }[scheme]
        model = _load(source, dtype=torch.bfloat16)
        config = QuantizationConfig(config_groups={"group_0": QuantizationScheme(
            targets=["Linear"], weights=weights, input_activations=acts)}, ignore=["lm_head"],
            quantization_status=QuantizationStatus.INITIALIZED, format=fmt)
        apply_quantization_config(model, config)
        for mod in model.modules():
            if hasattr(mod, "weight_scale"):  # weight scales from the weights themselves (no calibration data)
                w = mod.weight.detach().float()
                top = 2 ** (weights.num_bits - 1) - 1 if weights.type == "int" else 448.0
                amax = w.reshape(w.shape[0], -1, weights.group_size).abs().amax(-1) if weights.group_size \
                    else w.abs().amax(-1, keepdim=True)
                mod.weight_scale.data = (amax / top).to(mod.weight_scale.dtype).reshape(mod.weight_scale.shape)
                if hasattr(mod, "weight_zero_point"):
                    mod.weight_zero_point.data.zero_()
        compressor = ModelCompressor.from_pretrained_model(model, quantization_format=fmt)
        compressor.compress_model(model)
        path = _save(model, source, out)
        compressor.update_config(path)
        return path

    return build


def fp8_blockwise(source: Path, out: Path) -> Path:
    """transformers' FineGrainedFP8 layout (DeepSeek-V3's): e4m3 weights with one fp32 `weight_scale_inv` per
    128 x 128 block, `quant_method: fp8`. Written directly: quantizing to it needs an FP8 GPU."""
    from safetensors.torch import save_file
    from transformers import AutoTokenizer

    model = _load(source, dtype=torch.bfloat16)
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        rows, cols = value.shape if value.dim() == 2 else (0, 0)
        if name.endswith("proj.weight") and rows % FP8_BLOCK == 0 and cols % FP8_BLOCK == 0:
            blocks = value.float().reshape(rows // FP8_BLOCK, FP8_BLOCK, cols // FP8_BLOCK, FP8_BLOCK)
            scale = blocks.abs().amax(dim=(1, 3)) / 448.0
            tensors[name] = (blocks / scale[:, None, :, None]).reshape(rows, cols).to(torch.float8_e4m3fn)
            tensors[name.replace(".weight", ".weight_scale_inv")] = scale
        else:
            tensors[name] = value.contiguous()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    save_file(tensors, str(out / "model.safetensors"))
    config = json.loads((source / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "fp8", "activation_scheme": "dynamic",
                                     "weight_block_size": [FP8_BLOCK, FP8_BLOCK], "modules_to_not_convert": ["lm_head"]}
    (out / "config.json").write_text(json.dumps(config))
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


_GGUF_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
               "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
               "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def gguf_q8(source: Path, out: Path) -> Path:
    """A llama GGUF with Q8_0 weights, as llama.cpp's converter writes one (q / k rows permuted)."""
    import gguf
    import numpy as np
    from transformers import AutoTokenizer

    cfg = json.loads((source / "config.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    writer = gguf.GGUFWriter(str(out / "model-Q8_0.gguf"), "llama")
    writer.add_context_length(cfg["max_position_embeddings"])
    writer.add_embedding_length(cfg["hidden_size"])
    writer.add_block_count(cfg["num_hidden_layers"])
    writer.add_feed_forward_length(cfg["intermediate_size"])
    writer.add_head_count(cfg["num_attention_heads"])
    writer.add_head_count_kv(cfg["num_key_value_heads"])
    writer.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    vocab = json.loads((source / "tokenizer.json").read_text())["model"]
    tokens = sorted(vocab["vocab"], key=lambda t: vocab["vocab"][t])
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * len(tokens))
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in vocab.get("merges", [])])
    heads = {"q_proj": cfg["num_attention_heads"], "k_proj": cfg["num_key_value_heads"]}
    for name, value in _load(source, dtype=torch.float32).state_dict().items():
        array = value.numpy()
        if name.startswith("model.layers."):
            _, _, layer, *rest = name.split(".")
            part = ".".join(rest[:-1])
            target = f"blk.{layer}.{_GGUF_NAMES[part]}.weight"
            n = heads.get(rest[-2])
            if n:
                array = array.reshape(n, 2, array.shape[0] // n // 2, -1).swapaxes(1, 2).reshape(array.shape)
        else:
            target = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                      "lm_head.weight": "output.weight"}[name]
        if array.ndim == 2 and target != "token_embd.weight":
            packed = gguf.quantize(array.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(target, packed, raw_shape=packed.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(target, array.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def declared_only(method: dict[str, Any]) -> Callable[[Path, Path], Path]:
    """A folder whose config declares a quantization (GPTQ, AWQ, HQQ) without its weights: what kernelscope
    refuses, and why, is decided before any weight is read."""

    def build(source: Path, out: Path) -> Path:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(source, out)
        config = json.loads((out / "config.json").read_text())
        config["quantization_config"] = method
        (out / "config.json").write_text(json.dumps(config))
        return out

    return build


def other_architecture(out: Path, source: Path, heads: tuple[int, int] = (6, 3)) -> Path:
    """A model kernelscope has never seen: a tiny random Qwen2 (biased q/k/v, its own head counts: query and
    key-value heads) with the fixture's tokenizer."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=4096, hidden_size=192, intermediate_size=512, num_hidden_layers=3,
                         num_attention_heads=heads[0], num_key_value_heads=heads[1], max_position_embeddings=512,
                         tie_word_embeddings=False, dtype="bfloat16")
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out
