"""What the dashboard's pages read from the store: index rows only (never a run's record, which
carries every raw sample), so a list of 10,000 runs or a trend of 1,000 points stays fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from honed.store.database import Store
from honed.store.run_index import VERDICT_OF, metric_value
from honed.store.tables import RunRow
from honed.store.tracking import is_regression

PAGE_SIZE = 50
FILTERS = ("model", "target", "recipe", "task", "status", "stability")
_COLUMNS = {
    "model": RunRow.model_name,
    "target": RunRow.target,
    "recipe": RunRow.recipe_label,
    "task": RunRow.task,
    "status": RunRow.status,
    "stability": RunRow.stability,
}


@dataclass(frozen=True)
class RunFilter:
    values: dict[str, str] = field(default_factory=dict)  # FILTERS -> the exact value wanted
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def where(self, query: Any) -> Any:
        for name, value in self.values.items():
            query = query.where(_COLUMNS[name] == value)
        if self.since is not None:
            query = query.where(RunRow.created_at >= self.since)
        if self.until is not None:
            query = query.where(RunRow.created_at < self.until)
        return query


def runs_page(store: Store, wanted: RunFilter, page: int) -> tuple[list[RunRow], int]:
    """One page of matching runs, newest first, and how many match in all."""
    listing = wanted.where(select(RunRow).options(defer(RunRow.record))).order_by(RunRow.created_at.desc())
    counting = wanted.where(select(func.count()).select_from(RunRow))

    def read(session: Session) -> tuple[list[RunRow], int]:
        rows = list(session.scalars(listing.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all())
        session.expunge_all()
        return rows, session.scalar(counting) or 0

    return store.read(read)


def facets(store: Store) -> dict[str, list[str]]:
    """The values each filter can take, for its menu."""

    def read(session: Session) -> dict[str, list[str]]:
        return {
            name: sorted(v for v in session.scalars(select(column).distinct()).all() if v is not None)
            for name, column in _COLUMNS.items()
        }

    return store.read(read)


@dataclass(frozen=True)
class Series:
    key: str
    model: str
    recipe: str
    target: str
    scenario: str
    runs: int
    last: datetime


def series_list(store: Store) -> list[Series]:
    """Every (model, recipe, target, scenario) with its number of runs, most recently run first."""
    query = (
        select(
            RunRow.series_key,
            RunRow.model_name,
            RunRow.recipe_label,
            RunRow.target,
            RunRow.scenario,
            func.count(),
            func.max(RunRow.created_at),
        )
        .where(RunRow.series_key.is_not(None))
        .group_by(RunRow.series_key, RunRow.model_name, RunRow.recipe_label, RunRow.target, RunRow.scenario)
        .order_by(func.max(RunRow.created_at).desc())
    )
    rows = store.read(lambda session: session.execute(query).all())
    return [
        Series(key or "", model, recipe or "base", target or "", scenario or "", count, last)
        for key, model, recipe, target, scenario, count, last in rows
    ]


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    created_at: datetime
    value: float
    low: float | None
    high: float | None
    regression: bool
    environment_change: list[str]  # what changed since the previous point of the series


def trend(store: Store, series_key: str, metric: str, batch_size: int) -> list[TrendPoint]:
    """The series' runs in time order with the metric, its CI where there is one, whether the run
    was judged a regression on this metric when it was stored, and environment changes."""
    query = (
        select(RunRow.id, RunRow.created_at, RunRow.summary, RunRow.change, RunRow.environment_key)
        .where(RunRow.series_key == series_key)
        .order_by(RunRow.created_at)
    )
    rows = store.read(lambda session: session.execute(query).all())
    points, last_environment = [], None
    ci_field = {"p50_ms": "p50_ci", "p99_ms": "p99_ci"}.get(metric)
    for run_id, created_at, summary, change, environment in rows:
        value = metric_value(summary or {}, metric, batch_size)
        if value is None:
            continue
        ci = (summary or {}).get("batches", {}).get(str(batch_size), {}).get(ci_field) if ci_field else None
        changed = (change or {}).get("environment") or (
            ["environment"] if last_environment not in (None, environment) else []
        )
        points.append(
            TrendPoint(
                run_id,
                created_at,
                value,
                ci[0] if ci else None,
                ci[1] if ci else None,
                is_regression(change, VERDICT_OF[metric], batch_size),
                changed,
            )
        )
        last_environment = environment
    return points
