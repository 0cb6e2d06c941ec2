"""`kernelscope explain`: the verdict for kernel names alone (from a profiler table, nsys, a log)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from kernelscope.classify.engine import Classifier, Verdict, normalize_name
from kernelscope.classify.names import parse_name
from kernelscope.errors import BadInputError, safe_text
from kernelscope.report.style import CLASS_COLORS, shorten

NSYS_NAME_COLUMN = "Name"
NSYS_MARKER = "Total Time (ns)"


@dataclass(frozen=True)
class Explained:
    name: str
    verdict: Verdict
    conditions: str

    def to_json(self) -> dict[str, Any]:
        """The input name whole (so the output joins back to it), the name the rules read (demangled), what
        its grammar states, and the verdict."""
        v = self.verdict
        read = normalize_name(self.name)
        parsed = parse_name(read)
        return {"name": self.name, "read_as": read, "role": v.role.value, "backend": v.backend, "format": v.format,
                "kernel_class": v.kernel_class.value, "rule": v.rule, "generic": v.generic, "reason": v.reason,
                "conditions": self.conditions,
                "evidence": {"low": sorted(parsed.low), "high": sorted(parsed.high), "direction": parsed.direction}}


def explain_names(names: Iterable[str], classifier: Classifier) -> list[Explained]:
    out = []
    for name in names:
        verdict = classifier.explain_name(name)
        found = classifier.rule(verdict.rule)
        out.append(Explained(name, verdict, found.describe() if found else ""))
    return out


def names_from_file(path: Path) -> list[str]:
    """Kernel names from a file: one per line, or the Name column of an nsys cuda_gpu_kern_sum CSV
    (`nsys stats --report cuda_gpu_kern_sum --format csv`; progress lines before the header are skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise BadInputError(f"no such file: {path}") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if NSYS_MARKER in line and NSYS_NAME_COLUMN in line), None)
    if header is None:
        return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines[header:])))
    if reader.fieldnames is None or NSYS_NAME_COLUMN not in reader.fieldnames:
        raise BadInputError(f"{path}: an nsys CSV without a {NSYS_NAME_COLUMN!r} column")
    return [row[NSYS_NAME_COLUMN] for row in reader if row.get(NSYS_NAME_COLUMN)]


def render_explained(explained: Iterable[Explained], console: Console | None = None) -> None:
    """One block per name: the name, its verdict, the deciding rule's reason and conditions."""
    console = console or Console(highlight=False)
    for e in explained:
        v = e.verdict
        console.print(Text(safe_text(shorten(normalize_name(e.name), 100)), style="bold"))
        line = Text("  ")
        line.append(v.kernel_class.value, style=CLASS_COLORS.get(v.kernel_class.value, ""))
        line.append(f"  role {v.role.value}  backend {v.backend or '-'}  format {v.format or '-'}  rule {v.rule}")
        console.print(line)
        console.print(Text(f"  {v.reason}" + (f" [{e.conditions}]" if e.conditions else ""), style="dim"))
