"""A run against the comparable run stored before it: which metrics `compare` calls significantly
worse or better, and which parts of the environment changed. Judged once, when the run is
stored (runs are immutable, so the verdict never goes stale), and drawn on the dashboard's trends.
"""

from __future__ import annotations

from typing import Any

from honed.records.comparison import Comparison, compare
from honed.records.record import RunRecord
from honed.store.run_index import ENVIRONMENT_FIELDS


def environment_changes(previous: RunRecord, record: RunRecord) -> list[str]:
    """``packages.torch: 2.12.0 -> 2.13.0`` for every tracked field that differs."""
    return [
        f"{field}: {previous.fingerprint.get(field)} -> {record.fingerprint.get(field)}"
        for field in ENVIRONMENT_FIELDS
        if previous.fingerprint.get(field) != record.fingerprint.get(field)
    ]


def change_since(previous: RunRecord, record: RunRecord) -> dict[str, Any]:
    """The stored form of ``compare(previous, record)``, small enough to draw 1,000 points from."""
    try:
        comparison = compare(previous, record)
    except Exception as error:  # noqa: BLE001 - a verdict that cannot be judged must not lose the run
        return {"previous": previous.id, "error": f"{type(error).__name__}: {error}"}
    return {"previous": previous.id, **verdicts(comparison), "environment": environment_changes(previous, record)}


def verdicts(comparison: Comparison) -> dict[str, Any]:
    def entry(verdict: Any) -> dict[str, Any]:
        return {
            "metric": verdict.metric,
            "batch_size": verdict.batch_size,
            "change": verdict.change,
            "verdict": verdict.verdict,
        }

    regressions = comparison.regressions
    return {
        "regressions": [entry(v) for v in regressions],
        "improvements": [entry(v) for v in comparison.verdicts if v.significant and v not in regressions],
        "quality_regressions": [q.metric for q in comparison.quality_regressions],
    }


def is_regression(change: dict[str, Any] | None, verdict_metric: str | None, batch_size: int) -> bool:
    """Whether a stored change marks this metric (``compare``'s name for it) as significantly worse."""
    if not change or verdict_metric is None:
        return False
    if verdict_metric == "quality":
        return bool(change.get("quality_regressions"))
    return any(r["metric"] == verdict_metric and r["batch_size"] == batch_size for r in change.get("regressions", []))
