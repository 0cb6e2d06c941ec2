"""Load a torch.profiler Chrome trace (`.json` / `.json.gz`) into the columnar model (columnar.py).

The file is read a block at a time (files.py) and its traceEvents array decoded piece by piece
(stream.py): each event into a small typed struct holding only the fields classification uses.
Each piece is turned into numpy columns and dictionary codes at once and freed (decode.py), so peak
memory is a block, a piece and the kept columns, well under the size of the file. Large traces are
read by two processes, a half each (split.py), with the same result.
"""

from __future__ import annotations

import os
from pathlib import Path

from kernelscope.trace.columnar import Trace
from kernelscope.trace.decode import decode_trace
from kernelscope.trace.files import BLOCK_SIZE, file_blocks
from kernelscope.trace.split import cores, fork_is_safe, split_parse

SPLIT_MIN_BYTES = 48 << 20  # (decompressed) size from which two processes read a trace, a half each
ONE_PROCESS_ENV = "KERNELSCOPE_ONE_PROCESS"  # set to 1: never split


def load_trace(path: Path, block_size: int = BLOCK_SIZE, split: bool | None = None) -> Trace:
    """Read a trace file block by block: memory holds a block and the kept columns, not the file.

    split: None (default) splits traces of SPLIT_MIN_BYTES and more unless KERNELSCOPE_ONE_PROCESS=1;
    True splits any trace; False never does. Splitting needs a second core and fork: a child process
    decodes the second half of the events while this one decodes the first. The result is the same."""
    if split is None:  # worth it where the file is large and a second core is there to use
        split = os.environ.get(ONE_PROCESS_ENV, "") in ("", "0") and cores() >= 2
        min_bytes = SPLIT_MIN_BYTES
    else:
        min_bytes = 0
    if split and fork_is_safe():
        trace = split_parse(path, block_size, min_bytes)
        if trace is not None:
            return trace
    return decode_trace(lambda: file_blocks(path, block_size), str(path))


def parse_trace(data: bytes, source_name: str = "<bytes>", block_size: int = BLOCK_SIZE) -> Trace:
    view = memoryview(data)
    return decode_trace(lambda: (view[i:i + block_size] for i in range(0, len(view), block_size)), source_name)
