"""From measured runs to points, the Pareto front (quality vs objective) and the sweet spot."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from honed.core.objective import Objective
from honed.records.record import BatchResult, RunRecord
from honed.tuning.result import Point, Trial
from honed.tuning.settings import TuneSettings


def objective_value(
    result: BatchResult,
    objective: str,
    record: RunRecord | None = None,
) -> tuple[float | None, tuple[float, float] | None]:
    """The objective at one batch size with its CI where one exists; None when not measured.
    peak_qps comes from the run's peak search: its interval is the search's bracket (the peak
    confirmed, the lowest rate that missed)."""
    if objective == "peak_qps":
        peak = record.load.peak if record is not None and record.load is not None else None
        if peak is None or peak.peak_qps is None:
            return None, None
        return peak.peak_qps, (peak.peak_qps, peak.first_miss_qps or peak.peak_qps)
    latency = result.latency_ms
    if objective in ("p50_ms", "p99_ms"):
        if latency is None:
            return None, None
        stat = objective.split("_")[0]
        ci = getattr(latency, f"{stat}_ci")
        return getattr(latency, stat), (ci.low, ci.high)
    if objective == "throughput":
        return result.throughput_items_per_s, None
    if objective == "peak_rss":
        return (result.peak_rss_bytes / 2**20 if result.peak_rss_bytes else None), None
    if objective == "energy":
        energy = result.energy
        return (energy.joules_per_item if energy and energy.status == "measured" else None), None
    return result.cost_per_million_usd, None


def constraint_failure(result: BatchResult, settings: TuneSettings) -> str | None:
    if settings.latency_slo_ms is not None and (
        result.latency_ms is None or result.latency_ms.p99 > settings.latency_slo_ms
    ):
        p99 = f"{result.latency_ms.p99:.3g} ms" if result.latency_ms else "not measured"
        return f"p99 {p99} exceeds the {settings.latency_slo_ms:g} ms SLO"
    if settings.memory_budget_mib is not None:
        rss = result.peak_rss_bytes / 2**20 if result.peak_rss_bytes else None
        if rss is None or rss > settings.memory_budget_mib:
            return f"peak RSS {rss and round(rss)} MiB exceeds the {settings.memory_budget_mib:g} MiB budget"
    return None


def trial_points(trial: Trial, record: RunRecord, settings: TuneSettings, metric: str) -> list[Point]:
    """One point per batch size measured in the trial's run; quality is the guardrail's metric."""
    points = []
    quality = trial.quality.values.get(metric) if trial.quality and trial.quality.status == "ok" else None
    for result in record.results:
        value, ci = objective_value(result, settings.objective, record)
        if value is None:
            continue
        why_not = trial.reason if trial.status != "ok" else constraint_failure(result, settings)
        points.append(
            Point(
                trial=trial.key,
                label=trial.label,
                steps=len(trial.recipe),
                batch_size=result.batch_size,
                threads=trial.threads,
                objective=value,
                objective_ci=ci,
                quality=quality,
                passes=why_not is None,
                why_not=why_not,
            )
        )
    return points


def trial_gain(points: list[Point], base: str, key: str, objective: Objective) -> float | None:
    """Trial ``key``'s best objective against trial ``base``'s, as ``objective.gain`` says (> 1: the
    trial is better); None where either has no point or a value that is not positive."""
    ours, theirs = ([p.objective for p in points if p.trial == k] for k in (base, key))
    if not ours or not theirs:
        return None
    a, b = objective.best(ours), objective.best(theirs)
    return objective.gain(a, b) if a > 0 and b > 0 else None


def pareto_front(points: list[Point], objective: Objective, quality: Objective) -> list[Point]:
    """Points no other point beats on both objective and quality (ties kept), best objective first."""
    scored = [p for p in points if p.quality is not None]

    def dominates(a: Point, b: Point) -> bool:
        if a.quality is None or b.quality is None:  # not among the scored
            return False
        no_worse = not objective.beats(b.objective, a.objective) and not quality.beats(b.quality, a.quality)
        return no_worse and (objective.beats(a.objective, b.objective) or quality.beats(a.quality, b.quality))

    front = [p for p in scored if not any(dominates(q, p) for q in scored)]
    return objective.ranked(front, key=lambda p: p.objective)


def sweet_spot(
    points: list[Point],
    settings: TuneSettings,
    quality: Objective,
    indistinguishable: Callable[[Point, Point], bool] | None = None,
) -> tuple[Point | None, str | None]:
    """The best passing objective, unless a point within ``min_effect`` of it (or that
    ``indistinguishable(best, point)`` says is not significantly worse) has quality better by
    more than ``quality_tolerance`` (relative), or the same quality within it and fewer
    algorithms: a gain inside the noise is not worth quality or complexity, and a quality
    difference inside the tolerance is not worth speed. Returns the point and, when it is not
    the fastest, one line saying why it beat the faster one."""
    passing = [p for p in points if p.passes]
    if not passing:
        return None, None
    objective = settings.goal_objective
    ranked = objective.ranked(passing, key=lambda p: p.objective)  # fastest first
    top = ranked[0]

    def quality_gain(p: Point, than: Point) -> float:
        """How much better ``p``'s quality is, beyond the tolerance (<= 0: not meaningfully better)."""
        if p.quality is None or than.quality is None:
            return 0.0
        return -quality.drop(than.quality, p.quality, relative=False) - settings.quality_tolerance * abs(than.quality)

    def in_band(p: Point) -> bool:
        return objective.reaches(p.objective, objective.band(top.objective, settings.min_effect))

    best, why = top, None
    for p in ranked[1:]:
        better_quality = quality_gain(p, best) > 0
        simpler = _steps(p) < _steps(best) and quality_gain(best, p) <= 0
        if not (better_quality or simpler):
            continue
        # compare() runs only for points that would win on quality or simplicity: ~2 s each.
        if in_band(p) or (indistinguishable is not None and indistinguishable(top, p)):
            reason = (
                f"its {p.quality:.4g} beats {best.quality:.4g} by more than the {settings.quality_tolerance:.1%} "
                "quality tolerance"
                if better_quality
                else f"it uses fewer algorithms at a quality within {settings.quality_tolerance:.1%}"
            )
            best, why = (
                p,
                (
                    f"recommended over the faster {top.label} ({top.objective:.4g}): the difference is within "
                    f"the noise, and {reason}"
                ),
            )
    return best, why


def _steps(point: Point) -> int:
    """Algorithms in the point's recipe (the base model has none); read from the label only for
    points stored before the count was kept."""
    if point.steps is not None:
        return point.steps
    return 0 if point.label.startswith("baseline") else point.label.count(" + ") + 1


class Speedup(NamedTuple):
    """A ratio with its interval; named fields because (value, low, high) read positionally was
    once printed as (low, value, high)."""

    value: float | None = None
    low: float | None = None
    high: float | None = None

    def text(self) -> str:
        """'1.70x (1.61-1.77)'; empty when there is no ratio."""
        if not self.value:
            return ""
        return f"{self.value:.2f}x" + (f" ({self.low:.2f}-{self.high:.2f})" if self.low is not None else "")


def speedup_with_interval(base: Point, best: Point, better: str) -> Speedup:
    """How many times better the recommended point is (base / best for lower-is-better objectives),
    and the interval from the two CIs' far ends (conservative)."""
    if not base.objective or not best.objective:
        return Speedup()
    ratio = (lambda b, r: b / r) if better == "lower" else (lambda b, r: r / b)
    value = ratio(base.objective, best.objective)
    if base.objective_ci and best.objective_ci and min(*base.objective_ci, *best.objective_ci) > 0:
        ends = [ratio(b, r) for b in base.objective_ci for r in best.objective_ci]
        return Speedup(value, min(ends), max(ends))
    return Speedup(value)
