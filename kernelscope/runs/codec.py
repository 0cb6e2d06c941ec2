"""Documents to and from JSON: encoded indented, decoded with validation, and any problem one line
naming the file and the field (exit code 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TypeVar

import msgspec

from kernelscope.errors import BadInputError


class Doc(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every document: frozen, keyword-only."""


D = TypeVar("D", bound=msgspec.Struct)

_ENCODER = msgspec.json.Encoder()
_WHERE = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)


def encode_document(doc: msgspec.Struct) -> bytes:
    """A document as indented JSON (NaN and infinities become null: JSON has no spelling for them)."""
    return msgspec.json.format(_ENCODER.encode(doc), indent=2) + b"\n"


def read_document(path: Path, kind: type[D]) -> D:
    """A document file decoded into `kind`, validated; any problem is one line naming the file (and the field)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    return decode_document(data, kind, str(path))


def decode_document(data: bytes, kind: type[D], source: str) -> D:
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise BadInputError(f"{source}: {field_error(exc)}") from None
    except msgspec.DecodeError:
        pass  # older writers put NaN / Infinity in their JSON: Python's json reads those
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{source} is corrupt: {exc}") from None
    return convert_document(value, kind, source)


def convert_document(value: object, kind: type[D], source: str) -> D:
    """Plain JSON values (a dict from elsewhere, e.g. a trace's metadata) as a validated document."""
    try:
        return msgspec.convert(value, type=kind)
    except msgspec.ValidationError as exc:
        raise BadInputError(f"{source}: {field_error(exc)}") from None


def field_error(exc: msgspec.ValidationError) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.a.b[0]`" as "field a.b[0]: expected int, got str"."""
    text = str(exc)
    found = _WHERE.match(text)
    what = (found.group(1) if found else text).replace("`", "")
    what = what[:1].lower() + what[1:]
    if found is None or not found.group(2):
        return f"not a valid document: {what}"
    return f"field {found.group(2).lstrip('.')}: {what}"
