import pytest

from helpers import noisy, synthetic_record
from honed.core.errors import EnvironmentMismatchError
from honed.records.comparison import NO_DIFFERENCE, compare


@pytest.mark.slow
def test_a_a_comparison_finds_no_significant_difference():
    a = synthetic_record([noisy(10, 200, seed) for seed in (1, 2, 3)])
    b = synthetic_record([noisy(10, 200, seed) for seed in (4, 5, 6)])
    result = compare(a, b)
    assert result.verdicts and all(v.verdict == NO_DIFFERENCE for v in result.verdicts)
    assert not result.regressions


@pytest.mark.slow
def test_a_slower_run_is_called_slower_with_its_interval():
    a = synthetic_record([noisy(10, 200, seed) for seed in (1, 2, 3)])
    b = synthetic_record([noisy(13, 200, seed) for seed in (4, 5, 6)])
    result = compare(a, b)
    p50 = result.verdict("latency_p50", 1)
    assert p50.verdict == "slower" and p50.change == pytest.approx(0.3, abs=0.03) and p50.ci.low > 0.2
    throughput = result.verdict("throughput", 1)
    assert throughput.verdict == "slower" and throughput.change == pytest.approx(1 / 1.3 - 1, abs=0.03)
    assert compare(b, a).verdict("latency_p50", 1).verdict == "faster"
    assert {v.metric for v in result.regressions} >= {"latency_p50", "latency_mean", "throughput"}


@pytest.mark.slow
def test_a_change_below_min_effect_is_not_called():
    a = synthetic_record([noisy(10, 500, seed, spread=0.001) for seed in (1, 2, 3)])
    b = synthetic_record([noisy(10.1, 500, seed, spread=0.001) for seed in (4, 5, 6)])  # +1 %, very precise
    assert compare(a, b, min_effect=0.02).verdict("latency_p50", 1).verdict == NO_DIFFERENCE
    assert compare(a, b, min_effect=0.005).verdict("latency_p50", 1).verdict == "slower"


def test_too_few_processes_give_no_verdict_and_say_why():
    a = synthetic_record([noisy(10, 200, 1), noisy(10, 200, 2)])
    b = synthetic_record([noisy(20, 200, 3), noisy(20, 200, 4)])
    result = compare(a, b)
    assert all(v.verdict == NO_DIFFERENCE for v in result.verdicts)
    assert any("fewer than 3" in w for w in result.warnings)


def test_environment_differences_warn_and_strict_refuses():
    a = synthetic_record([noisy(10, 50, s) for s in (1, 2, 3)], threads=1, runtime={"threads": 1, "device_name": "cpu"})
    b = synthetic_record([noisy(10, 50, s) for s in (4, 5, 6)], threads=2, runtime={"threads": 2, "device_name": "cpu"})
    result = compare(a, b)
    assert any("runtime.threads" in w for w in result.warnings)
    assert any("protocol differs: threads" in w for w in result.warnings)
    with pytest.raises(EnvironmentMismatchError, match="runtime.threads"):
        compare(a, b, strict=True)


@pytest.mark.slow
def test_per_process_metrics_need_a_rank_test_to_pass():
    from helpers import synthetic_record as make

    a = make([noisy(10, 50, s) for s in (1, 2, 3)])
    b = make([noisy(10, 50, s) for s in (4, 5, 6)])
    b = b.model_copy(
        update={
            "measurements": [
                m.model_copy(update={"memory": {"peak_rss_bytes": 130 * 2**20 + i}})
                for i, m in enumerate(b.measurements)
            ]
        }
    )
    # +30 % peak memory in all three processes: clear, but 3 values a side cannot pass Mann-Whitney at 5 %.
    rss = compare(a, b).verdict("peak_rss", 1)
    assert rss.change == pytest.approx(0.3, abs=0.01) and rss.verdict == NO_DIFFERENCE
    a5 = make([noisy(10, 50, s) for s in range(5)])
    b5 = make([noisy(10, 50, s) for s in range(5, 10)])
    b5 = b5.model_copy(
        update={
            "measurements": [
                m.model_copy(update={"memory": {"peak_rss_bytes": 130 * 2**20 + i}})
                for i, m in enumerate(b5.measurements)
            ]
        }
    )
    assert compare(a5, b5).verdict("peak_rss", 1).verdict == "larger"
