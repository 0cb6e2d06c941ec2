"""The documents the report stage derives from runs, typed: the summary of one run (`summary --json`,
the console, the TUI overview, exports) and the comparison of several (`compare --format json`, its
table, plots and gates). Their JSON keys are the field names (docs/run-format.md, docs/metrics.md).
"""

from __future__ import annotations

import msgspec

from kernelscope.errors import EXIT_GATE
from kernelscope.runs.codec import Doc
from kernelscope.runs.documents import (
    ActivationOutliers,
    Attribution,
    CompileInfo,
    Config,
    HooksOverhead,
    KVCacheSize,
    PeakMemory,
    Peaks,
    PositionBucket,
    Profiled,
    Quality,
    QuantizedParts,
    Stats,
    TokensPerS,
    Weights,
)

# ----------------------------------------------------------------------------------------- summary


class SiteTime(Doc, frozen=True, kw_only=True):
    site: str
    time_us: float


class PhaseSummary(Doc, frozen=True, kw_only=True):
    """One phase: its time, split by path (the parts sum to total_us), role and class; the dequant share."""

    total_us: float
    kernels: int
    steps: int
    time_by_path: dict[str, float]
    time_by_role: dict[str, float]
    time_by_class: dict[str, float]
    dequant_us: float
    dequant_share: float
    communication_us: float = 0.0  # collectives: counted in the unquantized share, shown as their own line
    top_dequant_modules: list[SiteTime] = []
    top_sites: list[SiteTime] = []


class UnknownName(Doc, frozen=True, kw_only=True):
    name: str
    kernels: int
    time_us: float


class PhaseCoverage(Doc, frozen=True, kw_only=True):
    """How a phase's kernel time was decided: by a rule for a named library or family (`rule`), by a rule
    for a kind of kernel that read only generic evidence (`generic`: words and stated types), or by no
    rule (`unknown`: role other, class other). The three parts sum to total_us."""

    total_us: float
    rule_us: float
    generic_us: float
    unknown_us: float
    rule_share: float
    generic_share: float
    unknown_share: float
    top_unknown: list[UnknownName] = []


class Coverage(Doc, frozen=True, kw_only=True):
    total: PhaseCoverage
    phases: dict[str, PhaseCoverage] = {}


class SiteRow(Doc, frozen=True, kw_only=True):
    """One (site, phase): the path holding most of its time, the deciding path rule and its reason."""

    module: str
    kind: str
    phase: str
    path: str
    rule: str
    reason: str
    kernels: int
    time_us: float
    format: str = ""
    paths: dict[str, float] | None = None  # time by path, when its instances took more than one


class UnquantizedModule(Doc, frozen=True, kw_only=True):
    module: str
    requested: bool
    note: str = ""
    share: dict[str, float] = {}  # phase -> share of the phase's time


class MetricBlock(Doc, frozen=True, kw_only=True):
    """The metrics a summary shows (metrics.json less the raw timing records and memory samples)."""

    ttft_ms: Stats | None = None
    tpot_ms: Stats | None = None
    itl_ms: Stats | None = None
    e2e_ms: Stats | None = None
    tokens_per_s: TokensPerS | None = None
    peak_memory: PeakMemory | None = None
    hooks_overhead: HooksOverhead | None = None
    weights: Weights | None = None
    kv_cache: KVCacheSize | None = None
    requests: int | None = None
    profiled: Profiled | None = None
    quality: Quality | None = None
    compile: CompileInfo | None = None
    clock: str = ""  # how the timings were taken (metrics.json timing.clock)


class Stability(Doc, frozen=True, kw_only=True):
    """Whether the run's timings can be trusted (report/stability.py), and why not."""

    unstable: bool
    reasons: list[str] = []
    tpot_cv: float | None = None  # standard deviation / mean of the requests' TPOT
    decode_tail_ratio: float | None = None  # p99 / p50 of the decode steps


class RooflineFigures(Doc, frozen=True, kw_only=True):
    """A group's roofline (report/roofline.py; definitions in docs/metrics.md)."""

    time_ms: float
    work_ms: float  # time of the rows of ops whose work is known
    unmodelled_ms: float  # the rest: ops whose work the trace does not state
    flops: float
    bytes: float
    achieved_tflops: float | None = None
    achieved_gbs: float | None = None
    intensity: float | None = None  # operations per byte
    dtype: str = ""  # the dtype most of its operations computed in
    bound: str = ""  # memory | compute | '' (no work)
    pct_of_peak: float | None = None  # of peak bandwidth (memory-bound) or of the dtype's peak (compute-bound)
    ideal_ms: float | None = None
    lost_ms: float | None = None  # work_ms - ideal_ms


class PhaseRoofline(RooflineFigures, frozen=True, kw_only=True):
    steps: int = 1


class SiteRoofline(RooflineFigures, frozen=True, kw_only=True):
    name: str  # a site, or a layer ("layer 3")
    phase: str


class Roofline(Doc, frozen=True, kw_only=True):
    peaks: Peaks | None = None
    phases: dict[str, PhaseRoofline] = {}
    sites: list[SiteRoofline] = []
    layers: list[SiteRoofline] = []
    note: str = ""


class RankPhase(Doc, frozen=True, kw_only=True):
    total_us: float
    communication_us: float  # collectives
    compute_us: float  # the rest: what the rank computed (and launched)
    time_by_path: dict[str, float] = {}


class VerdictSplit(Doc, frozen=True, kw_only=True):
    site: str
    phase: str
    paths: dict[str, str]  # rank -> the path holding most of the site's time there


class RankView(Doc, frozen=True, kw_only=True):
    """report/ranks.py: a distributed run's ranks, side by side."""

    ranks: list[int]
    per_rank: dict[str, dict[str, RankPhase]] = {}  # rank -> phase -> figures
    imbalance: dict[str, float | None] = {}  # phase -> slowest / fastest rank's compute time
    straggler: dict[str, int] = {}  # phase -> the slowest rank
    communication_share: dict[str, float] = {}  # phase -> collectives / all time, every rank
    disagreements: list[VerdictSplit] = []  # sites whose path differs between ranks


class Summary(Doc, frozen=True, kw_only=True):
    run: str
    status: str
    missing: list[str]
    config: Config
    metrics: MetricBlock
    phases: dict[str, PhaseSummary] = {}
    sites: list[SiteRow] = []
    attribution: Attribution | None = None
    unquantized_modules: list[UnquantizedModule] = []
    coverage: Coverage | None = None
    stability: Stability | None = None
    roofline: Roofline | None = None
    ranks: RankView | None = None  # runs with more than one rank


# -------------------------------------------------------------------------------------- comparison


class Capacity(Doc, frozen=True, kw_only=True):
    budget_bytes: int
    context_tokens: int
    weights_bytes: int
    kv_bytes_per_token: float
    sequences: int  # concurrent sequences of context_tokens that fit
    max_context_batch1: int  # the longest single sequence that fits (memory and the model's positions)
    limited_by: str = "memory"  # memory | model positions: what bounds max_context_batch1
    what: str = ("(budget - weights) / (KV bytes per token x context): weights and KV cache only; activations and "
                 "allocator overhead are not counted")


class Bandwidth(Doc, frozen=True, kw_only=True):
    available: bool
    reason: str = ""
    bytes_per_step: float | None = None
    achieved_bytes_per_s: float | None = None
    peak_bytes_per_s: float | None = None
    mbu: float | None = None


class Risk(Doc, frozen=True, kw_only=True):
    item: str
    status: str  # ok | watch | risk | rollback | info | n/a | not measured
    evidence: str


class Breach(Doc, frozen=True, kw_only=True):
    run: str
    gate: str
    value: float | None
    why: str  # breached | not measured


class PhaseDividend(Doc, frozen=True, kw_only=True):
    """What the mode's saved bytes promise in a phase against the baseline, and what it collected
    (report/dividend.py; per step, from the profiled pass)."""

    realized_speedup: float
    baseline_ms_per_step: float
    ms_per_step: float
    promised_speedup: float | None = None  # the whole step, with the modelled work at its ideal ratio
    ideal_speedup: float | None = None  # the modelled work alone: baseline ideal / ideal at the mode's storage
    promised_ms_per_step: float | None = None
    lost_ms_per_step: float | None = None
    lost_ms_per_request: float | None = None
    lost_by_cause_ms: dict[str, float] = {}  # dequant | fallback | quantize | gaps | rest, per step
    note: str = ""


class Row(Doc, frozen=True, kw_only=True):
    """One run in a comparison (or a configuration of a sweep that failed: then `error` says why)."""

    run: str
    path: str = ""
    status: str | None = None
    stability: Stability | None = None  # whether its timings can be trusted
    quant: str | None = None
    backend: str = ""
    dtype: str | None = None
    compile: str = ""  # the torch.compile mode of a compiled run ('' eager)
    world_size: int | None = None  # ranks of a distributed run (weights_bytes, capacity: per rank)
    communication_share_prefill: float | None = None  # collectives / all time, every rank
    communication_share_decode: float | None = None
    quantized: QuantizedParts = msgspec.field(default_factory=QuantizedParts)
    calibration: str | None = None
    peak_memory_bytes: int | None = None
    peak_memory_source: str = "unavailable"
    weights_bytes: int | None = None
    kv_bytes_per_token: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    ttft_p99_ms: float | None = None
    ttft_mean_ms: float | None = None
    tpot_p50_ms: float | None = None
    tpot_p95_ms: float | None = None
    tpot_p99_ms: float | None = None
    tpot_mean_ms: float | None = None
    tokens_per_s_decode: float | None = None
    tokens_per_s_e2e: float | None = None
    kld_mean: float | None = None
    kld_mean_se: float | None = None
    kld_p99: float | None = None
    same_top1: float | None = None
    ppl_ratio: float | None = None
    ppl_q: float | None = None
    kld_slope_per_1k_tokens: float | None = None
    kld_by_position: list[PositionBucket] = []
    outliers: ActivationOutliers | None = None
    native_share: float | None = None
    dequant_path_share: float | None = None
    fallback_share: float | None = None
    unquantized_share: float | None = None
    dequant_share_prefill: float | None = None
    dequant_share_decode: float | None = None
    time_by_path: dict[str, dict[str, float]] = {}  # phase -> path -> us
    capacity: Capacity | None = None
    bandwidth: Bandwidth | None = None
    dividend: dict[str, PhaseDividend] = {}  # phase -> against the first run
    decode_steps_ms: list[float] = []
    ttft_ratio: float | None = None
    tpot_ratio: float | None = None
    tokens_per_s_ratio: float | None = None
    peak_memory_ratio: float | None = None
    weights_ratio: float | None = None
    kv_bytes_ratio: float | None = None
    capacity_ratio: float | None = None
    risks: list[Risk] = []
    error: str | None = None

    def number(self, metric: str) -> float | None:
        """A numeric field by name (gates name their metric), None where it was not measured."""
        value = getattr(self, metric, None)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Comparison(Doc, frozen=True, kw_only=True):
    fixed: dict[str, object] = msgspec.field(name="fixed_variables")
    differences: list[str]
    rows: list[Row] = msgspec.field(name="runs")
    gates: list[str] = []
    breaches: list[Breach] = []

    def exit_code(self) -> int:
        return EXIT_GATE if self.breaches else 0
