"""Dictionary-encoded string columns: the representation every stage of the pipeline passes on.

A million rows with a few thousand distinct names cost a million int32 codes and a few thousand
strings; grouping, filtering and counting are numpy operations on the codes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T", bound=Hashable)
I32 = npt.NDArray[np.int32]


class Codes(dict[T, int]):
    """A growing dictionary encoding: a key not seen before gets the next code. Looking keys up
    through `map(codes.__getitem__, keys)` keeps the whole loop in C."""

    def __missing__(self, key: T) -> int:
        code = self[key] = len(self)
        return code


@dataclass(frozen=True)
class Encoded(Generic[T]):
    """Codes into a tuple of distinct values (any hashable type: str, bytes, tuples)."""

    codes: I32
    values: tuple[T, ...]

    @staticmethod
    def of(items: Sequence[T]) -> Encoded[T]:
        """Codes in order of first appearance (a dict: pyarrow's encoder would be faster, but building
        an Arrow array from Python objects imports pandas where it is installed, which costs more)."""
        index: Codes[T] = Codes()
        codes = np.fromiter(map(index.__getitem__, items), dtype=np.int32, count=len(items))
        return Encoded(codes, tuple(index))

    def __getitem__(self, i: int) -> T:
        return self.values[int(self.codes[i])]

    def take(self, index: npt.NDArray[np.int64]) -> Encoded[T]:
        return Encoded(self.codes[index], self.values)


def group_ids(columns: Sequence[npt.NDArray[np.integer]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows grouped by equal values in all columns: a group id per row (0..k-1) and the first row of
    each group. Columns are folded in one at a time, so every key stays below n**2 (1-D uniques only)."""
    n = len(columns[0]) if columns else 0
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        c = np.asarray(col, dtype=np.int64)
        c = c - c.min() if n else c
        combined = key * (int(c.max()) + 1 if n else 1) + c
        _, inverse = np.unique(combined, return_inverse=True)
        key = inverse.reshape(-1).astype(np.int64)
    _, first = np.unique(key, return_index=True)
    return key, first.astype(np.int64)


def mask_of(cat: Categorical, predicate: Callable[[str], bool]) -> npt.NDArray[np.bool_]:
    """Rows whose value satisfies predicate, evaluated once per distinct value."""
    hits = np.array([predicate(v) for v in cat.values], dtype=bool)
    return hits[cat.codes] if len(cat.codes) else np.zeros(0, dtype=bool)


@dataclass(frozen=True)
class Categorical:
    codes: I32
    values: tuple[str, ...]

    @staticmethod
    def encode(items: Sequence[str]) -> Categorical:
        e = Encoded.of(items)
        return Categorical(e.codes, e.values)

    @staticmethod
    def from_codes(codes: npt.NDArray[np.integer], values: Sequence[str], missing: str = "") -> Categorical:
        """Codes where -1 means `missing` (appended to the values when used)."""
        codes = np.asarray(codes)
        if (codes < 0).any():
            values = (*values, missing)
            codes = np.where(codes < 0, len(values) - 1, codes)
        return Categorical(codes.astype(np.int32, copy=False), tuple(values))

    @staticmethod
    def constant(value: str, n: int) -> Categorical:
        return Categorical(np.zeros(n, dtype=np.int32), (value,))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> str:
        return self.values[int(self.codes[i])]

    def code(self, value: str) -> int:
        try:
            return self.values.index(value)
        except ValueError:
            return -1

    def mask(self, value: str) -> npt.NDArray[np.bool_]:
        c = self.code(value)
        return self.codes == c if c >= 0 else np.zeros(len(self.codes), dtype=bool)

    def isin(self, values: Sequence[str]) -> npt.NDArray[np.bool_]:
        codes = [c for c in (self.code(v) for v in values) if c >= 0]
        return np.isin(self.codes, np.array(codes, dtype=np.int32))

    def take(self, index: npt.NDArray[np.int64]) -> Categorical:
        return Categorical(self.codes[index], self.values)

    def compact(self) -> Categorical:
        """Only the values in use, in order of first appearance (as `encode` of the rows would give)."""
        if not len(self.codes):
            return Categorical(self.codes.astype(np.int32), ())
        used, first = np.unique(self.codes, return_index=True)
        order = used[np.argsort(first, kind="stable")]
        remap = np.zeros(len(self.values), dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        return Categorical(remap[self.codes], tuple(self.values[c] for c in order.tolist()))

    def map(self, mapping: Sequence[str]) -> Categorical:
        """A new column whose value for code c is mapping[c] (one entry per current value)."""
        remapped = Categorical.encode(list(mapping))
        return Categorical(remapped.codes[self.codes] if len(self.codes) else self.codes, remapped.values)

    def to_list(self) -> list[str]:
        vals = self.values
        return [vals[c] for c in self.codes.tolist()]

    @staticmethod
    def concat(parts: Sequence[Categorical]) -> Categorical:
        index: dict[str, int] = {}
        pieces = []
        for cat in parts:
            remap = np.fromiter((index.setdefault(v, len(index)) for v in cat.values), dtype=np.int32,
                                count=len(cat.values))
            pieces.append(remap[cat.codes] if len(cat.codes) else cat.codes.astype(np.int32))
        codes = np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, dtype=np.int32)
        return Categorical(codes, tuple(index))
