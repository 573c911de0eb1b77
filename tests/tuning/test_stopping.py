"""The tune's stop rules read the trial's run as it was stored."""

from types import SimpleNamespace

import pytest

from honed.tuning.settings import TuneSettings
from honed.tuning.stopping import StopPolicy


def _run(dtype: str, efficiency: float) -> SimpleNamespace:
    result = SimpleNamespace(batch_size=8, efficiency=SimpleNamespace(roofline_efficiency=efficiency))
    return SimpleNamespace(model_stats=SimpleNamespace(dtype=dtype), results=[result])


@pytest.mark.parametrize(
    ("dtype", "efficiency", "stops"),
    [
        ("float32", 0.90, True),  # an fp32 model near its roofline: the hardware's limit is close
        ("float32", 0.50, False),  # far from it
        ("float32", 1.24, False),  # above 100 %: the peaks are wrong, not the model at the limit
        ("float32,int8", 0.90, False),  # int8 weights run on other units than the fp32 peaks measured
    ],
)
def test_the_hardware_limit_stops_only_an_fp32_model_within_its_roofline(dtype, efficiency, stops):
    policy = StopPolicy(TuneSettings(efficiency_limit=0.85))
    trial = SimpleNamespace(status="ok", recipe=[{"algorithm": "torchao-int8-weight-only"}], label="int8")
    why = policy.target_reached(trial, [], _run(dtype, efficiency))
    assert (why is not None) == stops
    if stops:
        assert why == "close to the hardware limit: int8 at batch 8 reaches 90% of the roofline (limit 85%)"
