"""Decode the one large array of a JSON document piece by piece, in bounded memory.

A Chrome trace is `{..., "traceEvents": [{...}, {...}, ...], ...}`: nearly all of its bytes are in
one array of objects. `ArrayStream` reads the document block by block, cuts the array between two
of its objects (a `}`, a comma and a `{`), decodes each piece with a typed msgspec decoder and hands
the items on; what surrounds the array (the head up to its `[` and the tail after its `]`) is kept
for an ordinary decode. Peak memory is a block or two plus what the consumer keeps, not the file
(items holding msgspec.Raw values keep their piece's bytes alive, so consumers copy those out).

A cut is checked, never trusted: one that falls inside a string or a nested value leaves the piece
unclosed, msgspec reports it truncated, and the next cut is taken further on. A piece whose array
ends early (msgspec reports trailing characters) marks the end of the array.

Errors are msgspec's own (DecodeError, ValidationError) with byte offsets counted from the start of
the document, so the caller maps them to messages exactly as for a one-shot decode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")

_WS = rb"[ \t\r\n]*"
_FIRST = re.compile(_WS)
_AT_BYTE = re.compile(r"byte (\d+)")
_AT_ITEM = re.compile(r"\$\[(\d+)\]")
_TRUNCATED = "Input data was truncated"
_TRAILING = "trailing characters"
_OPEN, _CLOSE = ord("["), ord("]")
_COMMA, _CLOSE_BRACE = ord(","), ord("}")
_BLANKS = frozenset(b" \t\r\n")


@dataclass(frozen=True)
class Envelope:
    """The document around the array: `head + b"[]" + tail` is the document without its items."""

    head: bytes  # up to and excluding the array's "["; b"" when the document is the array itself
    tail: bytes  # after the array's "]"
    found: bool  # False: no such array was found; head is the whole document
    bare: bool = False  # the document is the array itself


class NestedKeyError(Exception):
    """The key was found, but not at the top level of the document (the caller decodes it whole)."""


class ArrayStream(Generic[T]):
    """Iterate over lists of decoded items; afterwards `envelope` holds the rest of the document.
    """

    def __init__(self, blocks: Iterable[bytes | memoryview], key: str, decode: Callable[[bytearray], list[T]]) -> None:
        self._blocks = iter(blocks)
        self._key = key
        self._open_key = re.compile(re.escape(msgspec.json.encode(key)) + _WS + rb":" + _WS + rb"\[")
        self._decode_items = decode  # one piece (a JSON array) into items; raises msgspec's errors
        self._offset = 0  # document offset of buf[0]
        self._items_before = 0  # items in the pieces already decoded
        self._path = "$"  # how msgspec's error paths name the array: "$" or "$.key"
        self._bare = False
        self.envelope: Envelope | None = None

    def __iter__(self) -> Iterator[list[T]]:
        buf = bytearray()
        start, bare = self._find_array(buf)
        if start < 0:
            self.envelope = Envelope(bytes(buf), b"", found=False)
            return
        head = bytes(buf[:start])
        self._bare = bare
        self._path = "$" if bare else f"$.{self._key}"
        del buf[:start]
        self._offset = start
        search_from = 1  # cuts before this were tried and fell inside a value
        for block in self._blocks:
            buf += block
            cut = _last_cut(buf, search_from)
            if cut is None:
                continue
            items, array_end = self._decode_piece(buf, cut.close + 1)
            if items is None and array_end < 0:  # the cut fell inside a string or a nested value
                search_from = cut.open + 1
                continue
            if items:
                self._items_before += len(items)
                yield items
            del items
            if array_end >= 0:  # the array ended inside this piece: the rest is the tail
                self.envelope = Envelope(head, bytes(buf[array_end + 1:]) + b"".join(self._blocks), True, bare)
                return
            self._offset += cut.open - 1
            del buf[:cut.open - 1]  # keep one separator byte: it becomes the next piece's "["
            search_from = 1
        items, array_end = self._decode_rest(buf)
        if items:
            yield items
        del items
        self.envelope = Envelope(head, bytes(buf[array_end + 1:]), True, bare)

    def _find_array(self, buf: bytearray) -> tuple[int, bool]:
        """Read until the array's "[" is in buf: its index, and whether the document is the array."""
        scanned = 0
        for block in self._blocks:
            buf += block
            first = _FIRST.match(buf)
            i = first.end() if first else 0
            if i >= len(buf):
                continue
            if buf[i] == _OPEN:
                return i, True
            if buf[i] != ord("{"):
                break
            found = self._open_key.search(buf, max(i, scanned - 64))
            if found:
                return found.end() - 1, False
            scanned = len(buf)
        buf += b"".join(self._blocks)
        return -1, False

    def _decode_piece(self, buf: bytearray, close: int) -> tuple[list[T] | None, int]:
        """Decode buf[0:close] as an array (buf[0] and buf[close] are overwritten with its brackets).
        Returns (items, -1); (None, -1) for a cut that fell inside a value; or (items, i) when the
        array already ended at buf[i]."""
        saved = buf[close]
        buf[0], buf[close] = _OPEN, _CLOSE
        try:
            return self._decode(buf, close + 1), -1
        except msgspec.DecodeError as exc:
            buf[close] = saved
            if str(exc) == _TRUNCATED:
                return None, -1
            if _TRAILING not in str(exc):
                raise self._relocated(exc) from None
            return self._decode_to_array_end(buf, exc)

    def _decode_rest(self, buf: bytearray) -> tuple[list[T], int]:
        """The last piece: the rest of the array, then the tail of the document."""
        buf[0] = _OPEN
        try:
            return self._decode(buf, len(buf)), len(buf) - 1
        except msgspec.DecodeError as exc:
            if _TRAILING not in str(exc):
                raise self._relocated(exc) from None
            return self._decode_to_array_end(buf, exc)

    def _decode_to_array_end(self, buf: bytearray, exc: msgspec.DecodeError) -> tuple[list[T], int]:
        """msgspec stopped at characters after the array: the array's "]" is the last one before them.
        (A document that is the array itself has nothing after it: that is an error.)"""
        if self._bare:
            raise self._relocated(exc) from None
        where = _AT_BYTE.search(str(exc))
        end = buf.rfind(b"]", 0, int(where.group(1))) if where else -1
        while end > 0:
            try:
                return self._decode(buf, end + 1), end
            except msgspec.DecodeError:
                end = buf.rfind(b"]", 0, end)
        raise self._relocated(exc) from None

    def _decode(self, buf: bytearray, stop: int) -> list[T]:
        """Decode a copy of buf[:stop]: decoded msgspec.Raw values point into the copy, which lives
        as long as they do, while buf is reused."""
        try:
            return self._decode_items(buf[:stop])
        except msgspec.ValidationError as exc:
            raise self._relocated(exc) from None

    def _relocated(self, exc: msgspec.MsgspecError) -> msgspec.MsgspecError:
        """The same error, its byte offset and item index counted from the start of the document."""
        message = _AT_BYTE.sub(lambda m: f"byte {int(m.group(1)) + self._offset}", str(exc))
        message = _AT_ITEM.sub(lambda m: f"{self._path}[{int(m.group(1)) + self._items_before}]", message)
        return type(exc)(message)


def _last_cut(buf: bytearray, search_from: int) -> Cut | None:
    """The last place between two objects in buf (at or after search_from), or None: a "{" whose
    preceding non-blank bytes are "," and "}". Found by scanning backwards from the end."""
    brace = len(buf)
    while (brace := buf.rfind(b"{", search_from, brace)) > 0:
        comma = _skip_blanks_back(buf, brace - 1)
        if comma > 0 and buf[comma] == _COMMA:
            close = _skip_blanks_back(buf, comma - 1)
            if close >= search_from and buf[close] == _CLOSE_BRACE:
                return Cut(close, brace)
    return None


def _skip_blanks_back(buf: bytearray, i: int) -> int:
    while i >= 0 and buf[i] in _BLANKS:
        i -= 1
    return i


@dataclass(frozen=True)
class Cut:
    """A place between two objects: the first one's "}" at `close`, the next one's "{" at `open`."""

    close: int
    open: int
