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

HANDLED = (signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, delivered as an exception."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def install() -> None:
    """Turn SIGTERM and SIGHUP into `Terminated` (the main thread only can; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return
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
