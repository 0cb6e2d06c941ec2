"""Every GPU rule, decided on real kernel names (as torch.profiler / nsys print them); and the traps:
names that contain 'quant' or a low-precision dtype but are neither dequant nor quantized compute."""

from __future__ import annotations

import pytest

from kernelscope.classify.engine import Classifier
from kernelscope.classify.rules.base import KernelContext
from kernelscope.classify.rules.order import GPU_LATE_TABLES, GPU_NAME_TABLES, default_classifier, default_tables
from kernelscope.vocabulary import Device, KernelClass, Role

from .corpus_score import score_corpus

G, D, Q, A, E, M, O, CO = (Role.GEMM, Role.DEQUANT, Role.QUANTIZE, Role.ATTENTION, Role.ELEMENTWISE, Role.MEMORY,
                           Role.OTHER, Role.COMMUNICATION)
NAT, DQ, QZ, DN, OT = KernelClass.NATIVE, KernelClass.DEQUANT, KernelClass.QUANTIZE, KernelClass.DENSE, KernelClass.OTHER


def k(name: str, op: str = "", types: tuple[str, ...] = ()) -> KernelContext:
    return KernelContext(name=name, device=Device.GPU, op=op, within=(op,) if op else (), in_types=types)


# (context, rule id, role, class, expected format or None to skip)
CASES: list[tuple[KernelContext, str, Role, KernelClass, str | None]] = [
    # bitsandbytes
    (k("kgemm_4bit_inference_naive<__nv_bfloat16, 128, 16>(int, int, int, __nv_bfloat16*, unsigned char*, float*, float const*, __nv_bfloat16*, int, int, int, int)"),
     "bnb-cuda.gemv_4bit", G, NAT, None),
    (k("gemm_4bit_sm80_m16n8k16<__nv_bfloat16, 128, 128, 64>(__nv_bfloat16 const*, unsigned char const*)"),
     "bnb-cuda.gemm_4bit", G, NAT, None),
    (k("kDequantizeBlockwise<__nv_bfloat16, 512, 64, 8, 2>(float*, unsigned char*, float*, __nv_bfloat16*, int, int)"),
     "bnb-cuda.dequantize_4bit", D, DQ, "nf4 blockwise"),
    (k("kDequantizeBlockwise<float, 512, 64, 8, 0>(float*, unsigned char*, float*, float*, int, int)"),
     "bnb-cuda.dequantize_blockwise", D, DQ, None),
    (k("kInt8VectorQuant<__half, 1024, 1>(__half*, signed char*, float*, float, int, int)"),
     "bnb-cuda.int8_vector_quant", Q, QZ, None),
    (k("kQuantizeBlockwise<__nv_bfloat16, 64, 2, 0, 2>(float*, __nv_bfloat16*, float*, unsigned char*, float*, int, int)"),
     "bnb-cuda.quantize_blockwise", Q, QZ, None),
    (k("kdequant_mm_int32_fp16<4, 512>(int*, float*, float*, __half*, __half*, int, int, int)"),
     "bnb-cuda.dequant_mm_epilogue", E, OT, None),
    (k("kExtractOutliers<0>(signed char*, int*, signed char*, int, int, int)"), "bnb-cuda.legacy-transform", O, OT, None),
    # ATen / torchao
    (k("at::native::tinygemm_m16n8k16_chunk_kernel<at::native::ALayout_RM<(at::native::KReductionType)0>, at::native::BLayout_TC_int4<8, 128>, at::native::ALayout_RM<(at::native::KReductionType)0>, 8, 8>(void const*)"),
     "aten-cuda.tinygemm", G, NAT, None),
    (k("at::native::matrix_to_m16n8k16_Bint4_layout<8>(at::PackedTensorAccessor32<unsigned char, 2, at::RestrictPtrTraits>)"),
     "aten-cuda.int4-repack", O, OT, None),
    (k("at::native::weight_int8pack_mm_kernel(float const*, signed char const*, float const*, float*, int, int, int)"),
     "aten-cuda.int8pack_mm", G, NAT, None),
    (k("cutlass::device_kernel<cutlass::gemm::kernel::GemmUniversal<cute::tuple<int, int, int, int>, cutlass::gemm::collective::CollectiveMma<cutlass::gemm::MainloopSm90TmaGmmaRmemAWarpSpecializedMixedInput<4>>"),
     "torchao-cuda.mixed-input", G, NAT, None),
    # Marlin / Machete
    (k("marlin::gptq_marlin_repack_kernel<256, 4, false, false>(unsigned int const*, unsigned int const*, unsigned int*, int, int)"),
     "marlin.repack", M, OT, None),
    (k("marlin::permute_cols_kernel(int4 const*, int const*, int4*, int, int, int, int)"), "marlin.permute", O, OT, None),
    (k("marlin::Marlin<1125899906910725l, 1125899906843648l, 1125899906910725l, 1125899906910725l, 256, 1, 8, 8, true, 4, -1, false>(int4 const*)"),
     "marlin.gemm", G, NAT, None),
    (k("marlin_moe_wna16::Marlin<(long)1125899906910725, (long)1125899906843648>(int4 const*)"), "marlin.gemm", G, NAT, None),
    (k("cutlass::device_kernel<machete::MacheteKernelTemplate<cutlass::bfloat16_t>::KernelType>(...)"),
     "marlin.machete", G, NAT, None),
    # AWQ / GPTQ / GGUF
    (k("vllm::awq::gemm_forward_4bit_cuda_m16nXk32<128>(int, int, __half*, int*, __half*, int*, int, int, int, __half*)"),
     "awq.gemm", G, NAT, None),
    (k("gemv_kernel<2, 1, 256, 128>(__half const*, unsigned int const*, __half const*, __half const*, __half*, int, int)"),
     "awq.gemv", G, NAT, None),
    (k("vllm::awq::dequantize_weights(int*, __half*, int*, __half*, int)"), "awq.dequantize", D, DQ, None),
    (k("vllm::gptq::gemm_half_q_half_gptq_4bit_kernel<true, 8>(__half const*, unsigned int const*)"),
     "gptq.gemm", G, NAT, None),
    (k("vllm::gptq::reconstruct_gptq_kernel<vllm::gptq::MatrixView_q4_row, 4>(unsigned int const*)"),
     "gptq.reconstruct", D, DQ, None),
    (k("vllm::gptq::make_sequential_4bit_kernel(unsigned int const*, unsigned int*, int const*, int)"),
     "gptq.repack", M, OT, None),
    (k("vllm::dequantize_block_q4_K<c10::Half>(void const*, c10::Half*)"), "ggml.dequantize", D, DQ, None),
    # TensorRT-LLM
    (k("tensorrt_llm::kernels::weight_only::kernel<tensorrt_llm::kernels::weight_only::KernelDetails<tensorrt_llm::kernels::weight_only::FP16DetailsA, tensorrt_llm::kernels::weight_only::Int4DetailsW, tensorrt_llm::kernels::weight_only::ColumnMajorInterleaved, true, 64>, 1, 8, 128, 128, false, true, false, false, __half>(__half*)"),
     "trtllm.weight-only-gemv", G, NAT, "int4 weight-only"),
    (k("cutlass::Kernel2<cutlass::gemm::kernel::GemmFpAIntB<cutlass::gemm::threadblock::DqMmaMultistage<>>>(Params)"),
     "trtllm.fpA_intB", G, NAT, None),
    (k("tensorrt_llm::kernels::cudaCoreGemm<__nv_fp8_e4m3, __nv_bfloat16, 128, 4>(Params)"), "trtllm.cuda-core-lowp", G,
     NAT, None),
    (k("bmm_Bfloat16_E2m1E2m1_Fp32_t128x8x512u2_s3_et64x8_m64x8x64_cga1x1x1_16dp256b_TN_transOut_schedS_sm100f"),
     "trtllm.gen-bmm-lowp", G, NAT, "fp4 e2m1"),
    (k("bmm_Bfloat16_Bfloat16Bfloat16_Fp32_t128x64x64_s4_et64x64_m64x64x16_cga1x1x1_16dp256b_TN_sm100f"),
     "trtllm.gen-bmm", G, DN, None),
    (k("tensorrt_llm::kernels::applyBiasRopeUpdateKVCacheV2<__nv_bfloat16, __nv_fp8_e4m3, 256, 128, false, false, false, true>(Params)"),
     "trtllm.kv-write-quant", Q, QZ, "fp8 e4m3 KV"),
    (k("tensorrt_llm::kernels::applyBiasRopeUpdateKVCacheV2<__nv_bfloat16, __nv_bfloat16, 256, 128>(Params)"),
     "trtllm.kv-write", M, OT, None),
    (k("tensorrt_llm::kernels::static_quantize_e4m3_per_tensor<__nv_bfloat16>(...)"), "trtllm.activation-quant", Q, QZ,
     None),
    # HQQ / quanto / GemLite
    (k("dequantize_4bit_u8_kernel<c10::Half>(unsigned char*, c10::Half*, c10::Half*, c10::Half*, int, int)"),
     "hqq.dequant-kernel", D, DQ, None),
    (k("unpack_4bit_kernel(unsigned char*, unsigned char*, int)"), "quanto.unpack-kernel", D, DQ, None),
    (k("gemv_revsplitK_A16fWnO16f_int32packing_kernel"), "gemlite.gemm", G, NAT, None),
    (k("scale_activations_per_token_triton_kernel"), "gemlite.scale-activations", Q, QZ, None),
    # quantize / KV writes
    (k("vllm::reshape_and_cache_flash_kernel<__nv_bfloat16, unsigned char, (vllm::Fp8KVCacheDataType)1>(__nv_bfloat16 const*, __nv_bfloat16 const*)"),
     "quant.kv-write-fp8", Q, QZ, "fp8 e4m3 KV"),
    (k("vllm::reshape_and_cache_flash_kernel<__hip_bfloat16, __hip_bfloat16, (vllm::Fp8KVCacheDataType)0>(__hip_bfloat16 const*, __hip_bfloat16 const*, __hip_bfloat16*, __hip_bfloat16*, long const*, long, long, long, long,"),
     "quant.kv-write", M, OT, None),
    (k("flashinfer::AppendPagedKVCacheKernel<128u, 16u, __nv_fp8_e4m3, int>(flashinfer::paged_kv_t<__nv_fp8_e4m3, int>)"),
     "quant.kv-append-fp8", M, OT, None),
    (k("vllm::dynamic_per_token_scaled_fp8_quant_kernel_strided<c10::BFloat16, c10::Float8_e4m3fn>(...)"),
     "quant.fp8-activation", Q, QZ, None),
    (k("per_token_group_quant_8bit_kernel<c10::BFloat16, c10::Float8_e4m3fn, true, true, float>(c10::BFloat16 const*, void*, float*, int, int, int, float, float, float, int, int)"),
     "quant.fp8-activation", Q, QZ, None),
    (k("vllm::dynamic_scaled_int8_quant_kernel<c10::BFloat16, float>(c10::BFloat16 const*, signed char*, float*, int)"),
     "quant.int8-activation", Q, QZ, None),
    (k("vllm::rms_norm_dynamic_per_token_quant_kernel<c10::BFloat16, c10::Float8_e4m3fn, false>(...)"),
     "quant.fused-norm", Q, QZ, None),
    (k("vllm::act_and_mul_quant_kernel<c10::BFloat16, &vllm::silu_kernel<c10::BFloat16>, c10::Float8_e4m3fn>(...)"),
     "quant.fused-act", Q, QZ, None),
    (k("cvt_fp16_to_fp4<__nv_bfloat16, false>(int, int, __nv_bfloat16 const*)"), "trtllm.activation-quant", Q, QZ, None),
    (k("vllm::nvfp4_quant_kernel<__nv_bfloat16>(...)"), "quant.fp4-activation", Q, QZ, None),
    # attention
    (k("vllm::paged_attention_v2_kernel<__nv_bfloat16, unsigned char, 128, 16, 128, (vllm::Fp8KVCacheDataType)1, false, 512>(float*)"),
     "attn.vllm-paged-fp8", A, NAT, "fp8 e4m3 KV"),
    (k("vllm::paged_attention_v1_kernel<unsigned short, unsigned char, 128, 16, 128, true>(...)"),
     "attn.vllm-paged-fp8-legacy", A, NAT, None),
    (k("cutlass::device_kernel<flash::enable_sm90_or_later<flash::FlashAttnFwdSm90<flash::CollectiveMainloopFwdSm90<2, cute::tuple<cute::C<1>>, cute::tuple<cute::C<128>>, 256, cutlass::float_e4m3_t, float, cutlass::arch::Sm90>>>>(Params)"),
     "attn.fa3-fp8", A, NAT, None),
    (k("flashinfer::BatchPrefillWithPagedKVCacheKernel<flashinfer::KernelTraits<(flashinfer::MaskMode)1, 128u, 1u, 4u, 8u, 8u, 1u, 4u, (flashinfer::PosEncodingMode)0, __nv_bfloat16, __nv_fp8_e4m3, __nv_bfloat16, float, int, flashinfer::DefaultAttention<false, false, false, false> >, PagedParams>(PagedParams)"),
     "attn.flashinfer-prefill-fp8", A, NAT, None),
    (k("flashinfer::BatchDecodeWithPagedKVCacheKernel<(flashinfer::PosEncodingMode)0, (unsigned int)2, (unsigned int)2, (unsigned int)16, (unsigned int)8, (unsigned int)2, (unsigned int)4, flashinfer::DefaultAttention<(bool)0, (bool)0, (bool)0, (bool)0>, Params>(T9)"),
     "attn.flashinfer-decode-fp8", A, NAT, None),
    (k("flashinfer::BatchDecodeWithPagedKVCacheKernel<false, (flashinfer::PosEncodingMode)0, 2u, 4u, 8u, 16u, 1u, 4u, flashinfer::BatchDecodeParams<__nv_bfloat16, __nv_fp8_e4m3, __nv_bfloat16, int> >"),
     "attn.flashinfer-decode-fp8-typed", A, NAT, None),
    (k("fmhaSm100fKernel_QBfloat16KvE4m3OBfloat16H128PagedKvCausalP64MultiCtasKvVarSeqQ8Kv128StaticSwapsAbForGen"),
     "attn.trtllm-gen-lowp", A, NAT, "fp8 e4m3 KV"),
    (k("masked_multihead_attention_kernel<__nv_bfloat16, __nv_fp8_e4m3, tensorrt_llm::kernels::KVBlockArray, 128, 256>(Params)"),
     "attn.trtllm-mmha-lowp", A, NAT, None),
    (k("sm90::decode::sparse_fp8::flash_fwd_splitkv_mla_fp8_sparse_kernel<Traits>(Params)"), "attn.flashmla-fp8", A, NAT,
     None),
    (k("pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<64, 128, 128, 4, false, false, cutlass::bfloat16_t, Flash_kernel_traits<64, 128, 128, 4, cutlass::bfloat16_t> >, false, true>(pytorch_flash::Flash_fwd_params)"),
     "attn.dense-typed", A, DN, "bf16"),
    (k("vllm::paged_attention_v2_kernel<__nv_bfloat16, __nv_bfloat16, 128, 16, 128, (vllm::Fp8KVCacheDataType)0, false, 512>(float*)"),
     "attn.vllm-paged", A, DN, None),
    (k("fmha_cutlassF_bf16_aligned_64x128_rf_sm80(PyTorchMemEffAttention::AttentionKernel<cutlass::bfloat16_t, cutlass::arch::Sm80, true, 64, 128, 128, true, true>::Params)"),
     "attn.dense-typed", A, DN, None),
    (k("cutlass::device_kernel<flash::enable_sm90_or_later<flash::FlashAttnFwdSm90<flash::CollectiveMainloopFwdSm90<2, cute::tuple<cute::C<1>>, cute::tuple<cute::C<128>>, 256, cutlass::bfloat16_t, float, cutlass::arch::Sm90>>>>(Params)"),
     "attn.flash-typed", A, DN, None),
    (k("kernel_unified_attention_2d", op="vllm::unified_attention_with_output", types=("bf16", "uint8", "uint8")),
     "attn.op-kv-lowp", A, NAT, None),
    (k("kernel_unified_attention_2d", op="vllm::unified_attention_with_output", types=("bf16", "bf16", "bf16")),
     "attn.op-kv-float", A, DN, None),
    (k("kernel_unified_attention_2d"), "attn.kv-dtype-unknown", A, DN, "KV type not visible"),
    # low-precision GEMMs
    (k("cutlass::device_kernel<vllm::cutlass_3x_gemm_sm90_fp8<cutlass::float_e4m3_t, cutlass::bfloat16_t, vllm::c3x::ScaledEpilogue>::GemmKernel>(Params)"),
     "vllm.cutlass_scaled_mm", G, NAT, "fp8 e4m3 x e4m3 (W8A8)"),
    (k("cutlass::device_kernel<vllm::cutlass_3x_gemm_sm90_int8<signed char, cutlass::bfloat16_t>::GemmKernel>(Params)"),
     "vllm.cutlass_scaled_mm", G, NAT, "int8 x int8 (W8A8)"),
    (k("cutlass::device_kernel<vllm::cutlass_3x_gemm_fp8_blockwise<cutlass::bfloat16_t, (int)1, (int)128>>(T1)"),
     "vllm.cutlass_fp8_blockwise", G, NAT, None),
    (k("deep_gemm::sm90_fp8_gemm_1d2d_impl<(cute::UMMA::Major)0, 0u, 4096u, 1024u>(...)"), "deepgemm.lowp", G, NAT, None),
    (k("deep_gemm::sm90_bf16_gemm_impl<(cute::UMMA::Major)0>(...)"), "deepgemm.dense", G, DN, "bf16"),
    (k("nvjet_sm90_qqtst_128x128_128x6_1x2_h_bz_ovscale_TNT"), "cublas.nvjet-lowp", G, NAT, "fp8 e4m3"),
    (k("nvjet_qqtst_128x256_128x6_2x2_2cta_h_bz_Avec32UE8M0_Bvec32UE8M0_TNT"), "cublas.nvjet-lowp", G, NAT, "mxfp8"),
    (k("nvjet_sm100_oohsh_128x256_256x5_2x2_2cta_h_bz_Avec16UE4M3_Bvec16UE4M3_TNT"), "cublas.nvjet-lowp", G, NAT, "nvfp4"),
    (k("nvjet_sm100_qrsss_256x256_128x4_2x1_2cta_v_bz_NTT"), "cublas.nvjet-lowp", G, NAT, "fp8 e4m3 x e5m2"),
    (k("sm90_xmma_gemm_e4m3bf16_e4m3f32_f32_tn_n_tilesize128x128x128_cgasize1x2x1_stage4_gmmastage2_warpgroupsize1x1x1_tensor64x128x32"),
     "cublas.xmma-lowp", G, NAT, "fp8 e4m3"),
    (k("sm90_xmma_gemm_i8i32_i8i32_i32_tn_n_tilesize256x128x128_warpgroupsize2x1x1_execute_segment_k_off_kernel__5x_cublas"),
     "cublas.xmma-lowp", G, NAT, "int8"),
    (k("ampere_int8_i16832gemm_int8_256x128_ldg16_relu_mods_stages_64x3_nt"), "cublas.legacy-int8", G, NAT, "int8"),
    (k("cutlass_80_tensorop_i16832gemm_s8_256x128_64x3_tn_align16"), "cutlass.lowp-2x", G, NAT, "int8"),
    (k("cutlass3x_sm100_bstensorop_s256x256x64gemm_block_scaled_ue4m3xf4_ue4m3xf4_f32_bf16_bf16_256x256x256"),
     "cutlass.lowp-3x", G, NAT, "nvfp4"),
    (k("cutlass::device_kernel<at::cuda::detail::enable_3x_kernel_for_sm9x<cutlass::gemm::kernel::GemmUniversal<cute::tuple<int, int, int>, cutlass::float_e4m3_t, FP8FastAccum>>>"),
     "cutlass.lowp-templated", G, NAT, "fp8 e4m3"),
    (k("Cijk_Alik_Bljk_F8BS_BH_Bias_HA_S_SAB_SAV_UserArgs_MT256x256x128_MI16x16x1_SN_LDSB1"), "rocm.tensile-lowp", G, NAT,
     "fp8 e4m3"),
    (k("Cijk_Alik_Bljk_I8II_BH_HA_I_SAV_UserArgs_MT128x128x64_MI16x16x1"), "rocm.tensile-lowp", G, NAT, "int8"),
    (k("_ZN5aiter42fp8gemm_bf16_blockscale_BpreShuffle_32x128E"), "aiter.gemm", G, NAT, None),
    (k("ck::kernel_gemm_xdl_cshuffle_v3<ck::GridwiseGemmMultiD_ABScale_xdl_cshuffle_v3<RowMajor, ColumnMajor, ck::Tuple<>, RowMajor, ck::f8_fnuz_t, ck::f8_fnuz_t, float>>"),
     "rocm.ck-lowp", G, NAT, "fp8"),
    (k("_matmul_ogs_NNT_bf16xbf16xmxfp4_128x128x128x1_swiglu"), "triton.matmul_ogs-lowp", G, NAT, "mxfp4 weights"),
    (k("some_unnamed_gemm_kernel", op="aten::_scaled_mm", types=("fp8e4m3", "fp8e4m3")), "aten-cuda.scaled_mm", G, NAT,
     None),
    (k("some_cutlass_int8_kernel", op="aten::_int_mm", types=("int8", "int8")), "aten-cuda.int_mm", G, NAT, None),
    (k("some_kernel", op="_C::cutlass_scaled_mm", types=("fp8e4m3",)), "vllm-op.scaled_mm", G, NAT, None),
    # dense GEMMs
    (k("nvjet_tst_128x256_64x4_2x1_v_bz_coopA_TNN"), "cublas.nvjet", G, DN, "bf16"),
    (k("nvjet_sm100_hsh_64x8_64x16_1x1_h_bz_splitK_NNT"), "cublas.nvjet", G, DN, "fp16"),
    (k("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"),
     "cublas.xmma", G, DN, "bf16"),
    (k("sm80_xmma_gemm_f32f32_tf32f32_f32_nn_n_tilesize32x32x64_stage3_warpsize2x1x2_tensor16x8x8"), "cublas.xmma", G,
     DN, "tf32"),
    (k("sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize128x128x64_cudnn"), "cudnn.conv", G, DN,
     None),
    # seen on an H200 (fixtures/runs-cuda/compiled): torchao int8 weight-only under torch.compile at M = 1,
    # the GEMV fused with the int8 -> bf16 conversion; and a fused matmul on floats (RMSNorm + lm_head)
    (k("triton_per_fused_mm_t_view_9", "triton_per_fused_mm_t_view_9",
       ("bf16", "int8", "int8", "fp32", "fp32", "scalar", "scalar")), "inductor.fused-mm-lowp", G, NAT, None),
    (k("triton_per_fused__to_copy_add_mean_mm_mul_pow_rsqrt_view_14", "triton_per_fused__to_copy_add_mean_mm_mul_pow_rsqrt_view_14",
       ("bf16", "fp32", "fp32", "bf16", "bf16", "scalar", "scalar")), "inductor.fused-mm", G, DN, None),
    # seen on an H200 (fixtures/runs-cuda): cuDNN SDPA's split-KV combine at decode, not a convolution
    (k("void cudnn::fusion::lean_reduction_kernel<false, false, false>(void*, float*, float*, float*, float*, float const*, float*, float*, float*, float*, float*, unsigned int, bool)",
       "aten::_cudnn_attention_forward"), "cudnn.sdpa-reduction", A, DN, None),
    (k("void at_cuda_detail::cub::detail::scan::DeviceCompactInitKernel<at_cuda_detail::cub::ScanTileState<int, true>, int*>(at_cuda_detail::cub::ScanTileState<int, true>, int, int*)",
       "aten::nonzero"), "common.cub", E, OT, None),
    (k("ampere_bf16_s16816gemm_bf16_128x128_ldg8_f2f_stages_32x5_tn"), "cublas.legacy", G, DN, "bf16"),
    (k("ampere_sgemm_128x64_tn"), "cublas.legacy", G, DN, "fp32"),
    (k("gemv2T_kernel_val<int, int, __half, __half, __half, float, 128, 16, 2, 4, false, false, cublasGemvParamsEx<int>>(...)"),
     "cublas.gemv", G, DN, "fp16"),
    (k("cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16, float, __nv_bfloat16, false>(...)"),
     "cublas.splitk-reduce", G, DN, None),
    (k("cutlass::Kernel2<cutlass_80_simt_sgemm_128x32_8x5_nn_align1>(cutlass_80_simt_sgemm_128x32_8x5_nn_align1::Params)"),
     "cutlass.dense", G, DN, "fp32"),
    (k("cutlass::device_kernel<cutlass::gemm::kernel::GemmUniversal<cute::tuple<int,int,int>, cutlass::bfloat16_t>>"),
     "cutlass.templated-gemm", G, DN, "bf16"),
    (k("Cijk_Alik_Bljk_BBS_BH_Bias_HA_S_SAV_UserArgs_MT256x192x64_MI16x16x1_SN_LDSB1_AFC1_AFEM1"), "rocm.tensile", G, DN,
     "bf16"),
    (k("_ZL23rocblas_gemvt_sn_reduceILi256ELi8EfPKf16rocblas_bfloat16Evi"), "rocm.rocblas", G, DN, None),
    (k("_ZN5aiter36bf16gemm_bf16_tn_256x256_bpreshuffleE"), "aiter.gemm", G, DN, None),
    (k("_ZN7ck_tile6kentryILi1ENS_19UniversalGemmKernelINS_29GemmTileNChunked1DPartitionerIDF16_DF16_fS8_"),
     "rocm.ck-gemm", G, DN, "fp16"),
    (k("_matmul_ogs_NNT_bf16xbf16xbf16_128x128x64x1"), "triton.matmul_ogs", G, DN, "bf16"),
    (k("_gemm_a16w16_kernel_BLOCK_SIZE_M_64"), "triton.aiter-gemm", G, DN, None),
    # Inductor (decided by the launching op's dtypes)
    (k("triton_tem_fused__to_copy_mm_3", op="triton_tem_fused__to_copy_mm_3", types=("bf16", "int8", "bf16")),
     "inductor.gemm-template-lowp", G, NAT, None),
    (k("triton_tem_fused_addmm_relu_1", op="triton_tem_fused_addmm_relu_1", types=("bf16", "bf16", "bf16")),
     "inductor.gemm-template", G, DN, None),
    (k("triton_poi_fused__to_copy_clamp_div_round_2", op="triton_poi_fused__to_copy_clamp_div_round_2",
       types=("bf16", "fp32", "int8")), "inductor.quantize", Q, QZ, None),
    (k("triton_poi_fused__to_copy_mul_sub_1", op="triton_poi_fused__to_copy_mul_sub_1", types=("uint8", "bf16", "bf16", "bf16")),
     "inductor.dequant", D, DQ, None),
    (k("triton_tem_fused_flex_attention_0"), "inductor.flex-attention", A, DN, None),
    (k("triton_poi_fused_add_cos_sin_0", op="triton_poi_fused_add_cos_sin_0", types=("fp32", "fp32", "fp32", "scalar")),
     "inductor.pointwise", E, OT, None),
    # never quantized compute
    (k("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"), "comm.nccl", CO, OT, None),
    (k("vllm::cross_device_reduce_1stage<__nv_bfloat16, 8>(vllm::RankData*, vllm::RankSignals, vllm::Signal*, __nv_bfloat16*, int, int)"),
     "comm.custom-allreduce", CO, OT, None),
    (k("vllm::moe::moe_sum_kernel<c10::BFloat16, 8>(c10::BFloat16*, c10::BFloat16 const*, int)"), "moe.routing", O, OT,
     None),
    (k("_sum_bitmatrix_rows"), "moe.routing", O, OT, None),
    (k("_finalize_matmul_scatter_bf16"), "moe.routing", O, OT, None),
    (k("vllm::moe::moe_align_block_size_kernel<int>(int const*, int*, int*, int*, int, int, int, int)"), "moe.routing", O,
     OT, None),
    (k("_ZN7ck_tile6kentryILi1ENS_12Rmsnorm2dFwdINS_27Rmsnorm2dFwdPipelineOnePassINS_27Rmsnorm2dFwdPipelineProblemIDF16bDF16b"),
     "common.norm", E, OT, None),
    (k("vllm::rotary_embedding_kernel<c10::BFloat16, true>(long const*, c10::BFloat16*)"), "common.rotary", E, OT, None),
    (k("vllm::act_and_mul_kernel<c10::BFloat16, &vllm::silu_kernel<c10::BFloat16>, true>(...)"), "common.activation", E,
     OT, None),
    (k("flashinfer::sampling::TopKTopPSamplingFromProbKernel<1024u>(...)"), "common.sampling", E, OT, None),
    (k("Memcpy DtoD (Device -> Device)"), "runtime.memcpy", M, OT, None),
    (k("Memset (Device)", op="aten::mm", types=("bf16", "bf16")), "runtime.memcpy", M, OT, None),
    (k("at::native::(anonymous namespace)::CatArrayBatchedCopy<at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 4, 64, 64>(...)"),
     "common.copy-kernel", M, OT, None),
    (k("at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctorOnSelf_add<float>, std::array<char*, 2ul> >(int)"),
     "common.aten-elementwise", E, OT, None),
    (k("_ZN7ck_tile6kentryILi1ENS_14MoeSortingKernelE"), "common.ck-tile-other", E, OT, None),
    (k("void had_in_kernel<__half>(__half const*, long, __half const*, __half*, int, int)"), "exllama.hadamard", E, OT,
     None),
    (k("had_and_quant_kernel(__half const*, Int4Storage*, __half*, unsigned int)"), "quant.generic", Q, QZ, None),
    (k("void transformer_engine::unary_kernel<8, true, float, transformer_engine::Empty, "
       "&transformer_engine::identity, __nv_fp8_e4m3, __nv_bfloat16>(__nv_fp8_e4m3 const*, __nv_bfloat16*)"),
     "te.cast-from-lowp", D, DQ, None),
    (k("void my_ep::intranode_dispatch<128>(void*, int const*)"), "comm.words", CO, OT, None),  # made up: no family
    # generic evidence: a family nobody listed, decided by its words and the types it states
    (k("void custom_paged_attention_kernel<__nv_bfloat16, 128>(__nv_bfloat16*, __nv_bfloat16 const*)"),
     "attn.generic", A, DN, None),
    (k("void custom_paged_attention_kernel<__nv_bfloat16, __nv_fp8_e4m3, 128>(__nv_bfloat16*, __nv_fp8_e4m3 const*)"),
     "attn.generic", A, NAT, None),
    (k("void my_dequantize_weights<__half>(int const*, __half*)"), "quant.generic-dequant", D, DQ, None),
    (k("cudnn_infer_conv2d_fprop_kernel<float>"), "cudnn.conv-word", G, DN, "fp32"),
    (k("_ZN5aiter17bf16gemm_fp32bf16_tn_96x64_pf3E"), "aiter.gemm", G, DN, None),
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return default_classifier()


@pytest.mark.parametrize("ctx, rule_id, role, cls, fmt", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_gpu_rule_decides(classifier: Classifier, ctx: KernelContext, rule_id: str, role: Role, cls: KernelClass,
                          fmt: str | None) -> None:
    from kernelscope.classify.engine import normalize_name

    verdict = classifier.classify(KernelContext(**{**ctx.__dict__, "name": normalize_name(ctx.name)}))
    assert (verdict.rule, verdict.role, verdict.kernel_class) == (rule_id, role, cls)
    assert verdict.backend and verdict.reason
    if fmt is not None:
        assert verdict.format == fmt


def test_every_gpu_rule_has_a_case(classifier: Classifier) -> None:
    """Each rule decides a case here or at least one labelled corpus name, rightly."""
    ids = {r.id for t in (*GPU_NAME_TABLES, *GPU_LATE_TABLES) for r in t.rules}
    decided_in_corpus = {s.rule for s in score_corpus(classifier) if s.right}
    assert ids - {c[1] for c in CASES} - decided_in_corpus == set()


def test_rule_ids_are_unique_across_all_tables() -> None:
    ids = [r.id for t in default_tables() for r in t.rules]
    assert len(ids) == len(set(ids))


def test_the_names_in_shared_traces_that_look_quantized_are_not_compute(classifier: Classifier) -> None:
    """A name containing 'quant' or a dtype is not enough."""
    for name, expected in [
        ("kdequant_mm_int32_fp16<4, 512>(int*)", KernelClass.OTHER),
        ("marlin::awq_marlin_repack_kernel<256, 4, false>(unsigned int const*, unsigned int*, int, int)", KernelClass.OTHER),
        ("_finalize_matmul_scatter_fp8e4nv", KernelClass.OTHER),
        ("vllm::moe::moe_sum_kernel<c10::BFloat16, 8>(c10::BFloat16*)", KernelClass.OTHER),
    ]:
        assert classifier.explain_name(name).kernel_class is expected, name


def test_truncated_names_classify_where_the_prefix_decides(classifier: Classifier) -> None:
    full = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off"
    assert classifier.explain_name(full[:40] + "...").rule == "cublas.xmma"
    assert classifier.explain_name("void kgemm_4bit_inference_naive<__nv_bfloat16, 1…").rule == "bnb-cuda.gemv_4bit"
    assert classifier.explain_name("nvjet_sm90_qqtst_128x128_128x6_1x2_h_bz_ov…").kernel_class is KernelClass.NATIVE


def test_unknown_names_get_no_guess(classifier: Classifier) -> None:
    verdict = classifier.explain_name("my_custom_kernel_v2<float>(float*)")
    assert (verdict.rule, verdict.role, verdict.kernel_class, verdict.backend) == ("unknown", Role.OTHER, KernelClass.OTHER, "")
