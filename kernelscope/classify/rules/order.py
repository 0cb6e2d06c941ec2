"""The default rule tables, in evaluation order, and the classifier built from them."""

from __future__ import annotations

from functools import lru_cache

from kernelscope.classify.engine import Classifier
from kernelscope.classify.rules.base import RuleTable
from kernelscope.classify.rules.cpu import KERNELSCOPE_MARKS, OP_TABLES
from kernelscope.classify.rules.gpu import GPU_LATE_TABLES, GPU_NAME_TABLES


def default_tables() -> tuple[RuleTable, ...]:
    """kernelscope's marks, then GPU kernel names, then op names (CPU ops, and the ops that launched
    kernels whose names said nothing), then Inductor kernels by their op's dtypes and the generic
    GPU families."""
    return (KERNELSCOPE_MARKS, *GPU_NAME_TABLES, *OP_TABLES, *GPU_LATE_TABLES)


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    return Classifier(default_tables())
