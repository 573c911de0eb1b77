"""Agreement with the base model as a task: the guardrail for a model with no task of its own
(most users' models). Measured on the run's own inputs (the model's seeded synthetic inputs, the
same ones performance is timed on), or on inputs a user points to: a ``.npy`` array of
model-scope items, or texts (``.txt``, one per line; ``.jsonl`` with a "text" field)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec
from honed.models.capabilities import Capability
from honed.models.handle import ModelHandle
from honed.tasks.base import AGREEMENT_METRICS, TASKS, Task, aligned_batches
from honed.tasks.data_files import data_file, texts

_FORMATS = 'a .npy array (items on axis 0), a .txt file (one text per line) or a .jsonl file ({"text": ...} per line)'


@TASKS.register("agreement")
class AgreementTask(Task):
    """Scores how closely a model reproduces ``reference`` outputs (the base model's, set by the
    quality worker before an optimised model is scored); the base model agrees with itself."""

    name = "agreement"
    metrics = AGREEMENT_METRICS
    primary = "output_cosine"
    item_fields = ("given",)

    def __init__(self, items: int = 64, seed: int = 1234, inputs: str | None = None):
        if items < 1:
            raise SpecError("task.options.items", items, "an integer >= 1")
        self.items, self.seed = items, seed
        self.given = load_inputs(Path(inputs)) if inputs is not None else None
        self.item_inputs = self.given is not None  # only given items can calibrate or train
        self.requires = frozenset({Capability.TOKENIZES}) if isinstance(self.given, list) else frozenset()
        self.inputs = InputSpec()
        self.reference: torch.Tensor | None = None

    @classmethod
    def default(cls, items: int = 64, seed: int = 1234, inputs: str | None = None) -> AgreementTask:
        """``items`` seeded synthetic inputs of the run's input spec, or the items in ``inputs``."""
        return cls(items, seed, inputs)

    def bind(self, inputs: InputSpec) -> None:
        self.inputs = inputs

    def set_reference_outputs(self, outputs: torch.Tensor | None) -> None:
        self.reference = outputs

    def agreement_items(self, count: int) -> str:
        if self.given is not None:
            return f"{count} of the given inputs"
        return f"{count} seeded synthetic inputs (no real items given: int8 can look closer here than on real data)"

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[Any, Any]]:
        if self.given is None:
            raise SpecError("task.options.inputs", None, f"{_FORMATS}, to draw items from")
        return aligned_batches(self.given, self.given, batch_size, limit)

    def outputs(self, handle: ModelHandle, batch_size: int, limit: int | None) -> torch.Tensor:
        """Each handle makes the same inputs in its own form (tensors, numpy feeds, tokenized text)."""
        self.check_model(handle)
        if self.given is not None:
            return torch.cat(
                [self.predict(handle, self.model_inputs(handle, raw)) for raw, _ in self.batches(batch_size, limit)]
            )
        count = min(self.items, limit or self.items)
        sizes = [min(batch_size, count - start) for start in range(0, count, batch_size)]
        return torch.cat(
            [
                self.predict(handle, handle.example_inputs(size, self.inputs, self.seed + i))
                for i, size in enumerate(sizes)
            ]
        )

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        outputs = self.outputs(handle, batch_size, limit)
        return outputs, outputs if self.reference is None else self.reference


def load_inputs(path: Path, field: str = "task.options.inputs") -> torch.Tensor | list[str]:
    """A user's agreement inputs: a tensor of items (``.npy``, never unpickled) or texts;
    ``field`` names the setting in errors."""
    path = data_file(path, _FORMATS, field)
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise SpecError(field, str(path), _FORMATS, hint=str(error)) from None
        if array.ndim < 1 or len(array) == 0:
            raise SpecError(field, str(path), "an array with at least one item on axis 0")
        return torch.from_numpy(np.ascontiguousarray(array))
    if path.suffix in (".txt", ".jsonl"):
        return texts(path, field)
    raise SpecError(field, str(path), _FORMATS)
