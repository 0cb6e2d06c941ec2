"""The command line: `kernelscope COMMAND ...`.

The commands live in kernelscope.commands (one module each). This module builds the parser from
their registry and runs the one that was asked for; it is the one place where a `KernelscopeError`
becomes one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from kernelscope import __version__, signals
from kernelscope.commands import COMMANDS, Command
from kernelscope.errors import EXIT_BAD_INPUT, EXIT_RUNTIME, EXIT_USAGE, KernelscopeError, safe_text


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's default in its help, unless the help already says it or there is none to say."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
                and "default" not in text and "%(default)" not in text):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr, like every other kernelscope error."""

    def error(self, message: str) -> NoReturn:
        raise KernelscopeError(f"{message} (see: {self.prog} --help)", EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kernelscope", description="What did quantization actually do to my run?",
                     formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"kernelscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_arguments(sub.add_parser(command.name, help=command.help, description=command.help,
                                             formatter_class=_HelpFormatter))
    return parser


def _command(name: str) -> Command:
    return next(c for c in COMMANDS if c.name == name)


def main(argv: Sequence[str] | None = None) -> int:
    signals.install()
    try:
        args = build_parser().parse_args(argv)
        code = _command(args.command).run(args)
        signals.check_pending()
        return code
    except KernelscopeError as exc:
        print(f"kernelscope: error: {safe_text(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"kernelscope: interrupted ({signals.name_of(exc)})", file=sys.stderr)
        return signals.exit_code(exc)
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("kernelscope: error: out of memory", file=sys.stderr)
        return EXIT_RUNTIME
    except OSError as exc:  # a full disk, a vanished folder, a permission: one line, never a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"kernelscope: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_RUNTIME
    except RecursionError:
        print("kernelscope: error: an input is nested too deeply to read", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
