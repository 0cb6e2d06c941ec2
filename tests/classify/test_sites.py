from __future__ import annotations

import numpy as np
import pytest

from kernelscope.classify.engine import FALLBACK_BIT
from kernelscope.classify.rules.paths import PATH_RULES, SiteFacts
from kernelscope.classify.sites import OUTSIDE_RULE, SiteSpec, assign_paths, decide_path, site_of_module
from kernelscope.trace.columns import Categorical
from kernelscope.vocabulary import Device, KernelClass, Role, SiteKind, SitePath

G, A, D, Q, E, OTH = Role.GEMM.value, Role.ATTENTION.value, Role.DEQUANT.value, Role.QUANTIZE.value, \
    Role.ELEMENTWISE.value, Role.OTHER.value
NAT, DQ, QZ, DN, OT = (KernelClass.NATIVE.value, KernelClass.DEQUANT.value, KernelClass.QUANTIZE.value,
                       KernelClass.DENSE.value, KernelClass.OTHER.value)


def facts(kind: SiteKind = SiteKind.LINEAR, requested: bool | None = True, quantized: bool | None = True,
          classes: set[str] = frozenset(), roles: set[str] = frozenset(), library_fallback: bool = False,
          generic_unpack: bool = False, off_device: bool = False) -> SiteFacts:
    return SiteFacts(kind, requested, quantized, frozenset(classes), frozenset(roles), library_fallback,
                     generic_unpack, off_device)


CASES = [
    (facts(requested=False, quantized=False, classes={DN}, roles={G}), "path.not-requested", SitePath.UNQUANTIZED),
    (facts(quantized=False, classes={DN}, roles={G}), "path.requested-not-quantized", SitePath.FALLBACK),
    (facts(classes={NAT}, roles={G}, off_device=True), "path.other-device", SitePath.FALLBACK),
    (facts(classes={DQ, DN}, roles={D, G}, library_fallback=True),
     "path.library-fallback", SitePath.FALLBACK),
    (facts(classes={NAT, QZ, OT}, roles={G, Q, OTH}), "path.native", SitePath.NATIVE),
    (facts(classes={DQ, DN, OT}, roles={D, G, OTH}), "path.dequant-then-dense", SitePath.DEQUANT),
    (facts(requested=None, quantized=None, classes={DQ, OT}, roles={D}), "path.dequant-only", SitePath.DEQUANT),
    (facts(requested=None, quantized=None, classes={QZ}, roles={Q}), "path.quantize-only", SitePath.NATIVE),
    (facts(classes={DN, OT}, roles={G, E}, generic_unpack=True), "path.generic-unpack",
     SitePath.FALLBACK),
    (facts(kind=SiteKind.ATTENTION, classes={QZ, DN, OT}, roles={Q, A, E}), "path.kv-written-not-read",
     SitePath.UNQUANTIZED),
    (facts(classes={DN, OT}, roles={G}), "path.dense-on-quantized", SitePath.FALLBACK),
    (facts(requested=None, quantized=None, classes={DN}, roles={G}), "path.dense-unknown", SitePath.UNQUANTIZED),
    (facts(classes={OT}, roles={E}), "path.no-compute", SitePath.UNQUANTIZED),
]


@pytest.mark.parametrize("f, rule_id, path", CASES, ids=[c[1] for c in CASES])
def test_path_rule_decides(f: SiteFacts, rule_id: str, path: SitePath) -> None:
    decided = decide_path(f)
    assert (decided.id, decided.path) == (rule_id, path)


def test_every_path_rule_has_a_case() -> None:
    assert {r.id for r in PATH_RULES} == {c[1] for c in CASES}


def test_site_of_module_walks_up_to_the_innermost_site() -> None:
    specs = {"m.layers.0.self_attn": SiteSpec(SiteKind.ATTENTION, True, True, "kv int4"),
             "m.layers.0.self_attn.q_proj": SiteSpec(SiteKind.LINEAR, True, True, "int4")}
    cache: dict[str, str] = {}
    assert site_of_module("m.layers.0.self_attn.q_proj", specs, cache) == "m.layers.0.self_attn.q_proj"
    assert site_of_module("m.layers.0.self_attn.rotary", specs, cache) == "m.layers.0.self_attn"
    assert site_of_module("m.layers.0.mlp.act_fn", specs, cache) == ""


def cat(items: list[str]) -> Categorical:
    return Categorical.encode(items)


def test_assign_paths_per_site_instance() -> None:
    """One Linear, prefill native and decode dequant-then-compute; a norm outside any site."""
    specs = {"m.q": SiteSpec(SiteKind.LINEAR, True, True, "int4")}
    out = assign_paths(
        module=cat(["m.q", "m.q", "m.q", "m.q", "m.norm"]),
        phase=cat(["prefill", "prefill", "decode", "decode", "decode"]),
        request=np.zeros(5, np.int64), step=np.array([-1, -1, 0, 0, 0]),
        device=cat(["cpu"] * 5), role=cat([G, OTH, D, G, E]), kernel_class=cat([NAT, OT, DQ, DN, OT]),
        traits=np.zeros(5, np.int64), top_op=np.full(5, -1), op_names=cat([]), row_names=cat(["a", "b", "c", "d", "e"]),
        specs=specs, model_device=Device.CPU,
    )
    assert out.path.to_list() == [SitePath.NATIVE.value, SitePath.NATIVE.value, SitePath.DEQUANT.value,
                                  SitePath.DEQUANT.value, SitePath.UNQUANTIZED.value]
    assert out.path_rule.to_list()[-1] == OUTSIDE_RULE
    assert out.site.to_list() == ["m.q"] * 4 + [""]


def test_foreign_trace_instances_are_top_level_op_calls() -> None:
    """No manifest: each outermost op call is a site instance; a graph-replayed kernel stands alone."""
    op_names = cat(["aten::linear"] * 10)
    out = assign_paths(
        module=cat([""] * 4), phase=cat(["decode"] * 4), request=np.full(4, -1), step=np.full(4, -1),
        device=cat(["gpu"] * 4), role=cat([D, G, G, G]), kernel_class=cat([DQ, DN, DN, NAT]),
        traits=np.zeros(4, np.int64),
        top_op=np.array([3, 3, 9, -1]), op_names=op_names, row_names=cat(["k1", "k2", "k3", "nvjet_sm90_qqtst_x"]),
        specs=None, model_device=None,
    )
    assert out.path.to_list() == [SitePath.DEQUANT.value, SitePath.DEQUANT.value, SitePath.UNQUANTIZED.value,
                                  SitePath.NATIVE.value]
    assert out.site_kind.to_list() == [SiteKind.OP.value] * 4
    assert out.site.to_list()[-1] == "graph-replayed: nvjet_sm90_qqtst_x"


def test_a_library_fallback_rule_makes_the_instance_fallback() -> None:
    specs = {"m.q": SiteSpec(SiteKind.LINEAR, True, True, "int8")}
    out = assign_paths(
        module=cat(["m.q", "m.q"]), phase=cat(["decode"] * 2), request=np.zeros(2, np.int64),
        step=np.zeros(2, np.int64),
        device=cat(["cpu"] * 2), role=cat([D, G]), kernel_class=cat([DQ, DN]),
        traits=np.full(2, FALLBACK_BIT, np.int64), top_op=np.full(2, -1), op_names=cat([]),
        row_names=cat(["aten::copy_", "aten::mm"]), specs=specs, model_device=Device.CPU,
    )
    assert out.path_rule.to_list() == ["path.library-fallback"] * 2
