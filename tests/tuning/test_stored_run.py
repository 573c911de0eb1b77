"""A stored run is reused when it measured the same thing on this machine: `honed evaluate` then
`honed tune` with the same spec measure the base model once, and `honed optimize -o` after a tune
takes the tune's trial of the same recipe as its "after"."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import pytest

from honed.core.protocol import InputSpec, Protocol, RunSpec, TaskSpec
from honed.optimization import Recipe
from honed.records.record import Stability
from honed.run.evaluation import evaluate
from honed.store.database import Store
from honed.tuning import TuneSettings, tune
from honed.tuning.stored_run import stored_run

FAST = dict(warmup_iterations=2, warmup_min_seconds=0.0, min_samples=10, min_seconds=0.1, energy_idle_seconds=0.0)
SPEC = RunSpec(
    inputs=InputSpec(shape=(1, 8, 8)),
    protocol=Protocol(batch_sizes=(16,), repetitions=2, **FAST),
    task=TaskSpec(name="image-classification"),
)


class BaseOnly:
    """Measures nothing itself: the baseline must come from the store (a recipe's trial fails)."""

    def __init__(self):
        self.measured = []

    def screen(self, recipe, task):
        assert recipe, "the base model on the whole task is scored by its measured run, not screened"
        raise RuntimeError("not screened here")

    def measure(self, recipe, protocol, task, name):
        self.measured.append(recipe)
        raise RuntimeError("not measured here")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, digits_cnn):
    """The digits CNN (its weights copied: a test changes them) and one real evaluation of it."""
    root = tmp_path_factory.mktemp("stored")
    weights = shutil.copy(digits_cnn.options["weights"], root / "cnn.safetensors")
    model = digits_cnn.model_copy(update={"options": {**digits_cnn.options, "weights": str(weights)}})
    run = evaluate(model, SPEC)
    assert run.status == "ok" and run.quality.status == "ok"
    return model, run


def _stored(store, run, verdict="stable", age=timedelta(0)):
    copy = run.model_copy(
        update={
            "id": f"{verdict}{run.id}"[:32],
            "created_at": run.created_at - age,
            "stability": Stability(verdict=verdict),
        }
    )
    store.add(copy)
    return copy


def test_an_evaluated_base_model_is_the_tunes_baseline(evaluated, tmp_path):
    model, run = evaluated
    os.utime(model.options["weights"], (0, 0))  # unchanged since the run (another test touches it)
    store = Store(str(tmp_path / "runs.db"))
    contended = _stored(store, run, "contended")
    stable = _stored(store, run, "stable")
    runner = BaseOnly()
    settings = TuneSettings(candidates=("bf16",), max_trials=1)
    result = tune(model, SPEC, settings, store=store, runner=runner)
    assert result.baseline.reused and result.baseline.run_id == stable.id != contended.id
    assert result.baseline.quality == run.quality and runner.measured == []  # the trial's screen failed first


def test_a_run_of_another_spec_an_old_run_or_a_fresh_tune_measures_the_base_model(evaluated, tmp_path):
    model, run = evaluated
    store = Store(str(tmp_path / "runs.db"))

    def found(model=model, protocol=SPEC.protocol, task=SPEC.task, hours=12.0, steps=()):
        match = stored_run(store, model, list(steps), protocol, SPEC.inputs, SPEC.target, task, hours)
        return match.id if match else None

    os.utime(model.options["weights"], (0, 0))
    _stored(store, run, age=timedelta(hours=13))  # older than the default 12 hours
    assert found() is None
    recent = _stored(store, run, "unstable")
    assert found() == recent.id
    assert found(protocol=SPEC.protocol.model_copy(update={"seed": 1})) is None
    assert found(task=SPEC.task.model_copy(update={"limit": 10})) is None
    assert found(model=model.model_copy(update={"name": "another"})) is None
    assert found(hours=0) is None
    runner = BaseOnly()
    result = tune(model, SPEC, TuneSettings(candidates=("bf16",)), store=store, runner=runner, fresh=True)
    assert runner.measured == [[]] and result.baseline.status == "failed" and not result.baseline.reused
    os.utime(model.options["weights"])  # the weights changed after the run: another model (or retrained)
    assert found() is None


def test_a_stored_run_of_a_recipe_is_found_by_that_recipe_only(evaluated, tmp_path):
    """A tune's trial of bf16 is what `optimize -o -r bf16` reuses; the base model's run is not it."""
    model, run = evaluated
    os.utime(model.options["weights"], (0, 0))
    store = Store(str(tmp_path / "runs.db"))
    bf16 = list(Recipe.of("bf16").canonical().steps)
    trial = run.model_copy(
        update={"id": f"bf16{run.id}"[:32], "recipe": bf16, "stability": Stability(verdict="stable")}
    )
    store.add(trial)

    def found(steps):
        match = stored_run(store, model, steps, SPEC.protocol, SPEC.inputs, SPEC.target, SPEC.task, 12.0)
        return match.id if match else None

    assert found(bf16) == trial.id and found([]) is None
    store.add(run.model_copy(update={"stability": Stability(verdict="stable")}))
    assert found([]) == run.id and found(bf16) == trial.id  # each recipe finds its own run
    assert found(list(Recipe.of("fp16").canonical().steps)) is None
