"""Scores the labelled kernel-name corpus (tests/classify/corpus/*.jsonl) against the rule tables.

Each line is one real kernel name with its hand label (role, class, format), where it came from
(`source`), whether the name was seen in a trace or log (`evidence`: observed) or rebuilt from the
project's source (reconstructed), and `why` the label is what it is. A line marked `ambiguous` is kept
for the record but not scored (the name alone cannot decide it). `context` (optional) gives the
launching op and its input dtypes, as a trace would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from kernelscope.classify.engine import Classifier, normalize_name
from kernelscope.classify.rules.base import KernelContext
from kernelscope.vocabulary import Device, KernelClass, Role

CORPUS = Path(__file__).parent / "corpus"
# Roles that carry no verdict of their own: when the label's class is `other`, calling a copy
# "elementwise" or a fill "memory" is not an error worth counting.
_NO_VERDICT_ROLES = frozenset({Role.ELEMENTWISE, Role.MEMORY, Role.OTHER})
_SWAP = frozenset({KernelClass.NATIVE, KernelClass.DEQUANT})


class LaunchContext(msgspec.Struct, frozen=True):
    op: str = ""
    in_types: tuple[str, ...] = ()


class LabelledName(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    role: Role
    # `class` is a Python keyword: the field is renamed on the wire.
    kernel_class: KernelClass = msgspec.field(name="class")
    format: str = ""
    source: str
    evidence: str
    why: str
    ambiguous: bool = False
    context: LaunchContext | None = None


@dataclass(frozen=True)
class Scored:
    entry: LabelledName
    file: str
    rule: str
    role: Role
    kernel_class: KernelClass

    @property
    def right(self) -> bool:
        expected = self.entry
        if self.kernel_class is not expected.kernel_class:
            return False
        if self.role is expected.role:
            return True
        return expected.kernel_class is KernelClass.OTHER and {self.role, expected.role} <= _NO_VERDICT_ROLES

    @property
    def swap(self) -> bool:
        """A native/dequant swap: the one error that flips the headline verdict."""
        return {self.kernel_class, self.entry.kernel_class} == _SWAP

    def line(self) -> str:
        e = self.entry
        return (f"{self.file}: expected {e.role.value}/{e.kernel_class.value}, got {self.role.value}/"
                f"{self.kernel_class.value} by {self.rule} | {e.name[:160]}")


def corpus_entries(folder: Path = CORPUS) -> Iterator[tuple[str, LabelledName]]:
    decoder = msgspec.json.Decoder(LabelledName)
    for path in sorted(folder.glob("*.jsonl")):
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if text.strip():
                try:
                    yield path.name, decoder.decode(text)
                except msgspec.ValidationError as err:
                    raise AssertionError(f"{path.name}:{number}: {err}") from err


def score_entry(classifier: Classifier, file: str, entry: LabelledName) -> Scored:
    if entry.context is None:
        verdict = classifier.explain_name(entry.name)
    else:
        verdict = classifier.classify(KernelContext(
            name=normalize_name(entry.name), device=Device.GPU, op=entry.context.op,
            within=(entry.context.op,) if entry.context.op else (), in_types=entry.context.in_types))
    return Scored(entry, file, verdict.rule, verdict.role, verdict.kernel_class)


def score_corpus(classifier: Classifier, folder: Path = CORPUS) -> list[Scored]:
    return [score_entry(classifier, file, entry) for file, entry in corpus_entries(folder) if not entry.ambiguous]
