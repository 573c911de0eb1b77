"""The 0.1 import paths and call forms keep working for one release, each saying where it went."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from honed.core.moved import MOVED
from honed.core.protocol import InputSpec, Protocol, RunSpec, Step, TargetSpec, TaskSpec
from honed.run.legacy import EVALUATE_PARAMETERS, TUNE_PARAMETERS, is_legacy, legacy_call
from honed.tuning.settings import TuneSettings


@pytest.mark.parametrize("old", sorted(MOVED))
def test_every_old_module_path_is_the_new_module(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_an_old_module_path_warns_and_names_the_new_one():
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", "import honed.evaluation"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "honed.evaluation moved to honed.run.evaluation" in done.stderr
    quiet = subprocess.run([sys.executable, "-c", "import honed; import honed.protocol"], capture_output=True)
    assert quiet.returncode == 0


def test_the_old_evaluate_form_becomes_a_run_spec_with_a_warning():
    protocol, inputs, target = Protocol(batch_sizes=(2,)), InputSpec(shape=(4,)), TargetSpec(device="cpu")
    task = TaskSpec(name="agreement")
    with pytest.warns(DeprecationWarning, match="evaluate.*RunSpec"):
        spec, rest = legacy_call(
            "evaluate", EVALUATE_PARAMETERS, protocol, (inputs, target), {"name": "n", "recipe": ["bf16"], "task": task}
        )
    assert spec == RunSpec(
        name="n", protocol=protocol, inputs=inputs, target=target, recipe=(Step(algorithm="bf16"),), task=task
    )
    assert rest == {}


def test_the_old_tune_form_keeps_its_other_arguments():
    store, task = object(), TaskSpec(name="image-classification")
    with pytest.warns(DeprecationWarning):
        spec, rest = legacy_call("tune", TUNE_PARAMETERS, task, (TargetSpec(device="cpu"),), {"store": store})
    assert spec.task == task and spec.target.device == "cpu" and rest == {"store": store}
    with pytest.raises(TypeError, match="multiple values for argument 'target'"):
        legacy_call("tune", TUNE_PARAMETERS, task, (TargetSpec(),), {"target": TargetSpec()})


def test_the_new_forms_are_not_taken_for_old_ones():
    assert not is_legacy(None, (), {}) and not is_legacy(RunSpec(), (), {})
    assert is_legacy(Protocol(), (), {}) and is_legacy(None, (), {"task": TaskSpec(name="agreement")})
    # tune(model, None, settings) is current; tune(model, None, target, protocol), the 0.1 form without a task, is not.
    assert not is_legacy(None, (TuneSettings(),), {}, (TuneSettings,))
    assert is_legacy(None, (TargetSpec(), Protocol()), {}, (TuneSettings,))
