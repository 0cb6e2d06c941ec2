"""The classified kernel table: one row per kernel (or CPU op) instance, columnar.

String columns are dictionary-encoded (codes + values), so a million rows with a few thousand
distinct names aggregate with numpy and store compactly in Parquet. The schema is documented in
docs/run-format.md; `SCHEMA_VERSION` changes when a column changes meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from kernelscope.errors import BadInputError
from kernelscope.trace.columns import Categorical

SCHEMA_VERSION = 1

STRING_COLUMNS: tuple[str, ...] = (
    "name", "kind", "device", "op", "wrapper", "in_types", "in_shapes", "phase", "module", "site",
    "site_kind", "role", "kernel_class", "backend", "format", "rule", "path", "path_rule",
)
NUMERIC_COLUMNS: dict[str, type] = {
    "ts_us": np.float64,  # start, in the trace's clock (us)
    "time_us": np.float64,  # counted time: a kernel's duration, or a CPU op's self time
    "dur_us": np.float64,  # inclusive duration
    "lane": np.int64,  # CUDA stream, or host thread index for CPU rows
    "request": np.int32,
    "step": np.int32,  # decode step (0-based); -1 for prefill or unknown
    "op_id": np.int64,  # index of the launching CPU op in the trace (-1: none, e.g. graph replay)
    "graph_replayed": np.bool_,
    "rank": np.int32,  # distributed rank of the trace the row came from (0 for a single trace)
}


@dataclass(frozen=True)
class KernelTable:
    strings: dict[str, Categorical]
    numbers: dict[str, npt.NDArray[np.generic]]

    def __len__(self) -> int:
        return len(self.numbers["time_us"])

    def s(self, column: str) -> Categorical:
        return self.strings[column]

    def f(self, column: str) -> npt.NDArray[np.float64]:
        return self.numbers[column].astype(np.float64, copy=False)

    def i(self, column: str) -> npt.NDArray[np.int64]:
        return self.numbers[column].astype(np.int64, copy=False)

    def take(self, index: npt.NDArray[np.int64]) -> KernelTable:
        return KernelTable(
            {k: v.take(index) for k, v in self.strings.items()},
            {k: v[index] for k, v in self.numbers.items()},
        )

    def where(self, mask: npt.NDArray[np.bool_]) -> KernelTable:
        return self.take(np.nonzero(mask)[0])

    def row(self, i: int) -> dict[str, object]:
        out: dict[str, object] = {k: v[i] for k, v in self.strings.items()}
        for k, arr in self.numbers.items():
            out[k] = arr[i].item()
        return out

    @staticmethod
    def build(strings: dict[str, Sequence[str] | Categorical],
              numbers: dict[str, Sequence[float] | npt.NDArray[np.generic]]) -> KernelTable:
        missing = (set(STRING_COLUMNS) - set(strings)) | (set(NUMERIC_COLUMNS) - set(numbers))
        if missing:
            raise ValueError(f"kernel table is missing columns: {sorted(missing)}")
        return KernelTable(
            {k: v if isinstance(v, Categorical) else Categorical.encode(v)
             for k, v in ((k, strings[k]) for k in STRING_COLUMNS)},
            {k: np.asarray(numbers[k], dtype=NUMERIC_COLUMNS[k]) for k in NUMERIC_COLUMNS},
        )

    @staticmethod
    def concat(tables: Sequence[KernelTable]) -> KernelTable:
        """Rows of several tables, in order (string dictionaries merged)."""
        if len(tables) == 1:
            return tables[0]
        strings = {k: Categorical.concat([t.strings[k] for t in tables]) for k in STRING_COLUMNS}
        numbers = {k: np.concatenate([t.numbers[k] for t in tables]) for k in NUMERIC_COLUMNS}
        return KernelTable(strings, numbers)

    def to_arrow(self) -> pa.Table:
        arrays: list[pa.Array] = []
        for k in STRING_COLUMNS:
            cat = self.strings[k]
            arrays.append(pa.DictionaryArray.from_arrays(arrow_numbers(cat.codes.astype(np.int32, copy=False)),
                                                         arrow_strings(cat.values)))
        for k, dtype in NUMERIC_COLUMNS.items():
            arrays.append(arrow_numbers(self.numbers[k].astype(dtype, copy=False)))
        table = pa.Table.from_arrays(arrays, names=[*STRING_COLUMNS, *NUMERIC_COLUMNS])
        return table.replace_schema_metadata({b"kernelscope.schema_version": str(SCHEMA_VERSION).encode()})

    def write_parquet(self, path: Path) -> None:
        # zstd: half lz4's size, and no codec start-up (lz4's first use in a process costs ~0.1 s)
        pq.write_table(self.to_arrow(), path, compression="zstd")

    @staticmethod
    def read_parquet(path: Path) -> KernelTable:
        try:
            table = pq.ParquetFile(path).read()  # (pq.read_table would import pandas: ~0.4 s)
        except (OSError, pa.ArrowInvalid) as exc:
            raise BadInputError(f"cannot read kernel table {path}: {exc}") from None
        return KernelTable.from_arrow(table, str(path))

    @staticmethod
    def from_arrow(table: pa.Table, source: str = "<table>") -> KernelTable:
        missing = (set(STRING_COLUMNS) | set(NUMERIC_COLUMNS)) - set(table.column_names)
        if missing:
            raise BadInputError(f"{source}: kernel table lacks columns {sorted(missing)}")
        strings: dict[str, Categorical] = {}
        for k in STRING_COLUMNS:
            col = table.column(k).combine_chunks()
            if not pa.types.is_dictionary(col.type):
                col = col.dictionary_encode()
            codes = numpy_numbers(col.indices, np.int32).astype(np.int32, copy=False)
            strings[k] = Categorical(codes, python_strings(col.dictionary))
        numbers = {k: numpy_numbers(table.column(k).combine_chunks(), dtype) for k, dtype in NUMERIC_COLUMNS.items()}
        return KernelTable(strings, numbers)


# Arrow <-> numpy through the buffers. pyarrow's own converters (pa.array, Array.to_numpy,
# pq.read_table) import pandas wherever it is installed, which costs ~0.4 s per process: more than
# reading a million-row table.

_ARROW_TYPES = {np.dtype(np.int32): pa.int32(), np.dtype(np.int64): pa.int64(), np.dtype(np.float64): pa.float64()}


def arrow_numbers(values: npt.NDArray[np.generic]) -> pa.Array:
    arr = np.ascontiguousarray(values)
    if arr.dtype == np.bool_:
        bits = np.packbits(arr, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(arr), [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(_ARROW_TYPES[arr.dtype], len(arr), [None, pa.py_buffer(arr)])


def arrow_strings(values: Sequence[str]) -> pa.Array:
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    if offsets[-1] < 2**31:  # plain utf8 (int32 offsets), what every reader expects of a dictionary
        return pa.Array.from_buffers(pa.string(), len(encoded),
                                     [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))])
    return pa.Array.from_buffers(pa.large_string(), len(encoded),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def numpy_numbers(arr: pa.Array, dtype: type) -> npt.NDArray[np.generic]:
    """A primitive Arrow array without nulls as a numpy array of `dtype` (a copy)."""
    if arr.null_count:
        raise BadInputError("kernel table: unexpected missing values")
    n, data = len(arr), arr.buffers()[1]
    if pa.types.is_boolean(arr.type):
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        return bits[arr.offset:arr.offset + n].astype(np.bool_)
    source = np.dtype(arr.type.to_pandas_dtype()) if not pa.types.is_dictionary(arr.type) else np.int32
    raw = np.frombuffer(data, dtype=source, count=n, offset=arr.offset * np.dtype(source).itemsize) if n else \
        np.zeros(0, dtype=source)
    return raw.astype(dtype)


def python_strings(arr: pa.Array) -> tuple[str, ...]:
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return ()
    offset_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=offset_type, count=n + 1,
                            offset=arr.offset * np.dtype(offset_type).itemsize).tolist()
    data = arr.buffers()[2].to_pybytes() if arr.buffers()[2] is not None else b""
    return tuple(data[offsets[i]:offsets[i + 1]].decode() for i in range(n))
