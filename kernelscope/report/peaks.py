"""What the hardware allows: memory bandwidth and dense throughput per dtype, against which the roofline
(report/roofline.py) holds every row.

GPU figures are data-sheet peaks, matched from the device name that the trace's device properties or NVML
give; each entry names its source. Data sheets quote tensor-core throughput "with sparsity" (2:4): the
figures here are the dense ones (half of those). On a CPU the figures are measured on the machine by
`kernelscope peaks` (kernelscope.tracers.peaks) and cached. Any figure can be overridden by flags or a
small JSON file (`--peaks FILE`: {"bandwidth_gbs": 3350, "tflops": {"bf16": 989.4}}).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from rich.console import Console
from rich.markup import escape

from kernelscope.errors import BadInputError, safe_text
from kernelscope.runs.codec import Doc, read_document
from kernelscope.runs.documents import Peaks

PEAK_DTYPES = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4")
_T, _G = 1e12, 1e9


@dataclass(frozen=True)
class DataSheet:
    device: str
    pattern: str  # matched (case-insensitive, anywhere) against the device name
    bandwidth_gbs: float
    tflops: dict[str, float]
    source: str

    def peaks(self) -> Peaks:
        return Peaks(device=self.device, bandwidth_bytes_per_s=self.bandwidth_gbs * _G,
                     flops_per_s={k: v * _T for k, v in self.tflops.items()}, source=self.source)


def _tc(fp32: float, tf32: float | None, half: float, fp8: float | None, int8: float | None,
        fp4: float | None = None) -> dict[str, float]:
    figures = {"fp32": fp32, "tf32": tf32, "bf16": half, "fp16": half, "fp8": fp8, "int8": int8, "fp4": fp4}
    return {k: v for k, v in figures.items() if v is not None}


_NV = "https://www.nvidia.com/en-us/data-center/"
# Most specific first: the first pattern that matches the device name wins.
DATA_SHEETS: tuple[DataSheet, ...] = (
    DataSheet("NVIDIA H200 NVL", r"h200\s*nvl", 4800, _tc(60, 417.5, 835.5, 1670.5, 1670.5), _NV + "h200/"),
    DataSheet("NVIDIA H200 SXM", r"h200", 4800, _tc(67, 494.5, 989.5, 1979, 1979), _NV + "h200/"),
    DataSheet("NVIDIA H100 NVL", r"h100\s*nvl", 3900, _tc(60, 417.5, 835.5, 1670.5, 1670.5), _NV + "h100/"),
    DataSheet("NVIDIA H100 PCIe", r"h100\s*pcie", 2000, _tc(51, 378, 756.5, 1513, 1513), _NV + "h100/"),
    DataSheet("NVIDIA H100 SXM", r"h100", 3350, _tc(67, 494.5, 989.5, 1979, 1979), _NV + "h100/"),
    DataSheet("NVIDIA B200", r"b200", 8000, _tc(75, 1100, 2250, 4500, 4500, 9000), _NV + "hgx/"),
    DataSheet("NVIDIA A100 80GB PCIe", r"a100.*80g.*pcie|a100.*pcie.*80g", 1935, _tc(19.5, 156, 312, None, 624),
              _NV + "a100/"),
    DataSheet("NVIDIA A100 80GB SXM", r"a100.*80g", 2039, _tc(19.5, 156, 312, None, 624), _NV + "a100/"),
    DataSheet("NVIDIA A100 40GB", r"a100", 1555, _tc(19.5, 156, 312, None, 624), _NV + "a100/"),
    DataSheet("NVIDIA A10", r"\ba10\b(?!0)", 600, _tc(31.2, 62.5, 125, None, 250), _NV + "products/a10-gpu/"),
    DataSheet("NVIDIA L40S", r"l40s", 864, _tc(91.6, 183, 362.05, 733, 733), _NV + "l40s/"),
    DataSheet("NVIDIA L4", r"\bl4\b", 300, _tc(30.3, 60, 121, 242.5, 242.5), _NV + "l4/"),
    DataSheet("NVIDIA GeForce RTX 4090", r"rtx\s*4090", 1008, _tc(82.6, 82.6, 165.2, 330.3, 660.6),
              "NVIDIA Ada Lovelace architecture whitepaper, appendix A (fp32 accumulate)"),
    DataSheet("AMD Instinct MI355X", r"mi355", 8000, _tc(157.3, None, 2500, 5000, 5000, 10000),
              "https://www.amd.com/en/products/accelerators/instinct/mi350/mi355x.html"),
    DataSheet("AMD Instinct MI325X", r"mi325", 6000, _tc(163.4, 653.7, 1307.4, 2614.9, 2614.9),
              "https://www.amd.com/en/products/accelerators/instinct/mi300/mi325x.html"),
    DataSheet("AMD Instinct MI300X", r"mi300x|mi300\b|gfx942", 5300, _tc(163.4, 653.7, 1307.4, 2614.9, 2614.9),
              "https://www.amd.com/en/products/accelerators/instinct/mi300/mi300x.html"),
)


def data_sheet_peaks(device_name: str) -> Peaks | None:
    """The data-sheet peaks of the first entry whose pattern the device name matches, or None."""
    for sheet in DATA_SHEETS:
        if re.search(sheet.pattern, device_name, re.IGNORECASE):
            return sheet.peaks()
    return None


class PeaksFile(Doc, frozen=True, kw_only=True):
    """`--peaks FILE`: any subset of the figures; what it names replaces the run's."""

    device: str | None = None
    bandwidth_gbs: float | None = None
    tflops: dict[str, float] = msgspec.field(default_factory=dict)


def read_peaks_file(path: Path) -> PeaksFile:
    found = read_document(path, PeaksFile)
    if found.bandwidth_gbs is not None and found.bandwidth_gbs <= 0:
        raise BadInputError(f"{path}: bandwidth_gbs must be positive")
    unknown = sorted(set(found.tflops) - set(PEAK_DTYPES))
    if unknown:
        raise BadInputError(f"{path}: unknown dtypes {unknown} (known: {', '.join(PEAK_DTYPES)})")
    return found


def parse_peak_flag(text: str) -> tuple[str, float]:
    """`--peak-tflops bf16=989.4` -> ("bf16", 989.4)."""
    dtype, sep, value = text.partition("=")
    if not sep or dtype not in PEAK_DTYPES:
        raise BadInputError(f"--peak-tflops {text!r}: expected DTYPE=TFLOPS, DTYPE one of {', '.join(PEAK_DTYPES)}")
    try:
        tflops = float(value)
    except ValueError:
        raise BadInputError(f"--peak-tflops {text!r}: {value!r} is not a number") from None
    if not tflops > 0:
        raise BadInputError(f"--peak-tflops {text!r}: must be positive")
    return dtype, tflops


def override(base: Peaks | None, file: PeaksFile | None = None, bandwidth_gbs: float | None = None,
             tflops: dict[str, float] | None = None) -> Peaks | None:
    """`base` with what the user gave replacing it (flags over the file over the run's own)."""
    if file is None and bandwidth_gbs is None and not tflops:
        return base
    file = file or PeaksFile()
    bandwidth = bandwidth_gbs or file.bandwidth_gbs
    figures = dict(base.flops_per_s) if base else {}
    figures.update({k: v * _T for k, v in {**file.tflops, **(tflops or {})}.items()})
    if bandwidth is None and base is None:
        raise BadInputError("peaks given without a memory bandwidth, and the run has none: add --peak-bandwidth")
    bytes_per_s = bandwidth * _G if bandwidth else base.bandwidth_bytes_per_s  # type: ignore[union-attr]
    return Peaks(device=file.device or (base.device if base else "user"), bandwidth_bytes_per_s=bytes_per_s,
                 flops_per_s=figures, source="user override" + (f" over {base.source}" if base else ""),
                 measured=False)


@dataclass(frozen=True)
class PeakOverride:
    """What the user gave on the command line (flags over the file over the run's own figures)."""

    file: PeaksFile | None = None
    bandwidth_gbs: float | None = None
    tflops: dict[str, float] = field(default_factory=dict)

    def apply(self, base: Peaks | None) -> Peaks | None:
        return override(base, self.file, self.bandwidth_gbs, self.tflops)


def peaks_of(recorded: Peaks | None, device_names: list[str]) -> Peaks | None:
    """The run's recorded peaks, else the data sheet of the first device it names that one matches."""
    if recorded is not None:
        return recorded
    for name in device_names:
        if name and (found := data_sheet_peaks(name)) is not None:
            return found
    return None



def render_peaks(found: list[Peaks], console: Console | None = None) -> None:
    """One block per device: bandwidth, dense TF/s per dtype, where the figures come from."""
    out = console or Console()
    for p in found:
        figures = " · ".join(f"{d} {_tf(p.flops_per_s[d])}" for d in PEAK_DTYPES if d in p.flops_per_s)
        out.print(f"[bold]{escape(safe_text(p.device))}[/bold]")
        out.print(f"  memory bandwidth  {p.bandwidth_bytes_per_s / _G:,.0f} GB/s")
        out.print(f"  dense TFLOP/s     {figures or '-'}", soft_wrap=True)
        out.print(f"  source            {escape(safe_text(p.source))}", soft_wrap=True)


def _tf(value: float) -> str:
    tf = value / _T
    return f"{tf:,.0f}" if tf >= 100 else f"{tf:.3g}"
