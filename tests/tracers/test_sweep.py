"""A real sweep of the fixture model over bf16, int8, int4, nf4 and kv-int4, each in its own process,
with quality against the fp32 baseline; the quality figures recomputed from the saved log-probs
with plain numpy."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kernelscope.cli import main
from kernelscope.commands.sweep import failed_rows
from kernelscope.errors import EXIT_GATE
from kernelscope.report.documents import Row
from kernelscope.runs.documents import Quality
from kernelscope.runs.store import Run, load_run
from kernelscope.runs.sweep import SweepConfig, run_sweep
from tests.tracers.conftest import has_avx512_bf16

pytestmark = pytest.mark.slow

CONFIGS = "bf16,int8,int4,nf4,kv-int4"
WORKLOAD = ["--prompt-len", "32", "--gen-len", "6", "--requests", "2", "--warmup", "1", "--device", "cpu",
            "--quality-windows", "3", "--quality-context", "96"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    root = tmp_path_factory.mktemp("sweep")
    mp = pytest.MonkeyPatch()
    mp.setenv("KERNELSCOPE_CACHE", str(root / "cache"))  # a cold baseline cache, inherited by the children
    try:
        code = main(["sweep", "--quant", CONFIGS, *WORKLOAD, "--save-logits", "--out", str(root / "runs"),
                     "--gate", "kld_mean<0.05,fallback_share==0,same_top1>=0.8", "--format", "json",
                     "--output", str(root / "cmp.json")])
    finally:
        mp.undo()
    return root / "runs", json.loads((root / "cmp.json").read_text()), code


def rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["run"]: r for r in doc["runs"]}


def test_the_sweep_produces_the_table(sweep: tuple[Path, dict[str, Any], int]) -> None:
    out, doc, code = sweep
    assert code == 0, doc["breaches"]
    assert list(rows(doc)) == ["bf16", "int8", "int4", "nf4", "kv-int4"]
    assert all(r["status"] == "complete" and not r.get("error") for r in doc["runs"])
    assert (out / "compare.html").is_file() and (out / "compare.json").is_file()
    record = json.loads((out / "sweep.json").read_text())
    assert [c["returncode"] for c in record["configs"]] == [0] * 5
    for name in ("bf16", "int8", "int4", "nf4", "kv-int4"):
        log = (out / f"{name}.log").read_text()
        assert log.startswith(f"kernelscope profile --quant {name.split('-')[0] if name != 'kv-int4' else name}")
        assert "[" in log and "done in" in log  # the child's progress lines are its log
    by = rows(doc)
    assert by["int4"]["weights_ratio"] < 0.7
    assert by["kv-int4"]["kv_bytes_ratio"] < 0.5 and by["kv-int4"]["capacity_ratio"] > 2
    assert by["int4"]["native_share"] == 1.0  # torchao's int4 CPU kernel consumes the packed weights
    if has_avx512_bf16():  # bitsandbytes' native 4-bit CPU kernel
        assert by["nf4"]["native_share"] > 0.0
    else:  # bitsandbytes dequantizes, then aten::mm
        assert by["nf4"]["dequant_path_share"] == 1.0


def test_quality_ordering_follows_the_physics(sweep: tuple[Path, dict[str, Any], int]) -> None:
    by = rows(sweep[1])
    # bf16 against the fp32 baseline is rounding only: far below int4 weight-only
    assert by["bf16"]["kld_mean"] * 5 < by["int4"]["kld_mean"]
    assert by["bf16"]["kld_mean"] * 5 < by["nf4"]["kld_mean"]
    # 8-bit weights lose less than 4-bit ones
    assert by["int8"]["kld_mean"] < by["int4"]["kld_mean"]
    for r in by.values():
        assert 0.9 < r["ppl_ratio"] < 1.1


def test_the_baseline_is_computed_once(sweep: tuple[Path, dict[str, Any], int]) -> None:
    out = sweep[0]
    cached = [_quality(load_run(out / n)).baseline_cached for n in ("bf16", "int8", "int4", "nf4")]
    assert cached == [False, True, True, True]


@pytest.mark.parametrize("name", ["int4", "kv-int4"])
def test_numpy_recomputation_agrees(sweep: tuple[Path, dict[str, Any], int], name: str) -> None:
    run = load_run(sweep[0] / name)
    q = _quality(run)
    data = np.load(run.path / "quality-logits.npz")
    base, quant = data["base"].astype(np.float64), data["quantized"].astype(np.float64)
    targets = data["targets"]
    assert base.shape == quant.shape == (3 * 48, 4096)
    kld = np.maximum(np.sum(np.exp(base) * (base - quant), axis=1), 0.0)
    rows_idx = np.arange(len(targets))
    lp_b, lp_q = base[rows_idx, targets], quant[rows_idx, targets]
    same = base.argmax(axis=1) == quant.argmax(axis=1)
    assert q.tokens == len(targets)
    assert q.kld_mean == pytest.approx(kld.mean(), rel=1e-4)
    assert q.kld_mean_se == pytest.approx(kld.std(ddof=1) / math.sqrt(len(kld)), rel=1e-3)
    assert q.kld_p99 == pytest.approx(np.percentile(kld, 99), rel=1e-3)
    assert q.same_top1 == pytest.approx(same.mean())
    assert q.ppl_q == pytest.approx(math.exp(-lp_q.mean()), rel=1e-5)
    assert q.ppl_base == pytest.approx(math.exp(-lp_b.mean()), rel=1e-5)
    assert q.delta_p_mean == pytest.approx((np.exp(lp_q) - np.exp(lp_b)).mean(), rel=1e-3, abs=1e-7)


def test_gates_breach_on_the_sweep_runs(sweep: tuple[Path, dict[str, Any], int]) -> None:
    out = sweep[0]
    code = main(["compare", str(out / "bf16"), str(out / "nf4"), "--gate", "tpot_ratio<=1.0,kld_mean<1e-7",
                 "--format", "csv", "--output", str(out.parent / "gated.csv")])
    assert code == EXIT_GATE


def test_a_failing_configuration_leaves_its_error_and_the_rest_run(tmp_path: Path) -> None:
    configs = [SweepConfig("int4@bogus", "int4", "bogus", None), SweepConfig("bf16", "bf16", None, None)]
    results = run_sweep(configs, None, WORKLOAD[:10], tmp_path / "s", timeout_s=300)
    assert results[0].returncode == 2 and "no backend 'bogus'" in results[0].error
    assert results[1].error == "" and load_run(results[1].run_dir).manifest.status == "complete"
    assert failed_rows(results) == [Row(run="int4-bogus", quant="int4@bogus", status="failed",
                                        error=results[0].error, path=str(tmp_path / "s" / "int4-bogus"))]


def _quality(run: Run) -> Quality:
    assert run.metrics.quality is not None
    return run.metrics.quality
