"""Group classified rows into site instances and give every row the path of its site instance.

Sites come from the run's manifest (which modules the recipe quantized, and how). A row belongs to
the innermost module on its module path that is a site. Rows outside any site (norms, rotary,
embedding, sampling) take the path `unquantized` with the rule `path.outside-sites`.

For a foreign trace (no module ranges, no manifest) a site instance is the outermost CPU op call
that launched the rows (a graph-replayed kernel is its own instance), with `requested` and
`quantized` unknown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernelscope.model import Device, Path, Phase, Role, SiteKind
from kernelscope.rules.paths import PATH_RULES, PathRule, SiteFacts

OUTSIDE_RULE = "path.outside-sites"
GRAPH_SITE_PREFIX = "graph-replayed: "  # foreign traces: a kernel with no CPU op is its own site instance
OUTSIDE_REASON = "not part of a quantized (or quantizable) site: norms, rotary, embedding, sampling, glue"


@dataclass(frozen=True)
class SiteSpec:
    """A manifest `sites` entry."""

    kind: SiteKind
    requested: bool
    quantized: bool
    format: str

    @staticmethod
    def from_json(value: dict[str, Any]) -> SiteSpec:
        return SiteSpec(SiteKind(value["kind"]), bool(value["requested"]), bool(value["quantized"]),
                        str(value.get("format", "")))


@dataclass(frozen=True)
class RowSites:
    site: list[str]
    site_kind: list[str]
    path: list[str]
    path_rule: list[str]


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
    module: list[str],
    phase: list[Phase],
    request: npt.NDArray[np.int64],
    step: npt.NDArray[np.int64],
    device: list[Device],
    role: list[str],
    kernel_class: list[str],
    rule: list[str],
    op_name: list[str],
    top_op: npt.NDArray[np.int64],
    top_op_names: list[str],
    kernel_names: list[str],
    specs: dict[str, SiteSpec] | None,
    model_device: Device | None,
) -> RowSites:
    n = len(module)
    site = [""] * n
    kind = [""] * n
    instance: list[tuple[Any, ...] | None] = [None] * n
    if specs is not None:
        cache: dict[str, str] = {}
        for r in range(n):
            s = site_of_module(module[r], specs, cache) if module[r] else ""
            if s:
                site[r] = s
                kind[r] = specs[s].kind.value
                instance[r] = (s, phase[r], int(request[r]), int(step[r]))
    else:
        for r in range(n):
            t = int(top_op[r])
            site[r] = top_op_names[r] if t >= 0 else GRAPH_SITE_PREFIX + kernel_names[r][:96]
            kind[r] = SiteKind.OP.value
            instance[r] = ("op", t) if t >= 0 else ("kernel", r)
    members: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for r, key in enumerate(instance):
        if key is not None:
            members[key].append(r)
    path = [Path.UNQUANTIZED.value] * n
    path_rule = [OUTSIDE_RULE] * n
    for rows in members.values():
        facts = _facts(rows, site[rows[0]], specs, role, kernel_class, rule, device, model_device)
        decided = decide_path(facts)
        for r in rows:
            path[r] = decided.path.value
            path_rule[r] = decided.id
    return RowSites(site, kind, path, path_rule)


def _facts(
    rows: list[int],
    site: str,
    specs: dict[str, SiteSpec] | None,
    role: list[str],
    kernel_class: list[str],
    rule: list[str],
    device: list[Device],
    model_device: Device | None,
) -> SiteFacts:
    spec = specs.get(site) if specs is not None else None
    compute = [r for r in rows if role[r] in (Role.GEMM.value, Role.ATTENTION.value)]
    off = model_device is not None and any(device[r] is not model_device for r in compute)
    if specs is None:  # foreign trace: CPU compute rows in a GPU trace ran off-device
        off = any(device[r] is Device.CPU for r in compute) and any(d is Device.GPU for d in device)
    return SiteFacts(
        kind=spec.kind if spec is not None else SiteKind.OP,
        requested=spec.requested if spec is not None else None,
        quantized=spec.quantized if spec is not None else None,
        classes=frozenset(kernel_class[r] for r in rows),
        roles=frozenset(role[r] for r in rows),
        rules=frozenset(rule[r] for r in rows),
        off_device=off,
    )


def decide_path(facts: SiteFacts) -> PathRule:
    for r in PATH_RULES:
        if r.matches(facts):
            return r
    raise AssertionError("the path table ends with a rule that always matches")

