"""The modules that moved when the folders became the layers (0.1 -> 0.2): the old import paths
keep working for one release, each with a DeprecationWarning that names the new one. Resolved
only when imported, so ``import honed`` stays cheap."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "honed.errors": "honed.core.errors",
    "honed.validation": "honed.core.validation",
    "honed.registry": "honed.core.registry",
    "honed.safe_json": "honed.core.safe_json",
    "honed.documents": "honed.core.documents",
    "honed.trust": "honed.core.trust",
    "honed.protocol": "honed.core.protocol",
    "honed.spec_files": "honed.core.spec_files",
    "honed.fingerprint": "honed.core.fingerprint",
    "honed.objective": "honed.core.objective",
    "honed.measure.stats": "honed.meters.stats",
    "honed.measure.peaks": "honed.meters.peaks",
    "honed.measure.energy": "honed.meters.energy",
    "honed.measure.timers": "honed.meters.timers",
    "honed.measure.memory": "honed.meters.memory",
    "honed.measure.lifeline": "honed.meters.lifeline",
    "honed.record": "honed.records.record",
    "honed.load_result": "honed.records.load_result",
    "honed.comparison": "honed.records.comparison",
    "honed.store_schema": "honed.store.schema",
    "honed.run_index": "honed.store.run_index",
    "honed.tracking": "honed.store.tracking",
    "honed.preflight": "honed.run.plan",
    "honed.evaluation": "honed.run.evaluation",
    "honed.target": "honed.run.target",
    "honed.demo": "honed.cli.demo",
    "honed.doctor": "honed.measure.doctor",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old path with the module at its new one (the same object, so a class or a
    monkeypatch seen through either name is one thing)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path goes in the next release", DeprecationWarning, stacklevel=3
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module ran under its new name already."""


def install() -> None:
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Alias())
