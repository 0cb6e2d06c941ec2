"""`kernelscope modes [--json]`: the modes x backends matrix, and which run on this machine."""

from __future__ import annotations

import argparse
import json


class Modes:
    name = "modes"
    help = "the quantization modes and backends, and which run here"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="the matrix as JSON")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.report.modes import mode_matrix, render_modes

        rows = mode_matrix()
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            render_modes(rows)
        return 0
