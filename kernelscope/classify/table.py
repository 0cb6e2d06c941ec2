"""The classified kernel table: one row per kernel (or CPU op) instance, columnar.

String columns are dictionary-encoded (codes + values), so a million rows with a few thousand
distinct names aggregate with numpy and store compactly in Parquet. The schema is documented in
docs/run-format.md; `SCHEMA_VERSION` changes when a column changes meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from kernelscope.errors import BadInputError
from kernelscope.trace.columns import Categorical

SCHEMA_VERSION = 2  # 2: work_dtype, flops, bytes (tables of version 1 read them as empty)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
NumberArray = F64 | I64 | B


def _string(doc: str, since: int = 1) -> dict[str, Any]:
    """A dictionary-encoded string column's metadata (`since`: the schema version that added it; a table
    written before reads it as empty)."""
    return {"doc": doc, "since": since}


def _number(stored: type[np.generic], doc: str, since: int = 1, nullable: bool = False) -> dict[str, Any]:
    """A numeric column's metadata: held as float64 / int64 / bool, stored in Parquet as `stored`;
    `nullable` float columns hold NaN in memory and null in Parquet."""
    return {"doc": doc, "stored": stored, "since": since, "nullable": nullable}


@dataclass(frozen=True)
class KernelTable:
    """One row per kernel (GPU trace) or CPU op (CPU trace). Each field is a column: its name, type and
    meaning are the schema (docs/run-format.md); STRING_COLUMNS / NUMERIC_COLUMNS are read from here."""

    name: Categorical = field(metadata=_string("kernel or op name, as the trace spells it"))
    kind: Categorical = field(metadata=_string("kernel | memcpy | memset | cpu_op"))
    device: Categorical = field(metadata=_string("gpu | cpu: where the row ran"))
    op: Categorical = field(metadata=_string("the launching CPU op (for CPU rows: the op itself)"))
    wrapper: Categorical = field(metadata=_string("the outermost non-aten op around it: the library call"))
    in_types: Categorical = field(metadata=_string("the op's input dtypes, comma-separated"))
    in_shapes: Categorical = field(metadata=_string("the op's input shapes"))
    phase: Categorical = field(metadata=_string("prefill | decode | mixed | other"))
    module: Categorical = field(metadata=_string("innermost module path ('' if none)"))
    site: Categorical = field(metadata=_string("the quantized (or quantizable) site it belongs to ('' if none)"))
    site_kind: Categorical = field(metadata=_string("linear | attention | op"))
    role: Categorical = field(metadata=_string("what it does (vocabulary.Role)"))
    kernel_class: Categorical = field(metadata=_string("native-quantized | dequant | quantize | dense | other"))
    backend: Categorical = field(metadata=_string("the library behind the kernel, from its rule"))
    format: Categorical = field(metadata=_string("the weight / KV format the rule implies"))
    rule: Categorical = field(metadata=_string("id of the kernel rule that decided role and class"))
    path: Categorical = field(metadata=_string("its site instance's path (vocabulary.SitePath)"))
    path_rule: Categorical = field(metadata=_string("id of the path rule that decided the path"))
    ts_us: F64 = field(metadata=_number(np.float64, "start, in the trace's clock (us)"))
    time_us: F64 = field(metadata=_number(np.float64, "counted time: a kernel's duration, or a CPU op's self time"))
    dur_us: F64 = field(metadata=_number(np.float64, "inclusive duration"))
    lane: I64 = field(metadata=_number(np.int64, "CUDA stream, or host thread index for CPU rows"))
    request: I64 = field(metadata=_number(np.int32, "request index (-1: unknown)"))
    step: I64 = field(metadata=_number(np.int32, "decode step (0-based); -1 for prefill or unknown"))
    op_id: I64 = field(metadata=_number(np.int64, "the launching CPU op's index in the trace (-1: none)"))
    graph_replayed: B = field(metadata=_number(np.bool_, "launched by a CUDA/HIP graph replay"))
    rank: I64 = field(metadata=_number(np.int32, "distributed rank of its trace (0 for one trace)"))
    work_dtype: Categorical = field(metadata=_string("the dtype its op computes in (classify/work.py; '' if none)",
                                                     since=2))
    flops: F64 = field(metadata=_number(np.float64, "operations of its op (2·M·N·K for a GEMM); null where the "
                                                    "trace does not give them, and on an op's other kernels",
                                        since=2, nullable=True))
    bytes: F64 = field(metadata=_number(np.float64, "bytes its op moves, quantized operands as stored; null "
                                                    "where unknown", since=2, nullable=True))

    def __len__(self) -> int:
        return len(self.time_us)

    def category(self, column: str) -> Categorical:
        """A string column by name (for views that let the user pick the column)."""
        if column not in STRING_COLUMNS:
            raise KeyError(column)
        value: Categorical = getattr(self, column)
        return value

    def number(self, column: str) -> NumberArray:
        if column not in NUMERIC_COLUMNS:
            raise KeyError(column)
        value: NumberArray = getattr(self, column)
        return value

    def take(self, index: npt.NDArray[np.int64]) -> KernelTable:
        return _assemble({k: self.category(k).take(index) for k in STRING_COLUMNS},
                         {k: self.number(k)[index] for k in NUMERIC_COLUMNS})

    def where(self, mask: npt.NDArray[np.bool_]) -> KernelTable:
        return self.take(np.nonzero(mask)[0])

    def row(self, i: int) -> dict[str, object]:
        out: dict[str, object] = {k: self.category(k)[i] for k in STRING_COLUMNS}
        for k in NUMERIC_COLUMNS:
            out[k] = self.number(k)[i].item()
        return out

    @staticmethod
    def build(strings: Mapping[str, Sequence[str] | Categorical],
              numbers: Mapping[str, Sequence[float] | npt.NDArray[np.generic]]) -> KernelTable:
        missing = {k for k in (set(STRING_COLUMNS) - set(strings)) | (set(NUMERIC_COLUMNS) - set(numbers))
                   if SINCE[k] == 1}
        if missing:
            raise ValueError(f"kernel table is missing columns: {sorted(missing)}")
        n = len(numbers["time_us"])
        cats = {k: (v if isinstance(v, Categorical) else Categorical.encode(v)) if (v := strings.get(k)) is not None
                else Categorical.constant("", n) for k in STRING_COLUMNS}
        held = {k: _held(numbers[k], k) if k in numbers else _held(np.full(n, np.nan) if k in NULLABLE
                                                                   else np.zeros(n), k) for k in NUMERIC_COLUMNS}
        return _assemble(cats, held)

    @staticmethod
    def concat(tables: Sequence[KernelTable]) -> KernelTable:
        """Rows of several tables, in order (string dictionaries merged)."""
        if len(tables) == 1:
            return tables[0]
        return _assemble({k: Categorical.concat([t.category(k) for t in tables]) for k in STRING_COLUMNS},
                         {k: _held(np.concatenate([t.number(k) for t in tables]), k) for k in NUMERIC_COLUMNS})

    def to_arrow(self) -> pa.Table:
        arrays: list[pa.Array] = []
        for k in STRING_COLUMNS:
            cat = self.category(k)
            arrays.append(pa.DictionaryArray.from_arrays(arrow_numbers(cat.codes.astype(np.int32, copy=False)),
                                                         arrow_strings(cat.values)))
        for k, stored in NUMERIC_COLUMNS.items():
            values = self.number(k).astype(stored, copy=False)
            arrays.append(arrow_nullable(values) if k in NULLABLE else arrow_numbers(values))
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
        present = set(table.column_names)
        missing = {k for k in (*STRING_COLUMNS, *NUMERIC_COLUMNS) if k not in present and SINCE[k] == 1}
        if missing:
            raise BadInputError(f"{source}: kernel table lacks columns {sorted(missing)}")
        n = table.num_rows
        strings: dict[str, Categorical] = {}
        for k in STRING_COLUMNS:
            if k not in present:  # a column added after this table was written
                strings[k] = Categorical.constant("", n)
                continue
            col = table.column(k).combine_chunks()
            if not pa.types.is_dictionary(col.type):
                col = col.dictionary_encode()
            codes = numpy_numbers(col.indices, np.int32).astype(np.int32, copy=False)
            strings[k] = Categorical(codes, python_strings(col.dictionary))
        numbers = {k: _held(_read_number(table, k, stored, n), k) for k, stored in NUMERIC_COLUMNS.items()}
        return _assemble(strings, numbers)


STRING_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(KernelTable) if "stored" not in f.metadata)
NUMERIC_COLUMNS: dict[str, type[np.generic]] = {f.name: f.metadata["stored"] for f in fields(KernelTable)
                                                if "stored" in f.metadata}
NULLABLE = frozenset(f.name for f in fields(KernelTable) if f.metadata.get("nullable"))
SINCE: dict[str, int] = {f.name: f.metadata["since"] for f in fields(KernelTable)}


def _read_number(table: pa.Table, column: str, stored: type, n: int) -> npt.NDArray[np.generic]:
    if column not in table.column_names:
        return np.full(n, np.nan) if column in NULLABLE else np.zeros(n, dtype=stored)
    arr = table.column(column).combine_chunks()
    if column in NULLABLE and arr.null_count:
        valid = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
        valid = valid[arr.offset:arr.offset + n].astype(bool)
        filled = arr.buffers()[1]
        values = np.frombuffer(filled, dtype=np.float64, count=n, offset=arr.offset * 8).copy()
        values[~valid] = np.nan
        return values
    return numpy_numbers(arr, stored)


def _assemble(strings: Mapping[str, Categorical], numbers: Mapping[str, NumberArray]) -> KernelTable:
    """The table from its columns by name (the schema's every column; mypy cannot check ** per field)."""
    columns: dict[str, Any] = {**strings, **numbers}
    return KernelTable(**columns)


def _held(values: Sequence[float] | npt.NDArray[np.generic], column: str) -> NumberArray:
    """A numeric column as held in memory: float64, int64 or bool, whatever its stored width."""
    stored = NUMERIC_COLUMNS[column]
    held = np.float64 if stored is np.float64 else (np.bool_ if stored is np.bool_ else np.int64)
    array: NumberArray = np.asarray(values, dtype=held)
    return array


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


def arrow_nullable(values: npt.NDArray[np.float64]) -> pa.Array:
    """A float column whose NaN are nulls (what is not known is null in Parquet, not a number)."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    valid = ~np.isnan(arr)
    if valid.all():
        return arrow_numbers(arr)
    bits = np.packbits(valid, bitorder="little")
    return pa.Array.from_buffers(pa.float64(), len(arr), [pa.py_buffer(bits), pa.py_buffer(np.where(valid, arr, 0.0))],
                                 null_count=int((~valid).sum()))


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
