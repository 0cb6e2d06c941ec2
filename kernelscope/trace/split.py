"""Read a large trace with two processes, a half each: the document's big array split in two at a byte offset.

Both halves are found from the same rule: the *cut* is the first place at or after byte `mid` where
one object ends and the next begins (`}`, a comma, `{`, with a little whitespace between). Two
readers that scan the same bytes from `mid` on find the same cut without talking to each other.

`until_cut` yields the document from its start up to the cut's `}` and then a closing `]`;
`from_cut` yields an opening (`[`, or `{"key":[`) and then the document from the cut's `{` on.
A cut that is not between two items of the array (it fell inside a string or a nested value) is not
detected here: decoding the first half then fails (the half ends unclosed), and the caller reads
the document whole instead.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from itertools import chain
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from kernelscope.errors import BadInputError
from kernelscope.signals import die_with_parent
from kernelscope.trace.columnar import Trace
from kernelscope.trace.decode import ColumnsHalf, PieceColumns, PieceDecoder, decode_envelope, gc_paused, trace_meta
from kernelscope.trace.files import decompressed_size, file_blocks, starts_with_bracket
from kernelscope.trace.stream import ArrayStream, Cut, Envelope

_SPACE = rb"[ \t\r\n]{0,32}"
_CUT = re.compile(rb"\}" + _SPACE + rb"," + _SPACE + rb"\{")
_LONGEST = 1 + 32 + 1 + 32 + 1  # bytes in the longest cut: a match is complete once found
SCAN_LIMIT = 8 << 20  # a cut must start within this many bytes of the split point, else there is none


class NoCut(Exception):
    """No cut after the split point: the document is read whole."""


def scan_cut(chunks: Iterable[bytes | memoryview], base: int) -> tuple[Cut, bytearray, Iterator[bytes | memoryview]]:
    """Read chunks (the document from offset `base` on) up to the first cut: the cut in document
    offsets, the bytes read (from `base`), and the chunks not read yet. Only cuts that start within
    SCAN_LIMIT bytes count, however the bytes are chunked, so every reader agrees and none holds more."""
    rest = iter(chunks)
    buf = bytearray()
    end = SCAN_LIMIT + _LONGEST
    for chunk in rest:
        searched = max(0, len(buf) - _LONGEST)
        buf += chunk
        found = _CUT.search(buf, searched, min(len(buf), end))
        if found:
            return Cut(base + found.start(), base + found.end() - 1), buf, rest
        if len(buf) >= end:
            break
    raise NoCut


def until_cut(blocks: Iterable[bytes | memoryview], mid: int, closing: bytes, cuts: list[Cut]) -> Iterator[bytes]:
    """The document up to and including the `}` of the first cut at or after `mid`, then `closing`.
    The cut is appended to `cuts`."""
    pos = 0
    rest = iter(blocks)
    for block in rest:
        if pos + len(block) <= mid:
            pos += len(block)
            yield bytes(block)
            continue
        keep = mid - pos
        if keep > 0:
            yield bytes(block[:keep])
        cut, buf, _ = scan_cut(chain([block[max(keep, 0):]], rest), mid)
        cuts.append(cut)
        yield bytes(buf[:cut.close + 1 - mid])
        yield closing
        return
    raise NoCut


def from_cut(blocks_from_mid: Iterable[bytes | memoryview], mid: int, opening: bytes,
             cuts: list[Cut]) -> Iterator[bytes]:
    """`opening`, then the document from the `{` of the first cut at or after `mid` on. The blocks
    start at byte `mid` of the document. The cut is appended to `cuts`."""
    cut, buf, rest = scan_cut(blocks_from_mid, mid)
    cuts.append(cut)
    yield opening + bytes(buf[cut.open - mid:])
    for block in rest:
        yield bytes(block)


# ---------------------------------------------------------------------------- two processes, a half each


_CHILD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def split_parse(path: Path, block_size: int, split_min_bytes: int) -> Trace | None:
    """The trace read by two processes, or None where that is not possible or not worth it, or
    anything went wrong (the caller then reads it alone, and reports errors exactly as it would)."""
    size = decompressed_size(path)
    if size < max(split_min_bytes, 2 * block_size):
        return None
    mid = size // 2
    try:
        opening = b"[" if starts_with_bracket(path) else b'{"traceEvents":['
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_second_half, args=(path, block_size, mid, opening, send, receive),
                                daemon=True)
        # the child is born with these signals blocked: one sent before it has set its own handlers would
        # otherwise run the parent's (raise Terminated) inside the fork, and unwind the parent's stack there
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _CHILD_SIGNALS)
        try:
            child.start()  # refused in a daemonic process (one of a multiprocessing pool)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    except (BadInputError, OSError, AssertionError):
        return None
    send.close()
    try:
        with gc_paused():
            return _first_half(path, block_size, mid, receive, child)
    except Exception:  # noqa: BLE001 - whatever it was, the caller reads the file alone and words it
        return None
    finally:
        receive.close()
        if child.is_alive():  # done sending (or not needed any more): no reason to wait for its exit
            child.terminate()
        child.join()


def _first_half(path: Path, block_size: int, mid: int, receive: Connection, child: BaseProcess) -> Trace | None:
    started = time.monotonic()
    cuts: list[Cut] = []
    columns = PieceColumns()
    stream = ArrayStream(until_cut(file_blocks(path, block_size), mid, b"]", cuts), "traceEvents", PieceDecoder())
    for events in stream:
        columns.add(events)
        del events
    # the array must end at the "]" appended after the cut: one that ended earlier was not split
    if stream.envelope is None or not stream.envelope.found or stream.envelope.tail:
        return None
    # the child's half is about as long as this one: a child far slower than that is stuck
    patience = 5.0 + 4 * (time.monotonic() - started)
    if not wait([receive, child.sentinel], timeout=patience) or not receive.poll():
        return None
    payload = receive.recv_bytes()
    if not payload:
        return None
    half: ColumnsHalf = pickle.loads(payload)
    del payload
    if half.cut != cuts[0]:
        return None
    columns.merge(half)
    envelope = Envelope(stream.envelope.head, half.tail, found=True, bare=stream.envelope.bare)
    return columns.trace(trace_meta(decode_envelope(envelope, str(path)), str(path)))


def _second_half(path: Path, block_size: int, mid: int, opening: bytes, send: Connection,
                 receive: Connection) -> None:
    """In the child: decode the events after the cut; send them, or b"" on any failure. Ctrl-C is
    the parent's to handle (it stops the child); nothing the child meets is printed. The child dies
    with its parent (killed by SIGKILL or not) and holds no read end of its own pipe, so it can never
    block forever writing to a pipe nobody reads."""
    die_with_parent()
    receive.close()
    for sig in _CHILD_SIGNALS:
        signal.signal(sig, signal.SIG_IGN if sig == signal.SIGINT else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _CHILD_SIGNALS)  # blocked since the fork: now the defaults apply
    try:
        _send_second_half(path, block_size, mid, opening, send)
    except BaseException:  # noqa: BLE001 - a closed pipe or anything else: the parent reads the file alone
        pass
    os._exit(0)


def _send_second_half(path: Path, block_size: int, mid: int, opening: bytes, send: Connection) -> None:
    payload = b""
    try:
        cuts: list[Cut] = []
        columns = PieceColumns()
        stream = ArrayStream(from_cut(file_blocks(path, block_size, mid), mid, opening, cuts), "traceEvents",
                             PieceDecoder())
        with gc_paused():
            for events in stream:
                columns.add(events)
                del events
        if stream.envelope is not None and stream.envelope.found:
            payload = pickle.dumps(columns.half(cuts[0], stream.envelope.tail), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - whatever it was, the parent reads the file alone and words it
        payload = b""
    send.send_bytes(payload)
    send.close()


def fork_is_safe() -> bool:
    """Linux (fork shares the loaded modules; elsewhere it is unsafe or missing) and no other Python
    threads (forking a threaded process can deadlock the child). The capture process, which holds
    CUDA and native thread pools, reads its traces in one process (split=False)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
