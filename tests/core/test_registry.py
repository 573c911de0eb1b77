import subprocess
import sys
from types import SimpleNamespace

import pytest

from honed.core.errors import UnknownNameError
from honed.core.registry import Registry


def test_unknown_names_suggest_the_closest_known_ones():
    registry: Registry[int] = Registry("metric")
    registry.register("latency_p50")(1)
    registry.register("latency_p99")(2)
    with pytest.raises(UnknownNameError) as error:
        registry.get("latncy_p50")
    assert "did you mean 'latency_p50'" in str(error.value) and "Known metrics" in str(error.value)


def test_a_name_cannot_be_registered_twice_for_different_items():
    registry: Registry[int] = Registry("thing")
    registry.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(2)


def test_plugins_join_through_their_entry_point_group(monkeypatch):
    registry: Registry[str] = Registry("adapter", entry_point_group="honed.test-plugins")
    loaded = []

    def load():
        loaded.append(True)
        registry.register("plugin-kind")("PluginHandle")

    import importlib.metadata

    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group: [SimpleNamespace(load=load)] if group == "honed.test-plugins" else [],
    )
    assert registry.get("plugin-kind") == "PluginHandle"
    assert registry.names() == ["plugin-kind"] and loaded == [True]  # loaded once


def test_importing_honed_stays_cheap():
    code = "import sys, honed; honed.Protocol; print('torch' in sys.modules, 'scipy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_a_registry_imports_its_builtins_on_first_lookup():
    # In a fresh process, nothing has imported the algorithm or metric modules yet.
    code = (
        "from honed.optimization.algorithm import ALGORITHMS\nfrom honed.tasks.metrics.registry import METRICS\n"
        "print('svd-lowrank' in ALGORITHMS.names(), 'wer' in METRICS)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]
