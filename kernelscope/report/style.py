"""Colours and labels shared by every view (console, TUI, HTML, Chrome export), so a path looks the
same everywhere."""

from __future__ import annotations

from kernelscope.vocabulary import SitePath

PATH_COLORS: dict[str, str] = {
    SitePath.NATIVE.value: "#2ca02c",  # green
    SitePath.DEQUANT.value: "#ff9f1c",  # amber
    SitePath.FALLBACK.value: "#d62728",  # red
    SitePath.UNQUANTIZED.value: "#7f8c9a",  # slate grey
}

CLASS_COLORS: dict[str, str] = {
    "native-quantized": PATH_COLORS[SitePath.NATIVE.value],
    "dequant": PATH_COLORS[SitePath.DEQUANT.value],
    "quantize": "#9467bd",
    "dense": PATH_COLORS[SitePath.UNQUANTIZED.value],
    "other": "",
}

PATH_SHORT: dict[str, str] = {
    SitePath.NATIVE.value: "native",
    SitePath.DEQUANT.value: "dq-compute",  # never plain "dequant": that is the dequant kernels' time share
    SitePath.FALLBACK.value: "fallback",
    SitePath.UNQUANTIZED.value: "unquant",
}

# A glyph per path, so bars stay readable without colour (NO_COLOR, monochrome terminals, print).
PATH_GLYPHS: dict[str, str] = {
    SitePath.NATIVE.value: "█",
    SitePath.DEQUANT.value: "▓",
    SitePath.FALLBACK.value: "▒",
    SitePath.UNQUANTIZED.value: "░",
}

# Chrome trace viewers accept only their own reserved colour names in "cname".
PATH_CNAMES: dict[str, str] = {
    SitePath.NATIVE.value: "good",
    SitePath.DEQUANT.value: "bad",
    SitePath.FALLBACK.value: "terrible",
    SitePath.UNQUANTIZED.value: "generic_work",
}


def human_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} us"


def human_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def pct(value: object, missing: str = "-") -> str:
    """A share (0..1) as a percentage, or `missing` when it was not measured."""
    return f"{value * 100:.1f}%" if isinstance(value, (int, float)) else missing


def ratio(value: object, missing: str = "-") -> str:
    return f"{value:.2f}x" if isinstance(value, (int, float)) else missing


def shorten(text: str, width: int = 70) -> str:
    """For a table cell only: documents (JSON) always carry the whole text."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"
