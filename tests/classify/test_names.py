"""The grammar of kernel names (classify/names.py): what a name states beyond its spelling."""

from __future__ import annotations

import pytest

from kernelscope.classify.demangle import mangled_reading
from kernelscope.classify.names import DEQUANTIZES, QUANTIZES, parse_name, split_words, word_set


def test_words_split_at_underscores_namespaces_and_camel_case() -> None:
    assert split_words("fmhaSm100Kernel_QkvE4m3OBfloat16") == ["fmha", "sm100", "kernel", "qkv", "e4m3", "o",
                                                                "bfloat16"]
    assert "conv" not in word_set("convert_fp8_kernel")


@pytest.mark.parametrize("name, compound", [
    ("onnxruntime::contrib::cuda::MatMulFloatInt4Kernel", "matmul"),  # camelCase pieces joined
    ("_gemm_a16_w16", "a16w16"),  # across an underscore
    ("ck::moe_mxgemm_2lds", "gemm"),  # a verb run into its format prefix
    ("ck::moe_mxgemm_2lds", "mx"),
    ("onnxruntime::contrib::cuda::Dequantize4BitsKernel", "dequantize"),  # a word without its number
])
def test_compounds_a_name_spells_across_its_boundaries(name: str, compound: str) -> None:
    assert compound in word_set(name)


def test_a_library_name_is_not_split_into_a_verb() -> None:
    assert "gemm" not in word_set("fbgemm_gpu::dynamicQuantizeMatrixRowwise")


def test_template_arguments_parameters_and_enum_casts_state_types() -> None:
    p = parse_name("void vllm::reshape_and_cache_flash_kernel<__nv_bfloat16, unsigned char, "
                   "(vllm::Fp8KVCacheDataType)1>(__nv_bfloat16 const*, unsigned char*)")
    assert p.base == "vllm::reshape_and_cache_flash_kernel"
    assert p.function == "reshape_and_cache_flash_kernel"
    assert "fp8e4m3" in p.low and "bf16" in p.high and not p.kv_auto
    auto = parse_name("vllm::reshape_and_cache_kernel<__hip_bfloat16, __hip_bfloat16, (vllm::Fp8KVCacheDataType)0>")
    assert auto.kv_auto and auto.strong_low() == frozenset()
    ggml = parse_name("void mul_mat_q<(ggml_type)12, 64, false>(char const*, int const*, float*)")
    assert "q4_k" in ggml.low and ggml.flags == (False,)


def test_a_bare_tile_size_is_not_a_ggml_format() -> None:
    p = parse_name("fmhaSm100fKernel_QkvBfloat16OBfloat16H128PagedKvCausalP64MultiCtasKvVarSeqQ8Kv128"
                   "StaticSwapsAbForGen")
    assert p.strong_low() == frozenset() and "bf16" in p.high
    assert "q4k" in parse_name("vllm::dequantize_block_q4_K<c10::Half>(void const*, c10::Half*)").low


def test_a_summary_tools_note_is_not_a_parameter_list() -> None:
    p = parse_name("aiter::fmha_fwd (hd128_causal)")
    assert (p.base, p.params) == ("aiter::fmha_fwd", ())
    assert {"fmha", "causal"} <= p.base_words


@pytest.mark.parametrize("name, direction", [
    ("void fp16_to_q_kv_paged_kernel<4, 4>(__half const*, unsigned char*, __half*)", QUANTIZES),
    ("void q_to_fp16_kv_kernel<8, 8>(unsigned char const*, __half const*, __half*)", DEQUANTIZES),
    ("fp8_to_fp16_kernel(unsigned char const*, __half*, int, int, int, int)", DEQUANTIZES),
    ("void transformer_engine::cast_mxfp8_2D_kernel<false, false>(__nv_bfloat16 const*)", QUANTIZES),
    ("cast_transpose_optimized_kernel(__nv_bfloat16 const*, float const*, __nv_fp8_e4m3*, __nv_fp8_e4m3*)", QUANTIZES),
    ("cast_transpose_optimized_kernel(hip_bfloat16 const*, float const*, te_hip_fp8_e5m2*, float*)", QUANTIZES),
    ("float2half_kernel(float const*, __half*, int)", ""),  # float to float
    # reading fp8 and writing bf16 is what a skinny fp8 GEMM does too: the signature alone never says dequant
    ("void wvSplitKQ_hf_<__hip_bfloat16, c10::Float8_e4m3fn, 64>(int, c10::Float8_e4m3fn const*, __hip_bfloat16*)", ""),
])
def test_direction_from_the_names_words_or_its_signature(name: str, direction: str) -> None:
    assert parse_name(name).direction == direction


def test_a_mangled_name_that_will_not_demangle_is_read_by_its_source_names() -> None:
    cut = ("_ZN18transformer_engine12unary_kernelILi16ELb1EfNS_6detail5EmptyETnPFT1_S3_RKT2_EXadL_ZNS1_8identityEfRKS2"
           "_EE12hip_bfloat1615te_hip_fp8_e4m3EEvPKT4_PT5_PKS3_PS3")
    assert mangled_reading(cut) == ("transformer_engine::unary_kernel<detail, Empty, identity, hip_bfloat16, "
                                    "te_hip_fp8_e4m3>")
    ck = "_ZN7ck_tile6kentryILi1ENS_12Rmsnorm2dFwdINS_27Rmsnorm2dFwdPipelineOnePassIDF16bDF16bfNS_"
    assert mangled_reading(ck).startswith("ck_tile::kentry<Rmsnorm2dFwd, Rmsnorm2dFwdPipelineOnePass")
    assert "__bf16" in mangled_reading(ck)  # DF16b: an extended float type, spelled for the type reading
