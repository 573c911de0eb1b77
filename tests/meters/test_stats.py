import numpy as np
import pytest
from scipy import stats as scipy_stats

from honed.meters.stats import STATISTICS, bootstrap_ci, relative_change, summarize_latency


def test_summary_matches_hand_computed_values():
    samples_ns = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) * 1_000_000  # 1..10 ms
    s = summarize_latency(samples_ns, resamples=200)
    assert s.n == 10 and s.min == 1.0 and s.max == 10.0
    assert s.mean == pytest.approx(5.5)
    assert s.std == pytest.approx(np.sqrt(sum((x - 5.5) ** 2 for x in range(1, 11)) / 9))  # sample std
    assert s.cv == pytest.approx(s.std / 5.5)
    # Linear interpolation between order statistics: p50 = 5.5, p90 = 9.1, p99 = 9.91.
    assert (s.p50, s.p90, s.p99) == pytest.approx((5.5, 9.1, 9.91))
    assert s.p50_ci.low <= s.p50 <= s.p50_ci.high


def test_single_group_bootstrap_agrees_with_scipy():
    sample = np.random.default_rng(1).lognormal(mean=1.0, sigma=0.3, size=400)
    ours = bootstrap_ci(sample, STATISTICS["p50"], confidence=0.95, resamples=4000, seed=3)
    reference = scipy_stats.bootstrap(
        (sample,), np.median, confidence_level=0.95, n_resamples=4000, method="percentile", rng=np.random.default_rng(5)
    ).confidence_interval
    width = reference.high - reference.low
    assert abs(ours.low - reference.low) < 0.15 * width
    assert abs(ours.high - reference.high) < 0.15 * width


def test_between_process_spread_widens_the_interval():
    rng = np.random.default_rng(0)
    # Three processes whose medians differ by 5 %: pooled samples would hide that.
    groups = [10.0 * f * (1 + 0.01 * rng.standard_normal(300)) for f in (0.95, 1.0, 1.05)]
    pooled = bootstrap_ci(np.concatenate(groups), STATISTICS["p50"], resamples=1000)
    hierarchical = bootstrap_ci(groups, STATISTICS["p50"], resamples=1000)
    assert (hierarchical.high - hierarchical.low) > 3 * (pooled.high - pooled.low)


def test_relative_change_detects_a_real_shift_and_not_noise():
    rng = np.random.default_rng(2)
    a = [10 + rng.standard_normal(200) * 0.3 for _ in range(3)]
    same = [10 + rng.standard_normal(200) * 0.3 for _ in range(3)]
    slower = [11 + rng.standard_normal(200) * 0.3 for _ in range(3)]
    assert relative_change(a, same, STATISTICS["p50"], resamples=500).ci.contains(0.0)
    shift = relative_change(a, slower, STATISTICS["p50"], resamples=500)
    assert shift.change == pytest.approx(0.1, abs=0.02) and shift.ci.low > 0.05


def test_a_single_value_has_an_unbounded_interval():
    change = relative_change(np.array([1.0]), np.array([2.0]), STATISTICS["p50"])
    assert change.change == pytest.approx(1.0) and change.ci.contains(0.0)


def test_a_plain_list_is_one_sample_and_a_list_of_arrays_is_groups():
    flat = summarize_latency([1_000_000, 2_000_000, 3_000_000], resamples=100)
    grouped = summarize_latency([np.array([1_000_000, 2_000_000]), np.array([3_000_000])], resamples=100)
    assert flat.n == grouped.n == 3 and flat.p50 == grouped.p50 == 2.0
