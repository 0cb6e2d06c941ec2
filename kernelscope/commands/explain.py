"""`kernelscope explain NAME... | --from FILE`: the verdict kernel names get from the rules alone."""

from __future__ import annotations

import argparse
import json
import sys

from kernelscope.commands.args import path_arg
from kernelscope.errors import KernelscopeError


class Explain:
    name = "explain"
    help = "role, backend, format and the deciding rule for kernel names"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("names", nargs="*", help="kernel or op names")
        parser.add_argument("--from", dest="source", type=path_arg, default=None,
                            help="a file of names, one per line, or an nsys cuda_gpu_kern_sum CSV")
        parser.add_argument("--json", action="store_true", help="one JSON object per line per name")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.classify.rules.order import default_classifier
        from kernelscope.report.explain import explain_names, names_from_file, render_explained

        names = list(args.names)
        if args.source is not None:
            names.extend(names_from_file(args.source))
        if not names:
            raise KernelscopeError("explain needs kernel names, or --from FILE")
        explained = explain_names(names, default_classifier())
        if args.json:
            for e in explained:
                sys.stdout.write(json.dumps(e.to_json()) + "\n")
        else:
            render_explained(explained)
        return 0
