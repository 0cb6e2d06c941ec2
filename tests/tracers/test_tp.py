"""`profile --tp 2` on this CPU: two ranks under torch.distributed.run (gloo), transformers' tensor-parallel
plan, one run holding both ranks; verdicts that agree with the TP=1 run; refusals; a killed rank."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kernelscope.cli import main
from kernelscope.fixtures_path import fixture_model_dir
from kernelscope.report.aggregate import check_invariants, summarize_run
from kernelscope.report.documents import Summary
from kernelscope.runs.store import load_run
from tests.helpers import assert_one_line_error, ks
from tests.tracers import checkpoints as build
from tests.tracers.conftest import SMALL_WORKLOAD, Captured

TP_WORKLOAD = [*SMALL_WORKLOAD, "--requests", "2"]


@pytest.fixture(scope="module")
def tp_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Summary]:
    root = tmp_path_factory.mktemp("tp")
    done: dict[tuple[str, ...], Summary] = {}

    def run(*args: str) -> Summary:
        if args not in done:
            out = root / f"run{len(done)}"
            assert main(["profile", *args, *TP_WORKLOAD, "--out", str(out)]) == 0
            loaded = load_run(out)
            done[args] = summarize_run(loaded)
            check_invariants(loaded.table, done[args])
        return done[args]

    return run


def site_paths(doc: Summary) -> dict[tuple[str, str], str]:
    return {(s.module, s.phase): s.path for s in doc.sites}


@pytest.mark.parametrize("quant", ["bf16", "kv-int4"])
def test_two_ranks_in_one_run_agree_with_one_rank(quant: str, tp_runs: Callable[..., Summary],
                                                  capture: Callable[..., Captured]) -> None:
    doc = tp_runs("--quant", quant, "--tp", "2")
    run = load_run(Path(doc.run))
    assert run.complete and run.config.world_size == 2 and run.config.ranks == [0, 1]
    assert run.config.engine.parallel.startswith("tensor parallel 2 (gloo")
    assert set(run.manifest.traces) == {"0", "1"}
    assert all((run.path / f).is_file() for f in run.manifest.traces.values())
    assert sorted(set(run.table.rank.tolist())) == [0, 1]
    assert set(run.metrics.peak_rss_by_rank) == {"0", "1"} and all(run.metrics.peak_rss_by_rank.values())
    for phase in ("prefill", "decode"):
        assert doc.phases[phase].communication_us > 0  # gloo all-reduces in both phases
    view = doc.ranks
    assert view is not None and view.ranks == [0, 1] and not view.disagreements
    assert set(view.imbalance) == {"prefill", "decode"} and all(r and r >= 1.0 for r in view.imbalance.values())
    assert all(0 < s < 1 for s in view.communication_share.values())
    one = capture("--quant", quant).summary
    assert site_paths(doc) == site_paths(one)  # every site: the path it took at TP=1
    # side by side in compare: TP=1 and TP=2 share their fixed variables
    from kernelscope.report.compare import compare_runs

    base, tp2 = compare_runs([capture("--quant", quant).run, run], allow_mismatch=False).rows
    assert (base.world_size, tp2.world_size) == (None, 2) and base.communication_share_decode in (None, 0.0)
    assert tp2.communication_share_decode and tp2.communication_share_decode > 0
    assert tp2.weights_bytes and base.weights_bytes and tp2.weights_bytes < 0.75 * base.weights_bytes  # a shard
    if quant == "kv-int4":
        assert {p for (m, ph), p in site_paths(doc).items() if ph == "decode" and m.endswith("self_attn")} == {
            "dequant-then-compute"}


@pytest.mark.parametrize("quant", ["int8", "int4", "w8a8", "nf4"])
def test_weight_modes_are_refused_under_tp(quant: str, tmp_path: Path) -> None:
    result = ks("profile", "--quant", quant, "--tp", "2", *TP_WORKLOAD, "--out", str(tmp_path / "r"))
    assert_one_line_error(result, 2, "under tensor parallelism they are DTensor shards")
    assert not (tmp_path / "r").exists()


def test_quality_is_refused_under_tp(tmp_path: Path) -> None:
    result = ks("profile", "--quant", "bf16", "--tp", "2", "--quality", *TP_WORKLOAD, "--out", str(tmp_path / "r"))
    assert_one_line_error(result, 2, "--tp does not score quality")


def test_another_architecture_keeps_its_verdicts_under_tp(tmp_path: Path) -> None:
    model = build.other_architecture(tmp_path / "qwen2", Path(fixture_model_dir()), heads=(6, 2))
    docs = []
    for tp in ("1", "2"):
        out = tmp_path / f"tp{tp}"
        assert main(["profile", str(model), "--quant", "kv-int4", "--tp", tp, *TP_WORKLOAD, "--out", str(out)]) == 0
        docs.append(summarize_run(load_run(out)))
    one, two = docs
    assert two.ranks is not None and not two.ranks.disagreements
    assert site_paths(one) == site_paths(two) and len([k for k in site_paths(one) if k[0].endswith("self_attn")]) == 6


def test_a_killed_rank_leaves_an_incomplete_run_naming_it(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "r"
    argv = [sys.executable, "-m", "kernelscope", "profile", "--quant", "bf16", "--tp", "2", *SMALL_WORKLOAD,
            "--requests", "400", "--out", str(out)]
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim = None
    deadline = time.time() + 120
    while victim is None and time.time() < deadline:
        time.sleep(0.5)
        for proc in psutil.Process(child.pid).children(recursive=True):
            try:
                if "kernelscope.tracers.tp_rank" in " ".join(proc.cmdline()) and proc.environ().get("RANK") == "1":
                    victim = proc
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    assert victim is not None, "rank 1 never started"
    time.sleep(8)  # past loading, into the timing pass
    os.kill(victim.pid, signal.SIGKILL)
    _, stderr = child.communicate(timeout=180)  # no rank left waiting on the dead one's collectives
    assert child.returncode != 0
    lines = [ln for ln in stderr.splitlines() if ln.startswith("kernelscope: error:")]
    assert len(lines) == 1 and "rank 1" in lines[0], stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and "rank 1" in manifest["error"]


def test_the_chrome_export_keeps_one_process_per_rank(tp_runs: Callable[..., Summary], tmp_path: Path) -> None:
    doc = tp_runs("--quant", "bf16", "--tp", "2")
    out = tmp_path / "t.json"
    assert ks("export", doc.run, "--chrome", str(out)).returncode == 0
    events = json.loads(out.read_text())["traceEvents"]
    tagged = [e for e in events if isinstance(e, dict) and "ks.path" in e.get("args", {})]
    ranks = {int(e["pid"]) // 10_000_000 for e in tagged if isinstance(e.get("pid"), int)}
    assert ranks == {0, 1}
    names = {e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
    assert any(n.startswith("rank 1: ") for n in names) and any(n.startswith("rank 0: ") for n in names)


def test_the_tui_selects_a_rank_and_shows_the_imbalance(tp_runs: Callable[..., Summary]) -> None:
    import asyncio
    import io

    from rich.console import Console
    from textual.widgets import Static

    from kernelscope.tui.app import KernelscopeApp
    from kernelscope.tui.views import KernelsView

    doc = tp_runs("--quant", "bf16", "--tp", "2")

    async def drive() -> None:
        app = KernelscopeApp([load_run(Path(doc.run))])
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            console = Console(width=200, record=True, file=io.StringIO())
            console.print(app.query_one("#overview-body", Static).content)
            overview = console.export_text()
            assert "2 ranks" in overview and "imbalance" in overview
            await pilot.press("2", "k")
            kernels = app.query_one(KernelsView)
            assert kernels.filter.rank == 0 and "rank=0" in kernels.filter.describe()
            await pilot.press("k")
            assert kernels.filter.rank == 1
            await pilot.press("k")
            assert kernels.filter.rank is None

    asyncio.run(drive())


def test_the_same_command_inside_a_users_torchrun(tmp_path: Path) -> None:
    out = tmp_path / "r"
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "kernelscope",
            "profile", "--quant", "bf16", "--tp", "2", *TP_WORKLOAD, "--out", str(out), "--no-summary"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    run = load_run(out)
    assert run.complete and run.config.world_size == 2 and sorted(set(run.table.rank.tolist())) == [0, 1]
    assert not any(p.name.endswith(".tp-staging") for p in tmp_path.iterdir())


@pytest.mark.parametrize("flag", [["--compile"], ["--train-mode"], ["--python-profile"]])
def test_what_tp_does_not_run_is_refused(flag: list[str], tmp_path: Path) -> None:
    result = ks("profile", "--quant", "bf16", "--tp", "2", *flag, *TP_WORKLOAD, "--out", str(tmp_path / "r"))
    assert_one_line_error(result, 2, f"--tp does not run with {flag[0]}")
