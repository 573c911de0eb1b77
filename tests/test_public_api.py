"""Every public name stays the same object however the package's modules were imported."""

from __future__ import annotations

import importlib

import pytest

import honed


def test_every_public_name_is_stable_across_accesses_and_imports():
    first = {name: getattr(honed, name) for name in honed.__all__}
    for module in ("honed.evaluation", "honed.comparison", "honed.tuning", "honed.optimization", "honed.tuning.search",
                   "honed.optimization.api", "honed.store", "honed.spec", "honed.models"):
        importlib.import_module(module)  # importing a submodule must not shadow a public function
    for name in honed.__all__:
        assert getattr(honed, name) is first[name], name
        assert not isinstance(getattr(honed, name), type(honed)), f"honed.{name} is a module"
    assert callable(honed.evaluate) and callable(honed.compare) and callable(honed.tune) and callable(honed.optimize)


@pytest.mark.slow
def test_evaluate_twice_through_the_package(tmp_path):
    ref = honed.ModelRef(kind="factory", source="honed.zoo:sleeper", options={"kwargs": {"milliseconds": 1}})
    protocol = honed.Protocol(repetitions=1, min_samples=3, min_seconds=0.0, warmup_iterations=1,
                              warmup_min_seconds=0.0, energy_idle_seconds=0.0)
    target = honed.TargetSpec(device="cpu", measure_peaks=False)
    runs = [honed.evaluate(ref, protocol, honed.InputSpec(shape=(2,)), target) for _ in range(2)]
    assert all(run.status == "ok" for run in runs)
    assert honed.compare(runs[0], runs[1]) is not None and honed.compare(runs[1], runs[0]) is not None
