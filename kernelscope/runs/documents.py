"""The documents of a saved run, typed: manifest.json (Manifest, with its Config and sites) and
metrics.json (Metrics). Capture and analyze build them; every view reads them through
`codec.read_document`, which validates as it decodes, so a wrong type is one line naming the file and
the field.

On disk every field is written (a field the run has no value for is null); unknown keys are kept out
of the way (ignored on read), so runs written by older or newer kernelscopes still load. The key
names are the run format (docs/run-format.md): rename a field only with `name=`.
"""

from __future__ import annotations

import msgspec

from kernelscope.runs.codec import Doc
from kernelscope.vocabulary import SiteKind

# --------------------------------------------------------------------------------------- config


class ModelInfo(Doc, frozen=True, kw_only=True):
    name: str = ""
    path: str = ""
    hash: str = ""
    architecture: list[str] = []
    parameters: int | None = None  # logical parameters (a packed 4-bit weight counts its full shape)
    max_positions: int | None = None  # the longest sequence the model takes (max_position_embeddings)


class TokenizerInfo(Doc, frozen=True, kw_only=True):
    name: str = ""
    class_name: str = msgspec.field(name="class", default="")
    vocab_size: int | None = None


class EvalSet(Doc, frozen=True, kw_only=True):
    path: str = ""
    tokens: int | None = None
    sha256: str = ""


class QuantizedParts(Doc, frozen=True, kw_only=True):
    """What the configuration stores quantized ('' for a part left in the compute dtype)."""

    weights: str = ""
    activations: str = ""
    kv_cache: str = ""

    def what(self) -> str:
        """W / A / KV joined with +, or 'none'."""
        parts = [label for label, value in (("W", self.weights), ("A", self.activations), ("KV", self.kv_cache))
                 if value]
        return "+".join(parts) if parts else "none"


class RecipeInfo(Doc, frozen=True, kw_only=True):
    weights: str | None = None
    group_size: int | None = None
    kv_cache: str | None = None
    calibration: str | None = None


class PromptLen(Doc, frozen=True, kw_only=True):
    min: int
    max: int
    distribution: str = "fixed"


class Sampling(Doc, frozen=True, kw_only=True, omit_defaults=True):
    """greedy, or sample with a temperature, top-p and seed (only what applies is written)."""

    strategy: str
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None


class WorkloadInfo(Doc, frozen=True, kw_only=True):
    prompt_len: PromptLen | None = None
    gen_len: int | None = None
    batch: int | None = None
    requests: int | None = None
    warmup: int | None = None
    seed: int | None = None
    sampling: Sampling | None = None
    stop: str = ""


class Engine(Doc, frozen=True, kw_only=True):
    name: str = ""
    attention: str = ""
    inference_mode: bool | None = None
    module_mode: str = ""
    source: list[str] = []  # analyzed traces
    analyzed_by: str = ""  # "kernelscope X" when the run came from `analyze`
    compile: str = ""  # "inductor default" etc. for `profile --compile`; '' eager
    parallel: str = ""  # "tensor parallel 2 (gloo; ...)" for `profile --tp`
    reanalysed_export: bool = False


class Peaks(Doc, frozen=True, kw_only=True):
    """What the hardware allows (report/peaks.py): memory bandwidth and dense ops/s per dtype."""
    device: str
    bandwidth_bytes_per_s: float
    flops_per_s: dict[str, float] = {}  # fp32 | tf32 | bf16 | fp16 | fp8 | int8 | fp4: dense operations per second
    source: str = ""
    measured: bool = False  # measured on the machine (a CPU) rather than read from a data sheet

    def compute_peak(self, work_dtype: str) -> float | None:
        """The peak an op computing in `work_dtype` (classify/work.py) is held against: fp32 math against fp32
        (not tf32: PyTorch's matmul default), 8-bit floats against fp8, ints against int8; None: no figure."""
        return self.flops_per_s.get(_PEAK_OF.get(work_dtype, work_dtype))

    def ridge(self, work_dtype: str) -> float | None:
        """The arithmetic intensity (ops per byte) above which an op is compute-bound."""
        peak = self.compute_peak(work_dtype)
        return peak / self.bandwidth_bytes_per_s if peak else None


_PEAK_OF = {"fp64": "fp32", "fp8e4m3": "fp8", "fp8e5m2": "fp8", "fp4x2": "fp4", "uint8": "int8"}


class Hardware(Doc, frozen=True, kw_only=True):
    device: str = ""
    cpu: str = ""
    cpu_flags: list[str] = []
    cpu_count: int | None = None
    torch_threads: int | None = None
    torch_cpu_capability: str = ""
    memory_bytes: int | None = None
    platform: str = ""
    gpu: str | None = None
    gpu_driver: str | None = None
    gpu_memory_bytes: int | None = None
    cuda: str | None = None
    devices: list[str] = []  # analyzed traces: every device the trace names
    runtime: str = ""  # analyzed traces: cuda | hip | cpu
    peaks: Peaks | None = None  # what the roofline holds the run against (data sheet, or measured on a CPU)


class Profiling(Doc, frozen=True, kw_only=True):
    requests: int | None = None
    max_decode_steps: int | None = None
    record_shapes: bool = True
    with_stack: bool = False


class CheckpointInfo(Doc, frozen=True, kw_only=True):
    """A checkpoint quantized before it was shipped, profiled as it was loaded (no --quant)."""

    method: str  # torchao | bitsandbytes | compressed-tensors | fp8 | gptq | awq | hqq | quanto | gguf | ...
    what: str = "quantized checkpoint"
    parameters: dict[str, str] = {}  # its quantization_config (or GGUF / quanto map), flattened
    kept_in_high_precision: list[str] = []  # modules it declares unquantized
    loaded_as: str = ""  # kept quantized | decompressed per call | dequantized at load (runs dense)
    source: str = ""  # where the checkpoint declares it (config.json quantization_config, a GGUF file, ...)
    path: str = ""
    hash: str = ""  # the checkpoint's own hash (model.hash is its parent's where --baseline names it)


class Config(Doc, frozen=True, kw_only=True):
    """The fixed variables of a run: what was run, on what, how."""

    model: ModelInfo = msgspec.field(default_factory=ModelInfo)
    tokenizer: TokenizerInfo | None = None
    eval_set: EvalSet | None = None
    quant: str = "unknown"
    dtype: str = "unknown"
    backend: str | None = None
    kv_backend: str | None = None
    quantized: QuantizedParts = msgspec.field(default_factory=QuantizedParts)
    recipe: RecipeInfo | None = None
    workload: WorkloadInfo = msgspec.field(default_factory=WorkloadInfo)
    engine: Engine = msgspec.field(default_factory=Engine)
    device: str = ""
    hardware: Hardware = msgspec.field(default_factory=Hardware)
    versions: dict[str, str] = {}
    profiling: Profiling | None = None
    ranks: list[int] = []
    world_size: int | None = None
    checkpoint: CheckpointInfo | None = None  # set where the model was a quantized checkpoint, profiled as shipped

    @property
    def analyzed(self) -> bool:
        """The run came from `kernelscope analyze` of a trace, not from a timed model run."""
        return bool(self.engine.analyzed_by)

    @property
    def library(self) -> str:
        """The weight backend, else the KV backend, else ''."""
        return self.backend or self.kv_backend or ""


# ---------------------------------------------------------------------------------------- manifest


class SiteEntry(Doc, frozen=True, kw_only=True):
    """What the recipe did to one module (a quantizable Linear, or attention over the KV cache)."""

    kind: SiteKind
    requested: bool
    quantized: bool
    format: str = ""
    module_type: str = ""
    weight_shape: list[int] = []
    stored_bytes: int | None = None
    note: str = ""
    order: int | None = None  # when it is first called in a forward (a compiled run's GEMMs are matched by it)


class RankAttribution(Doc, frozen=True, kw_only=True):
    phase_source: str
    graph_replayed_share: float = 0.0
    rows: int = 0


class Attribution(Doc, frozen=True, kw_only=True):
    """How rows were attributed to phases: which annotations decided, what share was graph-replayed."""

    phase_source: str
    graph_replayed_share: float = 0.0
    per_rank: dict[str, RankAttribution] = {}
    heuristic: str | None = None
    note: str | None = None  # how the phase source was read, or why the trace has no phases


RUN_FORMAT, RUN_VERSION = "kernelscope-run", 1


class Manifest(Doc, frozen=True, kw_only=True):
    format: str = RUN_FORMAT
    version: int = RUN_VERSION
    created: str = ""
    status: str = "incomplete"  # complete | incomplete
    missing: list[str] = []
    config: Config = msgspec.field(default_factory=Config)
    sites: dict[str, SiteEntry] = {}
    attribution: Attribution | None = None
    finished: str | None = None
    reclassified: str | None = None
    error: str | None = None
    extras: dict[str, str] = {}  # optional files in the run folder, by what they are
    traces: dict[str, str] = {}  # analyze of a folder: rank -> the trace file it came from


# ----------------------------------------------------------------------------------------- metrics


class Stats(Doc, frozen=True, kw_only=True):
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    min: float | None = None
    max: float | None = None
    n: int = 0


class TokensPerS(Doc, frozen=True, kw_only=True):
    decode: float | None = None
    end_to_end: float | None = None
    prefill: float | None = None


class RequestTiming(Doc, frozen=True, kw_only=True):
    request: int
    prompt_len: int
    batch: int
    ttft_s: float
    decode_step_s: list[float]
    e2e_s: float
    n_out: int


class MachineLoad(Doc, frozen=True, kw_only=True):
    """What else the machine was doing during the timing pass (Linux; None where unreadable)."""

    cpus: int | None = None  # CPUs this process may run on
    load_1m_before: float | None = None
    load_1m_after: float | None = None
    steal_share: float | None = None  # of all CPU time over the pass, taken by the hypervisor
    governor: str | None = None  # cpufreq scaling governor of CPU 0
    freq_mhz: float | None = None  # mean current frequency over the CPUs, after the pass
    freq_max_mhz: float | None = None


class Timing(Doc, frozen=True, kw_only=True):
    requests: list[RequestTiming] = []
    warmup_discarded: int = 0
    clock: str = ""
    wall_s: float | None = None
    machine: MachineLoad | None = None


class Weights(Doc, frozen=True, kw_only=True):
    model_bytes: int
    linear_bytes: int = 0
    quantized_linear_bytes: int = 0
    what: str = ""


class KVCacheSize(Doc, frozen=True, kw_only=True):
    bytes: int
    tokens: int
    bytes_per_token: float | None = None
    what: str = ""


class MemorySource(Doc, frozen=True, kw_only=True):
    """One memory reading source: its peak and per-phase peaks, or why it is unavailable."""

    available: bool
    what: str = ""
    reason: str = ""
    peak_bytes: int | None = None
    by_phase: dict[str, int] = {}


class PeakMemory(Doc, frozen=True, kw_only=True):
    rss: MemorySource | None = None
    nvml_device_used: MemorySource | None = None
    nvml_process_used: MemorySource | None = None
    torch_cuda_allocated: MemorySource | None = None
    torch_cuda_reserved: MemorySource | None = None
    samples: int = 0

    def sources(self) -> dict[str, MemorySource]:
        """The sources that were asked, by name, in order of trust for a device's peak."""
        named = {"nvml_process_used": self.nvml_process_used, "torch_cuda_reserved": self.torch_cuda_reserved,
                 "rss": self.rss, "nvml_device_used": self.nvml_device_used,
                 "torch_cuda_allocated": self.torch_cuda_allocated}
        return {k: v for k, v in named.items() if v is not None}


class HooksOverhead(Doc, frozen=True, kw_only=True):
    calls: int
    seconds: float
    share_of_profiled_wall: float | None = None
    what: str = ""


class Profiled(Doc, frozen=True, kw_only=True):
    requests: int
    max_decode_steps: int
    wall_s: float


class MemorySamples(Doc, frozen=True, kw_only=True):
    trace_ts_us: list[float] = []
    series: dict[str, list[int | None]] = {}
    interval_s: float | None = None
    what: str = ""


class PositionBucket(Doc, frozen=True, kw_only=True):
    start: int
    end: int
    tokens: int
    kld_mean: float
    same_top1: float


class OutlierModule(Doc, frozen=True, kw_only=True):
    module: str
    max_abs: float
    median_abs: float
    ratio: float | None
    over_threshold: int
    flagged: bool


class ActivationOutliers(Doc, frozen=True, kw_only=True):
    threshold: float
    flagged: int
    modules: list[OutlierModule] = []
    what: str = ""


class QualitySpec(Doc, frozen=True, kw_only=True):
    """How quality was measured: windows of `context` tokens against a `baseline` dtype."""

    context: int = 256
    windows: int = 8
    budget: int | None = None  # scored tokens asked for (--quality-budget); windows follow from it
    baseline: str = "fp32"
    outlier_threshold: float = 6.0  # |activation| above this is an outlier feature (LLM.int8's threshold)
    save_logits: bool = False


class Quality(Doc, frozen=True, kw_only=True):
    tokens: int = 0
    kld_mean: float | None = None
    kld_mean_se: float | None = None
    kld_median: float | None = None
    kld_p90: float | None = None
    kld_p99: float | None = None
    kld_max: float | None = None
    same_top1: float | None = None
    same_top1_se: float | None = None
    ppl_q: float | None = None
    ppl_base: float | None = None
    ppl_ratio: float | None = None
    delta_p_mean: float | None = None
    delta_p_mean_se: float | None = None
    by_position: list[PositionBucket] = []
    kld_slope_per_1k_tokens: float | None = None
    baseline: str = ""
    baseline_cached: bool = False
    spec: QualitySpec | None = None
    windows: int | None = None
    scored: str = ""
    one_pass: bool | None = None  # each window scored in one forward (KV cache and activations token-independent)
    seconds: float | None = None  # the quality pass's wall time, baseline included
    activation_outliers: ActivationOutliers | None = None


class CompileInfo(Doc, frozen=True, kw_only=True):
    mode: str
    seconds: float  # compilation + the first request, excluded from every timing
    graphs: int  # graphs compiled then
    recompiled_while_timed: int = 0  # graphs compiled during the timing pass
    what: str = ""


class Metrics(Doc, frozen=True, kw_only=True):
    """metrics.json: the timing pass (latency, throughput), memory, sizes, quality, profiling costs."""

    ttft_ms: Stats | None = None
    tpot_ms: Stats | None = None
    itl_ms: Stats | None = None
    e2e_ms: Stats | None = None
    tokens_per_s: TokensPerS | None = None
    requests: int | None = None
    timing: Timing | None = None
    weights: Weights | None = None
    kv_cache: KVCacheSize | None = None
    peak_memory: PeakMemory | None = None
    quality: Quality | None = None
    hooks_overhead: HooksOverhead | None = None
    profiled: Profiled | None = None
    memory_samples: MemorySamples | None = None
    source: str | None = None  # where the numbers came from when there was no timing pass (analyze)
    compile: CompileInfo | None = None  # profile --compile: what compiling cost, apart from the timings
    peak_rss_by_rank: dict[str, int | None] = {}  # profile --tp: each rank's peak RSS (the timings are rank 0's)

    def decode_steps_ms(self) -> list[float]:
        """Every decode step's latency (ms) of the timing pass, request after request, in order."""
        if self.timing is None:
            return []
        return [s * 1000.0 for r in self.timing.requests for s in r.decode_step_s]
