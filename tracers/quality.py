"""The quality pass: teacher-forced next-token distributions of the quantized model against a
baseline over the same eval windows.

Every position of the second half of each window of `context` tokens is scored (no token twice: the
windows do not overlap). Where the configuration's KV cache is quantized (or its activation
quantization looks across tokens), the first half is prefilled and the second half fed one token at a
time through the configuration's own cache, as in decode. Otherwise one forward over the window gives
the same logits (tests/tracers/test_quality_pass.py) at a fraction of the cost. The baseline (default
fp32, unquantized, plain cache: one forward per window) is computed once per (model, eval text,
windows, baseline dtype) and cached on disk, with the activation statistics of its Linear inputs (the
outlier check).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import torch

from kernelscope.errors import BadInputError, KernelscopeError
from kernelscope.report import quality
from kernelscope.runs.atomic import atomic_write_bytes
from kernelscope.runs.codec import encode_document, read_document
from kernelscope.runs.documents import ActivationOutliers, OutlierModule, Quality, QualitySpec

CACHE_VERSION = 2  # 2: the baseline is scored one forward per window


def cache_dir() -> Path:
    root = os.environ.get("KERNELSCOPE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kernelscope")
    return Path(root) / "quality"


def eval_windows(ids: list[int], spec: QualitySpec) -> list[list[int]]:
    if spec.context < 4:
        raise KernelscopeError("--quality-context must be at least 4 tokens")
    available = len(ids) // spec.context
    if available == 0:
        raise KernelscopeError(f"the eval text has {len(ids)} tokens, fewer than one --quality-context window")
    n = min(spec.windows, available)
    return [ids[i * spec.context:(i + 1) * spec.context] for i in range(n)]


@dataclass
class Scored:
    logprobs: torch.Tensor  # [n, vocab] float32 log-probabilities of the next token
    targets: np.ndarray  # [n] the correct next tokens
    positions: np.ndarray  # [n] position of each target in its window


STEPWISE_BATCH = 8  # windows decoded together, token by token, where the recipe allows it


def score(model: Any, windows: list[list[int]], make_cache: Callable[[], Any], device: str, one_pass: bool,
          on_window: Callable[[int, int], None] | None = None, batch: int = 1) -> Scored:
    """The next-token log-probabilities of the second half of every window: one forward per window
    (one_pass), or the first half prefilled and the second teacher-forced token by token through the cache,
    `batch` windows of the same length at a time."""
    all_lp: list[torch.Tensor] = []
    targets: list[int] = []
    positions: list[int] = []
    groups = _groups(windows, 1 if one_pass else batch)
    done = 0
    for group in groups:
        half = len(group[0]) // 2
        ids = torch.tensor(group, dtype=torch.long, device=device)
        rows = _window_logits(model, ids, half, make_cache, one_pass)  # [windows, len - half, vocab]
        for window, window_rows in zip(group, rows, strict=True):
            all_lp.append(torch.log_softmax(window_rows, dim=-1).cpu())
            targets.extend(window[half:])
            positions.extend(range(half, len(window)))
        done += len(group)
        if on_window is not None:
            on_window(done, len(windows))
    return Scored(torch.cat(all_lp), np.asarray(targets, dtype=np.int64), np.asarray(positions, dtype=np.int64))


def _groups(windows: list[list[int]], size: int) -> list[list[list[int]]]:
    """Consecutive windows of equal length, at most `size` to a group."""
    groups: list[list[list[int]]] = []
    for window in windows:
        if groups and len(groups[-1]) < size and len(groups[-1][0]) == len(window):
            groups[-1].append(window)
        else:
            groups.append([window])
    return groups


def _window_logits(model: Any, ids: torch.Tensor, half: int, make_cache: Callable[[], Any],
                   one_pass: bool) -> torch.Tensor:
    """[windows, len - half, vocab] float32 logits predicting tokens half .. len-1 of each window."""
    n = ids.shape[1]
    if one_pass:
        out = model(input_ids=ids[:, :-1], use_cache=False, logits_to_keep=n - half)
        return out.logits.float()
    cache = make_cache()
    out = model(input_ids=ids[:, :half], past_key_values=cache, use_cache=True, logits_to_keep=1)
    rows = [out.logits[:, -1].float()]
    for t in range(half, n - 1):
        out = model(input_ids=ids[:, t:t + 1], past_key_values=cache, use_cache=True)
        rows.append(out.logits[:, -1].float())
    return torch.stack(rows, dim=1)


class ActivationStats:
    """max |x| and median |x| of every Linear input, over the baseline pass."""

    def __init__(self, model: torch.nn.Module, threshold: float) -> None:
        self.threshold = threshold
        self.stats: dict[str, dict[str, float]] = {}
        self._handles = [mod.register_forward_pre_hook(self._hook(name)) for name, mod in model.named_modules()
                         if isinstance(mod, torch.nn.Linear)]

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(mod: torch.nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0].detach().abs().float()
            s = self.stats.setdefault(name, {"max_abs": 0.0, "median_abs_sum": 0.0, "calls": 0, "over": 0})
            s["max_abs"] = max(s["max_abs"], float(x.max()))
            s["median_abs_sum"] += float(x.median())
            s["calls"] += 1
            s["over"] += int((x > self.threshold).sum())

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()

    def report(self) -> ActivationOutliers:
        rows: list[OutlierModule] = []
        for name, s in self.stats.items():
            median = s["median_abs_sum"] / max(s["calls"], 1)
            rows.append(OutlierModule(module=name, max_abs=s["max_abs"], median_abs=median,
                                      ratio=s["max_abs"] / median if median > 0 else None,
                                      over_threshold=int(s["over"]), flagged=s["max_abs"] > self.threshold))
        rows.sort(key=lambda r: -(r.ratio or 0.0))
        return ActivationOutliers(threshold=self.threshold, flagged=sum(r.flagged for r in rows), modules=rows,
                                  what="max / median |activation| of each Linear input in the baseline pass; flagged "
                                       "when max |activation| exceeds the threshold (LLM.int8's outlier criterion)")


def _key(model_hash: str, eval_sha: str, spec: QualitySpec, windows: list[list[int]]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, model_hash, eval_sha, spec.baseline, spec.context, spec.outlier_threshold,
                         torch.__version__]).encode())
    h.update(np.asarray(windows, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]


def baseline(load_baseline: Callable[[], Any], model_hash: str, eval_sha: str, spec: QualitySpec,
             windows: list[list[int]], device: str, on_window: Callable[[int, int], None] | None = None
             ) -> tuple[np.ndarray, ActivationOutliers, bool]:
    """Baseline log-probs (float16, [n, vocab]) and activation stats, from the cache or computed."""
    folder = cache_dir()
    key = _key(model_hash, eval_sha, spec, windows)
    data_file, stats_file = folder / f"{key}.npy", folder / f"{key}.json"
    if model_hash:
        cached = _cached_baseline(data_file, stats_file)
        if cached is not None:
            return cached[0], cached[1], True
    scored, stats = _score_baseline(load_baseline(), windows, spec, device, on_window)
    # float32 unless that would be large (big vocabularies): fp16 rounding alone is ~1e-4 KLD
    lp = scored.logprobs.numpy()
    base = lp if lp.size <= 32 * 2**20 else lp.astype(np.float16)
    if model_hash:  # cache only what can be recognised again
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.npy"
        np.save(tmp, base)
        os.replace(tmp, data_file)
        atomic_write_bytes(stats_file, encode_document(stats))
    return base, stats, False


def _cached_baseline(data_file: Path, stats_file: Path) -> tuple[np.ndarray, ActivationOutliers] | None:
    """The cached baseline, or None when it is absent or damaged (then it is computed and written again)."""
    if not (data_file.is_file() and stats_file.is_file()):
        return None
    try:
        return np.load(data_file), read_document(stats_file, ActivationOutliers)
    except (BadInputError, OSError, ValueError, EOFError):
        return None


def _score_baseline(model: Any, windows: list[list[int]], spec: QualitySpec, device: str,
                    on_window: Callable[[int, int], None] | None) -> tuple[Scored, ActivationOutliers]:
    from transformers import DynamicCache

    recorder = ActivationStats(model, spec.outlier_threshold)
    try:
        with torch.inference_mode():
            scored = score(model, windows, lambda: DynamicCache(config=model.config), device, one_pass=True,
                           on_window=on_window)
    finally:
        recorder.remove()
    return scored, recorder.report()


def quality_pass(model: Any, make_cache: Callable[[], Any], device: str, windows: list[list[int]],
                 base: np.ndarray, spec: QualitySpec, cached: bool, outliers: ActivationOutliers,
                 run_dir: Path | None, one_pass: bool, on_window: Callable[[int, int], None] | None = None,
                 batch: int = 1) -> Quality:
    scored = score(model, windows, make_cache, device, one_pass, on_window, batch)
    q = scored.logprobs
    b = torch.from_numpy(base.astype(np.float32))
    if b.shape != q.shape:
        raise KernelscopeError(f"baseline and quantized log-probs differ in shape: {tuple(b.shape)} vs "
                               f"{tuple(q.shape)}")
    kld = quality.kld_from_logprobs(b.numpy(), q.numpy())
    same = (b.argmax(dim=-1) == q.argmax(dim=-1)).numpy()
    idx = torch.from_numpy(scored.targets)[:, None]
    lp_b = b.gather(1, idx)[:, 0].numpy()
    lp_q = q.gather(1, idx)[:, 0].numpy()
    stats = quality.quality_stats(kld, same, lp_b, lp_q, scored.positions)
    if spec.save_logits and run_dir is not None:
        quantized = q.numpy()
        np.savez_compressed(run_dir / "quality-logits.npz", base=base,
                            quantized=quantized if quantized.size <= 32 * 2**20 else quantized.astype(np.float16),
                            targets=scored.targets, positions=scored.positions)
    return msgspec.structs.replace(
        stats, baseline=spec.baseline, baseline_cached=cached, spec=spec, windows=len(windows),
        scored=SCORED_ONE_PASS if one_pass else SCORED_STEPWISE + (f", {batch} windows at a time" if batch > 1 else ""),
        one_pass=one_pass,
        activation_outliers=outliers)


SCORED_ONE_PASS = ("second half of each window, one forward per window (the KV cache is not quantized and no "
                   "token's activation quantization depends on the others, so the logits are those of token-by-token "
                   "decoding)")
SCORED_STEPWISE = "second half of each window, teacher-forced token by token through the configuration's KV cache"
