"""From measured runs to points, the Pareto front (quality vs objective) and the sweet spot."""

from __future__ import annotations

from collections.abc import Callable

from honed.record import BatchResult, RunRecord
from honed.tune.result import Point, Trial
from honed.tune.settings import TuneSettings


def objective_value(result: BatchResult, objective: str) -> tuple[float | None, tuple[float, float] | None]:
    """The objective at one batch size with its CI where one exists; None when not measured."""
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
    if settings.latency_slo_ms is not None and (result.latency_ms is None or result.latency_ms.p99 > settings.latency_slo_ms):
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
        value, ci = objective_value(result, settings.objective)
        if value is None:
            continue
        why_not = trial.reason if trial.status != "ok" else constraint_failure(result, settings)
        points.append(Point(trial=trial.key, label=trial.label, batch_size=result.batch_size, threads=trial.threads,
                            objective=value, objective_ci=ci, quality=quality, passes=why_not is None, why_not=why_not))
    return points


def _better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == "lower" else a > b


def pareto_front(points: list[Point], objective_better: str, quality_better: str) -> list[Point]:
    """Points no other point beats on both objective and quality (ties kept), by objective."""
    scored = [p for p in points if p.quality is not None]

    def dominates(a: Point, b: Point) -> bool:
        no_worse = not _better(b.objective, a.objective, objective_better) and not _better(b.quality, a.quality, quality_better)
        return no_worse and (_better(a.objective, b.objective, objective_better) or _better(a.quality, b.quality, quality_better))

    front = [p for p in scored if not any(dominates(q, p) for q in scored)]
    return sorted(front, key=lambda p: p.objective, reverse=objective_better == "higher")


def sweet_spot(points: list[Point], settings: TuneSettings, quality_better: str,
               indistinguishable: Callable[[Point, Point], bool] | None = None) -> Point | None:
    """The best passing objective; among points within ``min_effect`` of it, or that
    ``indistinguishable(best, point)`` says are not significantly worse, the best quality,
    then the shortest recipe: a gain inside the noise is not worth quality or complexity."""
    passing = [p for p in points if p.passes]
    if not passing:
        return None
    lower = settings.better == "lower"
    top = min(passing, key=lambda p: p.objective) if lower else max(passing, key=lambda p: p.objective)
    sign = 1 if quality_better == "higher" else -1

    def preference(p: Point) -> tuple[float, int]:  # what may outrank a better objective
        return (sign * p.quality if p.quality is not None else float("-inf"), -_steps(p))

    def in_band(p: Point) -> bool:
        bound = top.objective * (1 + settings.min_effect if lower else 1 - settings.min_effect)
        return p.objective <= bound if lower else p.objective >= bound

    # compare() runs only for points that would win on quality or simplicity: ~2 s each.
    close = [p for p in passing if in_band(p) or (preference(p) > preference(top) and indistinguishable is not None
                                                  and indistinguishable(top, p))]
    return max(close, key=lambda p: (*preference(p), -p.objective if lower else p.objective))


def _steps(point: Point) -> int:
    """Algorithms in the point's recipe: the base model has none."""
    return 0 if point.label.startswith("baseline") else point.label.count(" + ") + 1


def improves(candidate: float, best: float, direction: str, min_effect: float) -> bool:
    """A gain of at least ``min_effect`` relative to ``best`` in the objective's direction."""
    if direction == "lower":
        return candidate <= best * (1 - min_effect)
    return candidate >= best * (1 + min_effect)
