"""Split a JSON document's big array in two at a byte offset, so two processes can decode a half each.

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

import re
from collections.abc import Iterable, Iterator
from itertools import chain

from kernelscope.jsonstream import Cut

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
