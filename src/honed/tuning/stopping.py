"""When a tune stops: budgets (trials, time), patience (trials without a significant gain), a
goal reached, or a candidate close to the hardware's limit. Each stop says why."""

from __future__ import annotations

import time

from honed.records.record import RunRecord
from honed.tuning.result import Point, Trial
from honed.tuning.settings import TuneSettings


class StopPolicy:
    def __init__(self, settings: TuneSettings):
        self.settings, self.objective = settings, settings.goal_objective
        self.started = time.monotonic()
        self.best: Point | None = None  # the best passing point so far
        self.since_gain = 0  # measured trials since the best improved significantly

    def budget_spent(self, trials: int) -> str | None:
        settings = self.settings
        if trials >= settings.max_trials:
            return f"trial budget spent ({settings.max_trials} trials)"
        elapsed = time.monotonic() - self.started
        if settings.time_budget_s is not None and elapsed >= settings.time_budget_s:
            return f"time budget spent ({elapsed:.0f} s of {settings.time_budget_s:g} s)"
        if self.since_gain >= settings.patience:
            return (
                f"no significant improvement in the last {self.since_gain} measured trials "
                f"(patience {settings.patience})"
            )
        return None

    def target_reached(self, trial: Trial, points: list[Point], record: RunRecord | None) -> str | None:
        goal = self.settings.goal
        for point in (p for p in points if p.passes):
            if goal is not None and self.objective.reaches(point.objective, goal):
                return (
                    f"target met: {point.label} reaches {self.settings.objective} {point.objective:.4g} (goal {goal:g})"
                )
        # Peaks are fp32 capability, so only an all-fp32 model's efficiency is comparable with them;
        # above 100 % the peaks or the byte count are wrong, which says nothing about the limit.
        fp32 = record is not None and record.model_stats is not None and record.model_stats.dtype == "float32"
        if record is not None and fp32 and trial.status == "ok" and trial.recipe:
            for result in record.results:
                efficiency = result.efficiency.roofline_efficiency if result.efficiency else None
                if efficiency is not None and self.settings.efficiency_limit <= efficiency <= 1:
                    return (
                        f"close to the hardware limit: {trial.label} at batch {result.batch_size} reaches "
                        f"{efficiency:.0%} of the roofline (limit {self.settings.efficiency_limit:.0%})"
                    )
        return None

    def observe(self, trial: Trial, points: list[Point], measured: bool) -> None:
        """Track the best passing point and the patience count after a trial."""
        passing = [p for p in points if p.passes]
        if not passing:
            if trial.recipe and measured:
                self.since_gain += 1
            return
        candidate = self.objective.best(passing, key=lambda p: p.objective)
        if self.best is None or self.significant(candidate, self.best):
            self.best, self.since_gain = candidate, 0
        elif trial.recipe:
            self.since_gain += 1

    def significant(self, candidate: Point, best: Point) -> bool:
        """At least ``min_effect`` better and, where both have CIs, intervals that do not overlap."""
        if not self.objective.improves(candidate.objective, best.objective, self.settings.min_effect):
            return False
        if candidate.objective_ci and best.objective_ci:
            return self.objective.separated(candidate.objective_ci, best.objective_ci)
        return True
