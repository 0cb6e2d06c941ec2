"""Real captures of the fixture model, one per configuration, shared by the tests of a session."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kernelscope.cli import main
from kernelscope.report.aggregate import check_invariants, summarize
from kernelscope.report.documents import SiteRow, Summary
from kernelscope.runs.codec import encode_document
from kernelscope.runs.store import Run, load_run

SMALL_WORKLOAD = ["--prompt-len", "32", "--gen-len", "4", "--requests", "1", "--warmup", "1",
                  "--profile-steps", "2", "--device", "cpu"]


class Captured:
    def __init__(self, run: Run, summary: Summary) -> None:
        self.run = run
        self.summary = summary

    def sites(self, phase: str, kind: str = "linear", requested: bool | None = True) -> list[SiteRow]:
        manifest = self.run.manifest.sites
        return [s for s in self.summary.sites if s.phase == phase and s.kind == kind
                and (requested is None or manifest[s.module].requested is requested)]

    def rows(self, site: str, phase: str) -> list[dict[str, Any]]:
        t = self.run.table
        mask = t.site.mask(site) & t.phase.mask(phase)
        return [t.row(i) for i in mask.nonzero()[0].tolist()]


@pytest.fixture(scope="session")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Captured]:
    cache: dict[tuple[str, ...], Captured] = {}
    root = tmp_path_factory.mktemp("runs")

    def run(*args: str) -> Captured:
        key = tuple(args)
        if key not in cache:
            out = root / f"run{len(cache)}"
            code = main(["profile", *args, *SMALL_WORKLOAD, "--out", str(out)])
            assert code == 0, f"profile {' '.join(args)} exited {code}"
            loaded = load_run(out)
            summary = summarize(loaded.manifest, loaded.metrics, loaded.table, str(out))
            check_invariants(loaded.table, summary)
            json.loads(encode_document(summary))  # the summary document is plain JSON
            cache[key] = Captured(loaded, summary)
        return cache[key]

    return run


def has_avx512_bf16() -> bool:
    """Whether bitsandbytes can run its native 4-bit CPU kernel (gemv_4bit) on this CPU."""
    from bitsandbytes.functional import has_avx512bf16

    return bool(has_avx512bf16())
