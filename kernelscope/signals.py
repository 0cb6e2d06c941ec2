"""One signal policy for every command, and child processes that never outlive their parent.

SIGTERM and SIGHUP are raised where the program is, as `Terminated` (a KeyboardInterrupt, so every
cleanup a Ctrl-C runs also runs: an incomplete run records its `error` and the stage it stopped in,
temporary files and folders are removed, atomic writes are rolled back). The command then exits
128 + the signal's number, as a shell reports a process killed by it.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
import threading
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, delivered as an exception."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_swallowed: list[int] = []  # signals whose exception a finalizer swallowed (raised again by check_pending)
_default_unraisable = sys.unraisablehook


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _unraisable(hook: Any) -> None:
    """A signal that lands while Python runs a finalizer (`__del__`, a weakref callback) raises there, where
    Python can only print the exception and go on: keep it, quietly, for `check_pending`."""
    if isinstance(hook.exc_value, KeyboardInterrupt):
        _swallowed.append(signum_of(hook.exc_value))
        return
    _default_unraisable(hook)


def check_pending() -> None:
    """Raise again a signal whose exception a finalizer swallowed (progress lines call this)."""
    if _swallowed:
        signum = _swallowed.pop()
        _swallowed.clear()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)


def install() -> None:
    """Turn SIGTERM and SIGHUP into `Terminated` (the main thread only can; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return
    sys.unraisablehook = _unraisable
    for sig in HANDLED:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, _raise)


def signum_of(exc: KeyboardInterrupt) -> int:
    return exc.signum if isinstance(exc, Terminated) else int(signal.SIGINT)


def name_of(exc: KeyboardInterrupt) -> str:
    return signal.Signals(signum_of(exc)).name


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + signum_of(exc)


def die_with_parent() -> None:
    """In a child process (Linux): be killed when the parent dies, whatever it died of, so that no child
    is left behind holding pipes and the caller's output open. Elsewhere: nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
