"""tune --search: the algorithms' declared knobs, walked by a seeded Optuna sampler, quality first.

The search is driven by a runner whose latency and top-1 are smooth functions of the knobs (a
pruning ratio makes the model faster and less accurate, as it does), stored as real run
records, so each rule is checked exactly: a point that fails the quality screen is never timed,
the search goes past the first passing point towards the guardrail, the same seed gives the same
trials, a second run resumes from the store, and when nothing passes the result says how close
the nearest point came and which knob moved it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import noisy, synthetic_record
from honed.console.tune import tune_summary
from honed.core.protocol import InputSpec, ModelRef, Protocol, RunSpec, Step, TargetSpec, TaskSpec
from honed.optimization import ALGORITHMS, Recipe
from honed.optimization.space import Knob
from honed.records.record import QualityResult
from honed.spec.build import build_spec, tune_settings
from honed.store.database import Store
from honed.tuning import Guardrail, TuneSettings, tune

MODEL = ModelRef(kind="factory", source="honed.zoo:mlp")
TASK = TaskSpec(name="image-classification")
CPU = TargetSpec(device="cpu")
CANDIDATES = ("magnitude-prune", "structured-prune", "svd-lowrank")


def _outcome(recipe) -> tuple[float, float]:
    """(p50 ms, top-1) of a recipe: pruning is faster in proportion and costs 0.3 x its ratio
    (the guardrail's 5 % holds up to ratio 1/6); low rank costs twice what it drops below 0.97 energy."""
    if not recipe:
        return 10.0, 0.95
    step = recipe[0]
    if step.algorithm == "structured-prune":
        ratio = step.params.get("ratio", 0.1)
        return 10.0 * (1 - ratio), 0.95 * (1 - 0.3 * ratio)
    if step.algorithm == "svd-lowrank":
        energy = step.params.get("energy") or 0.97
        return 10.0 * (0.4 + 0.6 * energy), 0.95 * (1 - 2 * max(0.0, 0.97 - energy))
    return 9.9, 0.95


def _quality(top1: float, items: int, ms: float | None = None, rate: str = "items_per_s") -> QualityResult:
    return QualityResult(
        task="image-classification",
        items=items,
        primary="top1",
        values={"top1": top1},
        better={"top1": "higher"},
        timing={rate: 1000 / ms} if ms else {},  # the quality pass's speed ranks as the timing does
    )


class Smooth:
    """Screens and measures every recipe by ``_outcome``; ``measured`` lists the timed ones."""

    def __init__(self, store: Store, loss: float = 0.0, rate: str = "items_per_s"):
        self.store, self.loss, self.measured, self.screened = store, loss, [], []
        self.rate = rate  # the timing a quality pass reports its speed in

    def _outcome(self, recipe) -> tuple[float, float]:
        return _outcome(recipe)

    def _top1(self, recipe) -> float:
        return self._outcome(recipe)[1] - (self.loss if recipe else 0.0)

    def screen(self, recipe, task):
        self.screened.append(recipe)
        return _quality(self._top1(recipe), items=task.limit or 540, ms=self._outcome(recipe)[0], rate=self.rate)

    def measure(self, recipe, protocol, task, name):
        self.measured.append(recipe)
        ms, top1 = self._outcome(recipe)[0], self._top1(recipe)
        record = synthetic_record([noisy(ms, 40, seed=i, spread=0.005) for i in range(3)])
        quality = _quality(top1, 540, ms, self.rate)
        record = record.model_copy(update={"quality": quality, "task": task.name, "task_spec": task})
        self.store.add(record)
        return record


def _search(store, runner=None, scope="model", **settings):
    runner = runner or Smooth(store)
    defaults = dict(candidates=CANDIDATES, search="tpe", max_trials=24, patience=100, seed=3)
    spec = RunSpec(task=TASK, target=CPU, protocol=Protocol(batch_sizes=(1,), scope=scope))
    result = tune(MODEL, spec, settings=TuneSettings(**{**defaults, **settings}), store=store, runner=runner)
    return result, runner


def _ratio(trial) -> float | None:
    step = trial.recipe[0]
    return step.params.get("ratio") if step.algorithm == "structured-prune" else None


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "search.db"))


def test_the_search_screens_quality_first_and_goes_past_the_first_passing_point(store):
    result, runner = _search(store)
    labels = [t.label for t in result.trials]
    # The starts come first: each candidate with its defaults.
    assert labels[:3] == ["magnitude-prune", "structured-prune", "svd-lowrank"]
    # Every point is screened; only those that passed the screen were timed.
    rejected = [t for t in result.trials if t.status == "rejected"]
    assert rejected and all(t.run_id is None and t.reason.startswith("screen on 540 items") for t in rejected)
    assert len(runner.measured) == 1 + sum(1 for t in result.trials if t.status == "ok")
    # It kept searching: the recommendation prunes more than the start (ratio 0.1, 9.0 ms) and stays
    # inside the guardrail (ratio <= 1/6), a point no hand-written list held.
    best = next(t for t in result.trials if t.key == result.recommended.trial)
    assert best.recipe[0].algorithm == "structured-prune" and 0.12 < _ratio(best) <= 1 / 6
    assert result.recommended.objective < 8.8 and result.best_effort is None
    assert result.stop_reason == "trial budget spent (24 trials)"
    summary = "\n".join(tune_summary(result))
    assert "stopped after 24 trials (tpe search, seed 3)" in summary


@pytest.mark.parametrize(("scope", "rate"), [("model", "items_per_s"), ("generate", "decode_tokens_per_s")])
def test_a_point_whose_quality_pass_ran_slower_than_the_best_by_the_margin_is_not_timed(store, scope, rate):
    """In the generate scope the decoding probe's tokens/s ranks a quality pass, not its items/s."""
    result, runner = _search(store, Smooth(store, rate=rate), scope=scope, screen_margin=1.05, max_trials=16)
    untimed = [t for t in result.trials if (t.reason or "").startswith("not timed")]
    assert untimed and all(t.run_id is None and t.recipe not in runner.measured for t in untimed)
    best = next(t for t in result.trials if t.key == result.recommended.trial)
    assert all("of the best passing point's" in t.reason for t in untimed)
    # Each untimed point ran over 1.05x slower than the best passing point at the time it was screened.
    best_rate = best.screen.timing[rate]
    assert all(t.screen.timing[rate] * 1.05 < best_rate for t in untimed)
    assert result.best_effort is None  # they passed on quality: not what "nothing passed" means


def test_the_same_seed_gives_the_same_trials_and_a_second_run_resumes(tmp_path):
    first, _ = _search(Store(str(tmp_path / "a.db")), max_trials=12)
    second, _ = _search(Store(str(tmp_path / "b.db")), max_trials=12)
    assert [t.label for t in first.trials] == [t.label for t in second.trials]
    other, _ = _search(Store(str(tmp_path / "c.db")), max_trials=12, seed=4)
    assert [t.label for t in other.trials] != [t.label for t in first.trials]
    # The same command on the same store repeats nothing: every trial comes from the store.
    again, runner = _search(Store(str(tmp_path / "a.db")), max_trials=12)
    assert runner.measured == [] and runner.screened == []
    assert [t.label for t in again.trials] == [t.label for t in first.trials] and all(t.cached for t in again.trials)


def test_when_nothing_passes_the_closest_point_and_the_knob_that_moved_it_are_named(store):
    runner = Smooth(store, loss=0.06)  # every step loses 6.3 % of top-1 more than it would: nothing holds 5 %
    result, _ = _search(store, runner, candidates=("structured-prune", "svd-lowrank"), max_trials=16)
    assert not any(t.status == "ok" for t in result.trials) and runner.measured == [[]]  # only the base was timed
    assert result.recommended.label == "baseline"  # the base model is what is left to ship
    text = result.best_effort
    # The closest keeps energy >= 0.97 (low rank then costs nothing more); below it, quality falls.
    assert text.startswith("no recipe passed the guardrail; the closest was svd-lowrank")
    assert "top1 dropped 6.3%" in text and "svd-lowrank's energy moved quality most" in text
    assert "best effort" in "\n".join(tune_summary(result))


def test_a_grid_walks_every_point_of_each_algorithms_grid_once(store):
    # A candidate's parameter that is no knob (round_to) holds for every point of its algorithm.
    narrow = Step(algorithm="structured-prune", params={"round_to": 4})
    candidates = ("magnitude-prune", narrow, "svd-lowrank")
    result, runner = _search(store, search="grid", max_trials=50, starts=False, candidates=candidates)
    # magnitude-prune has no knobs (1 point), structured-prune 3 ratios, svd-lowrank 3 energies.
    assert result.stop_reason == "search space exhausted: every point of the grid was tried (7 points)"
    assert sorted(t.label for t in result.trials) == sorted(
        [
            "magnitude-prune",
            "structured-prune (ratio=0.05, round_to=4)",
            "structured-prune (round_to=4)",
            "structured-prune (ratio=0.2, round_to=4)",
            "svd-lowrank (energy=0.95)",
            "svd-lowrank (energy=0.97)",
            "svd-lowrank (energy=0.99)",
        ]
    )


def test_search_settings_from_the_command_line_and_a_spec_file(tmp_path):
    path = tmp_path / "tune.toml"
    path.write_text('[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n[tune]\nsearch = "random"\nseed = 7\n')
    spec = build_spec(path)
    settings = tune_settings(spec, starts=False)
    assert (settings.search, settings.seed, settings.starts) == ("random", 7, False)
    assert tune_settings(spec, search="grid").search == "grid"
    with pytest.raises(Exception, match="search"):
        tune_settings(spec, search="bayes")


def _condition_values(algorithm, knob: Knob) -> dict:
    return {field: values[0] for field, values in knob.when}


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS.values() if a.space], ids=lambda a: a.name)
def test_every_declared_knob_is_a_field_whose_domain_its_params_accept(algorithm):
    """Registry-driven: a new algorithm's space is checked as soon as it is registered."""
    fields = algorithm.params.model_fields
    defaults = algorithm.params().model_dump()
    earlier: dict[str, Knob] = {}
    for knob in algorithm.space:
        assert knob.field in fields and knob.why, knob
        for field, values in knob.when:  # a condition names an earlier knob, with values in its domain
            assert field in earlier and set(values) <= set(earlier[field].points), (knob.field, field)
        base = _condition_values(algorithm, knob)
        for value in (*knob.points, *((knob.low, knob.high) if not knob.choices else ())):
            assert algorithm.params(**{**base, knob.field: value}).model_dump()[knob.field] == value
        if knob.field in algorithm.params.only_with:  # a knob applies where its params accept it, no wider
            mode, applies = algorithm.params.only_with[knob.field]
            assert set(dict(knob.when).get(mode, ())) <= set(applies) and dict(knob.when).get(mode), knob.field
        if knob.choices:  # the defaults are a point of the space: a start is something the search can reach
            assert defaults[knob.field] in knob.choices, knob.field
        else:
            assert knob.low <= min(knob.grid) <= max(knob.grid) <= knob.high
        # A ladder ranks values of the knob, each once; a value refused for some models is one of them.
        assert all(knob.holds(v) for v in knob.ladder) and len(set(knob.ladder)) == len(knob.ladder), knob.field
        assert all(value in knob.choices and caps for value, caps in knob.unsuited), knob.field
        earlier[knob.field] = knob


def test_hand_found_variants_are_points_of_their_algorithms_space():
    for algorithm in ALGORITHMS.values():
        knobs = {k.field: k for k in algorithm.space}
        for variant in algorithm.variants:
            for field, value in variant.params.items():
                assert knobs[field].holds(value), (field, value)


def test_the_guardrails_excess_is_in_units_of_each_allowance():
    quality = QualityResult(task="t", values={"top1": 0.9}, agreement={"output_cosine": 0.985, "logits_kl": 0.02})
    excess = Guardrail(max_drop=0.05, min_cosine=0.99, max_kl=0.01).excess(0.1, quality)
    assert excess == pytest.approx((1.0, 0.5, 1.0))
    assert all(e <= 0 for e in Guardrail(max_drop=0.2, min_cosine=0.9, max_kl=0.05).excess(0.1, quality))


@pytest.mark.slow
def test_the_timing_run_reads_the_screens_conversion_and_keeps_its_quality(tmp_path):
    """A point that passed its screen is timed on the files the screen converted, and its quality
    is the screen's (no second conversion, no second quality pass): here the kept ONNX file is
    spoiled after the screen, so timing workers that read it fail, as only they can."""
    from honed.tuning.plan import plan_sweep
    from honed.tuning.runner import WorkerRunner

    model = ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 16, "hidden": 32}})
    protocol = Protocol(batch_sizes=(1,), repetitions=1, min_samples=5, min_seconds=0.05, energy_idle_seconds=0.0)
    spec = RunSpec(inputs=InputSpec(shape=(16,)), protocol=protocol)
    plan = plan_sweep(model, spec, TuneSettings(search="tpe"))
    runner = WorkerRunner(model, plan.run, spec.inputs, spec.target, Store(str(tmp_path / "s.db")), protocol=protocol)
    recipe = [Step(algorithm="onnxruntime")]
    screened = runner.screen(recipe, plan.run.task)
    assert screened.status == "ok" and screened.agreement["output_cosine"] > 0.999
    kept = sorted((Path(runner._screened[1].name) / "kept").glob("*/*.onnx"))  # one directory a step
    assert kept, "the screen keeps its conversion for the timing run"
    for path in kept:
        path.write_bytes(b"not an onnx file")
    record = runner.measure(recipe, protocol, plan.run.task, "trial")
    assert record.quality == screened
    assert record.status == "failed" and all(m.status != "ok" for m in record.measurements)


def test_honed_algorithms_lists_each_knob_with_its_condition_and_evidence():
    from honed.console.catalog import algorithm_rows

    rows = {row["algorithm"]: row for row in algorithm_rows("cpu")}
    knobs = {k["knob"]: k["why"] for k in rows["openvino"]["search_space"]}
    assert "quantization in none|int8-weights|int4-weights|int8|int8-mixed" in knobs
    assert "sensitivity_groups 4..32 (log) when quantization in int8-mixed" in knobs
    assert "smooth_quant_alpha in default|-1|0.5 when quantization in int8|int8-mixed" in knobs
    assert all(knobs.values()) and rows["bf16"]["search_space"] == []


def test_the_command_line_takes_the_search_and_its_pre_flight_says_what_it_walks(capsys, monkeypatch):
    import sys

    from honed.cli import main

    args = ["--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "16", "-c", "structured-prune"]
    monkeypatch.setattr(sys, "argv", ["honed", "tune", *args, "-c", "svd-lowrank", "--search", "grid", "--no-starts"])
    monkeypatch.setattr(sys, "argv", [*sys.argv, "--seed", "5", "--dry-run"])
    with pytest.raises(SystemExit) as done:
        main()
    out = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0
    assert (
        "a grid search (seed 5) over 2 algorithms and 2 knobs, no starting points: structured-prune, svd-lowrank" in out
    )


class Quantized(Smooth):
    """ONNX Runtime's int8 is faster; without reduce_range it loses 6 % of top-1 (as u8 x s8 can on
    a CPU without VNNI), whatever per_channel is."""

    def _outcome(self, recipe) -> tuple[float, float]:
        if not recipe:
            return 10.0, 0.95
        params = Recipe(steps=(recipe[0],)).canonical().steps[0].params
        if params["quantization"] == "none":
            return 9.0, 0.95
        ms = 5.0 if params["quantization"] == "dynamic-int8" else 4.0
        return ms, 0.95 - (0.0 if params["reduce_range"] else 0.06)


def test_the_sweeps_report_says_which_knob_moved_quality_and_which_moved_speed(store, tmp_path):
    from honed.report import write_report
    from honed.tuning.importance import knob_importance

    result, _ = _search(store, Quantized(store), candidates=("onnxruntime",), max_trials=16, search="grid")
    found = {i.target: i for i in knob_importance(result)}
    quality, speed = found["quality drop"], found["speed-up"]
    # The grid's 9 points (none; dynamic and static int8 x per_channel x reduce_range), each screened.
    assert quality.algorithm == speed.algorithm == "onnxruntime" and quality.points == 9
    assert max(quality.importances, key=quality.importances.get) == "reduce_range"
    assert max(speed.importances, key=speed.importances.get) == "quantization"
    html = write_report(result, tmp_path / "sweep.html", store).read_text()
    assert "knob importance" in html and "reduce_range" in html
    # Every screened trial has a place in the second figure, the rejected ones too (by their screen's speed).
    from honed.report import _placed

    rate, placed = _placed(result)
    assert "Every trial, as its quality pass placed it" in html and rate == "items/s"
    assert len(placed["rejected"]) == sum(t.status == "rejected" for t in result.trials) > 0
    assert len(placed["timed"]) == sum(t.run_id is not None for t in result.trials)
    # Quantized's int8 runs 5 or 4 ms against the base's 10: its quality pass 2x or 2.5x the base's.
    assert {round(x, 3) for x, _ in placed["rejected"]} <= {2.0, 2.5, round(10 / 9, 3)}
