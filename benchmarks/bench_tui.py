"""TUI responsiveness on a large run: a synthetic run of N kernel instances (default one million)
with the shape of a real decode-heavy LLM run (32 layers x 7 projections, dequant + GEMM per
projection, attention, norms; ~2,000 distinct kernel names), opened in the Textual app headless.

    python benchmarks/bench_tui.py                  # 1,000,000 rows
    python benchmarks/bench_tui.py --rows 200000

Measures, in a fresh process after imports:
  first paint  from loading the run folder to the first rendered screen (kernels view)
  filter       applying a path (or phase) filter: mask, regroup, re-render the kernel table
               (each interaction: the median of 5 tries, timed until the screen is redrawn)
  search       applying a name search
  sort         re-sorting by count
  open group   opening the heaviest kernel's instances
Writes benchmarks/results/tui.json. Goals from the issue: first paint <= 2 s, filter <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
PATHS = ("native-quantized", "dequant-then-compute", "fallback", "unquantized")
PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def synthetic_table(rows: int, seed: int = 0) -> Any:
    """A KernelTable with realistic cardinalities, built directly (no trace: that is bench_analyze's job)."""
    from kernelscope.classify.table import KernelTable
    from kernelscope.trace.columns import Categorical

    rng = np.random.default_rng(seed)
    names = [f"void gemv_kernel_{i}<__nv_bfloat16, {64 * (i % 8 + 1)}>" for i in range(1500)] + \
            [f"triton_poi_fused_{i}" for i in range(400)] + [f"aten::op_{i}" for i in range(100)]
    modules = [f"model.layers.{layer}.{part}.{p}" for layer in range(32)
               for part, p in [("self_attn", x) for x in PROJ[:4]] + [("mlp", x) for x in PROJ[4:]]]
    modules += [f"model.layers.{layer}.input_layernorm" for layer in range(32)] + ["lm_head", ""]
    name_codes = rng.zipf(1.3, rows) % len(names)
    module_codes = rng.integers(0, len(modules), rows)
    phase_codes = (rng.random(rows) < 0.9).astype(np.int32)  # 90% decode
    roles = ("gemm", "dequant", "attention", "elementwise", "memory", "other")
    role_codes = rng.integers(0, len(roles), rows)
    path_codes = np.where(module_codes < 32 * 7, rng.choice(4, rows, p=[0.5, 0.35, 0.05, 0.1]), 3)
    ts = np.cumsum(rng.exponential(3.0, rows))
    step = np.where(phase_codes == 1, (np.arange(rows) // 5000).astype(np.int64), -1)

    def cat(codes: Any, values: Any) -> Categorical:
        return Categorical(np.asarray(codes, dtype=np.int32), tuple(values))

    n = rows
    strings = {
        "name": cat(name_codes, names), "kind": Categorical.constant("kernel", n),
        "device": Categorical.constant("cuda", n), "op": cat(name_codes % 100, [f"aten::op_{i}" for i in range(100)]),
        "wrapper": Categorical.constant("", n), "in_types": Categorical.constant("bf16, uint8", n),
        "in_shapes": Categorical.constant("[1,4096], [4096,2048]", n),
        "phase": cat(phase_codes, ("prefill", "decode")), "module": cat(module_codes, modules),
        "site": cat(np.where(module_codes < 32 * 7, module_codes, len(modules) - 1), modules),
        "site_kind": Categorical.constant("linear", n), "role": cat(role_codes, roles),
        "kernel_class": cat(role_codes % 4, ("dense", "dequant", "other", "native-quantized")),
        "backend": Categorical.constant("synthetic", n), "format": Categorical.constant("int4", n),
        "rule": Categorical.constant("synthetic.rule", n), "path": cat(path_codes, PATHS),
        "path_rule": Categorical.constant("path.native", n),
    }
    numbers = {
        "ts_us": ts, "time_us": rng.exponential(5.0, rows), "dur_us": rng.exponential(5.0, rows),
        "lane": np.zeros(rows, np.int64), "request": np.zeros(rows, np.int32), "step": step.astype(np.int32),
        "op_id": np.arange(rows, dtype=np.int64), "graph_replayed": np.zeros(rows, bool),
        "rank": np.zeros(rows, np.int32),
    }
    return KernelTable.build(strings, numbers)  # type: ignore[arg-type]


def write_run(folder: Path, rows: int) -> Path:
    from kernelscope.runs.store import RunWriter

    writer = RunWriter(folder, {"model": {"name": f"synthetic ({rows} kernels)"}, "quant": "int4", "device": "cuda"})
    writer.write_metrics({})
    writer.write_table(synthetic_table(rows))
    writer.write_trace(_empty_trace(folder.parent))
    writer.finish()  # a complete run, as users open them (no incomplete-run banner)
    return folder


def _empty_trace(where: Path) -> Path:
    path = where / "empty-trace.json"
    path.write_text('{"traceEvents": []}')
    return path


async def measure(run_dir: Path) -> dict[str, float]:
    from kernelscope.runs.store import load_run
    from kernelscope.tui.app import KernelscopeApp, KernelsView

    out: dict[str, float] = {}
    t0 = time.perf_counter()
    app = KernelscopeApp([load_run(run_dir)], view="kernels")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        out["first_paint_s"] = time.perf_counter() - t0
        view = app.query_one(KernelsView)

        async def timed(label: str, action: Any, undo: Any, repeat: int = 5) -> None:
            """Median over `repeat` tries of the action until the screen has been redrawn."""
            samples = []
            for _ in range(repeat):
                t = time.perf_counter()
                action()
                await pilot.pause()
                samples.append(time.perf_counter() - t)
                undo()
                await pilot.pause()
            out[label] = statistics.median(samples)

        def clear() -> None:
            view.filter = type(view.filter)()
            view.refresh_groups()

        await timed("filter_path_s", lambda: view.set_filter(path="dequant-then-compute"), clear)
        await timed("filter_phase_s", lambda: view.set_filter(phase="decode"), clear)
        await timed("search_s", lambda: view.set_filter(search="triton"), clear)
        await timed("sort_s", view.action_cycle_sort, lambda: None)
        heaviest = view.groups[0].name

        def open_group() -> None:
            view.opened.add(heaviest)
            view._render_rows()

        def close_group() -> None:
            view.opened.discard(heaviest)
            view._render_rows()

        await timed("open_group_s", open_group, close_group)
        out["groups"] = float(len(view.groups))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run_dir = write_run(Path(tmp) / "run", args.rows)
        build_s = time.perf_counter() - t
        timings = asyncio.run(measure(run_dir))
    result = {"rows": args.rows, "build_run_s": round(build_s, 2),
              **{k: round(v, 4) for k, v in timings.items()},
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "machine": f"{platform.processor() or platform.machine()}, {platform.system()}, "
                         f"python {platform.python_version()}"}
    for k, v in result.items():
        print(f"{k:>16}: {v}")
    target = HERE / "results" / "tui.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
