"""Stage 1, the trace: a torch.profiler Chrome trace read into columns.

    reader.py    load_trace / parse_trace: the entry points
    files.py     the file's bytes, block by block, gunzipped
    stream.py    the traceEvents array, cut into pieces between events
    decode.py    pieces -> tagged event structs -> numpy columns and dictionary codes
    split.py     a large trace read by two processes, a half each
    events.py    the msgspec structs events decode into, and the kept categories
    columnar.py  the model: Trace = Ops + ranges + Launches + Kernels + TraceMeta
    columns.py   dictionary-encoded columns (Categorical), group ids
    dtypes.py    torch.profiler's dtype strings and shapes, parsed
"""

from kernelscope.trace.columnar import Kernels, Launches, Ops, Trace, TraceMeta
from kernelscope.trace.files import read_trace_bytes
from kernelscope.trace.reader import load_trace, parse_trace

__all__ = ["Kernels", "Launches", "Ops", "Trace", "TraceMeta", "load_trace", "parse_trace", "read_trace_bytes"]
