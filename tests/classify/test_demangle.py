"""Demangling (classify/demangle.py): the runtime's demangler where there is one, and names it cannot read."""

from __future__ import annotations

import threading

from kernelscope.classify.demangle import _cxa_demangle, demangle

CUT_CK_TILE = ("_ZN7ck_tile6kentryILi1ENS_12Rmsnorm2dFwdINS_27Rmsnorm2dFwdPipelineOnePassINS_27Rmsnorm2dFwd"
               "PipelineProblemIDF16bDF16bfDF16bDF16bDF16bffNS_19Generic2dBlockShapeINS_8sequenceIJLi1ELi3072EEEENS5_IJ"
               "Li1ELi128EEEEN"
               "S5_IJLi1ELi8EEEEEENS_18Rmsnorm2dFwdTraitsILb1ELb0ELb0ELb0ELNS_21Rmsnorm2dFusedAddEnumE0ELNS_")


def test_a_complete_name_demangles() -> None:
    if _cxa_demangle() is None:
        return  # no C++ runtime on this machine: the fallback reading is tested below
    name = "_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEENS_6detail5ArrayIPcLi1EEEEEviT0_T1_"
    assert demangle(name).startswith("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>")


def test_a_plain_nested_name_is_read_without_the_runtime() -> None:
    assert demangle("_ZN5aiter9fmoe_bf16E") == "aiter::fmoe_bf16"


def test_names_that_are_not_mangled_or_cut_off_come_back_as_they_were() -> None:
    assert demangle("ampere_bf16_s16816gemm") == "ampere_bf16_s16816gemm"
    assert demangle(CUT_CK_TILE) == CUT_CK_TILE


def test_a_long_cut_off_name_returns_at_once() -> None:
    """A truncated ck_tile name of a real vLLM ROCm trace once made a backtracking regex run for minutes
    (analyze never finished): the reading must be linear in the name's length."""
    names = [CUT_CK_TILE * k for k in (1, 4, 16)]
    done = threading.Event()

    def run() -> None:
        for name in names:
            demangle(name)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60), "demangling a cut-off name did not return"
