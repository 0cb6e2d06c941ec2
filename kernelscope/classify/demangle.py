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
