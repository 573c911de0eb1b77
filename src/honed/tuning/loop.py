"""The search loop of a tune: the baseline, then single algorithms, then combinations of those
that passed, until a stop rule says why not to go on. Each trial is cached as soon as it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from honed.core.errors import Interrupted
from honed.core.protocol import Protocol, Step, TaskSpec
from honed.models.capabilities import Capability
from honed.optimization import Recipe
from honed.records.record import QualityResult, RunRecord
from honed.tuning.best_effort import best_effort
from honed.tuning.cache import TrialCache
from honed.tuning.candidates import extensions
from honed.tuning.identity import code_identity
from honed.tuning.judge import QualityJudge
from honed.tuning.points import pareto_front, sweet_spot, trial_gain, trial_points
from honed.tuning.result import Point, Trial, TuneResult
from honed.tuning.runner import TrialRunner
from honed.tuning.stopping import StopPolicy
from honed.tuning.stored_run import stored_run

# Called as the sweep goes: ("start", label) before a trial, ("trial", (Trial, its points)) after it.
EventCallback = Callable[[str, Any], None]

# compare()'s verdict for each objective that has one (energy and cost keep the fixed band).
_VERDICT_METRIC = {"p50_ms": "latency_p50", "p99_ms": "latency_p99", "throughput": "throughput", "peak_rss": "peak_rss"}


class Search:
    """The loop: the baseline, then single algorithms, then combinations of those that passed,
    until a stop rule says why not to go on."""

    def __init__(
        self,
        result: TuneResult,
        judge: QualityJudge,
        cache: TrialCache,
        runner: TrialRunner,
        on_event: EventCallback | None,
        capabilities: frozenset[Capability] | None = None,
    ):
        self.result, self.judge, self.cache, self.runner, self.on_event = result, judge, cache, runner, on_event
        self.capabilities = capabilities  # the model's, from its files: what a knob search's space may drop
        self.settings = result.settings
        self.stop = StopPolicy(self.settings)
        self.threads = self.settings.threads or (result.protocol.threads,)
        self.records: dict[str, RunRecord] = {}
        self.tried: set[str] = set()

    def run(self, singles: list[Recipe]) -> TuneResult:
        try:
            stop = self._search(singles)
        except (KeyboardInterrupt, Interrupted):
            self._finish(
                f"interrupted after {len(self.result.trials)} trials; run the same command again to resume "
                "(finished trials are cached and will not be repeated)"
            )
            raise Interrupted(self.result.stop_reason, self.result) from None
        self._finish(stop)
        return self.result

    def _baselines(self, singles: list[Recipe]) -> str | None:
        """The base model at each thread count; why the search cannot go on, or None."""
        for threads in self.threads:
            baseline = self._trial(Recipe(), threads)
            if self.result.baseline is None:
                self.result = self.result.model_copy(update={"baseline": baseline})
            if baseline.status != "ok":
                return f"the base model failed, so nothing can be compared with it: {baseline.reason}"
        if not singles:
            return "search space exhausted: no optimisation algorithm applies to this model on this target"
        return None

    def _search(self, singles: list[Recipe]) -> str:
        if (stop := self._baselines(singles)) is not None:
            return stop
        passed_singles: dict[str, tuple[Recipe, float]] = {}
        passed: dict[str, tuple[Recipe, float]] = {}
        for size in range(1, self.settings.max_steps + 1):
            queue = singles if size == 1 else extensions(passed, passed_singles, size, self.tried)
            for recipe in queue:
                for threads in self.threads:
                    if (stop := self.stop.budget_spent(self._recipes_tried)) is not None:
                        return stop
                    trial = self._trial(recipe, threads)
                    gain = self._gain(trial)
                    if trial.status == "ok" and gain is not None:
                        passed[trial.key] = (recipe, gain)
                        if size == 1:
                            passed_singles[recipe.key] = (recipe, gain)
                    points = [p for p in self.result.points if p.trial == trial.key]
                    if (stop := self.stop.target_reached(trial, points, self.records.get(trial.key))) is not None:
                        return stop
            if size == 1 and not passed_singles:
                return "search space exhausted: no single algorithm kept quality within the guardrail"
        return "search space exhausted: every combination up to max_steps was tried"

    # -- one trial ------------------------------------------------------------------------

    def _trial(self, recipe: Recipe, threads: int | None) -> Trial:
        protocol = self.result.protocol.model_copy(update={"threads": threads})
        steps = list(recipe.canonical().steps)
        key = self.cache.key(protocol, recipe.key, self._screen_identity, code_identity([s.algorithm for s in steps]))
        self.tried.add(recipe.key)
        label = recipe.label + (f" @{threads} threads" if threads and len(self.threads) > 1 else "")
        trial = self.cache.get(key)
        if trial is None:
            self._event("start", label)
            started = time.monotonic()
            try:
                trial = self._run_trial(key, label, steps, protocol, threads)
            except (KeyboardInterrupt, Interrupted):
                raise
            except Exception as error:  # a trial that fails in the parent is recorded; the sweep goes on
                trial = Trial(
                    key=key,
                    label=label,
                    recipe=steps,
                    threads=threads,
                    status="failed",
                    reason=f"{type(error).__name__}: {error}",
                )
            trial = trial.model_copy(update={"seconds": time.monotonic() - started})
            self.cache.put(trial, self.result.id)
        points = self._record(trial)
        self._event("trial", (trial, points))
        return trial

    def _run_trial(self, key: str, label: str, steps: list[Step], protocol: Protocol, threads: int | None) -> Trial:
        common: dict[str, Any] = dict(key=key, label=label, recipe=steps, threads=threads)
        screen = None
        screen_task = self._screen_task()
        if steps or screen_task.limit:  # the base model on the whole task: its measured run scores it
            screen = self.runner.screen(steps, screen_task)
            common["screen"] = screen
            if screen.status != "ok":
                return Trial(
                    **common, status="failed", reason=f"quality screen {screen.status}: {_last_line(screen.error)}"
                )
            if not steps:
                self.judge.base_screen = screen.values.get(self.judge.metric)
            elif not (verdict := self.judge.screen(screen)).passed:
                return Trial(**common, status="rejected", quality_drop=verdict.drop, reason=verdict.reason)
            elif (slow := self._cannot_win(steps, screen)) is not None:
                return Trial(**common, status="rejected", quality_drop=verdict.drop, reason=slow)
        record, attempts = self._measure(steps, protocol, label)
        self.records[key] = record
        common.update(
            stability=record.stability, attempts=attempts, quality=record.quality, run_id=record.id, reused=not attempts
        )
        quality = record.quality
        if record.status == "failed":
            errors = [m.error for m in record.measurements if m.error]
            return Trial(
                **common,
                status="failed",
                reason=f"every measurement failed: {_last_line(errors[0] if errors else None)}",
            )
        if quality is None or quality.status != "ok":
            reason = f"quality {quality.status}: {_last_line(quality.error)}" if quality else "quality was not scored"
            return Trial(**common, status="failed", reason=reason)
        if not steps:
            self.judge.base = quality.values.get(self.judge.metric)
            return Trial(**common, status="ok", quality_drop=0.0)
        verdict = self.judge.full(quality)
        return Trial(
            **common, status="ok" if verdict.passed else "rejected", quality_drop=verdict.drop, reason=verdict.reason
        )

    @property
    def _recipes_tried(self) -> int:
        """Trials of a recipe so far (baselines at other thread counts are not the budget's)."""
        return sum(1 for t in self.result.trials if t.recipe)

    def _cannot_win(self, steps: list[Step], screen: QualityResult) -> str | None:
        """Why a point that passed its screen is not worth timing (the list search times them all)."""
        return None

    def _screen_task(self) -> TaskSpec:
        """Quality first: a trial is screened on the task before it is timed, on every item unless
        ``screen_limit`` says fewer (the timing run then reuses the screen's conversion and score)."""
        limit = self.settings.screen_limit
        return self.result.task.model_copy(update={"limit": limit}) if limit else self.result.task

    @property
    def _screen_identity(self) -> object:
        """What a trial's cache key holds of its screen (an outcome screened otherwise is another)."""
        return ["quality first", self.settings.screen_limit]

    def _measure(self, steps: list[Step], protocol: Protocol, label: str) -> tuple[RunRecord, int]:
        """Measure; while other work took the CPU during the run, measure again (bounded): a
        contended run's numbers are the machine's, not the recipe's. The base model's stored run of
        the same spec on this machine is reused (0 attempts)."""
        if not steps and (stored := self._stored_baseline(protocol)) is not None:
            return stored, 0
        for attempt in range(1, self.settings.contention_retries + 2):
            record = self.runner.measure(steps, protocol, self.result.task, f"{self.result.name or 'tune'}: {label}")
            if record.stability is None or record.stability.verdict != "contended":
                break
            if attempt <= self.settings.contention_retries:
                self._event("retry", (label, record.stability))
        return record, attempt

    def _stored_baseline(self, protocol: Protocol) -> RunRecord | None:
        if self.cache.fresh or self.settings.objective == "peak_qps":  # a peak search is not an evaluate
            return None
        result = self.result
        return stored_run(
            self.cache.store,
            result.model,
            [],
            protocol,
            result.inputs,
            result.target,
            result.task,
            self.settings.baseline_hours,
        )

    # -- bookkeeping -------------------------------------------------------------------------

    def _record(self, trial: Trial) -> list[Point]:
        """Add the trial and its points; the stop policy tracks the best point and patience."""
        if trial.cached and trial.key not in self.records and (run := self.cache.run(trial.run_id)) is not None:
            self.records[trial.key] = run
        if trial.cached and not trial.recipe and trial.quality and trial.quality.status == "ok":
            self.judge.base = trial.quality.values.get(self.judge.metric)
            if trial.screen and trial.screen.status == "ok":
                self.judge.base_screen = trial.screen.values.get(self.judge.metric)
        record = self.records.get(trial.key)
        points = trial_points(trial, record, self.settings, self.judge.metric) if record is not None else []
        update: dict[str, Any] = {"points": self.result.points + points}
        if trial.recipe:
            update["trials"] = self.result.trials + [trial]
        elif self.result.baseline is not None and self.result.baseline.key != trial.key:
            update["trials"] = self.result.trials + [trial]  # a baseline at another thread count
        self.result = self.result.model_copy(update=update)
        self.stop.observe(trial, points, measured=record is not None)
        self.cache.save_sweep(self.result)
        return points

    def _indistinguishable(self, best: Point, other: Point) -> bool:
        """``compare``'s verdict between the two runs at the same scenario is "no significant
        difference" on the objective; False where it cannot tell (objective without a verdict,
        another scenario, fewer than MIN_REPLICATES processes a side), leaving the fixed band."""
        from honed.records.comparison import MIN_REPLICATES, NO_DIFFERENCE, compare

        metric = _VERDICT_METRIC.get(self.settings.objective)
        a, b = self.records.get(best.trial), self.records.get(other.trial)
        if (
            metric is None
            or a is None
            or b is None
            or (best.batch_size, best.threads) != (other.batch_size, other.threads)
        ):
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
        if base is None:
            return None
        return trial_gain(self.result.points, base.key, trial.key, self.settings.goal_objective)

    def _finish(self, stop_reason: str) -> None:
        points = self.result.points
        recommended, why = sweet_spot(points, self.settings, self.judge.quality, self._indistinguishable)
        front = pareto_front(points, self.settings.goal_objective, self.judge.quality)
        self.result = self.result.model_copy(
            update={
                "pareto": front,
                "recommended": recommended,
                "recommendation_reason": why,
                "satisfied": recommended is not None,
                "stop_reason": stop_reason,
                "best_effort": best_effort(self.result.trials, self.judge),
            }
        )
        self.cache.save_sweep(self.result)

    def _event(self, kind: str, payload: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, payload)


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1][:300] if lines else "no reason given"
