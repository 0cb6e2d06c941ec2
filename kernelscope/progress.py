"""Progress of long work on stderr, so a run is never silent: one line per stage with the time since
the command started (`[  4.2s] quality: 8 windows of 256 tokens`), and counters (`timing request 3/8`)
that rewrite their line on a terminal and print at most one line a second otherwise. `-q` and `--json`
make it quiet. Stdout stays the command's result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from kernelscope.signals import check_pending

PLAIN_INTERVAL_S = 1.0


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = _is_terminal(self.stream) if live is None else live
        self._clock = clock
        self.started = clock()
        self._counting = False  # a live counter line is showing (no newline yet)
        self._last_count = -PLAIN_INTERVAL_S
        self.current = ""  # the stage running now (what an error or an interruption names), quiet or not

    def elapsed(self) -> float:
        return self._clock() - self.started

    def stage(self, text: str) -> None:
        """A new stage: its own line."""
        check_pending()  # a signal a finalizer swallowed stops the work here, at the next stage
        self.current = text
        self._line(text)

    def note(self, text: str) -> None:
        """A fact worth seeing as it happens (an estimate, a cost): indented under its stage."""
        self._line(f"  {text}")

    def warn(self, text: str) -> None:
        """Something the user should know now; shown even when quiet (it is not progress)."""
        if self._counting:
            self.stream.write("\n")
            self._counting = False
        self.stream.write(f"kernelscope: warning: {text}\n")
        self.stream.flush()

    def count(self, done: int, total: int, text: str) -> None:
        """`text done/total`: rewritten in place on a terminal; elsewhere a line a second, and the last."""
        check_pending()
        if self.quiet:
            return
        message = f"{self._stamp()} {text} {done}/{total}"
        if self.live:
            self.stream.write("\r" + message + "\x1b[K")
            self._counting = done < total
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        now = self._clock()
        if done >= total or now - self._last_count >= PLAIN_INTERVAL_S:
            self._last_count = now
            self.stream.write(message + "\n")
            self.stream.flush()

    def _line(self, text: str) -> None:
        if self.quiet:
            return
        if self._counting:
            self.stream.write("\n")
            self._counting = False
        self.stream.write(f"{self._stamp()} {text}\n")
        self.stream.flush()

    def _stamp(self) -> str:
        return f"[{self.elapsed():6.1f}s]"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


QUIET = Progress(quiet=True)
