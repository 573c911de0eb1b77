"""Quality metrics. ``get_metric("wer")(predictions, references)``; ``register_metric`` adds one."""

from __future__ import annotations

from honed.tasks.metrics.registry import METRICS, Metric, register_metric


def get_metric(name: str) -> Metric:
    return METRICS.get(name)


def list_metrics() -> list[Metric]:
    return METRICS.values()


__all__ = ["METRICS", "Metric", "get_metric", "list_metrics", "register_metric"]
