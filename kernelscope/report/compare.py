"""The comparison plan: several runs of one model on the same fixed variables, one row each, with
ratios against a baseline, capacity, the risk checklist (risks.py), and gates for CI (gates.py).

Everything here is a pure function of saved runs (manifest + metrics + kernel table).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from kernelscope.errors import KernelscopeError
from kernelscope.report.aggregate import dequant_time, run_peaks, time_by_path
from kernelscope.report.dividend import dividends
from kernelscope.report.documents import Bandwidth, Capacity, Comparison, Row
from kernelscope.report.gates import Gate, check_gates
from kernelscope.report.peaks import PeakOverride
from kernelscope.report.risks import risks
from kernelscope.report.stability import timing_stability
from kernelscope.runs.store import Run
from kernelscope.vocabulary import Phase, Role, SitePath

# The fixed variables: what must be equal for runs to be comparable (dotted paths into config).
FIXED_VARIABLES = (
    "model.hash", "model.name", "tokenizer.class", "tokenizer.vocab_size", "eval_set.sha256",
    "workload.prompt_len", "workload.gen_len", "workload.batch", "workload.sampling", "workload.seed",
    "engine.name", "engine.attention", "device", "hardware.cpu", "hardware.gpu", "hardware.gpu_driver",
    "versions.torch", "versions.transformers", "quality.baseline", "quality.spec.context", "quality.spec.windows",
)


def _lookup(doc: object, dotted: str) -> object:
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def fixed_value(run: Run, key: str) -> object:
    """A fixed variable of a run, as plain JSON values: from its config, or (quality.*) from how its quality
    was measured. A run without quality measurements has nothing to disagree about there."""
    if key.startswith("quality."):
        return _lookup(msgspec.to_builtins(run.metrics), key)
    return _lookup(msgspec.to_builtins(run.config), key)


def fixed_differences(runs: Sequence[Run]) -> list[str]:
    """'key: a vs b' for every fixed variable that differs between the first run and another."""
    out = []
    names = [r.path.name for r in runs]
    label = (lambda r: r.path.name) if len(set(names)) == len(names) else (lambda r: str(r.path))
    for run in runs[1:]:
        for key in FIXED_VARIABLES:
            a, b = fixed_value(runs[0], key), fixed_value(run, key)
            if key.startswith("quality.") and (a is None or b is None):
                continue
            if a != b:
                out.append(f"{key}: {short_value(a)} ({label(runs[0])}) vs {short_value(b)} ({label(run)})")
    return out


def short_value(value: Any) -> str:
    """A fixed variable's value, short: hashes cut to 12 hex digits, a fixed length as one number."""
    if isinstance(value, dict):
        if value.get("distribution") == "fixed":
            return str(value.get("min"))
        if "min" in value and "max" in value:
            return f"{value['min']}:{value['max']} {value.get('distribution', '')}".strip()
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12]  # a sha256
    return str(value)


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]i?B?|B)?\s*", text, re.IGNORECASE)
    if not m:
        raise KernelscopeError(f"--memory-budget {text!r}: expected a size such as 80GiB or 24GB")
    value = float(m.group(1))
    unit = (m.group(2) or "B").upper().rstrip("B")
    scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}
    return int(value * scale[unit])


def capacity(budget_bytes: int, weights_bytes: int, kv_bytes_per_token: float, context_tokens: int,
             max_positions: int | None = None) -> Capacity:
    """Sequences of context_tokens that fit beside the weights, and the longest single sequence: what memory
    holds, but no longer than the model's positions (and no sequence at all of a context it cannot take)."""
    free = budget_bytes - weights_bytes
    if free <= 0 or kv_bytes_per_token <= 0:
        return Capacity(budget_bytes=budget_bytes, context_tokens=context_tokens, weights_bytes=weights_bytes,
                        kv_bytes_per_token=kv_bytes_per_token, sequences=0, max_context_batch1=0)
    per_sequence = kv_bytes_per_token * context_tokens
    by_memory = int(free // kv_bytes_per_token)
    too_long = max_positions is not None and context_tokens > max_positions
    limited = max_positions is not None and max_positions < by_memory
    return Capacity(budget_bytes=budget_bytes, context_tokens=context_tokens, weights_bytes=weights_bytes,
                    kv_bytes_per_token=kv_bytes_per_token, sequences=0 if too_long else int(free // per_sequence),
                    max_context_batch1=min(by_memory, max_positions) if limited and max_positions else by_memory,
                    limited_by="model positions" if limited or too_long else "memory")


def default_budget(run: Run) -> int:
    hw = run.config.hardware
    return int(hw.gpu_memory_bytes or hw.memory_bytes or 0)


def peak_memory(run: Run) -> tuple[int | None, str]:
    mem = run.metrics.peak_memory
    sources = mem.sources() if mem is not None else {}
    for key in ("nvml_process_used", "torch_cuda_reserved", "rss"):
        src = sources.get(key)
        if src is not None and src.available and src.peak_bytes is not None:
            return int(src.peak_bytes), key
    return None, "unavailable"


SHARE_KEYS = {SitePath.NATIVE: "native_share", SitePath.DEQUANT: "dequant_path_share",
              SitePath.FALLBACK: "fallback_share", SitePath.UNQUANTIZED: "unquantized_share"}


def path_shares(run: Run) -> dict[str, Any]:
    """Row fields: share of quantized-site time per path (all phases), the dequant share per phase, and
    each phase's time by path (for the plots)."""
    if not run.has_table:
        return {}
    t = run.table
    requested = [name for name, spec in run.manifest.sites.items() if spec.requested]
    by_path = time_by_path(t, t.site.isin(requested)) if requested else {}
    total = sum(by_path.values())
    out: dict[str, Any] = {key: by_path[p.value] / total if total > 0 else None for p, key in SHARE_KEYS.items()}
    if not requested:
        out["fallback_share"] = 0.0
    time = t.time_us
    out["time_by_path"] = {}
    for phase in (Phase.PREFILL, Phase.DECODE):
        mask = t.phase.mask(phase.value)
        phase_total = float(time[mask].sum())
        out[f"dequant_share_{phase.value}"] = dequant_time(t, mask) / phase_total if phase_total > 0 else None
        if run.config.world_size:
            comm = float(time[mask & t.role.mask(Role.COMMUNICATION.value)].sum())
            out[f"communication_share_{phase.value}"] = comm / phase_total if phase_total > 0 else None
        if mask.any():
            out["time_by_path"][phase.value] = time_by_path(t, mask)
    return out


def bandwidth(run: Run, row: Row) -> Bandwidth:
    """Model bandwidth utilisation: bytes a decode step reads (weights + the KV cache at the mean
    context) / TPOT, against the device's peak. A GPU metric: a CPU run says why it has none."""
    if run.config.device != "cuda":
        return Bandwidth(available=False, reason="CPU run: model bandwidth utilisation is reported for GPUs")
    gpu = str(run.config.hardware.gpu or "")
    found = run_peaks(run.manifest)
    peak = found.bandwidth_bytes_per_s if found is not None else None
    tpot = row.tpot_p50_ms
    wl = run.config.workload
    context = (wl.prompt_len.max if wl.prompt_len else 0) + (wl.gen_len or 0) / 2
    if not tpot or row.weights_bytes is None:
        return Bandwidth(available=False, reason="no TPOT or weight size in this run")
    step_bytes = row.weights_bytes + (row.kv_bytes_per_token or 0) * context * (wl.batch or 1)
    achieved = step_bytes / (tpot / 1000.0)
    return Bandwidth(available=True, bytes_per_step=step_bytes, achieved_bytes_per_s=achieved,
                     peak_bytes_per_s=peak, mbu=achieved / peak if peak else None,
                     reason="" if peak else f"peak bandwidth of {gpu!r} is not in kernelscope's table")


def run_row(run: Run, budget: int | None, context: int | None) -> Row:
    m, cfg = run.metrics, run.config
    peak, peak_source = peak_memory(run)
    kv = m.kv_cache.bytes_per_token if m.kv_cache is not None else None
    weights = m.weights.model_bytes if m.weights is not None else None
    wl = cfg.workload
    ctx = context or ((wl.prompt_len.max if wl.prompt_len else 0) + (wl.gen_len or 0))
    fields: dict[str, Any] = {
        "run": run.path.name, "path": str(run.path), "status": run.manifest.status, "quant": cfg.quant,
        "backend": cfg.library, "dtype": cfg.dtype, "quantized": cfg.quantized, "compile": cfg.engine.compile,
        "world_size": cfg.world_size,
        "calibration": cfg.recipe.calibration if cfg.recipe is not None else None,
        "peak_memory_bytes": peak, "peak_memory_source": peak_source, "weights_bytes": weights,
        "kv_bytes_per_token": kv,
    }
    for name, stats in (("ttft", m.ttft_ms), ("tpot", m.tpot_ms)):
        for stat in ("p50", "p95", "p99", "mean"):
            fields[f"{name}_{stat}_ms"] = getattr(stats, stat) if stats is not None else None
    if m.tokens_per_s is not None:
        fields["tokens_per_s_decode"], fields["tokens_per_s_e2e"] = m.tokens_per_s.decode, m.tokens_per_s.end_to_end
    q = m.quality
    if q is not None:
        for key in ("kld_mean", "kld_mean_se", "kld_p99", "same_top1", "ppl_ratio", "ppl_q", "kld_slope_per_1k_tokens"):
            fields[key] = getattr(q, key)
        fields["kld_by_position"], fields["outliers"] = q.by_position, q.activation_outliers
    fields.update(path_shares(run))
    b = budget or default_budget(run)
    if weights is not None and kv:
        fields["capacity"] = capacity(b, int(weights), float(kv), ctx, run.config.model.max_positions)
    fields["decode_steps_ms"] = m.decode_steps_ms()
    fields["stability"] = timing_stability(m)
    row = Row(**fields)
    return msgspec.structs.replace(row, bandwidth=bandwidth(run, row))


RATIOS = {"ttft_ratio": "ttft_p50_ms", "tpot_ratio": "tpot_p50_ms", "tokens_per_s_ratio": "tokens_per_s_decode",
          "peak_memory_ratio": "peak_memory_bytes", "weights_ratio": "weights_bytes",
          "kv_bytes_ratio": "kv_bytes_per_token"}


def with_ratios(row: Row, base: Row) -> Row:
    ratios: dict[str, float | None] = {}
    for name, key in RATIOS.items():
        a, b = row.number(key), base.number(key)
        ratios[name] = a / b if a is not None and b else None
    ca = row.capacity.sequences if row.capacity is not None else None
    cb = base.capacity.sequences if base.capacity is not None else None
    ratios["capacity_ratio"] = ca / cb if ca is not None and cb else None
    return msgspec.structs.replace(row, **ratios)


def compare_runs(runs: Sequence[Run], allow_mismatch: bool = False, gates: Sequence[Gate] = (),
                 budget: int | None = None, context: int | None = None, failed: Sequence[Row] = (),
                 peaks: PeakOverride | None = None) -> Comparison:
    if not runs:
        raise KernelscopeError("compare needs at least one run")
    differences = fixed_differences(runs)
    if differences and not allow_mismatch:
        raise KernelscopeError(f"the runs differ in fixed variables ({differences[0]}"
                               + (f", and {len(differences) - 1} more" if len(differences) > 1 else "")
                               + "); compare with --allow-mismatch to list them")
    rows = [run_row(r, budget, context) for r in runs]
    rows = [with_ratios(row, rows[0]) for row in rows]
    rows = [msgspec.structs.replace(row, dividend=dividends(runs[0], run, peaks.apply(run_peaks(run.manifest))
                                                              if peaks else run_peaks(run.manifest)))
            for row, run in zip(rows, runs, strict=True)]
    breaches = check_gates(rows, gates)
    rows = [msgspec.structs.replace(row, risks=risks(row, rows[0], breaches, bool(gates))) for row in rows]
    fixed = {k: fixed_value(runs[0], k) for k in FIXED_VARIABLES}
    return Comparison(fixed=fixed, differences=differences, rows=[*rows, *failed], gates=[str(g) for g in gates],
                      breaches=breaches)
