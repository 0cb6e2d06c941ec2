"""`kernelscope modes`: the recipe matrix and what can run on this machine."""

from __future__ import annotations

import importlib.util
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kernelscope.recipes import DEFAULT_BACKEND, DTYPES, KV_RECIPES, WEIGHT_RECIPES


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cuda_here() -> tuple[bool, str]:
    if not _installed("torch"):
        return False, "torch is not installed"
    import torch  # only to ask about the device; this command is not the core's hot path

    if torch.cuda.is_available():
        return True, torch.cuda.get_device_name(0)
    return False, "no CUDA device visible"


def _here(packages: tuple[str, ...], devices: tuple[str, ...], cuda: bool) -> tuple[bool, str]:
    if not _installed("torch"):
        return False, "capture extra not installed (torch missing)"
    missing = [p for p in packages if not _installed(p)]
    if missing:
        return False, f"{', '.join(missing)} not installed"
    where = [d for d in devices if d == "cpu" or (d == "cuda" and cuda)]
    if not where:
        return False, f"needs {'/'.join(devices)}"
    return True, "on " + "/".join(where)


def mode_matrix() -> list[dict[str, Any]]:
    cuda, _ = cuda_here()
    rows: list[dict[str, Any]] = [
        {"mode": m, "backend": "torch", "default": True, "weights": m, "activations": m, "kv_cache": m,
         "dtype": m, "devices": ["cpu", "cuda"], "how": f"model in {m}", "here": _installed("torch"),
         "why": "" if _installed("torch") else "torch missing"}
        for m in DTYPES
    ]
    for r in WEIGHT_RECIPES:
        ok, why = _here(r.packages, r.devices, cuda)
        rows.append({"mode": r.mode, "backend": r.backend, "default": DEFAULT_BACKEND[r.mode] == r.backend,
                     "weights": r.weight_format.replace("{group}", str(r.group_size)),
                     "activations": r.activation_format or "(compute dtype)",
                     "kv_cache": "(compute dtype)", "dtype": r.default_dtype, "devices": list(r.devices),
                     "how": r.how.replace("{group}", str(r.group_size)), "here": ok, "why": why})
    for k in KV_RECIPES:
        ok, why = _here(k.packages, k.devices, cuda)
        rows.append({"mode": k.mode, "backend": k.backend, "default": DEFAULT_BACKEND[k.mode] == k.backend,
                     "weights": "(compute dtype)", "activations": "(compute dtype)", "kv_cache": k.kv_format,
                     "dtype": "bf16", "devices": list(k.devices), "how": k.how, "here": ok, "why": why})
    return rows


KEYS = {"mode": "mode", "backend": "backend", "dtype": "dtype", "runs on": "devices_text"}


def render_modes(rows: list[dict[str, Any]], console: Console | None = None) -> None:
    rows = [{**r, "devices_text": "/".join(r["devices"])} for r in rows]
    console = console or Console()
    t = Table(title="kernelscope modes (--quant MODE[+MODE] --backend B); * = default backend", title_justify="left")
    for col in ("mode", "backend", "weights", "activations / KV", "dtype", "runs on", "here"):
        # names never shrink to an ellipsis (a pipe gives rich 80 columns); the descriptions wrap instead
        names = col in ("mode", "backend", "dtype", "runs on")
        t.add_column(col, no_wrap=names, min_width=max((len(r[KEYS[col]]) for r in rows), default=1) + 1
                     if names else None)
    for r in rows:
        act = r["kv_cache"] if r["mode"].startswith("kv-") else r["activations"]
        here = Text("yes " + r["why"], style="green") if r["here"] else Text("no: " + r["why"], style="red")
        t.add_row(r["mode"], r["backend"] + ("*" if r["default"] else ""), r["weights"], act, r["dtype"],
                  "/".join(r["devices"]), here)
    console.print(t)
    console.print("combine one weight mode with one KV mode: --quant int4+kv-int4")
