"""A checker for the Chrome Trace Event format (the rules trace viewers and Perfetto rely on)."""

from __future__ import annotations

from numbers import Real
from typing import Any

PHASES = set("XBEiICMsftbenPONDRaSTFp")
METADATA = {"process_name", "thread_name", "process_sort_index", "thread_sort_index", "process_labels",
            "process_uptime_seconds"}
RESERVED_COLORS = {"good", "bad", "terrible", "generic_work", "black", "grey", "white", "yellow", "olive",
                   "rail_response", "rail_animation", "rail_idle", "rail_load", "startup", "heap_dump_stack_frame",
                   "heap_dump_object_type", "heap_dump_child_node_highlight", "cq_build_running", "cq_build_passed",
                   "cq_build_failed", "cq_build_abandoned", "cq_build_attempt_runnig", "cq_build_attempt_passed",
                   "cq_build_attempt_failed", "thread_state_uninterruptible", "thread_state_iowait",
                   "thread_state_running", "thread_state_runnable", "thread_state_sleeping", "thread_state_unknown",
                   "light_memory_dump", "detailed_memory_dump", "vsync_highlight_color"}


def check_chrome_trace(doc: Any) -> list[str]:
    """Every violation found (empty: valid)."""
    problems: list[str] = []
    events = doc.get("traceEvents") if isinstance(doc, dict) else doc
    if not isinstance(events, list):
        return ["traceEvents is not a list"]
    flow_starts: set[tuple[Any, Any]] = set()
    flow_ends: list[tuple[Any, Any]] = []
    for i, ev in enumerate(events):
        where = f"event {i}"
        if not isinstance(ev, dict):
            problems.append(f"{where}: not an object")
            continue
        ph = ev.get("ph")
        if ph not in PHASES:
            problems.append(f"{where}: unknown phase {ph!r}")
            continue
        if ph != "M" and not isinstance(ev.get("ts"), Real):
            problems.append(f"{where}: ts missing or not a number")
        if "pid" not in ev:
            problems.append(f"{where}: no pid")
        if ph == "X":
            if not isinstance(ev.get("name"), str):
                problems.append(f"{where}: X without a name")
            if not isinstance(ev.get("dur"), Real) or ev["dur"] < 0:
                problems.append(f"{where}: X without a non-negative dur")
            if "tid" not in ev:
                problems.append(f"{where}: X without a tid")
        elif ph == "C":
            args = ev.get("args")
            if not isinstance(args, dict) or not args or not all(isinstance(v, Real) for v in args.values()):
                problems.append(f"{where}: counter args must be numbers")
        elif ph == "M":
            if ev.get("name") not in METADATA:
                problems.append(f"{where}: unknown metadata {ev.get('name')!r}")
            elif ev["name"].endswith("_name") and not isinstance((ev.get("args") or {}).get("name"), str):
                problems.append(f"{where}: {ev['name']} without args.name")
        elif ph in ("s", "t"):
            flow_starts.add((ev.get("cat"), ev.get("id")))
        elif ph == "f":
            flow_ends.append((ev.get("cat"), ev.get("id")))
        elif ph in ("i", "I") and ev.get("s", "t") not in ("g", "p", "t"):
            problems.append(f"{where}: instant scope must be g, p or t")
        if "cname" in ev and ev["cname"] not in RESERVED_COLORS:
            problems.append(f"{where}: cname {ev['cname']!r} is not a reserved colour")
        if "args" in ev and not isinstance(ev["args"], dict):
            problems.append(f"{where}: args is not an object")
    for end in flow_ends:
        if end not in flow_starts:
            problems.append(f"flow end {end} has no start")
    return problems
