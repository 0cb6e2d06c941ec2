"""Link device activity to the host: kernel -> runtime launch (correlation) -> CPU op (External id or
time containment), CPU ops -> their parents, and any host point -> the innermost enclosing range.

On a CPU-only trace there are no kernels: each CPU op is a row that counts its *self* time
(duration minus its children's), so the rows of a thread add up exactly to the time covered by
its top-level ops, and a custom op that computes in its own body (bitsandbytes, quantized::*)
keeps its time even when it allocates through small aten children.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernelscope.classify.ranges import MODULE_PREFIX
from kernelscope.classify.rules.ops import HOST_COMPUTE
from kernelscope.trace.columnar import Ops, Trace
from kernelscope.trace.columns import Categorical, mask_of
from kernelscope.vocabulary import Device

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

_GRAPH_LAUNCH = re.compile(r"Graph(Exec)?Launch", re.IGNORECASE)
@dataclass(frozen=True)
class OpTree:
    """Nesting of CPU ops per thread: parent index (-1 for top level) and self time."""

    parent: I64
    self_time: F64
    depth: I64


@dataclass(frozen=True)
class Rows:
    """The rows of the kernel table before attribution and classification."""

    names: Categorical
    kinds: Categorical  # kernel | memcpy | memset | cpu_op
    device: Categorical  # Device values
    ts: F64
    time: F64  # counted time in us: a kernel's duration, or a CPU op's self time
    duration: F64  # inclusive duration in us
    lane: I64  # stream for device rows, thread index for CPU rows
    op_index: I64  # the launching CPU op (device rows) or the op itself (CPU rows); -1 when unknown
    graph_replayed: B  # launched by a CUDA/HIP graph replay: no CPU op can be linked
    host_thread: I64  # where on the host the row was issued: for range containment
    host_ts: F64

    def __len__(self) -> int:
        return len(self.names)


def op_tree(ops: Ops) -> OpTree:
    """Parent, depth and self time of every op, from time containment on its thread (vectorised).

    Sorted by (thread, start, longest first), an op's depth is the number of ops before it on its
    thread that have not ended when it starts; its parent is the last op before it one level up.
    """
    n = len(ops)
    parent = np.full(n, -1, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    if n == 0:
        return OpTree(parent, np.zeros(0), depth)
    dur = ops.end - ops.ts
    order = np.lexsort((-dur, ops.ts, ops.thread))
    start, end, thread = ops.ts[order], ops.end[order], ops.thread[order]
    sorted_depth = np.zeros(n, dtype=np.int64)
    bounds = np.flatnonzero(np.diff(thread)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, n], strict=True):
        seg_end = np.sort(end[lo:hi])
        position = np.arange(hi - lo)
        ended = np.searchsorted(seg_end, start[lo:hi], side="right")
        sorted_depth[lo:hi] = np.maximum(position - ended, 0)
    sorted_parent = np.full(n, -1, dtype=np.int64)
    for level in range(1, int(sorted_depth.max()) + 1):
        above = np.flatnonzero(sorted_depth == level - 1)
        here = np.flatnonzero(sorted_depth == level)
        sorted_parent[here] = above[np.searchsorted(above, here) - 1]
    parent[order] = np.where(sorted_parent >= 0, order[np.maximum(sorted_parent, 0)], -1)
    depth[order] = sorted_depth
    child_time = np.zeros(n, dtype=np.float64)
    has = parent >= 0
    overlap = np.minimum(ops.end[has], ops.end[parent[has]]) - ops.ts[has]
    np.add.at(child_time, parent[has], np.maximum(overlap, 0.0))
    self_time = np.maximum(dur - child_time, 0.0)
    return OpTree(parent=parent, self_time=self_time, depth=depth)


def root_ops(tree: OpTree) -> I64:
    """The outermost enclosing op of every op (itself when top level)."""
    root = np.arange(len(tree.parent), dtype=np.int64)
    if not len(root):
        return root
    while True:
        up = tree.parent[root]
        moving = up >= 0
        if not moving.any():
            return root
        root = np.where(moving, up, root)


@dataclass(frozen=True)
class Chains:
    """For every op, an id of the tuple of names of the ops around it (outermost first)."""

    ids: I64
    chains: list[tuple[str, ...]]


def chain_ids(tree: OpTree, names: Categorical) -> Chains:
    """Ancestor-name chains, interned level by level: ops that sit inside the same stack of op names
    share an id, so classification can work per distinct context instead of per op."""
    n = len(tree.parent)
    ids = np.zeros(n, dtype=np.int64)  # chain 0 is the empty chain (top-level ops)
    chains: list[tuple[str, ...]] = [()]
    index: dict[tuple[int, int], int] = {}
    if n == 0:
        return Chains(ids, chains)
    for level in range(1, int(tree.depth.max()) + 1):
        here = np.flatnonzero(tree.depth == level)
        if not len(here):
            continue
        par = tree.parent[here]
        width = len(names.values) + 1
        packed = ids[par] * width + names.codes[par].astype(np.int64)
        uniq_packed, inverse = np.unique(packed, return_inverse=True)
        new_ids = np.empty(len(uniq_packed), dtype=np.int64)
        for j, (base, name_code) in enumerate((int(p) // width, int(p) % width) for p in uniq_packed.tolist()):
            key = (base, name_code)
            found = index.get(key)
            if found is None:
                found = index[key] = len(chains)
                chains.append((*chains[base], names.values[name_code]))
            new_ids[j] = found
        ids[here] = new_ids[inverse.reshape(-1)]
    return Chains(ids, chains)


def build_rows(trace: Trace, tree: OpTree) -> Rows:
    if len(trace.kernels):
        return _device_rows(trace, tree)
    return _cpu_rows(trace, tree)


def _cpu_rows(trace: Trace, tree: OpTree) -> Rows:
    ops = trace.ops
    n = len(ops)
    return Rows(
        names=ops.names,
        kinds=Categorical.constant("cpu_op", n),
        device=Categorical.constant(Device.CPU.value, n),
        ts=ops.ts,
        time=tree.self_time,
        duration=ops.end - ops.ts,
        lane=ops.thread.astype(np.int64),
        op_index=np.arange(n, dtype=np.int64),
        graph_replayed=np.zeros(n, dtype=bool),
        host_thread=ops.thread.astype(np.int64),
        host_ts=ops.ts,
    )


def _device_rows(trace: Trace, tree: OpTree) -> Rows:
    k = trace.kernels
    launch_of = _launch_index(trace)
    op_of = _kernel_ops(trace, launch_of, tree)
    launches = trace.launches
    has_launch = launch_of >= 0
    replayed = np.zeros(len(k), dtype=bool)
    if len(launches):
        graph = mask_of(launches.names, lambda nm: bool(_GRAPH_LAUNCH.search(nm)))
        replayed = has_launch & graph[np.where(has_launch, launch_of, 0)]
        op_of = np.where(replayed & (k.external_id < 0), -1, op_of)
    host_thread = np.full(len(k), -1, dtype=np.int64)
    host_ts = k.ts.copy()
    linked_op = op_of >= 0
    if len(trace.ops):
        host_thread[linked_op] = trace.ops.thread[op_of[linked_op]]
        host_ts[linked_op] = trace.ops.ts[op_of[linked_op]]
    via_launch = ~linked_op & has_launch
    if len(launches):
        host_thread[via_launch] = launches.thread[launch_of[via_launch]]
        host_ts[via_launch] = launches.ts[launch_of[via_launch]]
    host_ops = _host_compute_ops(trace, tree)
    ops = trace.ops
    host = len(host_ops)
    return Rows(
        names=Categorical.concat([k.names, ops.names.take(host_ops)]).compact(),
        kinds=Categorical.concat([k.kinds, Categorical.constant("cpu_op", host)]).compact(),
        device=Categorical.concat([Categorical.constant(Device.GPU.value, len(k)),
                                   Categorical.constant(Device.CPU.value, host)]).compact(),
        ts=np.concatenate([k.ts, ops.ts[host_ops]]),
        time=np.concatenate([k.dur, tree.self_time[host_ops]]),
        duration=np.concatenate([k.dur, (ops.end - ops.ts)[host_ops]]),
        lane=np.concatenate([k.stream, ops.thread[host_ops].astype(np.int64)]),
        op_index=np.concatenate([op_of, host_ops]),
        graph_replayed=np.concatenate([replayed, np.zeros(len(host_ops), dtype=bool)]),
        host_thread=np.concatenate([host_thread, ops.thread[host_ops].astype(np.int64)]),
        host_ts=np.concatenate([host_ts, ops.ts[host_ops]]),
    )


def _launch_index(trace: Trace) -> I64:
    """For every kernel, the runtime launch with the same correlation id (-1 if none)."""
    return _match(trace.launches.correlation, trace.kernels.correlation)


def _match(keys: I64, queries: I64) -> I64:
    """For each query id (>= 0), the index of the key with that id, or -1."""
    if not len(keys):
        return np.full(len(queries), -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    found = (sorted_keys[pos] == queries) & (queries >= 0)
    return np.where(found, order[pos], -1).astype(np.int64)


def _kernel_ops(trace: Trace, launch_of: I64, tree: OpTree) -> I64:
    """The CPU op that launched each kernel: by External id, else by containment of its launch."""
    ops, k, launches = trace.ops, trace.kernels, trace.launches
    ext = np.where(k.external_id >= 0, k.external_id, -1)
    if len(launches):
        launch_ext = np.where(launch_of >= 0, launches.external_id[np.maximum(launch_of, 0)], -1)
        ext = np.where(ext >= 0, ext, launch_ext)
    op_of = _match(ops.external_id, ext)
    missing = (op_of < 0) & (launch_of >= 0)
    if missing.any() and len(ops):
        idx = np.nonzero(missing)[0]
        li = launch_of[idx]
        inner = innermost_enclosing(ops, launches.thread[li].astype(np.int64), launches.ts[li], tree.depth)
        op_of[idx] = inner
    return op_of


def _host_compute_ops(trace: Trace, tree: OpTree) -> I64:
    """Compute ops on a GPU trace that launched no device work: they ran on the CPU."""
    ops, launches = trace.ops, trace.launches
    cand = np.flatnonzero(mask_of(ops.names, lambda nm: bool(HOST_COMPUTE.match(nm))))
    if not len(cand):
        return np.zeros(0, dtype=np.int64)
    launched = np.zeros(len(cand), dtype=bool)
    for thread in np.unique(ops.thread[cand]):
        on_thread = launches.thread == thread
        lts = np.sort(launches.ts[on_thread])
        sel = ops.thread[cand] == thread
        c = cand[sel]
        count = np.searchsorted(lts, ops.end[c], side="right") - np.searchsorted(lts, ops.ts[c], side="left")
        launched[sel] = count > 0
    # only the innermost such op counts (aten::linear > aten::matmul > aten::mm on the CPU: keep mm)
    keep = set(cand[~launched].tolist())
    covered: set[int] = set()
    for i in keep:
        p = int(tree.parent[i])
        while p >= 0:
            if p in keep:
                covered.add(p)
            p = int(tree.parent[p])
    host = np.array(sorted(keep - covered), dtype=np.int64)
    return host[~_superseded(trace, host, cand[launched])]


def _superseded(trace: Trace, host: I64, launching: I64) -> B:
    """Host compute ops that launched nothing because they refused, not because they ran on the CPU:
    a compute op in the same module call (kernelscope's module range) launched device work after it.
    torchao's int8 matmul on CUDA does this at decode: `aten::_int_mm` refuses M <= 16 before any
    kernel, and the library catches that and runs an fp32 matmul on the GPU instead. Without module
    ranges (foreign traces) nothing is superseded: a wider scope (a compiled region, a step) would
    hide real CPU compute."""
    if not len(host) or not len(launching):
        return np.zeros(len(host), dtype=bool)
    ops = trace.ops
    scope_host, scope_launching = (_module_call(trace, idx) for idx in (host, launching))
    latest_start: dict[int, float] = {}
    for key, ts in zip(scope_launching.tolist(), ops.ts[launching].tolist(), strict=True):
        if key >= 0:
            latest_start[key] = max(ts, latest_start.get(key, ts))
    ends = ops.end[host].tolist()
    return np.array([key >= 0 and latest_start.get(key, -np.inf) >= end
                     for key, end in zip(scope_host.tolist(), ends, strict=True)], dtype=bool)


def _module_call(trace: Trace, idx: I64) -> I64:
    """The innermost kernelscope module range around each op (-1: none)."""
    ops, ranges = trace.ops, trace.ranges
    module_ranges = np.flatnonzero(mask_of(ranges.names, lambda nm: nm.startswith(MODULE_PREFIX)))
    if not len(module_ranges):
        return np.full(len(idx), -1, dtype=np.int64)
    return innermost_enclosing(ranges.take(module_ranges), ops.thread[idx].astype(np.int64), ops.ts[idx])


def innermost_enclosing(spans: Ops, thread: I64, ts: F64, depth: I64 | None = None) -> I64:
    """Index of the innermost span (same thread, start <= ts < end) around each point, or -1.

    Spans on one thread must nest properly (as profiler ranges and ops do). Works level by level:
    the spans at one nesting depth are disjoint, so a binary search finds the candidate. `depth`:
    the spans' nesting depths where the caller has them already (op_tree(spans).depth).
    """
    result = np.full(len(ts), -1, dtype=np.int64)
    if not len(spans) or not len(ts):
        return result
    if depth is None:
        depth = op_tree(spans).depth
    for level in range(int(depth.max()) + 1):
        at_level = np.nonzero(depth == level)[0]
        for th in np.unique(spans.thread[at_level]):
            members = at_level[spans.thread[at_level] == th]
            members = members[np.argsort(spans.ts[members], kind="stable")]
            starts, ends = spans.ts[members], spans.end[members]
            on_thread = np.nonzero(thread == th)[0]
            if not len(on_thread):
                continue
            pos = np.searchsorted(starts, ts[on_thread], side="right") - 1
            ok = pos >= 0
            hit = np.zeros(len(on_thread), dtype=bool)
            hit[ok] = ts[on_thread][ok] < ends[pos[ok]]
            result[on_thread[hit]] = members[pos[hit]]
    return result
