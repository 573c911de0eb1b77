"""Agreement with the base model as a task: the guardrail for a model with no task of its own
(most users' models), measured on the run's own inputs (the model's seeded synthetic inputs,
the same ones performance is timed on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from honed.models.handle import ModelHandle
from honed.protocol import InputSpec
from honed.tasks.base import AGREEMENT_METRICS, TASKS, Task


@TASKS.register("agreement")
class AgreementTask(Task):
    """Scores how closely a model reproduces ``reference`` outputs (the base model's, set by the
    quality worker before an optimised model is scored); the base model agrees with itself."""

    name = "agreement"
    metrics = AGREEMENT_METRICS
    primary = "output_cosine"

    def __init__(self, items: int = 64, seed: int = 1234):
        if items < 1:
            raise ValueError(f"items must be >= 1, got {items}")
        self.items, self.seed = items, seed
        self.inputs = InputSpec()
        self.reference: torch.Tensor | None = None

    @classmethod
    def default(cls, items: int = 64, seed: int = 1234) -> AgreementTask:
        """``items`` seeded synthetic inputs of the run's input spec."""
        return cls(items, seed)

    def bind(self, inputs: InputSpec) -> None:
        self.inputs = inputs

    def set_reference_outputs(self, outputs: torch.Tensor | None) -> None:
        self.reference = outputs

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError("agreement inputs are made by each model: see outputs()")

    def outputs(self, handle: ModelHandle, batch_size: int, limit: int | None) -> torch.Tensor:
        """Each handle makes the same seeded inputs in its own form (tensors, numpy feeds)."""
        count = min(self.items, limit or self.items)
        sizes = [min(batch_size, count - start) for start in range(0, count, batch_size)]
        return torch.cat([self.predict(handle, handle.example_inputs(size, self.inputs, self.seed + i))
                          for i, size in enumerate(sizes)])

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        outputs = self.outputs(handle, batch_size, limit)
        return outputs, outputs if self.reference is None else self.reference

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        return {}
