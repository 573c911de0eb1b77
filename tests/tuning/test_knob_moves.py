"""The knob search's moves and its start: a space that knows the model, ladders climbed after a
miss and stepped down after a pass, and each algorithm drawn once (runtimes first) before TPE
picks freely.

The search runs on a simulated runner whose quality and latency follow llama.cpp's formats on a
small causal LM as measured on SmolLM2 (issue 37): q4 loses too much, q8_0 misses the guardrail
narrowly until its tied table is in f16, f16 keeps everything and is slowest.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers import noisy, synthetic_record
from honed.core.protocol import ModelRef, Protocol, RunSpec, Step, TargetSpec, TaskSpec
from honed.models.capabilities import Capability
from honed.optimization import ALGORITHMS, Recipe
from honed.optimization.space import closer, faster
from honed.records.record import QualityResult
from honed.store.database import Store
from honed.tuning import TuneSettings, tune
from honed.tuning.plan import plan_sweep

MODEL = ModelRef(kind="factory", source="honed.zoo:mlp")
SPEC = RunSpec(task=TaskSpec(name="image-classification"), target=TargetSpec(device="cpu"), protocol=Protocol())
LLAMA = ALGORITHMS.get("llama-cpp").space


def _full(algorithm: str, **params) -> dict:
    return dict(Recipe(steps=(Step(algorithm=algorithm, params=params),)).canonical().steps[0].params)


def _point(params: dict) -> dict:
    """A llama.cpp point as the search writes it: the knobs that apply, the others at their defaults."""
    return _full("llama-cpp", **{k.field: params[k.field] for k in LLAMA if k.applies(params)})


def _format(params: dict) -> dict:
    """A llama.cpp point's weight formats: its runtime knob (flash attention, which TPE draws freely
    and the simulation leaves alone) set aside."""
    return {k: v for k, v in params.items() if k != "flash_attention"}


def _llama_outcome(params: dict) -> tuple[float, float]:
    """(ms, top-1 drop as a fraction) of a llama.cpp point; the guardrail allows 5 %."""
    ms = {"q4_0": 3.0, "q4_k_m": 3.5, "q8_0": 5.0, "f16": 8.0}[params["quantization"]]
    if params["quantization"] == "f16":
        return ms, 0.0
    table_f16 = params["output_type"] == "f16"
    ms += 0.5 if table_f16 else 0.0
    drop = 0.2 if params["quantization"].startswith("q4") else (0.01 if table_f16 else 0.06)
    return ms, drop


class Simulated:
    """Screens and measures llama.cpp points by ``_llama_outcome``, any other step as 9.9 ms at no loss."""

    def __init__(self, store: Store):
        self.store, self.screened, self.measured = store, [], []

    def _outcome(self, recipe) -> tuple[float, float]:
        if not recipe:
            return 10.0, 0.0
        if recipe[0].algorithm == "llama-cpp":
            return _llama_outcome(_full("llama-cpp", **recipe[0].params))
        return (30.0 if recipe[0].algorithm == "fp16" else 9.9), 0.0  # fp16 on a CPU: slower than fp32

    def _quality(self, recipe, items: int) -> QualityResult:
        ms, drop = self._outcome(recipe)
        values = {"top1": 0.9 * (1 - drop)}
        return QualityResult(task="image-classification", items=items, primary="top1", values=values,
                             better={"top1": "higher"}, timing={"items_per_s": 1000 / ms})  # fmt: skip

    def screen(self, recipe, task):
        self.screened.append(recipe)
        return self._quality(recipe, task.limit or 540)

    def measure(self, recipe, protocol, task, name):
        self.measured.append(recipe)
        record = synthetic_record([noisy(self._outcome(recipe)[0], 40, seed=i, spread=0.005) for i in range(3)])
        quality = self._quality(recipe, 540)
        record = record.model_copy(update={"quality": quality, "task": task.name, "task_spec": task})
        self.store.add(record)
        return record


def _tune(tmp_path, algorithms: tuple[str, ...], **settings):
    """A knob search over ``algorithms`` (the plan's candidates replaced: the simulated runner runs any step)."""
    store = Store(str(tmp_path / "moves.db"))
    values = TuneSettings(**{"search": "tpe", "starts": False, "patience": 100, "seed": 0, **settings})
    plan = plan_sweep(MODEL, SPEC, values.model_copy(update={"candidates": ("structured-prune",)}))
    plan = replace(plan, candidates=tuple(Recipe(steps=(Step(algorithm=a),)) for a in algorithms))
    runner = Simulated(store)
    return tune(MODEL, SPEC, settings=values, store=store, runner=runner, plan=plan), runner


def test_a_miss_keeps_one_more_knob_at_its_most_faithful_value_the_last_knob_first():
    assert closer(LLAMA, _full("llama-cpp", quantization="q8_0")) == [
        _full("llama-cpp", quantization="q8_0", output_type="f16"),  # the table in f16 first: the smaller part
        {**_full("llama-cpp", quantization="q8_0"), "quantization": "f16"},  # the table no longer applies
    ]
    assert closer(LLAMA, _full("llama-cpp", quantization="f16")) == []  # nothing left to keep in float


def test_a_pass_steps_each_ladder_one_rung_faster_and_a_knob_that_applies_only_then_starts_faithful():
    # f16 -> q8_0 changes one thing: the table that now applies keeps f16.
    assert faster(LLAMA, _full("llama-cpp", quantization="f16")) == [
        _full("llama-cpp", quantization="q8_0", output_type="f16")
    ]
    assert faster(LLAMA, _full("llama-cpp", quantization="q8_0", output_type="f16")) == [
        _full("llama-cpp", quantization="q4_k_m", output_type="f16"),
        _full("llama-cpp", quantization="q8_0", output_type="q8_0"),
    ]
    # llama.cpp's own table choice ranks below the ladder: there is nothing faster to step to.
    assert faster(LLAMA, _full("llama-cpp", quantization="q4_0", output_type="default")) == []


def test_an_integer_knob_climbs_its_ladder_too():
    openvino = ALGORITHMS.get("openvino").space
    # int8-weights -> int8-mixed: the knobs that apply only now start most faithful (8 spans, asymmetric).
    weights = _full("openvino", quantization="int8-weights")
    mixed = next(p for p in faster(openvino, weights) if p["quantization"] == "int8-mixed")
    assert mixed["sensitivity_groups"] == 8 and mixed["preset"] == "mixed"
    assert {**mixed, "sensitivity_groups": 16} in faster(openvino, mixed)  # finer spans: less kept in float
    sampled = {**mixed, "sensitivity_groups": 12}  # a value the ladder does not rank
    assert {**mixed, "sensitivity_groups": 8} in closer(openvino, sampled)
    assert all(p["sensitivity_groups"] == 12 for p in faster(openvino, sampled))


def test_the_space_drops_the_values_a_model_refuses():
    quantization = next(k for k in ALGORITHMS.get("openvino").space if k.field == "quantization")
    decoder = quantization.for_model(frozenset({Capability.TOKENIZES, Capability.SCORES_TOKENS}))
    encoder = quantization.for_model(frozenset({Capability.TOKENIZES}))
    assert "int8" not in decoder.choices and "int8-mixed" not in decoder.ladder and "int8-weights" in decoder.choices
    assert encoder == quantization and quantization.for_model(None) == quantization  # unknown: nothing dropped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_starts_the_search_climbs_from_its_first_miss_to_the_fastest_passing_format(tmp_path, seed):
    result, _ = _tune(tmp_path, ("llama-cpp",), max_trials=6, seed=seed)
    steps = [_full("llama-cpp", **t.recipe[0].params) for t in result.trials]
    best = next(t for t in result.trials if t.key == result.recommended.trial)
    assert _format(steps[result.trials.index(best)]) == _format(
        _full("llama-cpp", quantization="q8_0", output_type="f16")
    )
    # A miss is followed by its first untried closer point: the table after a narrow miss (q8_0's 6 %
    # drop against 5 %), the weights after a wide one (q4's 20 %); unless a faster move reached it.
    for index, (trial, params) in enumerate(zip(result.trials[:-1], steps)):
        stepped = any(params in faster(LLAMA, p) for p, t in zip(steps[:index], result.trials) if t.status == "ok")
        if (
            trial.status == "rejected"
            and not stepped
            and (
                moves := [
                    m
                    for m in closer(LLAMA, params, wide=params["quantization"] != "q8_0")
                    if _point(m) not in steps[:index]
                ]
            )
        ):
            assert steps[index + 1] == _point(moves[0]), (seed, index)  # the first closer point not yet tried
    wide = _full("llama-cpp", quantization="q4_0", output_type="q6_k")
    assert _point(closer(LLAMA, wide, wide=True)[0]) == _full("llama-cpp", quantization="f16")


def test_each_algorithm_is_drawn_once_runtimes_first_before_tpe_picks_freely(tmp_path):
    algorithms = ("magnitude-prune", "svd-lowrank", "llama-cpp", "bf16")
    result, _ = _tune(tmp_path, algorithms, max_trials=12)
    drawn = [t.recipe[0].algorithm for t in result.trials]
    assert drawn[0] == "llama-cpp"
    firsts = [drawn.index(a) for a in ("llama-cpp", "bf16", "svd-lowrank", "magnitude-prune")]
    assert firsts == sorted(firsts)  # runtime, precision, factorize, prune


def test_the_base_model_is_the_first_point_a_slower_quality_pass_is_not_timed_against(tmp_path):
    result, runner = _tune(tmp_path, ("fp16",), max_trials=1)
    (trial,) = result.trials
    assert trial.run_id is None and runner.measured == [[]]  # only the base model was timed
    assert trial.reason == (
        "not timed: its quality pass ran 33.3 items/s, under 1/1.5 of the best passing point's (100 items/s, baseline)"
    )


class SlowScreen(Simulated):
    """q8_0 with its table in f16 screens at a quarter of its real speed (a quality pass dominated by
    first calls), so its screen alone would rank it below the f16 point it steps down from."""

    def _quality(self, recipe, items: int) -> QualityResult:
        quality = super()._quality(recipe, items)
        if recipe and _format(_full("llama-cpp", **recipe[0].params)) == _format(
            _full("llama-cpp", quantization="q8_0", output_type="f16")
        ):
            quality = quality.model_copy(update={"timing": {"items_per_s": quality.timing["items_per_s"] / 4}})
        return quality


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_point_a_faster_move_reached_is_timed_even_when_its_screen_looks_slow(tmp_path, seed):
    store = Store(str(tmp_path / "slow.db"))
    values = TuneSettings(search="tpe", starts=False, patience=100, seed=seed, max_trials=6)
    plan = plan_sweep(MODEL, SPEC, values.model_copy(update={"candidates": ("structured-prune",)}))
    plan = replace(plan, candidates=(Recipe(steps=(Step(algorithm="llama-cpp"),)),))
    result = tune(MODEL, SPEC, settings=values, store=store, runner=SlowScreen(store), plan=plan)
    steps = [_format(_full("llama-cpp", **t.recipe[0].params)) for t in result.trials]
    q8_f16 = _format(_full("llama-cpp", quantization="q8_0", output_type="f16"))
    f16 = steps.index(_format(_full("llama-cpp", quantization="f16")))
    assert steps.index(q8_f16) == f16 + 1  # the faster move from f16 (every seed reaches f16 first)
    assert result.trials[f16 + 1].run_id is not None  # its screen (25 items/s) is under 1/1.5 of f16's: timed anyway
    assert steps[result.trials.index(next(t for t in result.trials if t.key == result.recommended.trial))] == q8_f16
