"""The comparison plan over the recorded fixture runs: rows, ratios, capacity, gates, mismatches,
and every output format parsed back."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kernelscope.errors import EXIT_GATE, KernelscopeError
from kernelscope.report import compare_render as compare_report
from kernelscope.report.compare import capacity, compare_runs, parse_size
from kernelscope.report.documents import Row
from kernelscope.report.gates import Gate, check_gates, parse_gates
from kernelscope.runs.store import Run, load_run
from tests.helpers import RUNS, assert_one_line_error, copy_run, ks

ORDER = ["bf16", "int8-torchao", "int4-torchao", "nf4-bitsandbytes", "kv-int4-quanto"]


def runs(*names: str) -> list[Run]:
    return [load_run(RUNS / n) for n in (names or ORDER)]


# ------------------------------------------------------------------------------------- capacity


def test_capacity_by_hand() -> None:
    # 80 GiB, 14 GiB of weights, 128 KiB per token (a 7B Llama in bf16: 32 layers x 2 x 4096 x 2 bytes)
    gib, kib = 2**30, 2**10
    c = capacity(80 * gib, 14 * gib, 128 * kib, 4096)
    assert c.sequences == (66 * gib) // (128 * kib * 4096) == 132
    assert c.max_context_batch1 == (66 * gib) // (128 * kib) == 540672
    # int4 weights (3.5 GiB) and an int4 KV cache (32 KiB per token): four times the KV room per token
    q = capacity(80 * gib, int(3.5 * gib), 32 * kib, 4096)
    assert q.sequences == int((76.5 * gib) // (32 * kib * 4096)) == 612


def test_capacity_when_weights_do_not_fit() -> None:
    c = capacity(10, 20, 1.0, 100)
    assert (c.sequences, c.max_context_batch1) == (0, 0)


@pytest.mark.parametrize("text, expected", [("80GiB", 80 * 2**30), ("24GB", 24 * 10**9), ("512MiB", 512 * 2**20),
                                            ("1000", 1000), ("1.5 GiB", int(1.5 * 2**30)), ("2TB", 2 * 10**12)])
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_bad_size() -> None:
    with pytest.raises(KernelscopeError, match="expected a size"):
        parse_size("lots")


# ------------------------------------------------------------------------------------------ gates


def test_gate_parsing() -> None:
    gates = parse_gates("kld_mean<0.05, fallback_share==0,tpot_ratio<=1.1,peak_memory_ratio<=0.6,same_top1>=0.9")
    assert [str(g) for g in gates] == ["kld_mean<0.05", "fallback_share==0", "tpot_ratio<=1.1",
                                       "peak_memory_ratio<=0.6", "same_top1>=0.9"]
    with pytest.raises(KernelscopeError, match="unknown metric"):
        parse_gates("vibes<1")
    with pytest.raises(KernelscopeError, match="expected METRIC OP NUMBER"):
        parse_gates("kld_mean<<1")


def test_gates_skip_the_baseline_and_fail_on_missing_data() -> None:
    rows = [Row(run="base", kld_mean=9.0), Row(run="a", kld_mean=0.01, tpot_ratio=1.5),
            Row(run="b", kld_mean=None, tpot_ratio=1.0)]
    breaches = check_gates(rows, [Gate("kld_mean", "<", 0.05), Gate("tpot_ratio", "<=", 1.1)])
    assert [(b.run, b.gate, b.why) for b in breaches] == [
        ("a", "tpot_ratio<=1.1", "breached"), ("b", "kld_mean<0.05", "not measured")]


# ------------------------------------------------------------------------------- recorded runs


def test_rows_and_ratios_follow_the_metrics() -> None:
    cmp = compare_runs(runs())
    assert [r.run for r in cmp.rows] == ORDER
    base = cmp.rows[0]
    assert base.tpot_ratio == 1.0 and base.peak_memory_ratio == 1.0
    for row, run in zip(cmp.rows, runs(), strict=True):
        m = run.metrics
        assert row.tpot_p50_ms == m.tpot_ms.p50
        assert row.tpot_ratio == pytest.approx(m.tpot_ms.p50 / base.tpot_p50_ms)
        assert row.weights_ratio == pytest.approx(m.weights.model_bytes / base.weights_bytes)
        assert row.kld_mean == m.quality.kld_mean
    by_name = {r.run: r for r in cmp.rows}
    # what is quantized, as recorded by the recipes
    assert by_name["int4-torchao"].quantized.what() == "W"
    assert by_name["kv-int4-quanto"].quantized.what() == "KV"
    # int4 weights take well under the bf16 bytes; the int4 KV cache well under the bf16 cache
    assert by_name["int4-torchao"].weights_ratio < 0.7
    assert by_name["kv-int4-quanto"].kv_bytes_ratio < 0.5
    assert by_name["kv-int4-quanto"].capacity_ratio > 2.0
    # the path shares of the quantized sites sum to one
    for name in ORDER[1:]:
        row = by_name[name]
        total = sum(row.number(k) or 0.0 for k in ("native_share", "dequant_path_share", "fallback_share",
                                                    "unquantized_share"))
        assert total == pytest.approx(1.0)
    assert by_name["int4-torchao"].native_share == 1.0
    assert by_name["nf4-bitsandbytes"].dequant_path_share == 1.0


def test_quality_ordering_in_the_recorded_runs() -> None:
    """bf16 against the fp32 baseline (rounding only) is far below int4 weight-only; int4 above int8."""
    kld = {r.run: r.kld_mean for r in compare_runs(runs()).rows}
    assert kld["bf16"] * 5 < kld["int4-torchao"]
    assert kld["int8-torchao"] < kld["int4-torchao"]
    assert kld["bf16"] * 5 < kld["nf4-bitsandbytes"]


def test_risk_checklist_answers_every_item() -> None:
    cmp = compare_runs(runs(), gates=parse_gates("kld_mean<1e-9"))
    for row in cmp.rows[1:]:
        items = {i.item: i for i in row.risks}
        assert list(items) == ["calibration", "activation outliers", "optimized kernels", "quality on long outputs",
                               "larger batch / context", "rollback"]
        assert items["rollback"].status == "rollback"
        assert items["activation outliers"].status in ("ok", "watch", "risk")
        assert items["quality on long outputs"].status in ("ok", "risk")
    assert cmp.exit_code() == EXIT_GATE


def test_gates_hold_and_breach_on_purpose() -> None:
    loose = compare_runs(runs("bf16", "int4-torchao"), gates=parse_gates("kld_mean<0.05,fallback_share==0"))
    assert loose.breaches == [] and loose.exit_code() == 0
    strict = compare_runs(runs("bf16", "int4-torchao"), gates=parse_gates("kld_mean<1e-6,native_share<=0.5"))
    assert {b.gate for b in strict.breaches} == {"kld_mean<1e-06", "native_share<=0.5"}


def test_mismatched_fixed_variables_are_refused(tmp_path: Path) -> None:
    other = load_run(copy_run(tmp_path, "int4-torchao", {"workload.gen_len": 64, "eval_set.sha256": "0" * 64}))
    with pytest.raises(KernelscopeError,
                       match=r"differ in fixed variables \(eval_set.sha256: a689d3930de8 \(bf16\) vs 000000000000"):
        compare_runs([runs("bf16")[0], other])
    allowed = compare_runs([runs("bf16")[0], other], allow_mismatch=True)
    assert len(allowed.differences) == 2
    assert any(d.startswith("eval_set.sha256") for d in allowed.differences)
    assert "differs: workload.gen_len" in compare_report.render_markdown(allowed)


# ---------------------------------------------------------------------------------------- formats


def test_formats_parse_back() -> None:
    cmp = compare_runs(runs(), gates=parse_gates("kld_mean<0.05"))
    rows = list(csv.DictReader(io.StringIO(compare_report.render_csv(cmp))))
    assert [r["run"] for r in rows] == ORDER
    assert float(rows[2]["kld_mean"]) == pytest.approx(cmp.rows[2].kld_mean)
    doc = json.loads(compare_report.render_json(cmp))
    assert doc["gates"] == ["kld_mean<0.05"] and len(doc["runs"]) == 5
    md = compare_report.render_markdown(cmp).splitlines()
    table = [ln for ln in md if ln.startswith("| ")]
    assert len(table) == 1 + 5 and all(ln.count("|") == table[0].count("|") for ln in table)
    text = compare_report.render_text(cmp)
    assert "memory and latency" in text and "risk checklist: int4-torchao" in text


def test_html_has_the_plots() -> None:
    page = compare_report.render_html(compare_runs(runs()))
    svgs = [page[a:page.index("</svg>", a) + 6] for a in _all(page, "<svg")]
    assert len(svgs) == 3  # time by path per phase, latency distribution, KLD by position
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
    assert svgs[0].count("<rect") > 10 and "dequant-then-compute" in svgs[0]
    assert svgs[2].count("<polyline") == 5


def _all(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + 1)
    return out


def test_failed_configurations_stay_in_the_table() -> None:
    cmp = compare_runs(runs("bf16"), failed=[Row(run="int4-x", quant="int4@x", error="boom", status="failed")])
    assert cmp.rows[-1].error == "boom"
    assert "FAILED: boom" in compare_report.render_markdown(cmp)
    assert "FAILED: boom" in compare_report.render_text(cmp)


# -------------------------------------------------------------------------------------------- cli


def test_cli_compare_exit_codes(tmp_path: Path) -> None:
    a, b = str(RUNS / "bf16"), str(RUNS / "int4-torchao")
    ok = ks("compare", a, b, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["runs"][1]["run"] == "int4-torchao"
    breached = ks("compare", a, b, "--gate", "kld_mean<1e-9", "--format", "md")
    assert breached.returncode == EXIT_GATE
    assert "gate breached: int4-torchao: kld_mean<1e-09" in breached.stderr
    other = copy_run(tmp_path, "int4-torchao", {"workload.seed": 99})
    assert_one_line_error(ks("compare", a, str(other)), 2, "differ in fixed variables (workload.seed: 7")
    assert_one_line_error(ks("compare", a, b, "--format", "html"), 2, "--format html needs --output")
    out = tmp_path / "cmp.html"
    assert ks("compare", a, b, "--format", "html", "-o", str(out)).returncode == 0
    assert out.read_text().startswith("<!doctype html>")
    assert_one_line_error(ks("compare", a, b, "--format", "html", "-o", str(out)), 2, "exists; pass --force")
    swapped = json.loads(ks("compare", a, b, "--baseline", "int4-torchao", "--format", "json").stdout)
    assert [r["run"] for r in swapped["runs"]] == ["int4-torchao", "bf16"]


def test_capacity_stops_at_the_models_positions() -> None:
    from kernelscope.report.compare import capacity

    roomy = capacity(budget_bytes=8 * 2**30, weights_bytes=10 * 2**20, kv_bytes_per_token=2048.0, context_tokens=160,
                     max_positions=1024)
    assert roomy.max_context_batch1 == 1024 and roomy.limited_by == "model positions"
    assert roomy.sequences == int((8 * 2**30 - 10 * 2**20) // (2048.0 * 160))
    too_long = capacity(8 * 2**30, 10 * 2**20, 2048.0, context_tokens=4096, max_positions=1024)
    assert too_long.sequences == 0  # the model cannot take a 4096-token sequence at all
    unknown = capacity(8 * 2**30, 10 * 2**20, 2048.0, 160)
    assert unknown.max_context_batch1 == (8 * 2**30 - 10 * 2**20) // 2048 and unknown.limited_by == "memory"


@pytest.mark.parametrize("width", [80, 120])
def test_the_terminal_comparison_fits_and_never_breaks_a_number(width: int) -> None:
    from kernelscope.report.compare_render import render_text

    runs = [load_run(RUNS / n) for n in ("bf16", "int4-torchao", "nf4-bitsandbytes")]
    cmp = compare_runs(runs)
    text = render_text(cmp, width=width)
    tables = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert tables and max(len(line) for line in tables) <= width
    for row in cmp.rows:
        tpot = "/".join(f"{v:.2f}" for v in (row.tpot_p50_ms, row.tpot_p95_ms, row.tpot_p99_ms))
        assert tpot in text, tpot  # whole, on one line


def test_modes_piped_keeps_backend_names_whole() -> None:
    import io

    from rich.console import Console

    from kernelscope.report.modes import mode_matrix, render_modes

    out = io.StringIO()
    render_modes(mode_matrix(), Console(file=out, width=80))
    assert "bitsandbytes" in out.getvalue() and "bitsandby…" not in out.getvalue()
