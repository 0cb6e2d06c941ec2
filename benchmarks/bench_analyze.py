"""Trace analysis speed and memory, side by side: kernelscope analyze, HolisticTraceAnalysis, and the
floor for reading the JSON at all. Each measurement runs in its own process (peak RSS is that
process's ru_maxrss; for kernelscope, which reads traces of 48 MiB and more with a second process
that decodes the second half, the sum of both processes' peaks); wall time is measured inside it,
after its imports. "one process" is kernelscope with KERNELSCOPE_ONE_PROCESS=1. Each tool runs --repeat
times, the rounds interleaved; the median time and the largest peak RSS are reported.

    python benchmarks/bench_analyze.py                       # 10^4 and 10^5-kernel synthetic traces
    python benchmarks/bench_analyze.py --kernels 10000 100000 300000 --skip-hta
    python benchmarks/bench_analyze.py --trace my_trace.json  # a trace of your own

Prints a table and writes benchmarks/results/analyze.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

FLOOR_JSON = """
import json, sys, time, resource
t = time.perf_counter()
with open(sys.argv[1], 'rb') as fh:
    doc = json.load(fh)
print(json.dumps({'seconds': time.perf_counter() - t, 'events': len(doc['traceEvents']),
                  'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

FLOOR_ORJSON = """
import json, sys, time, resource
import orjson
t = time.perf_counter()
with open(sys.argv[1], 'rb') as fh:
    doc = orjson.loads(fh.read())
print(json.dumps({'seconds': time.perf_counter() - t, 'events': len(doc['traceEvents']),
                  'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

FLOOR_MSGSPEC = """
import json, sys, time, resource
import msgspec

class Event(msgspec.Struct, gc=False):  # every event into a small typed struct, its args left raw
    cat: str = ""
    name: str = ""
    pid: int | str = 0
    tid: int | str = 0
    ts: float = 0.0
    dur: float = 0.0
    args: msgspec.Raw = msgspec.Raw(b"{}")

class Doc(msgspec.Struct, gc=False):
    traceEvents: list[Event] = []

t = time.perf_counter()
with open(sys.argv[1], 'rb') as fh:
    doc = msgspec.json.decode(fh.read(), type=Doc)
print(json.dumps({'seconds': time.perf_counter() - t, 'events': len(doc.traceEvents),
                  'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

KERNELSCOPE = """
import json, sys, time, resource, tempfile, pathlib
from kernelscope.runs.ingest import analyze_to_run
from kernelscope.report.aggregate import summarize
from kernelscope.runs.store import load_run
out = pathlib.Path(tempfile.mkdtemp()) / 'run'
t = time.perf_counter()
analyze_to_run(pathlib.Path(sys.argv[1]), out)
run = load_run(out)
doc = summarize(run.manifest, run.metrics, run.table)
seconds = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the process that reads the second half
print(json.dumps({'seconds': seconds, 'rows': len(run.table), 'rss': own + child, 'rss_child': child}))
"""

KERNELSCOPE_ONE_PROCESS = "import os; os.environ['KERNELSCOPE_ONE_PROCESS'] = '1'\n" + KERNELSCOPE

HTA = """
import json, sys, time, resource, logging, os, shutil, tempfile
logging.disable(logging.CRITICAL)
from hta.trace_analysis import TraceAnalysis
folder = tempfile.mkdtemp()
os.symlink(os.path.abspath(sys.argv[1]), os.path.join(folder, 'rank-0.json' if not sys.argv[1].endswith('.gz')
                                                          else 'rank-0.json.gz'))
t = time.perf_counter()
analyzer = TraceAnalysis(trace_dir=folder)
by_type, by_kernel = analyzer.get_gpu_kernel_breakdown(visualize=False)
print(json.dumps({'seconds': time.perf_counter() - t, 'rows': int(len(by_kernel)),
                  'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

TOOLS = {"json.load (stdlib)": FLOOR_JSON, "orjson.loads": FLOOR_ORJSON,
         "msgspec typed decode (floor)": FLOOR_MSGSPEC, "kernelscope analyze": KERNELSCOPE,
         "kernelscope analyze, one process": KERNELSCOPE_ONE_PROCESS, "HolisticTraceAnalysis 0.5": HTA}


def measure(code: str, trace: Path, timeout: int) -> dict[str, Any]:
    try:
        result = subprocess.run([sys.executable, "-c", code, str(trace)], capture_output=True, text=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        return {"error": lines[-1] if lines else f"exit {result.returncode}"}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def summarize_samples(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The median wall time and the largest peak RSS of a tool's runs (an error if any run failed)."""
    errors = [m["error"] for m in samples if "error" in m]
    if errors:
        return {"error": errors[0]}
    seconds = sorted(m["seconds"] for m in samples)
    return {**samples[0], "seconds": statistics.median(seconds), "runs_s": seconds,
            "rss": max(m["rss"] for m in samples)}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--trace", type=Path, action="append", default=[])
    parser.add_argument("--skip-hta", action="store_true")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the median time is reported")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "analyze.json")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from make_trace import write_trace

    workdir = Path(tempfile.mkdtemp(prefix="ks-bench-"))
    traces = list(args.trace)
    for n in args.kernels:
        path = workdir / f"synthetic-{n}.json"
        write_trace(path, n, "bf16", 0, 2)
        traces.append(path)
    results: list[dict[str, Any]] = []
    for trace in traces:
        size = trace.stat().st_size
        tools = {t: c for t, c in TOOLS.items() if not (args.skip_hta and t.startswith("Holistic"))}
        samples: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
        for _ in range(args.repeat):  # rounds interleave the tools, so a noisy minute hits all of them
            for tool, code in tools.items():
                samples[tool].append(measure(code, trace, args.timeout))
        row: dict[str, Any] = {"trace": trace.name, "bytes": size, "repeat": args.repeat,
                               "tools": {t: summarize_samples(s) for t, s in samples.items()}}
        results.append(row)
        print_row(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    print(f"written {args.out}")


def print_row(row: dict[str, Any]) -> None:
    mb = row["bytes"] / 2**20
    print(f"\n{row['trace']}  ({mb:.0f} MiB)")
    floor = row["tools"].get("msgspec typed decode (floor)", {}).get("seconds")
    for tool, m in row["tools"].items():
        if "error" in m:
            print(f"  {tool:32s} error: {m['error']}")
            continue
        ratio = f"{m['seconds'] / floor:5.2f}x floor" if floor else ""
        print(f"  {tool:32s} {m['seconds']:8.2f} s  peak RSS {m['rss'] / 2**20:7.0f} MiB "
              f"({m['rss'] / row['bytes']:4.2f}x file)  {ratio}")


if __name__ == "__main__":
    main()
