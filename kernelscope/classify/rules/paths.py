"""The path table: how one quantized site ran in one phase, decided from the classes of its kernels.

A *site instance* is one call of a site: a module's rows within one phase of one step (kernelscope
runs), or one top-level op call (foreign traces without module ranges). The first rule whose
conditions hold decides its path. Definitions of the paths: docs/paths.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kernelscope.vocabulary import KernelClass, Role, SiteKind, SitePath


@dataclass(frozen=True)
class SiteFacts:
    kind: SiteKind
    requested: bool | None  # None: unknown (a foreign trace says nothing about what was asked)
    quantized: bool | None
    classes: frozenset[str]  # KernelClass values of its rows
    roles: frozenset[str]
    library_fallback: bool  # some row's kernel rule recognised a library's portable fallback (Rule.fallback)
    generic_unpack: bool  # some row is generic bit-unpacking of packed data (Rule.generic_unpack)
    off_device: bool  # compute rows ran on another device than the model (CPU rows in a GPU run)


class SiteCondition(Protocol):
    def test(self, f: SiteFacts) -> bool: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Requested:
    value: bool | None

    def test(self, f: SiteFacts) -> bool:
        return f.requested is self.value

    def describe(self) -> str:
        return f"requested is {self.value}"


@dataclass(frozen=True)
class Quantized:
    value: bool | None

    def test(self, f: SiteFacts) -> bool:
        return f.quantized is self.value

    def describe(self) -> str:
        return f"quantized is {self.value}"


@dataclass(frozen=True)
class Has:
    """Some row has this kernel class."""

    kernel_class: KernelClass

    def test(self, f: SiteFacts) -> bool:
        return self.kernel_class.value in f.classes

    def describe(self) -> str:
        return f"has {self.kernel_class.value}"


@dataclass(frozen=True)
class Lacks:
    kernel_class: KernelClass

    def test(self, f: SiteFacts) -> bool:
        return self.kernel_class.value not in f.classes

    def describe(self) -> str:
        return f"no {self.kernel_class.value}"


@dataclass(frozen=True)
class HasLibraryFallback:
    """Some row was classified by a rule that recognises a library's portable fallback path."""

    def test(self, f: SiteFacts) -> bool:
        return f.library_fallback

    def describe(self) -> str:
        return "has a library-fallback kernel"


@dataclass(frozen=True)
class HasGenericUnpack:
    """Some row is generic element-wise bit-unpacking of packed data (no dequant kernel)."""

    def test(self, f: SiteFacts) -> bool:
        return f.generic_unpack

    def describe(self) -> str:
        return "has generic bit-unpacking"


@dataclass(frozen=True)
class HasCompute:
    """Some row is a GEMM or attention (of any precision)."""

    def test(self, f: SiteFacts) -> bool:
        return bool({Role.GEMM.value, Role.ATTENTION.value} & f.roles)

    def describe(self) -> str:
        return "has gemm or attention"


@dataclass(frozen=True)
class Kind:
    kind: SiteKind

    def test(self, f: SiteFacts) -> bool:
        return f.kind is self.kind

    def describe(self) -> str:
        return f"kind {self.kind.value}"


@dataclass(frozen=True)
class OffDevice:
    def test(self, f: SiteFacts) -> bool:
        return f.off_device

    def describe(self) -> str:
        return "compute on another device than the model"


@dataclass(frozen=True)
class PathRule:
    id: str
    when: tuple[SiteCondition, ...]
    path: SitePath
    reason: str

    def matches(self, f: SiteFacts) -> bool:
        return all(c.test(f) for c in self.when)

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.when) or "always"


def _r(id: str, *when: SiteCondition, path: SitePath, reason: str) -> PathRule:
    return PathRule(id, tuple(when), path, reason)


OUTSIDE_RULE = "path.outside-sites"  # rows outside every site: decided by sites.py, not by this table
OUTSIDE_REASON = "not part of a quantized (or quantizable) site: norms, rotary, embedding, sampling, glue"

PATH_RULES: tuple[PathRule, ...] = (
    _r("path.not-requested", Requested(False), path=SitePath.UNQUANTIZED,
       reason="the mode left this module in high precision"),
    _r("path.requested-not-quantized", Requested(True), Quantized(False), HasCompute(), path=SitePath.FALLBACK,
       reason="asked to be quantized, but ran dense kernels on never-quantized weights"),
    _r("path.other-device", OffDevice(), HasCompute(), path=SitePath.FALLBACK,
       reason="its compute ran on another device than the model"),
    _r("path.library-fallback", HasLibraryFallback(), HasCompute(), path=SitePath.FALLBACK,
       reason="the library ran its portable fallback (an emulation in high precision) instead of a quantized kernel"),
    _r("path.native", Has(KernelClass.NATIVE), path=SitePath.NATIVE,
       reason="a kernel consumed the quantized format directly"),
    _r("path.dequant-then-dense", Has(KernelClass.DEQUANT), Has(KernelClass.DENSE), path=SitePath.DEQUANT,
       reason="quantized data was dequantized, then a high-precision kernel computed on it"),
    _r("path.dequant-only", Has(KernelClass.DEQUANT), Lacks(KernelClass.DENSE), path=SitePath.DEQUANT,
       reason="dequantized quantized data for a high-precision kernel in another call (no compute here)"),
    _r("path.quantize-only", Has(KernelClass.QUANTIZE), Lacks(KernelClass.DENSE), Lacks(KernelClass.DEQUANT),
       path=SitePath.NATIVE, reason="quantized activations or KV for a kernel that consumes them (no compute here)"),
    _r("path.generic-unpack", HasGenericUnpack(), Has(KernelClass.DENSE), Lacks(KernelClass.DEQUANT),
       path=SitePath.FALLBACK,
       reason="quantized data reached compute through generic element-wise bit-unpacking, not a dequant kernel"),
    _r("path.kv-written-not-read", Kind(SiteKind.ATTENTION), Quantized(True), Lacks(KernelClass.DEQUANT),
       Has(KernelClass.DENSE), path=SitePath.UNQUANTIZED,
       reason="attention read fresh high-precision K/V (prefill); the cache was only written (quantize time counted)"),
    _r("path.dense-on-quantized", Quantized(True), Has(KernelClass.DENSE), Lacks(KernelClass.DEQUANT),
       path=SitePath.FALLBACK,
       reason="the site is quantized, yet only dense kernels ran: the quantized data was never read"),
    _r("path.dense-unknown", Quantized(None), Has(KernelClass.DENSE), path=SitePath.UNQUANTIZED,
       reason="dense compute and no sign of a quantized format"),
    _r("path.no-compute", path=SitePath.UNQUANTIZED,
       reason="no GEMM or attention in this call: nothing quantized was consumed"),
)

PATH_RULE_IDS = frozenset({OUTSIDE_RULE, *(r.id for r in PATH_RULES)})


def path_rule_text(rule_id: str) -> tuple[str, str]:
    """(reason, conditions) of a path rule, the outside-sites rule included; ("", "") if unknown."""
    if rule_id == OUTSIDE_RULE:
        return OUTSIDE_REASON, ""
    for r in PATH_RULES:
        if r.id == rule_id:
            return r.reason, r.describe()
    return "", ""
