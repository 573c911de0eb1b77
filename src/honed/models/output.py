"""ModelOutput: what every handle's ``run`` returns, whatever the runtime or precision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from honed.core.errors import ModelLoadError


@dataclass(frozen=True)
class ModelOutput:
    """The main output (logits where the model has them, else its first tensor: an embedding, a
    depth map, a graph's first output) under its name, and every other output by name. Tensors stay
    where the model produced them (a GPU, bf16): moving or casting is the caller's choice."""

    main: torch.Tensor
    name: str = "output"
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        if key == self.name:
            return self.main
        if key not in self.extras:
            raise KeyError(f"no output {key!r}; this model's outputs: {', '.join(self.names)}")
        return self.extras[key]

    @property
    def names(self) -> list[str]:
        return [self.name, *self.extras]

    @classmethod
    def of(cls, value: Any) -> ModelOutput:
        """A torch model's return value: a tensor, a mapping (transformers outputs, dicts) or a
        tuple/list, whose first tensor is the main output."""
        if isinstance(value, ModelOutput):
            return value
        if isinstance(value, torch.Tensor):
            return cls(value)
        if isinstance(value, Mapping):
            items = {k: v for k, v in value.items() if v is not None}
            tensors = [k for k, v in items.items() if isinstance(v, torch.Tensor)]
            if tensors:
                name = "logits" if "logits" in tensors else tensors[0]
                return cls(items.pop(name), name, items)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            first = next((i for i, v in enumerate(value) if isinstance(v, torch.Tensor)), None)
            if first is not None:
                return cls(value[first], "output", {f"output{i}": v for i, v in enumerate(value) if i != first})
        raise ModelLoadError(
            f"the model returned {type(value).__name__}, with no tensor in it; honed needs a tensor, "
            "or a tuple or mapping of them, from the model's forward"
        )

    @classmethod
    def of_arrays(cls, names: list[str], arrays: list[np.ndarray]) -> ModelOutput:
        """A graph runtime's outputs (onnxruntime, OpenVINO), in the graph's order, as tensors
        sharing the arrays' memory."""
        tensors: list[Any] = [torch.from_numpy(a) if a.dtype != object else a for a in arrays]
        return cls(tensors[0], names[0], dict(zip(names[1:], tensors[1:])))
