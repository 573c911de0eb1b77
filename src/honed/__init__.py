"""honed: make models faster, smaller and cheaper on their target hardware, and prove it.

The public API is imported lazily so that ``import honed`` stays cheap (no torch, no GPU).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

from honed.core import moved as _moved

# OpenVINO's converter and NNCF send usage telemetry from a forked process unless the user opted
# out; in a worker with threads running, that child deadlocked in the DNS lookup (glibc's loader
# lock held at fork) and the run never ended, and a measurement tool must not reach the network.
# Both fall back to their own no-op stubs when the package cannot be imported: honed makes it so,
# unless the process imported it already.
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]  # None blocks an import

__version__ = "0.2.0.dev0"

_EXPORTS = {
    "evaluate": "honed.run.evaluation",
    "compare": "honed.records.comparison",
    "Comparison": "honed.records.comparison",
    "load_model": "honed.models",
    "ModelHandle": "honed.models",
    "ModelRef": "honed.core.protocol",
    "InputSpec": "honed.core.protocol",
    "Protocol": "honed.core.protocol",
    "TargetSpec": "honed.core.protocol",
    "TaskSpec": "honed.core.protocol",
    "RunSpec": "honed.core.protocol",
    "tune": "honed.tuning",
    "TuneSettings": "honed.tuning",
    "Guardrail": "honed.tuning",
    "optimize": "honed.optimization",
    "assess_quality": "honed.run.evaluation",
    "RunRecord": "honed.records.record",
    "Store": "honed.store",
    "load_spec": "honed.spec",
    "EvaluationSpec": "honed.spec",
    "HonedError": "honed.core.errors",
}

__all__ = sorted(_EXPORTS)

_moved.install()  # the 0.1 module paths (honed.evaluation, honed.protocol, ...) for one more release


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'honed' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
