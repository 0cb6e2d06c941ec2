"""Group classified rows into site instances and give every row the path of its site instance.

Sites come from the run's manifest (which modules the recipe quantized, and how). A row belongs to
the innermost module on its module path that is a site. Rows outside any site (norms, rotary,
embedding, sampling) take the path `unquantized` with the rule `path.outside-sites`.

For a foreign trace (no module ranges, no manifest) a site instance is the outermost CPU op call
that launched the rows (a graph-replayed kernel is its own instance), with `requested` and
`quantized` unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernelscope.classify.engine import FALLBACK_BIT, GENERIC_UNPACK_BIT
from kernelscope.classify.rules.paths import OUTSIDE_RULE, PATH_RULES, PathRule, SiteFacts
from kernelscope.trace.columns import Categorical, group_ids
from kernelscope.vocabulary import Device, KernelClass, Role, SiteKind, SitePath

GRAPH_SITE_PREFIX = "graph-replayed: "  # foreign traces: a kernel with no CPU op is its own site instance


@dataclass(frozen=True)
class SiteSpec:
    """What the run's manifest says of one site: its kind, whether the recipe was asked to quantize it and did."""

    kind: SiteKind
    requested: bool
    quantized: bool
    format: str
    weight_shape: tuple[int, ...] = ()  # (out, in) of a Linear
    order: int | None = None  # its first call in a forward: how a compiled graph's GEMMs find their Linear


@dataclass(frozen=True)
class RowSites:
    site: Categorical
    site_kind: Categorical
    path: Categorical
    path_rule: Categorical


def site_of_module(module: str, specs: dict[str, SiteSpec], cache: dict[str, str]) -> str:
    """The innermost site on a module path ('' if none)."""
    found = cache.get(module)
    if found is not None:
        return found
    probe = module
    result = ""
    while probe:
        if probe in specs:
            result = probe
            break
        probe = probe.rpartition(".")[0]
    cache[module] = result
    return result


def assign_paths(
    *,
    module: Categorical,
    phase: Categorical,
    request: npt.NDArray[np.int64],
    step: npt.NDArray[np.int64],
    device: Categorical,
    role: Categorical,
    kernel_class: Categorical,
    traits: npt.NDArray[np.int64],
    top_op: npt.NDArray[np.int64],
    op_names: Categorical,
    row_names: Categorical,
    specs: dict[str, SiteSpec] | None,
    model_device: Device | None,
) -> RowSites:
    """Site and path of every row: rows grouped into site instances, one path decision per instance
    (and, since instances repeat, one decide_path per distinct set of facts)."""
    n = len(module)
    if specs is not None:
        cache: dict[str, str] = {}
        site = module.map([site_of_module(m, specs, cache) if m else "" for m in module.values])
        kind = site.map([specs[v].kind.value if v else "" for v in site.values])
        in_site = ~site.mask("")
        key = np.stack([site.codes.astype(np.int64), phase.codes.astype(np.int64), request, step], axis=1)
    else:
        site = _foreign_sites(top_op, op_names, row_names)
        kind = Categorical.constant(SiteKind.OP.value, n)
        in_site = np.ones(n, dtype=bool)
        key = np.where(top_op >= 0, top_op, -1 - np.arange(n, dtype=np.int64))[:, None]
    path_code = np.full(n, -1, dtype=np.int64)
    rows_in = np.flatnonzero(in_site)
    if len(rows_in):
        inst, first = group_ids(list(key[rows_in].T))
        decided = _decide_instances(rows_in, inst, first, site, specs, device, role, kernel_class, traits,
                                    model_device)
        path_code[rows_in] = decided[inst]
    rules = [OUTSIDE_RULE, *(r.id for r in PATH_RULES)]
    path_rule = Categorical.from_codes(path_code + 1, rules)
    path = path_rule.map([SitePath.UNQUANTIZED.value, *(r.path.value for r in PATH_RULES)])
    return RowSites(site, kind, path, path_rule)


def _foreign_sites(top_op: npt.NDArray[np.int64], op_names: Categorical, row_names: Categorical) -> Categorical:
    """A foreign trace's site label: the outermost op's name, or (graph replay) the kernel's own name."""
    has_top = top_op >= 0
    top_codes = op_names.codes[np.maximum(top_op, 0)] if len(op_names.codes) else np.zeros(len(top_op), np.int32)
    codes = np.where(has_top, top_codes, len(op_names.values) + row_names.codes.astype(np.int64))
    values = (*op_names.values, *(GRAPH_SITE_PREFIX + v[:96] for v in row_names.values))
    used, compact = np.unique(codes, return_inverse=True)
    return Categorical(compact.reshape(-1).astype(np.int32), tuple(values[i] for i in used.tolist()))


def _decide_instances(
    rows_in: npt.NDArray[np.int64], inst: npt.NDArray[np.intp], first: npt.NDArray[np.intp], site: Categorical,
    specs: dict[str, SiteSpec] | None, device: Categorical, role: Categorical, kernel_class: Categorical,
    traits: npt.NDArray[np.int64], model_device: Device | None,
) -> npt.NDArray[np.int64]:
    """The index (into PATH_RULES) of the path rule deciding each site instance."""
    k = int(inst.max()) + 1
    class_bits = _or_per_instance(_bits(kernel_class, [c.value for c in KernelClass])[rows_in], inst, k)
    role_bits = _or_per_instance(_bits(role, [r.value for r in Role])[rows_in], inst, k)
    compute = role.isin([Role.GEMM.value, Role.ATTENTION.value])[rows_in]
    off = _off_device(device, rows_in, compute, specs is None, model_device)
    off_any = _or_per_instance(off.astype(np.int64), inst, k)
    trait_bits = _or_per_instance(traits[rows_in], inst, k)
    site_of_inst = site.codes[rows_in[first]] if specs is not None else np.zeros(k, dtype=np.int32)
    # instances repeat (every decode step of every layer): one decision per distinct set of facts
    combo_of, first_inst = group_ids([site_of_inst, class_bits, role_bits, trait_bits, off_any])
    rule_index = {r.id: i for i, r in enumerate(PATH_RULES)}
    decided = np.empty(len(first_inst), dtype=np.int64)
    for j, i in enumerate(first_inst.tolist()):
        spec = specs.get(site.values[site_of_inst[i]]) if specs is not None else None
        facts = SiteFacts(
            kind=spec.kind if spec is not None else SiteKind.OP,
            requested=spec.requested if spec is not None else None,
            quantized=spec.quantized if spec is not None else None,
            classes=_from_bits(int(class_bits[i]), [c.value for c in KernelClass]),
            roles=_from_bits(int(role_bits[i]), [r.value for r in Role]),
            library_fallback=bool(trait_bits[i] & FALLBACK_BIT),
            generic_unpack=bool(trait_bits[i] & GENERIC_UNPACK_BIT),
            off_device=bool(off_any[i]),
        )
        decided[j] = rule_index[decide_path(facts).id]
    return decided[combo_of]


def _bits(cat: Categorical, universe: list[str]) -> npt.NDArray[np.int64]:
    value_bits = np.array([1 << universe.index(v) if v in universe else 0 for v in cat.values], dtype=np.int64)
    return value_bits[cat.codes] if len(cat.codes) else np.zeros(0, dtype=np.int64)


def _from_bits(bits: int, universe: list[str]) -> frozenset[str]:
    return frozenset(v for i, v in enumerate(universe) if bits >> i & 1)


def _or_per_instance(values: npt.NDArray[np.int64], inst: npt.NDArray[np.intp], k: int) -> npt.NDArray[np.int64]:
    out = np.zeros(k, dtype=np.int64)
    np.bitwise_or.at(out, inst, values)
    return out


def _off_device(device: Categorical, rows_in: npt.NDArray[np.int64], compute: npt.NDArray[np.bool_],
                foreign: bool, model_device: Device | None) -> npt.NDArray[np.bool_]:
    dev = device.codes[rows_in]
    if foreign:  # a foreign GPU trace: CPU compute rows ran off the device
        cpu = device.code(Device.CPU.value)
        has_gpu = device.code(Device.GPU.value) >= 0
        foreign_off: npt.NDArray[np.bool_] = compute & (dev == cpu) & has_gpu
        return foreign_off
    if model_device is None:
        return np.zeros(len(rows_in), dtype=bool)
    off: npt.NDArray[np.bool_] = compute & (dev != device.code(model_device.value))
    return off


def decide_path(facts: SiteFacts) -> PathRule:
    for r in PATH_RULES:
        if r.matches(facts):
            return r
    raise AssertionError("the path table ends with a rule that always matches")
