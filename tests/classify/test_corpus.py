"""The labelled corpus of real kernel names (see corpus_score.py): the figure the README states."""

from __future__ import annotations

from collections import Counter

import pytest

from kernelscope.classify.rules.order import default_classifier
from kernelscope.vocabulary import KernelClass

from .corpus_score import Scored, corpus_entries, score_corpus

MIN_ACCURACY = 0.97


@pytest.fixture(scope="module")
def scored() -> list[Scored]:
    return score_corpus(default_classifier())


def test_the_corpus_is_large_sourced_and_distinct() -> None:
    entries = [entry for _, entry in corpus_entries()]
    names = Counter(entry.name for entry in entries)
    assert len(entries) >= 600
    assert [name for name, count in names.items() if count > 1] == []
    assert all(entry.source.strip() and entry.why.strip() for entry in entries)
    assert {entry.evidence for entry in entries} <= {"observed", "reconstructed"}


def test_the_corpus_scores_at_least_97_percent(scored: list[Scored]) -> None:
    wrong = [s for s in scored if not s.right]
    accuracy = 1 - len(wrong) / len(scored)
    print(f"corpus: {len(scored) - len(wrong)}/{len(scored)} = {accuracy:.1%}")
    assert accuracy >= MIN_ACCURACY, "\n".join(s.line() for s in wrong)


def test_the_corpus_has_no_native_dequant_swap(scored: list[Scored]) -> None:
    assert [s.line() for s in scored if s.swap] == []


def test_quantized_classes_are_a_real_share_of_the_corpus(scored: list[Scored]) -> None:
    """A corpus of plain kernels would score well on rules that never say 'native'."""
    classes = Counter(s.entry.kernel_class for s in scored)
    assert classes[KernelClass.NATIVE] >= 150
    assert classes[KernelClass.DEQUANT] >= 50
    assert classes[KernelClass.QUANTIZE] >= 50


def test_names_that_compute_or_convert_are_rarely_left_unknown(scored: list[Scored]) -> None:
    """A name labelled native / dequant / quantize / dense is decided by some rule, not left to `unknown`
    (at most 1% of them: the families no rule knows yet)."""
    labelled = [s for s in scored if s.entry.kernel_class is not KernelClass.OTHER]
    undecided = [s.line() for s in labelled if s.rule == "unknown"]
    assert len(undecided) <= 0.01 * len(labelled), "\n".join(undecided)
