"""Timing stability (report/stability.py): a run's own spread and its machine's load decide whether its
latency figures are to be trusted; the summary and compare say so."""

from __future__ import annotations

from kernelscope.report.compare_render import render_markdown
from kernelscope.report.stability import timing_stability
from kernelscope.runs.documents import MachineLoad, Metrics, RequestTiming, Timing


def metrics(step_ms: list[list[float]], machine: MachineLoad | None = None) -> Metrics:
    requests = [RequestTiming(request=i, prompt_len=32, batch=1, ttft_s=0.01, decode_step_s=[s / 1000 for s in steps],
                              e2e_s=0.01 + sum(steps) / 1000, n_out=len(steps) + 1) for i, steps in enumerate(step_ms)]
    return Metrics(timing=Timing(requests=requests, machine=machine))


def test_a_quiet_run_is_stable() -> None:
    s = timing_stability(metrics([[5.0, 5.1, 5.0, 4.9] * 4] * 4, MachineLoad(cpus=2, load_1m_before=0.3,
                                                                              load_1m_after=0.9, steal_share=0.0)))
    assert s is not None and not s.unstable and s.reasons == []


def test_requests_that_disagree_make_it_unstable() -> None:
    """The same int4 TPOT read 92 ms once and 5.1 ms twenty minutes later on a busy 2-core machine."""
    s = timing_stability(metrics([[5.0] * 16, [5.2] * 16, [92.0] * 16, [5.1] * 16]))
    assert s is not None and s.unstable and "TPOT varies" in s.reasons[0]


def test_a_busy_machine_and_steal_are_named() -> None:
    s = timing_stability(metrics([[5.0] * 16] * 3, MachineLoad(cpus=2, load_1m_before=3.5, steal_share=0.2)))
    assert s is not None and s.unstable
    assert any("load average 3.5 on 2 CPU" in r for r in s.reasons) and any("steal 20%" in r for r in s.reasons)


def test_a_slow_tail_of_decode_steps_is_named() -> None:
    s = timing_stability(metrics([[5.0] * 30 + [40.0, 45.0]] * 2))
    assert s is not None and any("slowest decode steps" in r for r in s.reasons)


def test_no_timing_pass_no_verdict() -> None:
    assert timing_stability(Metrics()) is None


def test_compare_names_the_unstable_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import msgspec

    from kernelscope.report.compare import compare_runs
    from kernelscope.runs.codec import encode_document
    from tests.helpers import copy_run

    stable, noisy = copy_run(tmp_path, "bf16", target="bf16"), copy_run(tmp_path, "int4-torchao", target="int4")
    from kernelscope.runs.store import load_run

    for folder, steps in ((stable, [[5.0] * 16] * 3), (noisy, [[5.0] * 16, [90.0] * 16, [5.0] * 16])):
        run = load_run(folder)
        edited = msgspec.structs.replace(run.metrics, timing=metrics(steps).timing)
        (folder / "metrics.json").write_bytes(encode_document(edited))
    text = render_markdown(compare_runs([load_run(stable), load_run(noisy)]))
    assert "unstable timings: int4" in text and "unstable timings: bf16" not in text
