"""Itanium C++ demangling of `_Z...` kernel names (rocprof and some traces keep them mangled).

The C++ runtime's __cxa_demangle (libstdc++ or libc++, through ctypes) is the reference demangler.
Where there is no runtime, or the name was cut short by the profiler so that it does not demangle, a
plain nested name (`_ZN5aiter9fmoe_bf16E`) is still read by its length-prefixed source names; any other
name comes back as it was (the name parser then reads its builtin type codes, classify/names.py).
Everything here is linear in the name's length: traces hold names of thousands of characters.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from functools import cache, lru_cache

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_LENGTH = re.compile(r"\d+")


@lru_cache(maxsize=16384)
def demangle(name: str) -> str:
    """The demangled name, or the name itself where it is not mangled or cannot be demangled."""
    if not name.startswith("_Z"):
        return name
    text = _runtime_demangle(name)
    if text is not None:
        return text
    if name.startswith("_ZN") and name.endswith("E"):
        parts = _source_names(name[3:-1])
        if parts is not None:
            return "::".join(parts)
    return name


def _source_names(encoded: str) -> list[str] | None:
    """`5aiter9fmoe_bf16` -> ["aiter", "fmoe_bf16"] (None unless they account for every character)."""
    parts, i = [], 0
    while i < len(encoded):
        m = _LENGTH.match(encoded, i)
        if not m:
            return None
        n, i = int(m.group()), m.end()
        part = encoded[i:i + n]
        if n == 0 or len(part) < n or not _IDENTIFIER.fullmatch(part):
            return None
        parts.append(part)
        i += n
    return parts


@cache
def _cxa_demangle() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    for lib in ("stdc++", "c++abi", "c++"):
        path = ctypes.util.find_library(lib)
        if not path:
            continue
        try:
            fn = ctypes.CDLL(path).__cxa_demangle
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_void_p
        fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        return fn
    return None


@cache
def _free() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    return ctypes.CDLL(None).free


def _runtime_demangle(name: str) -> str | None:
    fn = _cxa_demangle()
    if fn is None:
        return None
    status = ctypes.c_int(0)
    out = fn(name.encode(), None, None, ctypes.byref(status))
    if not out:
        return None
    text = ctypes.string_at(out).decode(errors="replace") if status.value == 0 else None
    _free()(ctypes.c_void_p(out))
    return text


# ------------------------------------------------------------------ names that do not demangle


def _mangled_source_names(name: str) -> list[tuple[int, str]]:
    """(position, identifier) of each length-prefixed source name in a mangled name; digits that are a
    literal (`Li16E`), a substitution or template parameter index (`S3_`, `T1_`) or an extended float
    type (`DF16b`) are not lengths."""
    names: list[tuple[int, str]] = []
    i, resume = 0, 0
    while i < len(name):
        if not name[i].isdigit() or (i != resume and name[i - 1].isdigit()) or _not_a_length(name, i):
            i += 1
            continue
        j = i
        while j < len(name) and name[j].isdigit():
            j += 1
        ident = name[j:j + int(name[i:j])]
        if len(ident) == int(name[i:j]) and _SOURCE_IDENT.fullmatch(ident):
            names.append((i, ident))
            i = resume = j + len(ident)
        else:
            i = j
    return names


_SOURCE_IDENT = re.compile(r"[A-Za-z_]\w*")


def _not_a_length(name: str, i: int) -> bool:
    before = name[max(0, i - 2):i]
    return before[-1:] in ("S", "T") or before in ("DF", "Dv") or (len(before) == 2 and before[0] == "L"
                                                                  and before[1].isalpha())


_BUILTIN_CODES = {"DF16b": "__bf16", "DF16_": "half"}  # extended float types have no source name


def mangled_reading(name: str) -> str:
    """A mangled name that does not demangle, read as `outer::inner<names in its arguments...>`: its
    length-prefixed source names, the leading run of them nested (the qualified function name)."""
    names = _mangled_source_names(name)
    if not names:
        return name
    qualified: list[str] = []
    rest: list[str] = []
    expected = 3 if name.startswith("_ZN") else 2
    for at, ident in names:
        if not rest and at == expected:
            qualified.append(ident)
            expected = at + len(str(len(ident))) + len(ident)
        else:
            rest.append(ident)
    rest.extend(spelling for code, spelling in _BUILTIN_CODES.items() if code in name)
    head = "::".join(qualified) if qualified else rest.pop(0)
    return f"{head}<{', '.join(rest)}>" if rest else head
