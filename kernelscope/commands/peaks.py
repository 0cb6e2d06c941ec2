"""`kernelscope peaks [--device NAME | --list] [--refresh] [--json]`: the roofline's ceilings. With no
device, this machine's: its GPU's data sheet where torch sees one, and its CPU measured (seconds, once,
cached)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kernelscope.errors import KernelscopeError

if TYPE_CHECKING:
    from kernelscope.runs.documents import Peaks


class PeaksCommand:
    name = "peaks"
    help = "memory bandwidth and dense TFLOP/s per dtype: this machine's (a CPU measured once), or a data sheet's"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--device", default=None, metavar="NAME",
                            help="a device's data-sheet peaks by name, e.g. 'H100 SXM', 'MI300X'")
        parser.add_argument("--list", action="store_true", help="every data sheet kernelscope knows")
        parser.add_argument("--refresh", action="store_true", help="measure this CPU again instead of the cache")
        parser.add_argument("--json", action="store_true", help="the figures as JSON")

    def run(self, args: argparse.Namespace) -> int:
        from kernelscope.report.peaks import DATA_SHEETS, data_sheet_peaks, render_peaks
        from kernelscope.runs.codec import encode_document

        if args.list:
            found = [sheet.peaks() for sheet in DATA_SHEETS]
        elif args.device is not None:
            one = data_sheet_peaks(args.device)
            if one is None:
                raise KernelscopeError(f"--device {args.device!r}: no data sheet matches (kernelscope peaks --list)")
            found = [one]
        else:
            found = _this_machine(args.refresh)
        if args.json:
            sys.stdout.write("[" + ",".join(encode_document(p).decode() for p in found) + "]\n")
        else:
            render_peaks(found)
        return 0


def _this_machine(refresh: bool) -> list[Peaks]:
    from kernelscope.report.peaks import data_sheet_peaks

    try:
        import torch

        from kernelscope.tracers.peaks import cache_path, cpu_peaks
    except ModuleNotFoundError as exc:
        raise KernelscopeError(f"measuring this machine needs the capture extra ({exc.name} is missing): "
                               "pip install 'kernelscope[capture]'; a data sheet needs only --device NAME") from None
    found: list[Peaks] = []
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        sheet = data_sheet_peaks(name)
        if sheet is None:
            print(f"{name}: no data sheet in kernelscope's table; give its peaks with --peaks FILE", file=sys.stderr)
        else:
            found.append(sheet)
    found.append(cpu_peaks(refresh))
    print(f"(CPU figures cached in {cache_path()})", file=sys.stderr)
    return found
