"""Quality statistics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernelscope.report.quality import by_position, kld_from_logprobs, kld_slope, quality_stats
from kernelscope.runs.documents import Quality


def test_kld_of_two_known_distributions() -> None:
    p = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))
    q = np.log(np.array([[0.25, 0.75], [0.9, 0.1]]))
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    got = kld_from_logprobs(p, q)
    assert got[0] == pytest.approx(expected)
    assert got[1] == pytest.approx(0.0, abs=1e-15)


def test_statistics_by_hand() -> None:
    kld = np.array([0.0, 0.1, 0.2, 0.3])
    same = np.array([True, True, False, True])
    lb = np.log(np.array([0.5, 0.25, 0.5, 0.25]))
    lq = np.log(np.array([0.25, 0.25, 0.5, 0.5]))
    pos = np.array([10, 11, 12, 13])
    s = quality_stats(kld, same, lb, lq, pos, buckets=2)
    assert s.tokens == 4
    assert s.kld_mean == pytest.approx(0.15)
    assert s.kld_mean_se == pytest.approx(np.std(kld, ddof=1) / 2)
    assert s.kld_median == pytest.approx(0.15)
    assert s.kld_max == pytest.approx(0.3)
    assert s.same_top1 == 0.75
    assert s.same_top1_se == pytest.approx(math.sqrt(0.75 * 0.25 / 3))
    ppl_b = math.exp(-np.mean(lb))
    ppl_q = math.exp(-np.mean(lq))
    assert s.ppl_base == pytest.approx(ppl_b) and s.ppl_q == pytest.approx(ppl_q)
    assert s.ppl_ratio == pytest.approx(ppl_q / ppl_b)
    assert s.delta_p_mean == pytest.approx(np.mean([-0.25, 0.0, 0.0, 0.25]))
    assert [(b.start, b.end, b.tokens) for b in s.by_position] == [(10, 12, 2), (12, 14, 2)]
    assert s.by_position[1].kld_mean == pytest.approx(0.25)
    assert s.kld_slope_per_1k_tokens == pytest.approx(100.0)  # 0.1 per token


def test_negative_rounding_noise_in_kld_is_clamped() -> None:
    s = quality_stats(np.array([-1e-9, 1e-3]), np.array([True, True]), np.zeros(2), np.zeros(2), np.array([0, 1]))
    assert s.kld_mean == pytest.approx(5e-4)


def test_flat_kld_has_no_slope_and_empty_is_empty() -> None:
    pos = np.arange(100)
    assert kld_slope(np.full(100, 0.3), pos) == pytest.approx(0.0, abs=1e-12)
    assert kld_slope(np.array([0.1]), np.array([5])) == 0.0
    assert quality_stats(np.array([]), np.array([], dtype=bool), np.array([]), np.array([]),
                         np.array([], dtype=int)) == Quality(tokens=0)


def test_position_buckets_cover_every_token() -> None:
    pos = np.repeat(np.arange(64, 128), 3)
    kld = np.linspace(0, 1, len(pos))
    buckets = by_position(kld, np.ones(len(pos)), pos, 8)
    assert sum(b.tokens for b in buckets) == len(pos)
    assert buckets[0].start == 64 and buckets[-1].end == 128
    means = [b.kld_mean for b in buckets]
    assert means == sorted(means)
