"""tune: the search, the guardrail, stop reasons, caching and resuming.

Most tests drive the search with a scripted runner (chosen latencies and accuracies, stored
as real run records) so that each rule is checked exactly; test_cli.py runs a real tune.
"""

from __future__ import annotations

import pytest

from helpers import noisy, synthetic_record
from honed.console import recommendation_text
from honed.console.tune import tried_text
from honed.core.errors import Interrupted, SpecError, UnknownNameError
from honed.core.objective import Objective
from honed.core.protocol import ModelRef, Protocol, Step, TargetSpec, TaskSpec
from honed.measure.summary import summarize
from honed.records.record import QualityResult
from honed.spec.build import EvaluationSpec, tune_settings
from honed.store.database import Store
from honed.tuning import Guardrail, Point, TuneResult, TuneSettings, tune
from honed.tuning.points import Speedup, pareto_front, speedup_with_interval, sweet_spot

HIGHER, LOWER = Objective("quality", "higher"), Objective("quality", "lower")

MODEL = ModelRef(kind="factory", source="honed.zoo:mlp")
TASK = TaskSpec(name="image-classification")
CPU = TargetSpec(device="cpu")
CANDIDATES = ("magnitude-prune", "bf16", "dynamic-int8")  # canonical order: prune, precision, quantize


def _label(recipe: list[Step]) -> str:
    return " + ".join(step.algorithm for step in recipe) or "baseline"


def _quality(top1: float, items: int = 540) -> QualityResult:
    return QualityResult(
        task="image-classification",
        items=items,
        primary="top1",
        values={"top1": top1, "top5": 1.0},
        better={"top1": "higher", "top5": "higher"},
    )


class Scripted:
    """Plays back an outcome per recipe label: (p50 ms, top-1), "crash" or "interrupt"."""

    def __init__(self, outcomes: dict, store: Store):
        self.outcomes, self.store, self.measured = outcomes, store, []

    def screen(self, recipe, task):
        """Quality first: the outcome's top-1 (a crash or an interrupt happens in the timing run)."""
        outcome = self.outcomes[_label(recipe)]
        return _quality(outcome[1] if isinstance(outcome, tuple) else 0.95, items=task.limit or 540)

    def measure(self, recipe, protocol, task, name):
        label = _label(recipe)
        self.measured.append(label)
        outcome = self.outcomes[label]
        if outcome == "interrupt":
            raise KeyboardInterrupt
        if outcome == "crash":
            record = synthetic_record([noisy(1.0, 20, seed=0)])
            failed = [
                m.model_copy(update={"status": "crashed", "samples_ns": [], "error": "worker killed by SIGKILL"})
                for m in record.measurements
            ]
            record = record.model_copy(
                update={
                    "status": "failed",
                    "measurements": failed,
                    "results": summarize(failed, record.protocol, record.target, None, None),
                }
            )
        else:
            ms, top1, *spread = outcome  # an optional third value: the samples' relative spread
            record = synthetic_record([noisy(ms, 40, seed=i, spread=spread[0] if spread else 0.01) for i in range(3)])
            record = record.model_copy(update={"quality": _quality(top1), "task": task.name, "task_spec": task})
        self.store.add(record)
        return record


OUTCOMES = {
    "baseline": (10.0, 0.95),
    "magnitude-prune": (9.9, 0.95),
    "bf16": (6.0, 0.95),
    "dynamic-int8": (4.5, 0.90),
    "magnitude-prune + bf16": (5.0, 0.95),
}


def _tune(store, outcomes=OUTCOMES, **settings):
    runner = Scripted(outcomes, store)
    settings = TuneSettings(candidates=CANDIDATES, **settings)
    return tune(MODEL, TASK, CPU, Protocol(batch_sizes=(1,)), settings=settings, store=store, runner=runner), runner


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "tune.db"))


@pytest.mark.slow
def test_guardrail_combinations_pareto_and_the_recommendation(store, tmp_path):
    result, runner = _tune(store)
    by_label = {t.label: t for t in result.trials}
    assert result.skipped == {}  # the three candidates all run on a CPU
    # dynamic-int8 loses 5.3 % of top-1, over the 5 % guardrail: quality first, so it is rejected
    # by its screen on the whole task and never timed, nor combined.
    rejected = by_label["dynamic-int8"]
    assert rejected.status == "rejected" and rejected.quality_drop == pytest.approx(0.05 / 0.95)
    assert "screen on 540 items: top1 dropped 5.3%" in rejected.reason and rejected.run_id is None
    # Only algorithms that passed alone are combined (in canonical order).
    assert runner.measured == ["baseline", "magnitude-prune", "bf16", "magnitude-prune + bf16"]
    assert result.recommended.label == "magnitude-prune + bf16" and result.satisfied
    assert "2.00x the base model" in recommendation_text(result)
    assert [p.label for p in result.pareto] == ["magnitude-prune + bf16"]
    assert tried_text(result) == "4 trials, 3 of them timed"
    assert result.stop_reason.startswith("search space exhausted")
    stored = TuneResult.model_validate(store.sweep(result.id[:8]))
    assert stored.recommended == result.recommended and stored.stop_reason == result.stop_reason
    # The report says the same in its header.
    from honed.report import write_report

    html = write_report(stored, tmp_path / "sweep.html", store).read_text()
    assert "recommended: magnitude-prune + bf16 at batch 1" in html and "latency p50 (ms, lower is better)" in html


@pytest.mark.slow
def test_a_longer_recipe_is_recommended_only_when_its_gain_is_significant(store, tmp_path):
    # 5 % faster than bf16 alone: beyond the 2 % band, but inside the noise of samples that
    # spread 40 %, so compare finds no significant difference and the shorter recipe wins.
    noisy_combo = {**OUTCOMES, "bf16": (6.0, 0.95, 0.4), "magnitude-prune + bf16": (5.7, 0.95, 0.4)}
    result, _ = _tune(store, noisy_combo)
    assert result.recommended.label == "bf16"
    clean_combo = {**OUTCOMES, "magnitude-prune + bf16": (5.7, 0.95)}  # 1 % spread: a real gain
    result, _ = _tune(Store(str(tmp_path / "clean.db")), clean_combo)
    assert result.recommended.label == "magnitude-prune + bf16"


def test_a_crashed_trial_is_recorded_and_patience_stops_the_search(store):
    outcomes = {**OUTCOMES, "magnitude-prune": (10.0, 0.95), "bf16": "crash", "dynamic-int8": (9.9, 0.95)}
    result, runner = _tune(store, outcomes, patience=2)
    crashed = next(t for t in result.trials if t.label == "bf16")
    assert crashed.status == "failed" and "SIGKILL" in crashed.reason
    assert result.stop_reason == "no significant improvement in the last 2 measured trials (patience 2)"
    assert "dynamic-int8" not in runner.measured
    assert result.recommended.label == "baseline" and "no recipe beat the base model" in recommendation_text(result)


@pytest.mark.slow
def test_goal_trial_budget_and_an_impossible_slo(store, tmp_path):
    result, runner = _tune(store, goal=7.0)
    assert result.stop_reason.startswith("target met: bf16") and runner.measured[-1] == "bf16"
    result, _ = _tune(Store(str(tmp_path / "other.db")), max_trials=1)
    assert result.stop_reason == "trial budget spent (1 trials)" and len(result.trials) == 1
    result, _ = _tune(Store(str(tmp_path / "third.db")), latency_slo_ms=1.0)
    assert not result.satisfied and result.recommended is None
    assert "no measured candidate" in recommendation_text(result) and "exceeds the 1 ms SLO" in recommendation_text(
        result
    )


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_without_repeating_trials(store):
    with pytest.raises(Interrupted) as stopped:
        _tune(store, {**OUTCOMES, "bf16": "interrupt"})
    assert "run the same command again to resume" in str(stopped.value)
    saved = TuneResult.model_validate(store.sweep(stopped.value.record.id))
    assert [t.label for t in saved.trials] == ["magnitude-prune"]
    result, runner = _tune(store)
    # The baseline and prune came from the store; dynamic-int8 failed its quality screen (not timed).
    assert runner.measured == ["bf16", "magnitude-prune + bf16"]
    assert [t.cached for t in result.trials[:1]] == [True] and result.baseline.cached
    assert result.recommended.label == "magnitude-prune + bf16"


def test_a_trial_is_keyed_by_its_algorithms_source(tmp_path, monkeypatch):
    """A fix to an algorithm makes its stored trials stale: the key digests the source behind it
    (honed's algorithms and models packages for a built-in; a plugin's own module)."""
    import types

    from honed.optimization import ALGORITHMS
    from honed.tuning.identity import code_identity

    built_in, handles = code_identity(["bf16"]), code_identity([])
    assert {"algorithms/precision.py", "algorithms/openvino_speech.py"} <= set(built_in)
    # The handles count for every trial, the baseline's too (its greedy decoding is one of them).
    assert {"models/gguf_model.py", "models/transformers_model.py"} <= set(handles) <= set(built_in)
    assert not any(name.startswith("algorithms/") for name in handles)
    plugin = tmp_path / "honed_test_plugin_algorithm.py"
    plugin.write_text("def apply(handle, params, context):\n    return handle\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "honed_test_plugin_algorithm", raising=False)
    import honed_test_plugin_algorithm as module

    monkeypatch.setattr(ALGORITHMS, "get", lambda name: types.SimpleNamespace(apply=module.apply))
    before = code_identity(["a-plugin"])
    plugin.write_text("def apply(handle, params, context):\n    return handle  # fixed\n")
    assert set(before) - set(handles) == {f"{tmp_path.name}/{plugin.name}"} and code_identity(["a-plugin"]) != before


@pytest.mark.slow
def test_the_quick_screen_rejects_before_measuring(store):
    result, runner = _tune(store, screen_limit=50)
    assert "dynamic-int8" not in runner.measured
    rejected = next(t for t in result.trials if t.label == "dynamic-int8")
    assert (
        rejected.status == "rejected" and rejected.run_id is None and rejected.reason.startswith("screen on 50 items")
    )


def test_sweet_spot_prefers_quality_then_simplicity_within_the_noise():
    def point(label, objective, quality, passes=True, steps=None):
        return Point(
            trial=label,
            label=label,
            steps=steps,
            batch_size=1,
            threads=None,
            objective=objective,
            quality=quality,
            passes=passes,
        )

    settings = TuneSettings(min_effect=0.02, quality_tolerance=0.005)
    points = [
        point("a + b", 5.0, 0.95),
        point("a", 5.05, 0.95),
        point("c", 5.08, 0.96),
        point("d", 4.0, 0.99, passes=False),
    ]
    best, why = sweet_spot(points, settings, HIGHER)
    assert best.label == "c"  # within 2 % of the best, better quality
    assert why.startswith("recommended over the faster a + b (5): ") and "0.96 beats 0.95" in why
    assert sweet_spot(points[:2], settings, HIGHER)[0].label == "a"  # same quality: the shorter recipe
    # The count of algorithms comes from the recipe, not from how its label reads.
    counted = [point("fused", 5.0, 0.95, steps=2), point("x + y + z", 5.05, 0.95, steps=1)]
    assert sweet_spot(counted, settings, HIGHER)[0].label == "x + y + z"
    assert sweet_spot([p for p in points if not p.passes], settings, HIGHER) == (None, None)
    assert sweet_spot(points[:1], settings, HIGHER) == (points[0], None)  # the fastest needs no reason
    # A quality difference inside the tolerance does not outrank speed (perplexity in the 5th digit).
    lm = [point("bf16", 8.0, 30.0001), point("dynamic-int8", 8.1, 30.0000)]
    assert sweet_spot(lm, settings, LOWER)[0].label == "bf16"
    assert sweet_spot(lm, settings.model_copy(update={"quality_tolerance": 0.0}), LOWER)[0].label == "dynamic-int8"
    # Quality where lower is better (e.g. WER): the front follows the metric's direction.
    wer = [point("x", 5.0, 0.10), point("y", 4.0, 0.20), point("z", 6.0, 0.30)]
    assert [p.label for p in pareto_front(wer, LOWER, LOWER)] == ["y", "x"]
    assert [p.label for p in pareto_front(wer, LOWER, HIGHER)] == ["y", "z"]


def test_the_speed_up_lies_inside_its_interval_and_reads_in_that_order():
    def point(objective, ci):
        return Point(
            trial="t",
            label="t",
            batch_size=1,
            threads=None,
            objective=objective,
            objective_ci=ci,
            quality=1.0,
            passes=True,
        )

    base, best = point(10.0, (9.0, 11.0)), point(5.0, (4.0, 5.5))  # latency in ms: lower is better
    speedup = speedup_with_interval(base, best, "lower")
    assert speedup == Speedup(2.0, 9.0 / 5.5, 11.0 / 4.0) and speedup.low < speedup.value < speedup.high
    assert speedup.text() == "2.00x (1.64-2.75)"
    assert speedup_with_interval(best, base, "higher").value == 2.0  # throughput 5 -> 10 items/s: higher is better
    assert speedup_with_interval(base, point(5.0, None), "lower").text() == "2.00x"  # no CI, no interval
    assert Speedup().text() == ""


def test_bad_settings_fail_with_the_field_and_the_allowed_values(store):
    spec = EvaluationSpec(model=MODEL, task=TASK)
    with pytest.raises(SpecError, match="objective.*p50_ms"):
        tune_settings(spec, objective="fast")
    assert tune_settings(spec, max_drop=0.01, absolute=True).guardrail == Guardrail(max_drop=0.01, relative=False)
    with pytest.raises(UnknownNameError, match="bf16"):
        tune(
            MODEL, TASK, CPU, settings=TuneSettings(candidates=("bf61",)), store=store, runner=Scripted(OUTCOMES, store)
        )
    with pytest.raises(SpecError, match="guardrail.metric"):
        tune(
            MODEL,
            TASK,
            CPU,
            settings=TuneSettings(guardrail=Guardrail(metric="wer")),
            store=store,
            runner=Scripted(OUTCOMES, store),
        )
    with pytest.raises(SpecError, match="price_per_hour"):
        tune(MODEL, TASK, CPU, settings=TuneSettings(objective="cost"), store=store, runner=Scripted(OUTCOMES, store))


def test_the_demo_tunes_algorithms_that_exist_and_run_on_a_cpu():
    from honed.cli.demo import demo_settings, demo_spec
    from honed.optimization.recipe import available

    here = {a.name for a in available("cpu")}
    for quick in (False, True):
        settings, spec = demo_settings(quick), demo_spec(quick)
        names = {c if isinstance(c, str) else c.algorithm for c in settings.candidates}
        assert names <= here and spec.task.name == "text-embedding"
        assert settings.time_budget_s <= 420  # the README promises the demo in under ten minutes on two cores


def test_a_default_tune_tries_the_text_encoder_int8_on_a_text_encoder_only(minilm_path, tiny_llama_dir):
    from honed.core.protocol import RunSpec
    from honed.optimization.algorithms.openvino import TEXT_ENCODER_INT8
    from honed.optimization.recipe import step_label
    from honed.tuning.plan import plan_sweep

    int8 = step_label(Step(algorithm="openvino", params=TEXT_ENCODER_INT8.params))
    assert "quantization=int8-mixed" in int8 and "preset=mixed" in int8

    def tried(source: str, kind: str, task: str) -> set[str]:
        plan = plan_sweep(ModelRef(source=source, kind=kind), RunSpec(task=TaskSpec(name=task)), TuneSettings())
        return {recipe.label for recipe in plan.candidates}

    encoder = tried(minilm_path, "sentence-transformers", "text-embedding")
    assert {int8, "openvino", "dynamic-int8"} <= encoder
    # A causal LM decodes through a stateful graph, which int8 of activations does not take; it
    # tries llama.cpp q8_0 with its token table in f16 (a q8_0 table alone failed KL 0.01 on SmolLM2).
    from honed.optimization.algorithms.llama_cpp import LM_Q8_F16_TABLE

    llm = tried(str(tiny_llama_dir), "transformers", "agreement")
    q8 = step_label(Step(algorithm="llama-cpp", params=LM_Q8_F16_TABLE.params))
    assert int8 not in llm and q8 in llm and q8 not in encoder
    # Named candidates are exactly what is tried.
    named = plan_sweep(
        ModelRef(source=minilm_path, kind="sentence-transformers"),
        RunSpec(task=TaskSpec(name="text-embedding")),
        TuneSettings(candidates=("openvino",)),
    )
    assert [r.label for r in named.candidates] == ["openvino"]


def test_candidates_with_parameters_are_their_own_trials(store):
    variant = Step.parse("magnitude-prune:amount=0.5,scope=global")
    assert variant == Step(algorithm="magnitude-prune", params={"amount": 0.5, "scope": "global"})
    settings = TuneSettings(candidates=("magnitude-prune", variant), max_trials=2, max_steps=1)
    result = tune(
        MODEL, TASK, CPU, Protocol(batch_sizes=(1,)), settings=settings, store=store, runner=Scripted(OUTCOMES, store)
    )
    # Labels name only what differs from the defaults (scope=global is the default).
    assert sorted(t.label for t in result.trials) == ["magnitude-prune", "magnitude-prune (amount=0.5)"]
    with pytest.raises(SpecError, match="amount"):
        tune(
            MODEL,
            TASK,
            CPU,
            settings=TuneSettings(candidates=(Step.parse("magnitude-prune:amount=2"),)),
            store=store,
            runner=Scripted(OUTCOMES, store),
        )
    with pytest.raises(SpecError, match="name:key=value"):
        Step.parse("magnitude-prune:amount")


def test_gpu_only_and_excluded_algorithms_are_listed_with_the_reason(store):
    settings = TuneSettings(
        candidates=("bf16", "fp8-dynamic", "magnitude-prune"), exclude=("magnitude-prune",), max_trials=1
    )
    result = tune(
        MODEL, TASK, CPU, Protocol(batch_sizes=(1,)), settings=settings, store=store, runner=Scripted(OUTCOMES, store)
    )
    assert result.skipped == {"fp8-dynamic": "fp8-dynamic runs on cuda only, not cpu", "magnitude-prune": "excluded"}
    assert [t.label for t in result.trials] == ["bf16"]


def test_thread_counts_are_a_scenario_dimension(store):
    result, runner = _tune(store, threads=(1, 2), max_trials=2)
    assert runner.measured[:2] == ["baseline", "baseline"]
    assert {(p.label.split(" @")[0], p.threads) for p in result.points} >= {
        ("baseline", 1),
        ("baseline", 2),
        ("magnitude-prune", 1),
        ("magnitude-prune", 2),
    }
    assert result.recommended.threads in (1, 2)


@pytest.mark.slow
def test_a_contended_trial_is_measured_again_and_a_lasting_one_is_named(store):
    from honed.records.record import Stability

    busy = Stability(verdict="contended", reasons=["other work took 50% of the 2 CPUs' time"])

    class Busy(Scripted):
        """bf16's first run is contended, then quiet; dynamic-int8 stays contended."""

        def measure(self, recipe, protocol, task, name):
            record = super().measure(recipe, protocol, task, name)
            label = _label(recipe)
            if label == "dynamic-int8" or (label == "bf16" and self.measured.count("bf16") == 1):
                record = record.model_copy(update={"stability": busy})
            return record

    runner = Busy(OUTCOMES, store)
    settings = TuneSettings(candidates=CANDIDATES, max_steps=1, contention_retries=2, guardrail=Guardrail(max_drop=0.1))
    result = tune(MODEL, TASK, CPU, Protocol(batch_sizes=(1,)), settings=settings, store=store, runner=runner)
    assert runner.measured.count("bf16") == 2 and runner.measured.count("dynamic-int8") == 3
    trials = {t.label: t for t in result.trials}
    assert trials["bf16"].attempts == 2 and not trials["bf16"].contended
    assert trials["dynamic-int8"].attempts == 3 and trials["dynamic-int8"].contended
    assert [t.label for t in result.contended_trials] == ["dynamic-int8"]
    assert "measured on a busy machine: dynamic-int8 stayed contended" in recommendation_text(result)


@pytest.mark.slow
def test_the_fidelity_floor_rejects_a_recipe_whose_outputs_drift_while_the_task_saturates(store):
    class Drifting(Scripted):
        """dynamic-int8 keeps top-1 but its outputs drift from the base model's (cosine 0.95)."""

        def measure(self, recipe, protocol, task, name):
            record = super().measure(recipe, protocol, task, name)
            if _label(recipe) == "dynamic-int8":
                quality = record.quality.model_copy(update={"agreement": {"output_cosine": 0.95}})
                record = record.model_copy(update={"quality": quality})
            return record

    outcomes = {**OUTCOMES, "dynamic-int8": (4.5, 0.95)}
    settings = TuneSettings(candidates=CANDIDATES, max_steps=1)
    result = tune(
        MODEL, TASK, CPU, Protocol(batch_sizes=(1,)), settings=settings, store=store, runner=Drifting(outcomes, store)
    )
    trial = next(t for t in result.trials if t.label == "dynamic-int8")
    assert (
        trial.status == "rejected"
        and "output cosine to the base model 0.9500 is below the fidelity floor 0.99" in trial.reason
    )
    loose = TuneSettings(candidates=CANDIDATES, max_steps=1, guardrail=Guardrail(min_cosine=0.0))
    other = Store(str(store.url.split("///")[1]) + ".loose")
    result = tune(
        MODEL, TASK, CPU, Protocol(batch_sizes=(1,)), settings=loose, store=other, runner=Drifting(outcomes, other)
    )
    assert next(t for t in result.trials if t.label == "dynamic-int8").status == "ok"


def test_without_a_task_the_guardrail_is_agreement_with_the_base_model(store):
    class Agreement(Scripted):
        """Quality is agreement: the base agrees with itself, bf16 nearly, dynamic-int8 not."""

        def measure(self, recipe, protocol, task, name):
            assert task.name == "agreement"
            record = super().measure(recipe, protocol, task, name)
            cosine = {"baseline": 1.0, "bf16": 0.9999, "dynamic-int8": 0.9}[_label(recipe)]
            quality = QualityResult(
                task="agreement",
                items=64,
                primary="output_cosine",
                values={"output_cosine": cosine},
                better={"output_cosine": "higher"},
                agreement={"output_cosine": cosine},
            )
            return record.model_copy(update={"quality": quality})

    settings = TuneSettings(candidates=("bf16", "dynamic-int8"), max_steps=1)
    result = tune(
        MODEL, None, CPU, Protocol(batch_sizes=(1,)), settings=settings, store=store, runner=Agreement(OUTCOMES, store)
    )
    assert result.task.name == "agreement" and result.baseline.status == "ok"
    statuses = {t.label: t.status for t in result.trials}
    assert statuses == {"bf16": "ok", "dynamic-int8": "rejected"}  # a 10 % cosine drop: over the 5 % guardrail


def test_a_tunes_trials_never_rerun_the_plan_and_read_the_models_config_once(tiny_llama_dir, tmp_path, monkeypatch):
    """The sweep is planned once: no trial checks the model, its task or reads its config.json
    again (before, every trial's evaluate re-ran the whole pre-flight and read the config three
    times). Workers are replaced by stand-ins that return what a worker would."""
    import shutil

    import transformers

    import honed.run.evaluation as evaluation
    import honed.run.plan as run_plan
    from honed.records.record import Measurement

    model_dir = shutil.copytree(tiny_llama_dir, tmp_path / "llama")  # a path no earlier test read
    reads, checks = [], []
    from_pretrained = transformers.AutoConfig.from_pretrained

    def counted_read(source, *args, **kwargs):
        reads.append(source)
        return from_pretrained(source, *args, **kwargs)

    def counted(name, function):
        def wrapper(*args, **kwargs):
            checks.append(name)
            return function(*args, **kwargs)

        return wrapper

    jobs = []

    def worker(job, workdir):
        jobs.append(job)
        return Measurement(
            batch_size=job.batch_size,
            repetition=job.repetition,
            status="ok",
            samples_ns=[int(v * 1e6) for v in noisy(5.0, 20, seed=len(jobs))],
            memory={},
        )

    def quality_worker(job, workdir):
        jobs.append(job)
        return QualityResult(
            task=job.task.name,
            items=job.task.limit or 8,
            primary="output_cosine",
            values={"output_cosine": 1.0, "top1_agreement": 1.0, "logits_kl": 0.0},
            better={"output_cosine": "higher", "top1_agreement": "higher", "logits_kl": "lower"},
        )

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", counted_read)
    monkeypatch.setattr(run_plan, "check_model", counted("check_model", run_plan.check_model))
    monkeypatch.setattr(evaluation, "check_task", counted("check_task", evaluation.check_task))
    monkeypatch.setattr(evaluation, "run_job", worker)
    monkeypatch.setattr(evaluation, "run_quality_job", quality_worker)

    ref = ModelRef(kind="transformers", source=str(model_dir))
    spec = EvaluationSpec(
        model=ref,
        target=TargetSpec(device="cpu", measure_peaks=False),
        protocol=Protocol(batch_sizes=(1,), repetitions=1),
    )
    settings = TuneSettings(
        candidates=("bf16", "dynamic-int8"), max_steps=1, screen_limit=4, guardrail=Guardrail(min_cosine=0)
    )
    result = tune(ref, spec, settings, store=Store(f"sqlite:///{tmp_path / 'honed.db'}"))

    assert [t.status for t in [result.baseline, *result.trials]] == ["ok", "ok", "ok"], result.stop_reason
    assert checks == ["check_model"] and len(reads) == 1, (checks, reads)
    # Every worker got its trial's checked steps and the sweep's task (agreement: no task was given).
    assert {tuple(s.algorithm for s in job.recipe) for job in jobs} == {(), ("bf16",), ("dynamic-int8",)}
    assert {job.task.name for job in jobs} == {"agreement"}
