"""Whether an optional package is installed, without importing it: the extras (`pip install
'honed[onnx]'`) are checked before any work, so a missing one is named with the install line."""

from __future__ import annotations

import importlib.util


def installed(module: str) -> bool:
    """Whether ``module`` can be imported; a dotted name whose parent package is missing is not
    (``find_spec("optimum.quanto")`` raises there instead of answering None)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False
