"""``tune``: search recipes under a quality guardrail and say why the search stopped.

Every trial (a recipe at a thread count) is screened for quality on a few items first where
asked, then measured in full (performance at each batch size plus quality on the whole task).
Its outcome is stored under a cache key as soon as it ends, so re-running the same command
resumes a killed sweep and repeats nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from honed.errors import HonedError, Interrupted, SpecError
from honed.optimization import Recipe
from honed.protocol import AGREEMENT_TASK, InputSpec, ModelRef, Protocol, TargetSpec, TaskSpec
from honed.record import QualityResult, RunRecord
from honed.store import Store
from honed.target import resolve_device
from honed.tuning.candidates import extensions, single_candidates
from honed.tuning.identity import digest, host_identity, model_identity
from honed.tuning.points import improves, pareto_front, sweet_spot, trial_points
from honed.tuning.result import Point, Trial, TuneResult
from honed.tuning.runner import TrialRunner, WorkerRunner
from honed.tuning.settings import OBJECTIVES, TuneSettings

# Called as the sweep goes: ("start", label) before a trial, ("trial", (Trial, its points)) after it.
EventCallback = Callable[[str, Any], None]


# compare()'s verdict for each objective that has one (energy and cost keep the fixed band).
_VERDICT_METRIC = {"p50_ms": "latency_p50", "p99_ms": "latency_p99", "throughput": "throughput", "peak_rss": "peak_rss"}

def tune(
    model: ModelRef,
    task: TaskSpec | None = None,
    target: TargetSpec | None = None,
    protocol: Protocol | None = None,
    inputs: InputSpec | None = None,
    settings: TuneSettings | None = None,
    store: Store | None = None,
    name: str | None = None,
    on_event: EventCallback | None = None,
    runner: TrialRunner | None = None,
    fresh: bool = False,
) -> TuneResult:
    """Search recipes for ``model`` on ``target``, keeping ``task``'s quality within the guardrail.

    ``fresh``: measure every trial again rather than reuse stored outcomes (they are replaced).
    Without ``task``, quality is agreement with the base model's outputs on the run's inputs.
    """
    target, protocol, inputs = target or TargetSpec(), protocol or Protocol(), inputs or InputSpec()
    settings = settings or TuneSettings()
    if not isinstance(model, ModelRef):
        raise SpecError("model", type(model).__name__, "a ModelRef (a file, directory or hub id), so that trials can be "
                        "cached and resumed; save an in-memory model with ModelHandle.save first")
    from honed.tasks import TASKS

    task, device, singles, skipped = preflight(model, task, target, settings, inputs)
    task_class = TASKS.get(task.name)
    search = _Search(model, task, target, protocol, inputs, settings, store, name, on_event,
                     runner or WorkerRunner(model, inputs, target, store), device, task_class, fresh)
    search.result = search.result.model_copy(update={"skipped": skipped})
    return search.run(singles)


def preflight(model: ModelRef, task: TaskSpec | None, target: TargetSpec, settings: TuneSettings,
              inputs: InputSpec | None = None):
    """What tune checks before its first trial: the model and its inputs, the task (none:
    agreement with the base model) and its fit to the model, the objective's needs and the
    candidates. Returns the task, the device, the single-step candidates, and those skipped
    with why (a runtime export cannot run a task that needs more than the model's tokenizer)."""
    from honed.preflight import check_model, check_task, check_task_fits, model_capabilities

    check_model(model, inputs or InputSpec())
    task = check_task(task or AGREEMENT_TASK)
    check_task_fits(model, task, [])
    if settings.objective == "cost" and target.price_per_hour is None:
        raise SpecError("target.price_per_hour", None, "a price (USD per hour) when the objective is cost")
    device = resolve_device(target)
    singles, skipped = single_candidates(device, model.kind, settings.candidates, settings.exclude)
    unfit = {recipe.label: why for recipe in singles if (why := _unfit_reason(model, task, recipe))}
    return task, device, [recipe for recipe in singles if recipe.label not in unfit], {**skipped, **unfit}


def _unfit_reason(model: ModelRef, task: TaskSpec, recipe: Recipe) -> str | None:
    """Why ``task`` cannot run on ``model`` after ``recipe``, or None when it can (or cannot be told)."""
    from honed.preflight import check_task_fits

    try:
        check_task_fits(model, task, [step.model_dump(mode="json") for step in recipe.steps])
    except SpecError as error:
        return error.hint or str(error)
    return None


class _Search:
    def __init__(self, model, task, target, protocol, inputs, settings, store, name, on_event, runner, device, task_class,
                 fresh):
        self.model, self.task, self.target, self.protocol, self.inputs = model, task, target, protocol, inputs
        self.settings, self.store, self.name, self.on_event, self.runner = settings, store, name, on_event, runner
        self.device, self.fresh = device, fresh
        self.metric = settings.guardrail.metric or task_class.primary
        if self.metric not in task_class.metrics:
            raise SpecError("guardrail.metric", self.metric, f"a metric of task {task.name!r}: {', '.join(task_class.metrics)}")
        self.identity = (model_identity(model), task.model_dump(mode="json"), inputs.model_dump(mode="json"),
                         target.model_dump(mode="json"), host_identity())
        self.sweep_id = digest("sweep", self.identity, protocol.model_dump(mode="json"), settings.model_dump(mode="json"))[:32]
        self.threads = settings.threads or (protocol.threads,)
        self.started = time.monotonic()
        self.result = TuneResult(id=self.sweep_id, created_at=datetime.now(timezone.utc), name=name, model=model, task=task,
                                 inputs=inputs, protocol=protocol, target=target, settings=settings)
        self.records: dict[str, RunRecord] = {}
        self.base_quality: float | None = None
        self.base_screen: float | None = None
        self.best: Point | None = None
        self.since_gain = 0
        self.tried: set[str] = set()

    # -- the loop -----------------------------------------------------------------------

    def run(self, singles: list[Recipe]) -> TuneResult:
        try:
            stop = self._search(singles)
        except (KeyboardInterrupt, Interrupted):
            self._finish(f"interrupted after {len(self.result.trials)} trials; run the same command again to resume "
                         "(finished trials are cached and will not be repeated)")
            raise Interrupted(self.result.stop_reason, self.result) from None
        self._finish(stop)
        return self.result

    def _search(self, singles: list[Recipe]) -> str:
        for threads in self.threads:
            baseline = self._trial(Recipe(), threads)
            if self.result.baseline is None:
                self.result = self.result.model_copy(update={"baseline": baseline})
            if baseline.status != "ok":
                return f"the base model failed, so nothing can be compared with it: {baseline.reason}"
        if not singles:
            return "search space exhausted: no optimisation algorithm applies to this model on this target"
        passed_singles: dict[str, tuple[Recipe, float]] = {}
        passed: dict[str, tuple[Recipe, float]] = {}
        for size in range(1, self.settings.max_steps + 1):
            queue = singles if size == 1 else extensions(passed, passed_singles, size, self.tried)
            for recipe in queue:
                for threads in self.threads:
                    if (stop := self._budget_spent()) is not None:
                        return stop
                    trial = self._trial(recipe, threads)
                    gain = self._gain(trial)
                    if trial.status == "ok" and gain is not None:
                        passed[trial.key] = (recipe, gain)
                        if size == 1:
                            passed_singles[recipe.key] = (recipe, gain)
                    if (stop := self._target_reached(trial)) is not None:
                        return stop
            if size == 1 and not passed_singles:
                return "search space exhausted: no single algorithm kept quality within the guardrail"
        return "search space exhausted: every combination up to max_steps was tried"

    def _budget_spent(self) -> str | None:
        settings = self.settings
        trials = [t for t in self.result.trials if t.recipe]
        if len(trials) >= settings.max_trials:
            return f"trial budget spent ({settings.max_trials} trials)"
        elapsed = time.monotonic() - self.started
        if settings.time_budget_s is not None and elapsed >= settings.time_budget_s:
            return f"time budget spent ({elapsed:.0f} s of {settings.time_budget_s:g} s)"
        if self.since_gain >= settings.patience:
            return f"no significant improvement in the last {self.since_gain} measured trials (patience {settings.patience})"
        return None

    def _target_reached(self, trial: Trial) -> str | None:
        points = [p for p in self.result.points if p.trial == trial.key and p.passes]
        goal, better = self.settings.goal, self.settings.better
        for point in points:
            if goal is not None and (point.objective <= goal if better == "lower" else point.objective >= goal):
                return f"target met: {point.label} reaches {self.settings.objective} {point.objective:.4g} (goal {goal:g})"
        record = self.records.get(trial.key)
        # Peaks are fp32 capability, so only an fp32 model's efficiency is comparable with them.
        fp32 = record is not None and record.model_stats is not None and "float32" in str(record.model_stats.dtype)
        if fp32 and trial.status == "ok" and trial.recipe:
            for result in record.results:
                efficiency = result.efficiency.roofline_efficiency if result.efficiency else None
                if efficiency is not None and efficiency >= self.settings.efficiency_limit:
                    return (f"close to the hardware limit: {trial.label} at batch {result.batch_size} reaches "
                            f"{efficiency:.0%} of the roofline (limit {self.settings.efficiency_limit:.0%})")
        return None

    # -- one trial ------------------------------------------------------------------------

    def _trial(self, recipe: Recipe, threads: int | None) -> Trial:
        protocol = self.protocol.model_copy(update={"threads": threads})
        steps = [s.model_dump(mode="json") for s in recipe.canonical().steps]
        key = digest("trial", self.identity, protocol.model_dump(mode="json"), recipe.key, self.settings.screen_limit)[:32]
        self.tried.add(recipe.key)
        label = recipe.label + (f" @{threads} threads" if threads and len(self.threads) > 1 else "")
        cached = self.store.trial(key) if self.store is not None and not self.fresh else None
        if cached is not None and cached.get("status") == "failed":
            cached = None  # a crash may have been the machine's or a since-fixed bug: try it again
        if cached is not None:
            trial = Trial.model_validate({**cached, "cached": True})
        else:
            self._event("start", label)
            started = time.monotonic()
            try:
                trial = self._run_trial(key, label, steps, protocol, threads)
            except (KeyboardInterrupt, Interrupted):
                raise
            except Exception as error:  # a trial that fails in the parent is recorded; the sweep goes on
                trial = Trial(key=key, label=label, recipe=steps, threads=threads, status="failed",
                              reason=f"{type(error).__name__}: {error}")
            trial = trial.model_copy(update={"seconds": time.monotonic() - started})
            if self.store is not None:
                self.store.save_trial(key, self.sweep_id, trial.model_dump(mode="json"))
        points = self._record(trial)
        self._event("trial", (trial, points))
        return trial

    def _run_trial(self, key: str, label: str, steps: list[dict[str, Any]], protocol: Protocol, threads: int | None) -> Trial:
        common = dict(key=key, label=label, recipe=steps, threads=threads)
        guardrail = self.settings.guardrail
        screen = None
        if self.settings.screen_limit:
            screen = self.runner.screen(steps, self.task.model_copy(update={"limit": self.settings.screen_limit}))
            if screen.status != "ok":
                return Trial(**common, status="failed", reason=f"quality screen {screen.status}: {_last_line(screen.error)}",
                             screen=screen)
            if not steps:
                self.base_screen = screen.values.get(self.metric)
            elif (drop := self._drop(self.base_screen, screen)) is not None and drop > guardrail.max_drop:
                return Trial(**common, status="rejected", screen=screen, quality_drop=drop,
                             reason=f"screen on {screen.items} items: {self._drop_text(drop)}")
            elif (floor := guardrail.below_floor(screen)) is not None:
                return Trial(**common, status="rejected", screen=screen, reason=f"screen on {screen.items} items: {floor}")
        record, attempts = self._measure(steps, protocol, label)
        self.records[key] = record
        common.update(stability=record.stability, attempts=attempts)
        quality = record.quality
        if record.status == "failed":
            errors = [m.error for m in record.measurements if m.error]
            return Trial(**common, status="failed", screen=screen, quality=quality, run_id=record.id,
                         reason=f"every measurement failed: {_last_line(errors[0] if errors else None)}")
        if quality is None or quality.status != "ok":
            reason = f"quality {quality.status}: {_last_line(quality.error)}" if quality else "quality was not scored"
            return Trial(**common, status="failed", screen=screen, quality=quality, run_id=record.id, reason=reason)
        if not steps:
            self.base_quality = quality.values.get(self.metric)
            return Trial(**common, status="ok", screen=screen, quality=quality, run_id=record.id, quality_drop=0.0)
        drop = self._drop(self.base_quality, quality)
        if idle := [c.warning for c in quality.coverage if c.warning]:
            return Trial(**common, status="rejected", screen=screen, quality=quality, run_id=record.id, quality_drop=drop,
                         reason=idle[0])
        if drop is not None and drop > guardrail.max_drop:
            return Trial(**common, status="rejected", screen=screen, quality=quality, run_id=record.id, quality_drop=drop,
                         reason=self._drop_text(drop))
        if (floor := guardrail.below_floor(quality)) is not None:
            return Trial(**common, status="rejected", screen=screen, quality=quality, run_id=record.id, quality_drop=drop,
                         reason=floor)
        return Trial(**common, status="ok", screen=screen, quality=quality, run_id=record.id, quality_drop=drop)

    def _measure(self, steps: list[dict[str, Any]], protocol: Protocol, label: str) -> tuple[RunRecord, int]:
        """Measure; while other work took the CPU during the run, measure again (bounded): a
        contended run's numbers are the machine's, not the recipe's."""
        for attempt in range(1, self.settings.contention_retries + 2):
            record = self.runner.measure(steps, protocol, self.task, f"{self.name or 'tune'}: {label}")
            if record.stability is None or record.stability.verdict != "contended":
                break
            if attempt <= self.settings.contention_retries:
                self._event("retry", (label, record.stability))
        return record, attempt

    def _drop(self, base: float | None, quality: QualityResult) -> float | None:
        from honed.tasks.metrics import get_metric

        value = quality.values.get(self.metric)
        if base is None or value is None:
            return None
        metric = get_metric(self.metric)
        if self.settings.guardrail.relative:
            return metric.relative_drop(base, value) + 0.0  # no "-0.0"
        drop = base - value if metric.better == "higher" else value - base
        return drop + 0.0  # no "-0.0"

    def _drop_text(self, drop: float) -> str:
        amount = f"{drop:.1%}" if self.settings.guardrail.relative else f"{drop:.4g}"
        return f"{self.metric} dropped {amount}; the guardrail allows {self.settings.guardrail.describe(self.metric)}"

    # -- bookkeeping -------------------------------------------------------------------------

    def _record(self, trial: Trial) -> list[Point]:
        """Add the trial and its points; track the best passing point and the patience count."""
        if trial.cached and trial.run_id and trial.key not in self.records and self.store is not None:
            try:
                self.records[trial.key] = self.store.get(trial.run_id)
            except HonedError:
                pass  # the run was deleted: the trial still counts, without points
        if trial.cached and not trial.recipe and trial.quality and trial.quality.status == "ok":
            self.base_quality = trial.quality.values.get(self.metric)
            if trial.screen and trial.screen.status == "ok":
                self.base_screen = trial.screen.values.get(self.metric)
        record = self.records.get(trial.key)
        points = trial_points(trial, record, self.settings, self.metric) if record is not None else []
        update: dict[str, Any] = {"points": self.result.points + points}
        if trial.recipe:
            update["trials"] = self.result.trials + [trial]
        elif self.result.baseline is not None and self.result.baseline.key != trial.key:
            update["trials"] = self.result.trials + [trial]  # a baseline at another thread count
        self.result = self.result.model_copy(update=update)
        passing = [p for p in points if p.passes]
        if not passing:
            if trial.recipe and record is not None:
                self.since_gain += 1
            self._save()
            return points
        lower = self.settings.better == "lower"
        candidate = min(passing, key=lambda p: p.objective) if lower else max(passing, key=lambda p: p.objective)
        if self.best is None or self._significant(candidate, self.best):
            self.best = candidate
            self.since_gain = 0
        elif trial.recipe:
            self.since_gain += 1
        self._save()
        return points

    def _significant(self, candidate: Point, best: Point) -> bool:
        """At least ``min_effect`` better and, where both have CIs, intervals that do not overlap."""
        direction = self.settings.better
        if not improves(candidate.objective, best.objective, direction, self.settings.min_effect):
            return False
        if candidate.objective_ci and best.objective_ci:
            return candidate.objective_ci[1] < best.objective_ci[0] if direction == "lower" else \
                candidate.objective_ci[0] > best.objective_ci[1]
        return True

    def _indistinguishable(self, best: Point, other: Point) -> bool:
        """``compare``'s verdict between the two runs at the same scenario is "no significant
        difference" on the objective; False where it cannot tell (objective without a verdict,
        another scenario, fewer than MIN_REPLICATES processes a side), leaving the fixed band."""
        from honed.comparison import MIN_REPLICATES, NO_DIFFERENCE, compare

        metric = _VERDICT_METRIC.get(self.settings.objective)
        a, b = self.records.get(best.trial), self.records.get(other.trial)
        if metric is None or a is None or b is None or (best.batch_size, best.threads) != (other.batch_size, other.threads):
            return False
        ra, rb = a.result(best.batch_size), b.result(other.batch_size)
        if ra is None or rb is None or min(ra.repetitions_ok, rb.repetitions_ok) < MIN_REPLICATES:
            return False
        verdicts = compare(a, b, min_effect=self.settings.min_effect).verdicts
        verdict = next((v for v in verdicts if v.metric == metric and v.batch_size == best.batch_size), None)
        return verdict is not None and verdict.verdict == NO_DIFFERENCE

    def _gain(self, trial: Trial) -> float | None:
        """Baseline objective / trial objective at their best points (> 1: the trial is better)."""
        base = self.result.baseline
        best_of = {}
        for key in (base.key if base else None, trial.key):
            values = [p.objective for p in self.result.points if p.trial == key]
            if not values:
                return None
            best_of[key] = min(values) if self.settings.better == "lower" else max(values)
        a, b = best_of[base.key], best_of[trial.key]
        if a <= 0 or b <= 0:
            return None
        return a / b if self.settings.better == "lower" else b / a

    def _finish(self, stop_reason: str) -> None:
        quality_better = self._quality_better()
        points = self.result.points
        recommended, why = sweet_spot(points, self.settings, quality_better, self._indistinguishable)
        front = pareto_front(points, self.settings.better, quality_better)
        self.result = self.result.model_copy(update={
            "pareto": front, "recommended": recommended, "recommendation_reason": why, "satisfied": recommended is not None,
            "stop_reason": stop_reason, "summary": self._summary(recommended),
        })
        self._save()

    def _summary(self, recommended: Point | None) -> str:
        objective, (_, _, unit) = self.settings.objective, OBJECTIVES[self.settings.objective]
        if recommended is None:
            why = sorted({p.why_not for p in self.result.points if p.why_not})
            return ("no measured candidate, the base model included, meets the guardrail and constraints"
                    + (f" ({'; '.join(why[:3])})" if why else ""))
        base_points = [p for p in self.result.points if self.result.baseline and p.trial == self.result.baseline.key
                       and p.batch_size == recommended.batch_size and p.threads == recommended.threads]
        where = f"batch {recommended.batch_size}" + (f", {recommended.threads} threads" if recommended.threads else "")
        text = f"recommended: {recommended.label} at {where}: {objective} {recommended.objective:.4g} {unit}"
        if base_points and base_points[0].trial != recommended.trial:
            base = base_points[0].objective
            ratio = base / recommended.objective if self.settings.better == "lower" else recommended.objective / base
            text += f" ({ratio:.2f}x the base model's {base:.4g} {unit})"
        elif base_points:
            text += " (no recipe beat the base model significantly)"
        if recommended.quality is not None:
            text += f", {self.metric} {recommended.quality:.4g}"
        if contended := self.result.contended_trials:
            text += (f"; measured on a busy machine: {', '.join(t.label for t in contended)} stayed contended after "
                     f"{self.settings.contention_retries} retries, so this evidence is the machine's as much as the "
                     "recipes': measure again on a quiet machine")
        return text

    def _quality_better(self) -> str:
        from honed.tasks.metrics import get_metric

        return get_metric(self.metric).better

    def _save(self) -> None:
        if self.store is not None:
            self.store.save_sweep(self.sweep_id, self.name, self.model.display_name, self.result.stop_reason,
                                  self.result.model_dump(mode="json"))

    def _event(self, kind: str, payload: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, payload)


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1][:300] if lines else "no reason given"

