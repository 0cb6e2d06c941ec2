from __future__ import annotations

import pytest

from kernelscope.errors import BadInputError
from kernelscope.report.metrics import latency_metrics, percentile, stats
from kernelscope.runs.documents import RequestTiming, Stats


def test_percentile_interpolates_linearly_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)  # rank 0.95 * 3 = 2.85 -> 30 + 0.85 * 10
    assert percentile(values, 99) == pytest.approx(39.7)
    assert percentile([7.0], 99) == 7.0


def test_stats_scales_and_counts() -> None:
    s = stats([0.001, 0.003], 1000.0)
    assert s.mean == pytest.approx(2.0)
    assert s.p50 == pytest.approx(2.0)
    assert (s.min, s.max, s.n) == (pytest.approx(1.0), pytest.approx(3.0), 2)
    assert stats([]) == Stats(n=0)


def request(ttft: float, steps: list[float], batch: int = 1, prompt: int = 100) -> RequestTiming:
    return RequestTiming(request=0, prompt_len=prompt, batch=batch, ttft_s=ttft, decode_step_s=steps,
                         e2e_s=ttft + sum(steps), n_out=1 + len(steps))


def test_latency_metrics_follow_the_written_definitions() -> None:
    reqs = [request(0.100, [0.010, 0.030]), request(0.200, [0.020, 0.020], batch=2)]
    m = latency_metrics(reqs)
    assert m.ttft_ms.mean == pytest.approx(150.0)
    # TPOT = (E2E - TTFT) / (n_out - 1): 20 ms and 20 ms
    assert m.tpot_ms.p50 == pytest.approx(20.0)
    assert m.itl_ms.n == 4
    assert m.itl_ms.max == pytest.approx(30.0)
    # decode tokens: 1*2 + 2*2 = 6 over 0.04 + 0.04 s
    assert m.tokens_per_s.decode == pytest.approx(75.0)
    # end-to-end tokens: 1*3 + 2*3 = 9 over 0.14 + 0.24 s
    assert m.tokens_per_s.end_to_end == pytest.approx(9 / 0.38)
    # prefill tokens: 100 + 200 over 0.3 s
    assert m.tokens_per_s.prefill == pytest.approx(1000.0)


def test_no_requests_is_an_error() -> None:
    with pytest.raises(BadInputError):
        latency_metrics([])
