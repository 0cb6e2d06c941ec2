"""The one error type users see. The CLI turns it into one line on stderr and an exit code."""

from __future__ import annotations

# Exit codes, stable for scripts and CI pipelines.
EXIT_OK = 0
EXIT_USAGE = 2  # bad arguments, unknown mode, unsupported combination, missing input
EXIT_BAD_INPUT = 3  # a trace or run that cannot be read
EXIT_RUNTIME = 4  # the model run itself failed (out of memory, library error)
EXIT_GATE = 5  # a --gate condition was breached
EXIT_INTERRUPTED = 130


class KernelscopeError(Exception):
    """A user-facing failure: one line of text and an exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class BadInputError(KernelscopeError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_BAD_INPUT)


def safe_text(text: str) -> str:
    """Text from an untrusted source (a kernel name, a file name, a library's message) fit for a terminal:
    control characters (escape sequences, carriage returns) shown as escapes, never sent raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in " " else repr(c)[1:-1] for c in text)
