"""Quality metrics with their metadata: which direction is better, the unit, and the reference
implementation or paper they follow. The guardrail reads ``better``; nothing assumes "higher"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from honed.core.objective import Objective
from honed.core.registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    better: Literal["higher", "lower"]
    unit: str
    summary: str
    reference: str
    compute: Callable[..., float]

    def __call__(self, predictions: Any, references: Any, **options: Any) -> float:
        return float(self.compute(predictions, references, **options))

    @property
    def objective(self) -> Objective:
        """Its direction and unit, to compare values with: ``metric.objective.drop(base, value)``."""
        return Objective(self.name, self.better, self.unit)


METRICS: Registry[Metric] = Registry(
    "metric",
    entry_point_group="honed.metrics",
    builtins=tuple(
        f"honed.tasks.metrics.{module}"
        for module in ("agreement", "choice", "classification", "depth", "harness", "retrieval", "segmentation", "text")
    ),
)


def register_metric(name: str, better: Literal["higher", "lower"], unit: str, summary: str, reference: str):
    """Decorator for ``compute(predictions, references, **options) -> float``; users add their own."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")

    def decorator(compute: Callable[..., float]) -> Callable[..., float]:
        METRICS.register(name)(Metric(name, better, unit, summary, reference, compute))
        return compute

    return decorator
