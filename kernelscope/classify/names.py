"""The grammar of kernel names: what a name says beyond its spelling.

A kernel name, as CUPTI / roctracer / nsys print it, is a demangled C++ signature
(`void ns::kernel<__nv_bfloat16, unsigned char, (vllm::Fp8KVCacheDataType)1>(args)`), a mangled one
(`_ZN5aiter...`), a Triton or Inductor function name (`triton_red_fused_mm_0`, `_w8a8_block_fp8_matmul`),
or a cubin name whose tokens spell types (`bmm_Bfloat16_E4m3E4m3_Fp32_...`, `fmhaSm100Kernel_QkvE4m3...`).
`parse_name` takes any of them apart once per distinct name:

    base      the qualified function name, without return type, template arguments or parameters
    args      the function's top-level template arguments; params: its parameter types
    words     every identifier, split at `_`, `::` and camelCase, lower-cased: rules match whole words
    low/high  the operand types the name states: low-precision formats (fp8, fp4, int8, int4, the ggml
              block formats, ...) and high-precision floats (bf16, fp16, fp32), from template arguments,
              parameter types, enum casts (`(ggml_type)8`, `(vllm::Fp8KVCacheDataType)0`) and dtype words
    flags     boolean template arguments (`true`, `(bool)0`)
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from kernelscope.classify.demangle import demangle, mangled_reading

# --------------------------------------------------------------------------------------- C++ types

# C++ type spellings (CUDA, HIP, c10, CUTLASS, CK, TensorRT-LLM) -> the format they store
_TYPES: dict[str, str] = {
    **dict.fromkeys(("__nv_bfloat16", "__nv_bfloat162", "nv_bfloat16", "c10::BFloat16", "at::BFloat16",
                     "cutlass::bfloat16_t", "__hip_bfloat16", "hip_bfloat16", "__hip_bfloat162", "ck::bhalf_t",
                     "ck_tile::bf16_t", "std::bfloat16_t", "__bf16", "bfloat16_t", "bf16_t"), "bf16"),
    **dict.fromkeys(("half", "__half", "__half2", "half2", "c10::Half", "at::Half", "cutlass::half_t", "_Float16",
                     "ck::half_t", "ck_tile::fp16_t", "unsigned short", "uint16_t"), "fp16"),
    **dict.fromkeys(("float", "float2", "float4", "cutlass::tfloat32_t", "double"), "fp32"),
    **dict.fromkeys(("__nv_fp8_e4m3", "__nv_fp8x2_e4m3", "__nv_fp8x4_e4m3", "cutlass::float_e4m3_t",
                     "c10::Float8_e4m3fn", "c10::Float8_e4m3fnuz", "at::Float8_e4m3fn", "ck::f8_t",
                     "ck::f8_fnuz_t", "ck_tile::fp8_t", "__hip_fp8_e4m3", "__hip_fp8_e4m3_fnuz", "fp8_e4m3_t",
                     "__nv_fp8_storage_t"), "fp8e4m3"),
    **dict.fromkeys(("__nv_fp8_e5m2", "cutlass::float_e5m2_t", "c10::Float8_e5m2", "c10::Float8_e5m2fnuz",
                     "ck::bf8_t", "ck::bf8_fnuz_t", "ck_tile::bf8_t", "__hip_fp8_e5m2", "__hip_fp8_e5m2_fnuz"),
                    "fp8e5m2"),
    **dict.fromkeys(("__nv_fp4_e2m1", "__nv_fp4x2_e2m1", "__nv_fp4x4_e2m1", "cutlass::float_e2m1_t",
                     "cutlass::nv_float4_t", "cutlass::mx_float4_t", "ck_tile::fp4x2_t", "ck::f4x2_pk_t",
                     "c10::Float4_e2m1fn_x2"), "fp4"),
    **dict.fromkeys(("cutlass::float_e3m2_t", "cutlass::float_e2m3_t", "cutlass::mx_float6_t"), "fp6"),
    **dict.fromkeys(("cutlass::float_ue8m0_t", "__nv_fp8_e8m0", "c10::Float8_e8m0fnu"), "e8m0"),
    **dict.fromkeys(("cutlass::float_ue4m3_t",), "ue4m3"),
    **dict.fromkeys(("signed char", "int8_t", "c10::qint8", "ck::int8_t"), "int8"),
    **dict.fromkeys(("unsigned char", "uint8_t", "c10::quint8"), "uint8"),
    **dict.fromkeys(("cutlass::int4b_t", "cutlass::uint4b_t", "ck::pk_i4_t", "c10::quint4x2"), "int4"),
    **dict.fromkeys(("cutlass::int2b_t", "cutlass::uint2b_t"), "int2"),
}
HIGH = frozenset({"bf16", "fp16", "fp32", "tf32"})
LOW_FORMATS = frozenset({"fp8e4m3", "fp8e5m2", "fp4", "fp6", "mx", "int8", "uint8", "int4", "int2"})
# uint8 is storage (an fp8 cache, packed nibbles, or plain bytes): evidence only where nothing says otherwise
WEAK = frozenset({"uint8"})
SCALES = frozenset({"e8m0", "ue4m3"})

# ggml_type enum values (ggml.h) -> format
GGML_TYPES = {0: "fp32", 1: "fp16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 9: "q8_1",
              10: "q2_k", 11: "q3_k", 12: "q4_k", 13: "q5_k", 14: "q6_k", 15: "q8_k", 16: "iq2_xxs",
              17: "iq2_xs", 18: "iq3_xxs", 19: "iq1_s", 20: "iq4_nl", 21: "iq3_s", 22: "iq2_s", 23: "iq4_xs",
              24: "int8", 25: "int16", 26: "int32", 27: "int64", 28: "fp64", 29: "iq1_m", 30: "bf16", 34: "tq1_0",
              35: "tq2_0", 39: "mxfp4", 40: "nvfp4"}
_NOT_QUANTIZED = frozenset({"fp32", "fp16", "bf16", "fp64", "int16", "int32", "int64"})

# dtype words inside names (cubin and Triton names spell their operand types)
_WORD_TYPES: dict[str, str] = {
    **dict.fromkeys(("e4m3", "fp8", "e4m3fn", "e4m3fnuz", "f8e4m3", "float8", "fp8e4nv", "fp8e4b15", "mxe4m3",
                     "fp8e4m3"), "fp8e4m3"),
    **dict.fromkeys(("e5m2", "bf8", "fp8e5", "fp8e5m2", "e5m2fnuz"), "fp8e5m2"),
    **dict.fromkeys(("e2m1", "fp4", "mxe2m1", "mxfp4", "nvfp4", "fp4x2", "e2m1x2"), "fp4"),
    **dict.fromkeys(("mxfp8", "blockscale", "blockscaled"), "fp8e4m3"),
    **dict.fromkeys(("mx", "mxf", "mxgemm"), "mx"),
    **dict.fromkeys(("int8", "qint8", "int8x4", "4xi8", "w8a8", "a8w8", "i8gemm", "i8", "pertokeni8"), "int8"),
    **dict.fromkeys(("int4", "w4a16", "w4a8", "a16w4", "a4w4", "w4a4", "4bit", "gptq", "awq", "wna16", "w4a16",
                     "3bit", "2bit"), "int4"),
    **dict.fromkeys(("a16w8", "w8a16", "8bit"), "int8"),
    **dict.fromkeys(("afp4wfp4", "a16wfp4", "afp4", "wfp4", "f4gemm", "mxfp4"), "fp4"),
    **dict.fromkeys(("i8gemm", "a16w8gemm", "fp8gemm"), "int8"),
    **dict.fromkeys(("a16w16", "bf16gemm", "noquant"), "bf16"),
    **dict.fromkeys(("bf16", "bfloat16"), "bf16"),
    **dict.fromkeys(("fp16", "f16", "half"), "fp16"),
    **dict.fromkeys(("fp32", "f32", "tf32"), "fp32"),
}
# ggml / GGUF block-format words (q4_0, q4_k, iq2_xxs, ...) say the data is quantized
# (joined across the `_` by word_set: q4_K -> q4k); a bare "q8" is as often a tile size (Q8Kv128)
_GGML_WORD = re.compile(r"^(q[2-8]_?[01k]|iq[1-4]_?(xxs|xs|s|m|nl)|tq[12](_?0)?)$")

# ----------------------------------------------------------------------------------------- parsing

# format words however a cubin or library spells and joins them (Avec32UE8M0, MxE2m1, PA_A16W8, perTokenI8)
_BLOCK_FORMAT = re.compile(r"(?i)(e4m3|e5m2|e2m1|mxfp4|mxfp8|nvfp4|a16w8|a8w8|w8a8|w4a16|a16w4|w4a8|a4w4|afp4wfp4)")
_ENUM_CAST = re.compile(r"\(([\w:]+)\)\s*(-?\d+)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[0-9]+")


@dataclass(frozen=True)
class ParsedName:
    raw: str
    base: str
    args: tuple[str, ...]
    params: tuple[str, ...]
    words: frozenset[str]
    base_words: frozenset[str]
    low: frozenset[str]
    high: frozenset[str]
    flags: tuple[bool, ...]
    kv_auto: bool  # a vLLM kernel instantiated with Fp8KVCacheDataType::kAuto: K/V stored in the model dtype
    direction: str = ""  # QUANTIZES / DEQUANTIZES: what the name's grammar says the kernel converts, else ""

    @property
    def function(self) -> str:
        """The last component of the qualified name (`paged_attention_v2_kernel`)."""
        return self.base.rpartition("::")[2]

    @property
    def typed(self) -> bool:
        return bool(self.low or self.high)

    def strong_low(self) -> frozenset[str]:
        """Low-precision formats other than plain bytes (uint8) and scale types."""
        return self.low - WEAK - SCALES


def split_words(text: str) -> list[str]:
    """Identifiers split at `_`, `::`, and camelCase / letter-case boundaries, lower-cased, in order:
    `fmhaSm100Kernel_QkvE4m3OBfloat16` -> fmha, sm100, kernel, qkv, e4m3, o, bfloat16."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        for part in ident.split("_"):
            if part:
                out.extend(_rejoin(_CAMEL.findall(part)))
    return out


def word_set(text: str) -> frozenset[str]:
    """split_words, with the compounds a name spells across its boundaries: adjacent pairs within one
    identifier (`MatMul` -> matmul, `a16_w16` -> a16w16, `de_quant` -> dequant), a verb run into its type
    prefix (`mxgemm` -> mx, gemm; `i8gemm` -> i8, gemm), and a word without its number (`Dequantize4Bits`
    -> dequantize)."""
    words: set[str] = set()
    for ident in _IDENT.findall(text):
        pieces = [w for part in ident.split("_") if part for w in _rejoin(_CAMEL.findall(part))]
        words.update(pieces)
        words.update(a + b for a, b in itertools.pairwise(pieces))
        for w in pieces:
            words.update(_inner_words(w))
    return frozenset(words)


_VERB_SUFFIX = re.compile(r"^([a-z][a-z0-9]{0,7}?)(gemm|gemv|matmul|einsum|fmha|attn|mm)$")
_NUMBERED = re.compile(r"^([a-z]{3,})(\d+)$")


def _inner_words(word: str) -> tuple[str, ...]:
    numbered = _NUMBERED.match(word)
    if numbered and word not in _WORD_TYPES:
        return (numbered.group(1),)
    verb = _VERB_SUFFIX.match(word)
    if verb and (verb.group(1) in _VERB_PREFIXES or verb.group(1) in _WORD_TYPES):
        return verb.group(1), verb.group(2)
    return ()


# what a library runs into a verb: a BLAS type letter (hgemm, sgemm), a format (mxgemm, i8gemm), a kind
# (qgemm, bmm). Not any prefix: fbgemm is a library, not an "fb" GEMM.
_VERB_PREFIXES = frozenset({"b", "h", "s", "d", "c", "z", "i", "q", "mx", "f8", "i8", "i4", "u4", "w4", "w8", "nv",
                            "quant", "scaled", "grouped", "batched", "fused", "flash", "paged", "sparse", "ck"})


def _rejoin(pieces: list[str]) -> list[str]:
    """CamelCase pieces with the type spellings put back together: E4m3 was split as E, 4m3."""
    out: list[str] = []
    for p in pieces:
        low = p.lower()
        if out and re.fullmatch(r"\d+m\d+(fn|fnuz)?|\d+x\d+", low) and out[-1] in ("e", "ue", "mxe", "xe"):
            out[-1] += low
        elif out and len(out[-1]) == 1 and out[-1].isalpha() and low[:1].isdigit():
            out[-1] += low  # I8, W8, A16: a type letter and its width, split by the camelCase reading
        else:
            out.append(low)
    return out


@lru_cache(maxsize=65536)
def parse_name(name: str) -> ParsedName:
    text = demangle(name) if name.startswith("_Z") else name
    if text.startswith("_Z"):  # mangled, and it would not demangle (cut off): read the names it spells
        text = mangled_reading(text)
    text = re.sub(r"\s*\[clone [^\]]*\]$|\.kd$", "", text.strip())
    signature, note = _split_note(text)
    head, params = _split_params(signature)
    head = head.rstrip()
    base, args = _split_template(_last_token(head))
    template_text = head[len(head) - len(_last_token(head)):] if head else ""
    low, high, kv_auto = _evidence(template_text, params, [*word_set(_strip_casts(text))])
    if name.startswith("_Z"):
        low, high = low | _mangled_types(name, LOW_FORMATS), high | _mangled_types(name, HIGH)
    flags = tuple(a.strip() in ("true", "(bool)1") for a in args if a.strip() in ("true", "false", "(bool)1",
                                                                                     "(bool)0"))
    direction = _direction(split_words(_strip_casts(base)), args, params)
    return ParsedName(raw=name, base=base, args=args, params=params, words=word_set(text),
                      base_words=word_set(base) | word_set(note), low=low, high=high, flags=flags, kv_auto=kv_auto,
                      direction=direction)


_NOTE = re.compile(r"^(?P<name>[^\s(]+)\s+\((?P<note>[^()]*)\)$")


def _split_note(text: str) -> tuple[str, str]:
    """`aiter::fmha_fwd (hd128_causal)` -> the name and the note a summary tool put after it (a C++
    signature has no space before its parameter list)."""
    m = _NOTE.match(text)
    return (m.group("name"), m.group("note")) if m else (text, "")


def _depths(text: str) -> list[int]:
    """The bracket depth at each character: <>, (), [] and {} nest; a `>` inside parentheses opened after
    the last `<` is a comparison (`enable_if<((8)>(0))>`), not a bracket."""
    stack: list[str] = []
    out = []
    for c in text:
        if c in "<([{":
            stack.append(c)
            out.append(len(stack))
            continue
        out.append(len(stack))
        if c == ">" and stack and stack[-1] == "<":
            stack.pop()
        elif c in ")]}":
            while stack and stack.pop() not in "([{":
                pass
    return out


def _split_params(text: str) -> tuple[str, tuple[str, ...]]:
    """(everything before the parameter list, the parameter types); a name without one has no params."""
    if not text.endswith(")"):
        return text, ()
    depth = _depths(text)
    closing = depth[-1]
    for i in range(len(text) - 1, -1, -1):
        if text[i] == "(" and depth[i] == closing:
            head = text[:i]
            if not head.strip() or head.endswith("operator"):
                return text, ()
            return head, tuple(p.strip() for p in _split_top(text[i + 1:-1]) if p.strip())
    return text, ()


def _last_token(head: str) -> str:
    """The qualified name with its template arguments: the last top-level word of `head`
    (after a return type such as `void` or `std::enable_if<...>::type`)."""
    start = 0
    for i, (c, d) in enumerate(zip(head, _depths(head), strict=True)):
        if c == " " and d == 0:
            start = i + 1
    return head[start:]


def _split_template(name: str) -> tuple[str, tuple[str, ...]]:
    """`ns::f<a, b<c>>` -> ("ns::f", ("a", "b<c>")): the template arguments of the last component (also of a
    name cut off inside them, as nsys and truncated tables leave it)."""
    depth = _depths(name)
    opens = [i for i, c in enumerate(name) if c == "<" and depth[i] == 1]
    if not opens:
        return name, ()
    open_at = opens[-1]
    inner = name[open_at + 1:]
    if inner.endswith(">") and depth[-1] == 1:
        inner = inner[:-1]
    return name[:open_at], tuple(a.strip() for a in _split_top(inner) if a.strip())


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets."""
    parts, start = [], 0
    for i, (c, d) in enumerate(zip(text, _depths(text), strict=True)):
        if c == "," and d == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _evidence(template: str, params: tuple[str, ...], words: list[str]) -> tuple[frozenset[str], frozenset[str], bool]:
    low: set[str] = set()
    high: set[str] = set()
    kv_auto = False
    for kind, value in _ENUM_CAST.findall(template):
        if kind.endswith("ggml_type"):
            fmt = GGML_TYPES.get(int(value), "q?")
            (high if fmt in _NOT_QUANTIZED else low).add(fmt)
        elif kind.endswith("Fp8KVCacheDataType"):
            kv_auto = kv_auto or value == "0"
            if value in ("1", "2"):
                low.add("fp8e4m3" if value == "1" else "fp8e5m2")
    for text, where in ((_strip_casts(template), "template"), *((p, "param") for p in params)):
        for spelling, fmt in _TYPES.items():
            if fmt in WEAK and where == "param":
                continue  # a uint8 pointer argument is a mask or a byte buffer as often as quantized data
            if _contains_type(text, spelling):
                (high if fmt in HIGH else low).add(fmt)
    for found in _BLOCK_FORMAT.findall(" ".join((template, *params, *words))):
        block = _WORD_TYPES.get(found.lower())
        if block is not None:
            low.add(block)
    for w in words:
        spelled = _WORD_TYPES.get(w)
        if spelled is not None:
            (high if spelled in HIGH else low).add(spelled)
        elif _GGML_WORD.match(w):
            low.add(w)
    return frozenset(low), frozenset(high), kv_auto


# ----------------------------------------------------------------------------------- direction

QUANTIZES, DEQUANTIZES = "quantizes", "dequantizes"
_CAST_VERBS = frozenset({"cast", "convert", "cvt", "conversion", "quantize"})
_QUANTIZED_WORDS = frozenset({"q", "quant", "quantized", "mx", "packed"})
_FLOAT_WORDS = frozenset({"float", "half", "bfloat", "single", "fp", "f"})
_RUN_ON = re.compile(r"^([a-z0-9]+?)(?:2|to)([a-z][a-z0-9]*)$")  # float2half, fp16tofp8


def _word_kind(word: str) -> str:
    """'low' for a word naming a quantized format, 'high' for a float one, '' otherwise."""
    fmt = _WORD_TYPES.get(word)
    if fmt is not None:
        return "high" if fmt in HIGH else "low"
    if word in _QUANTIZED_WORDS or _GGML_WORD.match(word):
        return "low"
    return "high" if word in _FLOAT_WORDS else ""


def _between(source: str, target: str) -> str:
    if (source, target) == ("high", "low"):
        return QUANTIZES
    return DEQUANTIZES if (source, target) == ("low", "high") else ""


def _direction(words: list[str], args: tuple[str, ...], params: tuple[str, ...]) -> str:
    """What the function converts, as its name spells it (`fp16_to_q`, `fp8_to_fp16`, `float2half`, a cast
    verb before a low-precision format: `cast_mxfp8`), else as its signature shows (it reads only float
    data through const pointers and writes a low-precision type)."""
    for i in range(1, len(words) - 1):
        if words[i] in ("to", "2"):
            found = _between(_word_kind(words[i - 1]), _word_kind(words[i + 1]))
            if found:
                return found
    for word in words:
        run_on = _RUN_ON.match(word)
        if run_on and (found := _between(_word_kind(run_on.group(1)), _word_kind(run_on.group(2)))):
            return found
    for i, word in enumerate(words[:-1]):
        target = words[i + 2] if words[i + 1] == "to" and i + 2 < len(words) else words[i + 1]
        if word in _CAST_VERBS and _word_kind(target) == "low":
            return QUANTIZES
    return _signature_direction(params)


_STRONG_LOW = LOW_FORMATS - WEAK


def _signature_direction(params: tuple[str, ...]) -> str:
    reads: set[str] = set()
    writes: set[str] = set()
    for param in params:
        star = param.rfind("*")
        if star < 0:
            continue
        formats = {fmt for spelling, fmt in _TYPES.items() if fmt in _STRONG_LOW | HIGH
                   and _contains_type(param, spelling)}
        formats.update(f for w in _BLOCK_FORMAT.findall(param) if (f := _WORD_TYPES.get(w.lower(), "")) in _STRONG_LOW)
        (reads if "const" in param[:star] else writes).update(formats)
    # only this way round: a kernel that reads fp8 / int4 and writes floats is as often a GEMM or an
    # attention that consumes the quantized data natively (a skinny fp8 GEMM) as it is a dequantization
    return QUANTIZES if writes & _STRONG_LOW and reads & HIGH and not reads & _STRONG_LOW else ""


_MANGLED = {"bfloat16_t": "bf16", "DF16b": "bf16", "half_t": "fp16", "DF16_": "fp16", "float_e4m3_t": "fp8e4m3",
            "float_e5m2_t": "fp8e5m2", "float_e2m1_t": "fp4", "int4b_t": "int4", "uint4b_t": "int4"}


def _mangled_types(name: str, wanted: frozenset[str]) -> frozenset[str]:
    return frozenset(fmt for spelling, fmt in _MANGLED.items() if fmt in wanted and spelling in name)


@lru_cache(maxsize=65536)
def arg_formats(arg: str) -> frozenset[str]:
    """The formats one template argument spells (a C++ type, or an enum cast such as `(ggml_type)8`)."""
    low, high, _ = _evidence(arg, (), [])
    return low | high




def _strip_casts(text: str) -> str:
    return _ENUM_CAST.sub(" ", text)


@cache
def _type_pattern(spelling: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w:])" + re.escape(spelling) + r"(?![\w])")


def _contains_type(text: str, spelling: str) -> bool:
    return spelling in text and _type_pattern(spelling).search(text) is not None


