"""The default rule tables, in evaluation order, and the classifier built from them."""

from __future__ import annotations

from functools import lru_cache

from kernelscope.classify import Classifier
from kernelscope.rules.base import RuleTable
from kernelscope.rules.cpu import CPU_TABLES


def default_tables() -> tuple[RuleTable, ...]:
    return CPU_TABLES


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return Classifier(default_tables())
