"""The classified kernel table: one row per kernel (or CPU op) instance, columnar.

String columns are dictionary-encoded (codes + values), so a million rows with a few thousand
distinct names aggregate with numpy and store compactly in Parquet. The schema is documented in
docs/run-format.md; `SCHEMA_VERSION` changes when a column changes meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from kernelscope.columns import Categorical
from kernelscope.errors import BadInputError

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
        arrays: dict[str, pa.Array] = {}
        for k in STRING_COLUMNS:
            cat = self.strings[k]
            arrays[k] = pa.DictionaryArray.from_arrays(pa.array(cat.codes, pa.int32()),
                                                       pa.array(cat.values, pa.string()))
        for k, dtype in NUMERIC_COLUMNS.items():
            arrays[k] = pa.array(self.numbers[k].astype(dtype, copy=False))
        meta = {b"kernelscope.schema_version": str(SCHEMA_VERSION).encode()}
        return pa.table(arrays).replace_schema_metadata(meta)

    def write_parquet(self, path: FsPath) -> None:
        pq.write_table(self.to_arrow(), path, compression="lz4")

    @staticmethod
    def read_parquet(path: FsPath) -> KernelTable:
        try:
            table = pq.read_table(path)
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
            codes = col.indices.to_numpy(zero_copy_only=False).astype(np.int32)
            values = tuple(str(v) for v in col.dictionary.to_pylist())
            strings[k] = Categorical(codes, values)
        numbers = {k: table.column(k).to_numpy().astype(dtype) for k, dtype in NUMERIC_COLUMNS.items()}
        return KernelTable(strings, numbers)
