"""Model adapters. ``load_model(ModelRef(kind=..., source=...))`` returns a ModelHandle."""

from honed.models.handle import ModelHandle, ModelStats
from honed.models.registry import ADAPTERS, known_kinds, load_model

__all__ = ["ADAPTERS", "ModelHandle", "ModelStats", "known_kinds", "load_model"]
