"""Rules are data: an ordered table of `Rule`s per backend, each a conjunction of small conditions
over what the trace says about one kernel (or CPU op): its name, the op that launched it, the ops
around that op, the op's input dtypes and shapes. The first rule whose conditions all hold decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

from kernelscope.classify.names import WEAK, arg_formats, parse_name
from kernelscope.trace.dtypes import FLOATS, INT8ISH, Dims, numel
from kernelscope.vocabulary import Device, KernelClass, Role


@dataclass(frozen=True)
class KernelContext:
    """Everything a rule may look at for one kernel or CPU op."""

    name: str
    device: Device = Device.GPU
    op: str = ""  # the CPU op that launched it ('' when unknown); for CPU rows, the op itself
    within: tuple[str, ...] = ()  # enclosing CPU ops, outermost first (for a kernel: includes `op`)
    in_types: tuple[str, ...] = ()  # the op's input dtypes (short names, see dtypes.py)
    in_dims: Dims = ()
    weight_min_numel: int = 1024  # a tensor at least this large counts as weight-sized
    graph_replayed: bool = False
    converts_to: str = ""  # for aten::to / aten::_to_copy: the target dtype, from Concrete Inputs
    marked: str = ""  # the innermost kernelscope mark range around it (ks/kv/quantize, ks/kv/dequantize)


class Condition(Protocol):
    def test(self, ctx: KernelContext) -> bool: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Name:
    """The kernel / op name matches (re.search; anchor with ^ to demand a prefix)."""

    pattern: str
    flags: int = 0
    _rx: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rx", re.compile(self.pattern, self.flags))

    def test(self, ctx: KernelContext) -> bool:
        return self._rx.search(ctx.name) is not None

    def describe(self) -> str:
        return f"name ~ /{self.pattern}/"


@dataclass(frozen=True)
class Fn:
    """The kernel's own function name (the last component of its qualified name, without template
    arguments or parameters: `paged_attention_v2_kernel`) matches (re.search; anchor with ^ and $)."""

    pattern: str
    _rx: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rx", re.compile(self.pattern))

    def test(self, ctx: KernelContext) -> bool:
        return self._rx.search(parse_name(ctx.name).function) is not None

    def describe(self) -> str:
        return f"function ~ /{self.pattern}/"


@dataclass(frozen=True)
class Words:
    """The name holds one of these words, whole (split at `_`, `::` and camelCase: `conv` is not in
    `convert_fp8_kernel`). base=True: only the function's own name counts, not its template arguments."""

    words: frozenset[str]
    base: bool = False

    def test(self, ctx: KernelContext) -> bool:
        parsed = parse_name(ctx.name)
        return not self.words.isdisjoint(parsed.base_words if self.base else parsed.words)

    def describe(self) -> str:
        return f"{'function ' if self.base else ''}name has a word in {{{', '.join(sorted(self.words))}}}"


def words(*items: str, base: bool = False) -> Words:
    return Words(frozenset(items), base)


@dataclass(frozen=True)
class Converts:
    """The name's grammar says the kernel converts float data to a low-precision format (QUANTIZES) or
    back (DEQUANTIZES): `fp16_to_q`, `cast_mxfp8`, or a signature that reads floats and writes fp8."""

    direction: str

    def test(self, ctx: KernelContext) -> bool:
        return parse_name(ctx.name).direction == self.direction

    def describe(self) -> str:
        return f"name or signature {self.direction}"


@dataclass(frozen=True)
class Arg:
    """Template argument `index` of the kernel names one of these formats (as parse_name reads C++ type
    spellings and enum casts): how a conversion kernel's direction shows, e.g. `convert<out, in>`."""

    index: int
    formats: frozenset[str]

    def test(self, ctx: KernelContext) -> bool:
        parsed = parse_name(ctx.name)
        inside = -len(parsed.args) <= self.index < len(parsed.args)  # a negative index counts from the last
        return inside and not arg_formats(parsed.args[self.index]).isdisjoint(self.formats)

    def describe(self) -> str:
        return f"template argument {self.index} in {{{', '.join(sorted(self.formats))}}}"


@dataclass(frozen=True)
class Op:
    """The launching CPU op (for CPU rows: the op itself) matches."""

    pattern: str
    _rx: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rx", re.compile(self.pattern))

    def test(self, ctx: KernelContext) -> bool:
        return self._rx.search(ctx.op) is not None

    def describe(self) -> str:
        return f"op ~ /{self.pattern}/"


@dataclass(frozen=True)
class Within:
    """Some enclosing CPU op matches (e.g. under quanto::unpack, under bitsandbytes::*)."""

    pattern: str
    _rx: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rx", re.compile(self.pattern))

    def test(self, ctx: KernelContext) -> bool:
        return any(self._rx.search(w) for w in ctx.within)

    def describe(self) -> str:
        return f"within /{self.pattern}/"


@dataclass(frozen=True)
class InType:
    """Input `index` of the op has one of these dtypes."""

    index: int
    dtypes: frozenset[str]

    def test(self, ctx: KernelContext) -> bool:
        return self.index < len(ctx.in_types) and ctx.in_types[self.index] in self.dtypes

    def describe(self) -> str:
        return f"input[{self.index}] in {{{', '.join(sorted(self.dtypes))}}}"


@dataclass(frozen=True)
class AnyInType:
    dtypes: frozenset[str]

    def test(self, ctx: KernelContext) -> bool:
        return any(t in self.dtypes for t in ctx.in_types)

    def describe(self) -> str:
        return f"some input in {{{', '.join(sorted(self.dtypes))}}}"


@dataclass(frozen=True)
class WeightSized:
    """Input `index` is a 2-D-or-more tensor at least the size of a quantized weight."""

    index: int

    def test(self, ctx: KernelContext) -> bool:
        if self.index >= len(ctx.in_dims):
            return False
        shape = ctx.in_dims[self.index]
        return shape is not None and len(shape) >= 2 and numel(shape) >= ctx.weight_min_numel

    def describe(self) -> str:
        return f"input[{self.index}] weight-sized"


@dataclass(frozen=True)
class Marked:
    """Inside one of kernelscope's own mark ranges (emitted by its capture around library calls)."""

    mark: str

    def test(self, ctx: KernelContext) -> bool:
        return ctx.marked == self.mark

    def describe(self) -> str:
        return f"inside range {self.mark}"


@dataclass(frozen=True)
class ConvertsTo:
    """The op (aten::to / aten::_to_copy) converts to one of these dtypes."""

    dtypes: frozenset[str]

    def test(self, ctx: KernelContext) -> bool:
        return ctx.converts_to in self.dtypes

    def describe(self) -> str:
        return f"converts to {{{', '.join(sorted(self.dtypes))}}}"


@dataclass(frozen=True)
class OnDevice:
    device: Device

    def test(self, ctx: KernelContext) -> bool:
        return ctx.device is self.device

    def describe(self) -> str:
        return f"on {self.device.value}"


@dataclass(frozen=True)
class Not:
    inner: Condition

    def test(self, ctx: KernelContext) -> bool:
        return not self.inner.test(ctx)

    def describe(self) -> str:
        return f"not ({self.inner.describe()})"


@dataclass(frozen=True)
class Rule:
    """One line of a rule table. `format` is the weight/KV format the kernel implies ('' if none);
    `formats` refines it from the name: the first (pattern, format) whose pattern matches wins.

    backend: the library behind the kernel ('' in a table's source: the table's backend).
    fallback: the kernel belongs to a library's portable fallback (an emulation in high precision
      instead of its quantized kernel); the path table makes such a site a fallback.
    generic_unpack: generic element-wise bit manipulation on integer tensors, the way packed data is
      unpacked when no dequant kernel exists; the path table reads it as a fallback route.
    """

    id: str
    when: tuple[Condition, ...]
    role: Role
    kernel_class: KernelClass
    reason: str
    format: str = ""
    formats: tuple[tuple[str, str], ...] = ()
    backend: str = ""
    fallback: bool = False
    generic_unpack: bool = False
    by_operands: bool = False
    generic: bool = False

    def matches(self, ctx: KernelContext) -> bool:
        return all(c.test(ctx) for c in self.when)

    def decide(self, ctx: KernelContext) -> tuple[Role, KernelClass] | None:
        """Role and class for a context the conditions matched; None when the name's own evidence
        contradicts the rule (it then does not apply, and later rules decide): a quantize rule on a name
        that says it dequantizes, a copy / element-wise rule on a name that converts to or from a
        quantized format, a quantize / dequant rule on typed float-only operands."""
        if self.contradicted(ctx):
            return None
        if not self.by_operands:
            return self.role, self.kernel_class
        compute = self.role in (Role.GEMM, Role.ATTENTION)
        evidence = operand_evidence(ctx, family_words=compute)
        if compute:
            if evidence is Evidence.LOW:
                return self.role, KernelClass.NATIVE
            return self.role, KernelClass.DENSE if evidence is Evidence.HIGH else self.kernel_class
        if evidence is Evidence.HIGH and self.kernel_class is not KernelClass.OTHER:
            return None  # a quantize / dequant claim of a kernel whose typed operands are all floats
        return self.role, self.kernel_class

    def contradicted(self, ctx: KernelContext) -> bool:
        if ctx.device is not Device.GPU:
            return False
        parsed = parse_name(ctx.name)
        if self.role is Role.QUANTIZE:
            return not parsed.words.isdisjoint(DEQUANT_WORDS)
        if self.kernel_class is KernelClass.OTHER and self.role in (Role.MEMORY, Role.ELEMENTWISE, Role.OTHER):
            return bool(parsed.direction) and parsed.words.isdisjoint(COMPUTE_WORDS)
        if self.kernel_class is KernelClass.DENSE and not self.by_operands:
            return bool(parsed.strong_low())  # a "float operands" family whose name states an fp8 / int4 type
        return False

    def format_for(self, name: str) -> str:
        for pattern, fmt in self.formats:
            if re.search(pattern, name):
                return fmt
        return self.format

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.when) or "always"


@dataclass(frozen=True)
class RuleTable:
    """An ordered list of rules for one library (or family), evaluated first match wins.

    device: the rows the table applies to (None: every row). GPU kernel-name tables apply to device
    kernels only, so a rule keyed on a launching op (aten::_int_mm launching a CUTLASS kernel) never
    decides a CPU op of the same name. Every rule's backend is set: its own, else the table's."""

    backend: str
    rules: tuple[Rule, ...]
    description: str = ""
    device: Device | None = None

    def __post_init__(self) -> None:
        filled = tuple(r if r.backend else replace(r, backend=self.backend) for r in self.rules)
        object.__setattr__(self, "rules", filled)

    def applies_to(self, ctx: KernelContext) -> bool:
        return self.device is None or ctx.device is self.device


def rule(
    id: str,
    *when: Condition,
    role: Role,
    cls: KernelClass,
    reason: str,
    format: str = "",
    formats: tuple[tuple[str, str], ...] = (),
    backend: str = "",
    fallback: bool = False,
    generic_unpack: bool = False,
    by_operands: bool = False,
    generic: bool = False,
) -> Rule:
    """Shorthand used by the tables: rule("id", Name(...), Op(...), role=..., cls=..., reason=...).

    by_operands: the class follows the operand types the name and its launching op state: a GEMM or
      attention is native-quantized on low-precision operands, dense on floats only, `cls` when neither
      shows; a quantize / dequant rule does not apply to a kernel whose typed operands are all floats.
    generic: the rule recognises a kind of kernel, not a library's own (coverage reports it apart).
    """
    return Rule(id=id, when=tuple(when), role=role, kernel_class=cls, reason=reason, format=format, formats=formats,
                backend=backend, fallback=fallback, generic_unpack=generic_unpack, by_operands=by_operands,
                generic=generic)


class Evidence(Enum):
    LOW = "low-precision operands"
    HIGH = "high-precision operands only"
    NONE = "no operand types visible"


# the launching op's input dtypes that mean quantized data (int32 is also indices: not evidence)
_OP_LOW = INT8ISH
_OP_HIGH = FLOATS


# words that say a GEMM's operands are quantized even where no type is spelled (QuantGemm, dequant_gemm)
QUANTIZED_WORDS = frozenset({"quant", "quantized", "dequant", "qgemm", "quantgemm", "blockscale", "blockscaled",
                             # families whose weights are always quantized
                             "marlin", "machete", "awq", "gptq", "exl2", "exl3", "gguf", "hqq", "aqlm", "gemlite",
                             "squeezellm", "quip", "qserve", "nbits"})
DEQUANT_WORDS = frozenset({"dequant", "dequantize", "dequantization", "dequantized", "dq"})
# words of kernels that compute on their operands (GEMMs, attention, convolution, collectives): what
# their signature reads and writes is not a conversion
COMPUTE_WORDS = frozenset({"gemm", "gemv", "matmul", "mm", "bmm", "einsum", "dot", "attention", "attn", "fmha",
                           "mha", "mla", "sdpa", "flash", "moe", "expert", "experts", "conv", "allreduce", "nccl",
                           "reduce", "wgmma", "mma", "xmma"})


def operand_evidence(ctx: KernelContext, family_words: bool = True) -> Evidence:
    """What the kernel's name and its launching op say about its operand types. family_words: a GEMM's
    name saying quant / marlin / gptq counts as low-precision operands (not for a quantize kernel, whose
    name says quant whatever its instantiation does)."""
    parsed = parse_name(ctx.name)
    op_types = set(ctx.in_types)
    named = family_words and not parsed.words.isdisjoint(QUANTIZED_WORDS)
    if parsed.strong_low() or op_types & _OP_LOW or named:
        return Evidence.LOW
    if parsed.kv_auto:
        return Evidence.HIGH
    if parsed.low & WEAK:
        return Evidence.LOW
    if parsed.high or op_types & _OP_HIGH:
        return Evidence.HIGH
    return Evidence.NONE
