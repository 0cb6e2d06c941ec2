"""The TUI's data shaping, on the recorded fixture runs and on hand-made tables."""

from __future__ import annotations

import numpy as np
import pytest

from kernelscope.classify.rules.order import default_classifier
from kernelscope.classify.table import KernelTable
from kernelscope.report.views import (
    Filter,
    ModuleNode,
    filter_mask,
    first_row_of,
    flag_odd_siblings,
    group_instances,
    groups_rows,
    kernel_groups,
    module_paths,
    module_tree,
    phase_rows,
    sort_groups,
    sparkline,
    tree_rows,
    values_of,
    why,
)
from kernelscope.runs.store import load_run
from tests.helpers import RUNS


@pytest.fixture(scope="module")
def nf4() -> KernelTable:
    return load_run(RUNS / "nf4-bitsandbytes").table


def test_groups_add_up_to_the_filtered_rows(nf4: KernelTable) -> None:
    for f in (Filter(), Filter(path="dequant-then-compute"), Filter(phase="decode", role="gemm"),
              Filter(search="DEQUANT")):
        mask = filter_mask(nf4, f)
        groups = kernel_groups(nf4, mask)
        assert sum(g.count for g in groups) == int(mask.sum())
        assert sum(g.total_us for g in groups) == pytest.approx(float(nf4.time_us[mask].sum()))
        assert [g.total_us for g in groups] == sorted((g.total_us for g in groups), reverse=True)
        for g in groups:
            assert g.prefill_us + g.decode_us <= g.total_us + 1e-6


def test_filters_select_what_they_say(nf4: KernelTable) -> None:
    dq = kernel_groups(nf4, filter_mask(nf4, Filter(path="dequant-then-compute", role="dequant")))
    assert dq[0].name == "bitsandbytes::dequantize_4bit" and dq[0].count == 112
    assert {g.path for g in dq} == {"dequant-then-compute"}
    searched = kernel_groups(nf4, filter_mask(nf4, Filter(search="dequantize")))
    assert {g.name for g in searched} >= {"bitsandbytes::dequantize_4bit"}
    decode = filter_mask(nf4, Filter(phase="decode"))
    assert set(nf4.phase.take(np.nonzero(decode)[0]).to_list()) == {"decode"}
    assert Filter(path="fallback", search="mm").describe() == "path=fallback /mm"
    assert values_of(nf4, "path") == ["dequant-then-compute", "unquantized"]


def test_sorting_and_instances(nf4: KernelTable) -> None:
    mask = filter_mask(nf4, Filter())
    groups = kernel_groups(nf4, mask)
    by_count = sort_groups(groups, "count", descending=True)
    assert by_count[0].count == max(g.count for g in groups)
    assert [g.name for g in sort_groups(groups, "name", False)] == sorted(g.name for g in groups)
    with pytest.raises(ValueError, match="unknown column"):
        sort_groups(groups, "colour", True)
    rows, n = group_instances(nf4, mask, "aten::mm", limit=5)
    assert n == 116 and len(rows) == 5
    assert all(nf4.name[r] == "aten::mm" for r in rows)
    assert list(nf4.ts_us[rows]) == sorted(nf4.ts_us[rows])


def test_module_tree_totals(nf4: KernelTable) -> None:
    root = module_tree(nf4)
    assert root.total() == pytest.approx(float(nf4.time_us.sum()))
    layers = next(n for n in root.walk() if n.name == "model.layers")
    assert [c.label for c in layers.children] == ["0", "1", "2", "3"]
    for node in root.walk():
        if node.children:  # a node holds at least what its children hold
            assert node.total() >= sum(c.total() for c in node.children) - 1e-6
        for ph in ("prefill", "decode"):
            assert node.total(ph) <= node.total() + 1e-6
    down = next(n for n in root.walk() if n.name == "model.layers.0.mlp.down_proj")
    assert down.time["decode"]["dequant-then-compute"] > 0 and not down.children
    assert all(not n.stands_out for n in layers.children)  # nf4 quantizes every layer alike


def _node(label: str, by_path: dict[str, float]) -> ModuleNode:
    times = {"all": {"native-quantized": 0.0, "dequant-then-compute": 0.0, "fallback": 0.0, "unquantized": 0.0}}
    times["all"].update(by_path)
    return ModuleNode(f"layers.{label}", label, times)


def test_a_layer_unlike_its_siblings_stands_out() -> None:
    layers = [_node(str(i), {"native-quantized": 100.0}) for i in range(5)]
    layers[3] = _node("3", {"fallback": 90.0, "native-quantized": 10.0})
    layers[4] = _node("4", {"native-quantized": 300.0})
    flag_odd_siblings(layers)
    assert [bool(n.stands_out) for n in layers] == [False, False, False, True, True]
    assert layers[3].stands_out.startswith("fallback 90% of its time vs 0% in its siblings")
    assert layers[4].stands_out == "3.0x the median sibling time"


def test_why_a_dequant_kernel(nf4: KernelTable) -> None:
    row = first_row_of(nf4, "model.layers.2.mlp.down_proj")
    assert row is not None
    w = why(nf4, row, default_classifier())
    assert w.row["name"] == "bitsandbytes::dequantize_4bit" and w.row["rule"] == "bnb.dequantize_4bit"
    assert "expands the 4-bit weight" in w.rule_reason and "bitsandbytes::dequantize" in w.rule_conditions
    assert w.row["path_rule"] == "path.dequant-then-dense" and "dequantized, then" in w.path_reason
    names = [n["name"] for n in w.neighbours]
    assert w.neighbours[w.position]["index"] == row
    assert "aten::mm" in names[w.position:]  # the dense GEMM it fed comes after it in the same call
    assert {n["site"] for n in w.neighbours} == {"model.layers.2.mlp.down_proj"}
    assert len({(n["request"], n["step"]) for n in w.neighbours}) == 1


def test_why_outside_sites_and_unknown_site(nf4: KernelTable) -> None:
    outside = int(np.nonzero(nf4.site.mask(""))[0][0])
    w = why(nf4, outside, default_classifier())
    assert w.row["path_rule"] == "path.outside-sites"
    assert w.path_reason.startswith("not part of a quantized (or quantizable) site")
    assert first_row_of(nf4, "no.such.site") is None


def test_module_paths_across_runs() -> None:
    tables = [load_run(RUNS / n).table for n in ("bf16", "int4-torchao", "nf4-bitsandbytes")]
    per = module_paths(tables, "model.layers.1.mlp")
    main = [max(p["decode"], key=lambda k: p["decode"][k]) for p in per]
    assert main == ["unquantized", "native-quantized", "dequant-then-compute"]


def test_sparkline_and_export_rows(nf4: KernelTable) -> None:
    assert sparkline([1.0, 2.0, 3.0]) == "▁▄█"
    assert len(sparkline(list(range(1000)), width=40)) == 40
    assert sparkline([]) == ""
    header, rows = groups_rows(kernel_groups(nf4, filter_mask(nf4, Filter())))
    assert header[0] == "name" and len(rows[0]) == len(header)
    header, rows = tree_rows(module_tree(nf4))
    assert header[:2] == ["module", "phase"] and {r[1] for r in rows} == {"all", "prefill", "decode"}
    run = load_run(RUNS / "nf4-bitsandbytes")
    from kernelscope.report.aggregate import summarize

    header, rows = phase_rows(summarize(run.manifest, run.metrics, run.table))
    assert [r[0] for r in rows][:2] == ["prefill", "decode"]
