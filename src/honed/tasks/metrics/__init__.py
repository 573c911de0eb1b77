"""Quality metrics. ``get_metric("wer")(predictions, references)``; ``register_metric`` adds one."""

from __future__ import annotations

from honed.tasks.metrics.registry import METRICS, Metric, register_metric


def _load_builtin() -> None:
    from honed.tasks.metrics import agreement, choice, classification, depth, retrieval, segmentation, text  # noqa: F401


def get_metric(name: str) -> Metric:
    _load_builtin()
    return METRICS.get(name)


def list_metrics() -> list[Metric]:
    _load_builtin()
    return [METRICS.get(name) for name in METRICS.names()]


__all__ = ["METRICS", "Metric", "get_metric", "list_metrics", "register_metric"]
