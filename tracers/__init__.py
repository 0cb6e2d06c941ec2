"""Capture (needs torch): `kernelscope profile`'s pipeline, and `session`, a capture around your own loop.

    from kernelscope.tracers import session
    with session(model, out="runs/mine", label="int4 awq, my server loop") as s:
        with s.prefill(request=0, tokens=prompt_len):
            ...                          # your own forward(s)
        for i in range(steps):
            with s.decode(request=0, step=i):
                ...
"""

from __future__ import annotations

from typing import Any

__all__ = ["session"]


def __getattr__(name: str) -> Any:
    if name == "session":  # imported on first use: `import kernelscope.tracers` stays light
        from kernelscope.tracers.own_loop import session

        return session
    raise AttributeError(f"module 'kernelscope.tracers' has no attribute {name!r}")
