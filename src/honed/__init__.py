"""honed: make models faster, smaller and cheaper on their target hardware, and prove it.

The public API is imported lazily so that ``import honed`` stays cheap (no torch, no GPU).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "evaluate": "honed.evaluation",
    "compare": "honed.comparison",
    "Comparison": "honed.comparison",
    "load_model": "honed.models",
    "ModelHandle": "honed.models",
    "ModelRef": "honed.protocol",
    "InputSpec": "honed.protocol",
    "Protocol": "honed.protocol",
    "TargetSpec": "honed.protocol",
    "TaskSpec": "honed.protocol",
    "tune": "honed.tuning",
    "TuneSettings": "honed.tuning",
    "Guardrail": "honed.tuning",
    "optimize": "honed.optimization",
    "assess_quality": "honed.evaluation",
    "RunRecord": "honed.record",
    "Store": "honed.store",
    "load_spec": "honed.spec",
    "EvaluationSpec": "honed.spec",
    "HonedError": "honed.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'honed' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
