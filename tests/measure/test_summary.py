import pytest

from helpers import synthetic_record
from honed.measure.summary import _efficiency
from honed.meters.peaks import Peaks, measure
from honed.models.handle import ModelStats


def test_throughput_and_cost_follow_their_definitions():
    record = synthetic_record([[10.0] * 20, [10.0] * 20, [10.0] * 20], batch_size=4, price_per_hour=3.6)
    result = record.result(4)
    assert result.throughput_items_per_s == pytest.approx(400.0)  # 4 items per 10 ms
    assert result.cost_per_million_usd == pytest.approx(3.6 / 3600 / 400 * 1e6)  # = 2.5 USD
    assert result.p50_ms_by_repetition == [10.0, 10.0, 10.0]


def test_roofline_efficiency_hand_case():
    peaks = Peaks(
        device="cpu", device_name="cpu", threads=1, peak_flops=100e9, peak_bandwidth_bytes_per_s=10e9, method="x"
    )
    stats = ModelStats(parameters=1, bytes_in_memory=1_000_000, device="cpu")
    # 1e8 FLOPs on 1e6 weight bytes: intensity 100 FLOP/B -> bound min(100e9, 100 * 10e9) = 100e9.
    e = _efficiency(100_000_000, 0.002, peaks, stats)
    assert e.arithmetic_intensity == pytest.approx(100)
    assert e.achieved_flops_per_s == pytest.approx(5e10) and e.roofline_efficiency == pytest.approx(0.5)
    assert e.weight_bandwidth_utilisation == pytest.approx(1e6 / 0.002 / 10e9)
    # A memory-bound case: 1 FLOP/B -> bound 10e9.
    low = _efficiency(1_000_000, 0.001, peaks, stats)
    assert low.roofline_bound_flops_per_s == pytest.approx(10e9) and low.roofline_efficiency == pytest.approx(0.1)


@pytest.mark.slow
def test_measured_peaks_are_plausible():
    peaks = measure("cpu", threads=1, repeats=2)
    assert 1e9 < peaks.peak_flops < 1e13
    assert 1e8 < peaks.peak_bandwidth_bytes_per_s < 1e12
    assert peaks.threads == 1
