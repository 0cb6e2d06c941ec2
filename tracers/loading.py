"""Load the model and tokenizer: the embedded fixture by default, a local folder, or a hub id."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernelscope.errors import EXIT_RUNTIME, KernelscopeError
from kernelscope.fixtures_path import DEFAULT_MODEL_NAME, fixture_eval_text, fixture_model_dir


@dataclass(frozen=True)
class ModelRef:
    name: str  # what the user typed, or the fixture's name
    path: str  # resolved local folder, or the hub id
    local: bool
    trust_remote_code: bool = False  # run the model folder's own Python (auto_map): only if asked, never prompted


def resolve_model(model: str | None, trust_remote_code: bool = False) -> ModelRef:
    ref = _resolve(model)
    return dataclasses.replace(ref, trust_remote_code=trust_remote_code)


def _resolve(model: str | None) -> ModelRef:
    if model is None:
        return ModelRef(DEFAULT_MODEL_NAME, str(fixture_model_dir()), True)
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir() or not ((p / "config.json").is_file() or any(p.glob("*.gguf"))):
            raise KernelscopeError(f"{model}: not a Hugging Face model folder (no config.json)")
        if p.resolve() == Path(fixture_model_dir()).resolve():  # the embedded model, named as its default is
            return ModelRef(DEFAULT_MODEL_NAME, str(p.resolve()), True)
        return ModelRef(model, str(p.resolve()), True)
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise KernelscopeError(f"model folder {model} does not exist")
    cached = _cached_snapshot(model)
    if cached is not None:  # in the local Hugging Face cache: no network needed, none tried
        return ModelRef(model, cached, True)
    if not _offline_env() and not _hub_reachable():
        raise KernelscopeError(f"'{model}' is not a local folder, not in the Hugging Face cache, and the hub "
                               f"({_hub_host()}) cannot be reached from here: download it where there is a network "
                               "(huggingface-cli download), or give a local folder")
    return ModelRef(model, model, False)


def _cached_snapshot(repo_id: str) -> str | None:
    """The folder of a hub model already in the local cache (its config.json is there), else None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id or cache: treat as not cached
        return None
    return str(Path(found).parent) if isinstance(found, str) else None


def _hub_host() -> str:
    from urllib.parse import urlparse

    return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """One TCP connection to the hub, instead of transformers' minute of retries when it is unreachable."""
    import socket

    try:
        with socket.create_connection((_hub_host(), 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def max_positions(ref: ModelRef) -> int | None:
    """The longest sequence the model takes, from its config.json (None where it does not say, or is remote)."""
    if not ref.local:
        return None
    try:
        value = json.loads((Path(ref.path) / "config.json").read_text(encoding="utf-8")).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


def model_hash(ref: ModelRef) -> str:
    """sha256 over config.json and, for each weight file, its name, size and first MiB.
    Cheap on multi-GB checkpoints, and it changes when the weights do."""
    if not ref.local:
        return ""
    h = hashlib.sha256()
    folder = Path(ref.path)
    for f in sorted(folder.iterdir()):
        if f.name == "config.json":
            h.update(f.read_bytes())
        elif f.suffix in (".safetensors", ".bin", ".pt", ".gguf"):
            h.update(f.name.encode())
            h.update(str(f.stat().st_size).encode())
            with f.open("rb") as fh:
                h.update(fh.read(1 << 20))
    return h.hexdigest()


def load_tokenizer(ref: ModelRef) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(ref.path, local_files_only=_offline(ref),
                                             trust_remote_code=ref.trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - a tokenizer's files fail in many library-specific ways
        raise KernelscopeError(_load_error(ref, "tokenizer", exc)) from None


def load_model(ref: ModelRef, dtype: Any, device: str, extra: dict[str, Any]) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": _offline(ref),
                              "trust_remote_code": ref.trust_remote_code}
    if "quantization_config" in extra:
        kwargs["device_map"] = device
    kwargs.update(extra)
    try:
        model = AutoModelForCausalLM.from_pretrained(ref.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise KernelscopeError(_load_error(ref, "model", exc)) from None
    except MemoryError:
        raise KernelscopeError(f"out of memory loading {ref.name}", EXIT_RUNTIME) from None
    except Exception as exc:  # noqa: BLE001 - a corrupt safetensors file, a library's ImportError / RuntimeError
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KernelscopeError(f"loading {ref.name} failed: {type(exc).__name__}: {first}", EXIT_RUNTIME) from None
    if "device_map" not in kwargs:
        model = model.to(device)
    model.eval()
    return model


def _offline(ref: ModelRef) -> bool:
    return ref.local or _offline_env()


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True")


def _load_error(ref: ModelRef, what: str, exc: Exception) -> str:
    text = str(exc)
    if "trust_remote_code" in text or "custom code" in text:
        return (f"{ref.name} ships its own Python code (auto_map in its config); kernelscope does not run it "
                "unless you pass --trust-remote-code")
    if ref.local:
        first = text.splitlines()[0] if text else type(exc).__name__
        if first.rstrip().endswith(":"):  # a message whose substance is on the next lines
            first = " ".join(line.strip() for line in text.splitlines()[:3])
        return f"cannot load the {what} from {ref.path}: {first}"
    return (f"cannot load the {what} '{ref.name}': it is not a local folder, and the Hugging Face hub "
            f"is unreachable or has no such repository, and it is not in the local cache")


def eval_token_ids(tokenizer: Any, eval_path: Path | None) -> tuple[list[int], str]:
    """Token ids of the eval text, and the path they came from."""
    path = eval_path or fixture_eval_text()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KernelscopeError(f"cannot read eval text {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise KernelscopeError(f"eval text {path} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids, str(path)
