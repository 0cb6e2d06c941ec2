"""The comparison plan: several runs of one model on the same fixed variables, one row each, with
ratios against a baseline, capacity, the risk checklist, and gates for CI.

Everything here is a pure function of saved runs (manifest + metrics + kernel table).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kernelscope.errors import EXIT_GATE, KernelscopeError
from kernelscope.report.aggregate import dequant_time, time_by_path
from kernelscope.report.metrics import decode_steps_ms
from kernelscope.report.style import pct, ratio
from kernelscope.runs.store import Run
from kernelscope.vocabulary import Phase, SitePath

# The fixed variables: what must be equal for runs to be comparable (dotted paths into config).
FIXED_VARIABLES = (
    "model.hash", "model.name", "tokenizer.class", "tokenizer.vocab_size", "eval_set.sha256",
    "workload.prompt_len", "workload.gen_len", "workload.batch", "workload.sampling", "workload.seed",
    "engine.name", "engine.attention", "device", "hardware.cpu", "hardware.gpu", "hardware.gpu_driver",
    "versions.torch", "versions.transformers", "quality.baseline", "quality.spec.context", "quality.spec.windows",
)

# Peak memory bandwidth (bytes/s) of common accelerators, for model bandwidth utilisation.
PEAK_BANDWIDTH = {
    "H200": 4.8e12, "H100 80GB HBM3": 3.35e12, "H100 PCIe": 2.0e12, "H100 NVL": 3.9e12, "H100": 3.35e12,
    "A100-SXM4-80GB": 2.039e12, "A100 80GB PCIe": 1.935e12, "A100-SXM4-40GB": 1.555e12, "A100": 1.555e12,
    "L40S": 864e9, "L4": 300e9, "A10G": 600e9, "A10": 600e9, "RTX 4090": 1008e9, "RTX 3090": 936e9,
    "MI300X": 5.3e12, "MI250X": 3.2e12, "B200": 8.0e12, "GB200": 8.0e12,
}


def get(doc: dict[str, Any], dotted: str) -> Any:
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def fixed_value(run: Run, key: str) -> Any:
    """A fixed variable of a run: from its config, or (quality.*) from how its quality was measured.
    A run without quality measurements has nothing to disagree about there."""
    if key.startswith("quality."):
        return get(run.metrics, key)
    return get(run.config, key)


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


@dataclass(frozen=True)
class Capacity:
    budget_bytes: int
    context_tokens: int
    weights_bytes: int
    kv_bytes_per_token: float
    sequences: int  # concurrent sequences of context_tokens that fit
    max_context_batch1: int  # the longest single sequence that fits

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "what": "(budget - weights) / (KV bytes per token x context): weights and KV "
                                        "cache only; activations and allocator overhead are not counted"}


def capacity(budget_bytes: int, weights_bytes: int, kv_bytes_per_token: float, context_tokens: int) -> Capacity:
    free = budget_bytes - weights_bytes
    if free <= 0 or kv_bytes_per_token <= 0:
        return Capacity(budget_bytes, context_tokens, weights_bytes, kv_bytes_per_token, 0, 0)
    per_sequence = kv_bytes_per_token * context_tokens
    return Capacity(budget_bytes, context_tokens, weights_bytes, kv_bytes_per_token,
                    int(free // per_sequence), int(free // kv_bytes_per_token))


def default_budget(run: Run) -> int:
    hw = run.config.get("hardware", {})
    return int(hw.get("gpu_memory_bytes") or hw.get("memory_bytes") or 0)


def peak_memory(run: Run) -> tuple[int | None, str]:
    mem = run.metrics.get("peak_memory", {})
    for key in ("nvml_process_used", "torch_cuda_reserved", "rss"):
        src = mem.get(key, {})
        if src.get("available"):
            return int(src["peak_bytes"]), key
    return None, "unavailable"


def path_shares(run: Run) -> dict[str, Any]:
    """Share of quantized-site time per path (all phases), the dequant share per phase, and each
    phase's time by path (for the plots)."""
    if not run.has_table:
        return {}
    t = run.table
    sites = run.manifest.get("sites", {}) or {}
    requested = [name for name, spec in sites.items() if spec.get("requested")]
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
        if mask.any():
            out["time_by_path"][phase.value] = time_by_path(t, mask)
    return out


SHARE_KEYS = {SitePath.NATIVE: "native_share", SitePath.DEQUANT: "dequant_path_share",
              SitePath.FALLBACK: "fallback_share", SitePath.UNQUANTIZED: "unquantized_share"}


def bandwidth(run: Run, row: dict[str, Any]) -> dict[str, Any]:
    """Model bandwidth utilisation: bytes a decode step reads (weights + the KV cache at the mean
    context) / TPOT, against the device's peak. A GPU metric: a CPU run says why it has none."""
    if run.config.get("device") != "cuda":
        return {"available": False, "reason": "CPU run: model bandwidth utilisation is reported for GPUs"}
    gpu = str(run.config.get("hardware", {}).get("gpu") or "")
    peak = next((v for k, v in PEAK_BANDWIDTH.items() if k in gpu), None)
    tpot = row.get("tpot_p50_ms")
    wl = run.config.get("workload", {})
    context = (wl.get("prompt_len", {}).get("max", 0) or 0) + (wl.get("gen_len", 0) or 0) / 2
    if not tpot or row.get("weights_bytes") is None:
        return {"available": False, "reason": "no TPOT or weight size in this run"}
    step_bytes = row["weights_bytes"] + (row.get("kv_bytes_per_token") or 0) * context * (wl.get("batch") or 1)
    achieved = step_bytes / (tpot / 1000.0)
    return {"available": True, "bytes_per_step": step_bytes, "achieved_bytes_per_s": achieved,
            "peak_bytes_per_s": peak, "mbu": achieved / peak if peak else None,
            "reason": "" if peak else f"peak bandwidth of {gpu!r} is not in kernelscope's table"}


def run_row(run: Run, budget: int | None, context: int | None) -> dict[str, Any]:
    m, cfg = run.metrics, run.config
    peak, peak_source = peak_memory(run)
    kv = m.get("kv_cache", {}).get("bytes_per_token")
    weights = m.get("weights", {}).get("model_bytes")
    wl = cfg.get("workload", {})
    ctx = context or ((wl.get("prompt_len", {}).get("max") or 0) + (wl.get("gen_len") or 0))
    row: dict[str, Any] = {
        "run": run.path.name,
        "path": str(run.path),
        "status": run.manifest.get("status"),
        "quant": cfg.get("quant"),
        "backend": cfg.get("backend") or cfg.get("kv_backend") or "",
        "dtype": cfg.get("dtype"),
        "quantized": cfg.get("quantized", {}),
        "calibration": (cfg.get("recipe") or {}).get("calibration"),
        "peak_memory_bytes": peak,
        "peak_memory_source": peak_source,
        "weights_bytes": weights,
        "kv_bytes_per_token": kv,
    }
    for key, name in (("ttft_ms", "ttft"), ("tpot_ms", "tpot")):
        block = m.get(key, {})
        for stat in ("p50", "p95", "p99", "mean"):
            row[f"{name}_{stat}_ms"] = block.get(stat)
    tps = m.get("tokens_per_s", {})
    row["tokens_per_s_decode"], row["tokens_per_s_e2e"] = tps.get("decode"), tps.get("end_to_end")
    q = m.get("quality", {})
    for key in ("kld_mean", "kld_mean_se", "kld_p99", "same_top1", "ppl_ratio", "ppl_q", "kld_slope_per_1k_tokens"):
        row[key] = q.get(key)
    row["kld_by_position"] = q.get("by_position")
    row["outliers"] = q.get("activation_outliers")
    row.update(path_shares(run))
    b = budget or default_budget(run)
    if weights is not None and kv:
        row["capacity"] = capacity(b, int(weights), float(kv), ctx).to_json()
    row["bandwidth"] = bandwidth(run, row)
    row["decode_steps_ms"] = decode_steps_ms(m)
    return row


RATIOS = {"ttft_ratio": "ttft_p50_ms", "tpot_ratio": "tpot_p50_ms", "tokens_per_s_ratio": "tokens_per_s_decode",
          "peak_memory_ratio": "peak_memory_bytes", "weights_ratio": "weights_bytes",
          "kv_bytes_ratio": "kv_bytes_per_token"}


def add_ratios(rows: list[dict[str, Any]], base: dict[str, Any]) -> None:
    for row in rows:
        for name, key in RATIOS.items():
            a, b = row.get(key), base.get(key)
            row[name] = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
        ca, cb = (row.get("capacity") or {}).get("sequences"), (base.get("capacity") or {}).get("sequences")
        row["capacity_ratio"] = ca / cb if ca is not None and cb else None


# ----------------------------------------------------------------------------------------- gates

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq,
                                                   "!=": operator.ne, "<": operator.lt, ">": operator.gt}
GATE_METRICS = ("kld_mean", "kld_p99", "same_top1", "ppl_ratio", "fallback_share", "native_share",
                "dequant_share_prefill", "dequant_share_decode", "tpot_ratio", "ttft_ratio", "tokens_per_s_ratio",
                "peak_memory_ratio", "weights_ratio", "capacity_ratio", "tpot_p50_ms", "ttft_p50_ms")


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_gates(text: str) -> list[Gate]:
    gates = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"([a-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*(-?[\d.]+(?:e-?\d+)?)", part)
        if not m:
            raise KernelscopeError(f"--gate {part!r}: expected METRIC OP NUMBER, e.g. kld_mean<0.05")
        if m.group(1) not in GATE_METRICS:
            raise KernelscopeError(f"--gate {part!r}: unknown metric; one of {', '.join(GATE_METRICS)}")
        gates.append(Gate(m.group(1), m.group(2), float(m.group(3))))
    return gates


def check_gates(rows: list[dict[str, Any]], gates: list[Gate]) -> list[dict[str, Any]]:
    """Every (run, gate) breach: the baseline row is not gated. A metric the run did not measure
    breaches its gate (a CI guard must not pass on missing data)."""
    breaches = []
    for row in rows[1:]:
        for g in gates:
            value = row.get(g.metric)
            if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
                breaches.append({"run": row["run"], "gate": str(g), "value": None, "why": "not measured"})
            elif not _OPS[g.op](float(value), g.value):
                breaches.append({"run": row["run"], "gate": str(g), "value": value, "why": "breached"})
    return breaches


# ------------------------------------------------------------------------------------ risk checklist

def risks(row: dict[str, Any], base: dict[str, Any], breaches: list[dict[str, Any]], gated: bool
          ) -> list[dict[str, Any]]:
    """The six checklist items for one run, each with its evidence or why it was not measured."""
    q_act = bool((row.get("quantized") or {}).get("activations"))
    out = []
    out.append({"item": "calibration", "status": "info",
                "evidence": row.get("calibration") or "not recorded"})
    outliers = row.get("outliers") or base.get("outliers")
    if outliers:
        top = outliers["modules"][0] if outliers.get("modules") else {}
        flagged = outliers.get("flagged", 0)
        status = "risk" if flagged and q_act else ("watch" if flagged else "ok")
        out.append({"item": "activation outliers", "status": status,
                    "evidence": f"{flagged} of {len(outliers.get('modules', []))} Linear inputs exceed "
                                f"|x| > {outliers.get('threshold')} (worst {top.get('module')}: max "
                                f"{top.get('max_abs', 0):.1f}, {top.get('ratio', 0) or 0:.0f}x the median)"
                                + ("; this mode quantizes activations" if q_act else "")})
    else:
        out.append({"item": "activation outliers", "status": "not measured",
                    "evidence": "run with --quality to record activation statistics in the baseline pass"})
    fallback = row.get("fallback_share")
    if row.get("native_share") is None and fallback in (None, 0.0):
        out.append({"item": "optimized kernels", "status": "n/a", "evidence": "nothing quantized in this run"})
    else:
        out.append({"item": "optimized kernels", "status": "risk" if fallback else "ok",
                    "evidence": f"quantized-site time: native {pct(row.get('native_share'), 'n/a')}, "
                                f"dequant-then-compute {pct(row.get('dequant_path_share'), 'n/a')}, "
                                f"fallback {pct(fallback, 'n/a')}"})
    buckets = row.get("kld_by_position") or []
    if len(buckets) >= 2:
        first, last = buckets[0]["kld_mean"], buckets[-1]["kld_mean"]
        grows = last > 1.5 * first and last > 1e-4
        out.append({"item": "quality on long outputs", "status": "risk" if grows else "ok",
                    "evidence": f"KLD {first:.2e} at positions {buckets[0]['start']}-{buckets[0]['end']} -> "
                                f"{last:.2e} at {buckets[-1]['start']}-{buckets[-1]['end']} (slope "
                                f"{row.get('kld_slope_per_1k_tokens') or 0:.2e} per 1k tokens)"})
    else:
        out.append({"item": "quality on long outputs", "status": "not measured", "evidence": "run with --quality"})
    cap = row.get("capacity")
    if cap:
        cap_ratio = row.get("capacity_ratio")
        out.append({"item": "larger batch / context",
                    "status": "ok" if cap_ratio is None or cap_ratio >= 1 else "watch",
                    "evidence": f"{cap['sequences']} sequences of {cap['context_tokens']} tokens in "
                                f"{cap['budget_bytes'] / 2**30:.1f} GiB ({ratio(cap_ratio, 'n/a')} the baseline); "
                                f"longest single sequence {cap['max_context_batch1']} tokens"})
    else:
        out.append({"item": "larger batch / context", "status": "not measured", "evidence": "no KV size in this run"})
    mine = [b for b in breaches if b["run"] == row["run"]]
    if not gated:
        out.append({"item": "rollback", "status": "n/a", "evidence": "no --gate given"})
    else:
        out.append({"item": "rollback", "status": "rollback" if mine else "ok",
                    "evidence": "; ".join(f"{b['gate']} ({b['why']}"
                                          + (f", {b['value']:.4g})" if b["value"] is not None else ")") for b in mine)
                    or "every gate holds"})
    return out


@dataclass
class Comparison:
    fixed: dict[str, Any]
    differences: list[str]
    rows: list[dict[str, Any]]
    gates: list[str] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"fixed_variables": self.fixed, "differences": self.differences, "runs": self.rows,
                "gates": self.gates, "breaches": self.breaches}

    def exit_code(self) -> int:
        return EXIT_GATE if self.breaches else 0


def compare_runs(runs: Sequence[Run], allow_mismatch: bool = False, gates: Sequence[Gate] = (),
                 budget: int | None = None, context: int | None = None,
                 failed: Sequence[dict[str, Any]] = ()) -> Comparison:
    if not runs:
        raise KernelscopeError("compare needs at least one run")
    differences = fixed_differences(runs)
    if differences and not allow_mismatch:
        raise KernelscopeError(f"the runs differ in fixed variables ({differences[0]}"
                               + (f", and {len(differences) - 1} more" if len(differences) > 1 else "")
                               + "); compare with --allow-mismatch to list them")
    rows = [run_row(r, budget, context) for r in runs]
    add_ratios(rows, rows[0])
    breaches = check_gates(rows, list(gates))
    for row in rows:
        row["risks"] = risks(row, rows[0], breaches, bool(gates))
    rows.extend(dict(f) for f in failed)
    fixed = {k: fixed_value(runs[0], k) for k in FIXED_VARIABLES}
    return Comparison(fixed, differences, rows, [str(g) for g in gates], breaches)
