"""The piecewise array decoder gives what one decode of the whole document gives, at any block size."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelscope.trace.stream import ArrayStream, Envelope


class Item(msgspec.Struct):
    name: str = ""
    n: int = 0
    args: msgspec.Raw = msgspec.Raw(b"{}")


class Doc(msgspec.Struct):
    traceEvents: list[Item]


DECODER = msgspec.json.Decoder(list[Item])


def blocks(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i:i + size] for i in range(0, len(data), size))


def streamed(data: bytes, size: int) -> tuple[list[tuple[str, int, bytes]], Envelope]:
    stream = ArrayStream(blocks(data, size), "traceEvents", DECODER.decode)
    items = [(it.name, it.n, bytes(it.args)) for piece in stream for it in piece]
    assert stream.envelope is not None
    return items, stream.envelope


def reference(doc: Any) -> list[tuple[str, int, bytes]]:
    events = doc if isinstance(doc, list) else doc["traceEvents"]
    return [(e.get("name", ""), e.get("n", 0), json.dumps(e["args"]).encode() if "args" in e else b"{}")
            for e in events]


# names and args built to put "}, {" and brackets where a careless cut would split them
TRICKY = st.sampled_from(['}, {', '},{', '"}, {"', '\\', '{"a": [1, {"b": "}, {"}]}', ']', '[', 'é—☃', ''])
ITEMS = st.lists(st.fixed_dictionaries(
    {"name": st.lists(TRICKY | st.text(max_size=5), max_size=3).map("".join), "n": st.integers(-5, 10**6)},
    optional={"args": st.dictionaries(st.sampled_from(["x", "y"]), st.lists(st.fixed_dictionaries({"k": TRICKY}),
                                                                            max_size=3), max_size=2)}), max_size=30)
LAYOUTS = st.sampled_from([
    {"separators": (",", ":")},
    {"separators": (", ", ": ")},
    {"indent": 2},
    {"indent": "\t"},
])


@settings(max_examples=200, deadline=None)
@given(items=ITEMS, layout=LAYOUTS, size=st.integers(1, 300), before=st.booleans(), bare=st.booleans())
def test_any_block_size_decodes_like_one_decode(items: list[dict[str, Any]], layout: dict[str, Any], size: int,
                                                before: bool, bare: bool) -> None:
    others = {"deviceProperties": [{"id": 0}, {"id": 1, "name": "}, {"}], "traceName": "t"}
    doc: Any = items if bare else ({**others, "traceEvents": items} if before else {"traceEvents": items, **others})
    data = json.dumps(doc, ensure_ascii=False, **layout).encode()
    got, envelope = streamed(data, size)
    assert [(n, k) for n, k, _ in got] == [(n, k) for n, k, _ in reference(doc)]
    assert [json.loads(a) for _, _, a in got] == [json.loads(a) for _, _, a in reference(doc)]
    assert envelope.found and envelope.bare == bare
    if not bare:
        assert json.loads(envelope.head + b"[]" + envelope.tail) == {**doc, "traceEvents": []}


def test_a_document_without_the_array_comes_back_whole() -> None:
    data = b'{"schemaVersion": 1, "other": [1, 2]}'
    items, envelope = streamed(data, 4)
    assert items == [] and envelope == Envelope(data, b"", found=False)


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_errors_name_the_byte_and_item_of_the_whole_document(size: int) -> None:
    items = [{"name": f"e{i}", "n": i} for i in range(40)]
    good = json.dumps({"traceEvents": items}).encode()
    bad_json = good.replace(b'"e33"', b'"e33" x')
    bad_type = good.replace(b'"n": 29', b'"n": "29"')
    for data in (bad_json, bad_type):
        with pytest.raises(msgspec.MsgspecError) as whole:
            msgspec.json.decode(data, type=Doc)
        with pytest.raises(type(whole.value)) as piecewise:
            streamed(data, size)
        assert str(piecewise.value) == str(whole.value)


@pytest.mark.parametrize("data", [b'[{"n": 1}] x', b'[{"n": 1}, {"n": 2}', b'{"traceEvents": [{"n": 1}'])
def test_trailing_or_missing_bytes_are_errors(data: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        streamed(data, 3)


def test_items_holding_raw_values_may_outlive_their_piece() -> None:
    data = json.dumps({"traceEvents": [{"n": i, "args": {"i": i}} for i in range(50)]}).encode()
    kept = [it for piece in ArrayStream(blocks(data, 16), "traceEvents", DECODER.decode) for it in piece]
    assert [json.loads(bytes(it.args))["i"] for it in kept] == list(range(50))
