"""Cache keys: a trial is the same trial when the model files, recipe, task, protocol, inputs,
target, software/hardware and the algorithms' source are the same; then its stored outcome is reused."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from honed.core import fingerprint as fingerprints
from honed.core.protocol import ModelRef

MAX_FILES = 10_000


def model_identity(ref: ModelRef) -> dict[str, Any]:
    """The ref plus the size and modification time of every file behind it: a retrained model
    at the same path is a different model. (Hub ids carry their own revision.)"""
    paths = [ref.source, ref.options.get("weights")]
    return {"ref": ref.model_dump(mode="json"), "files": [_signature(p) for p in paths if p]}


def host_identity() -> dict[str, Any]:
    host = fingerprints.collect()
    return {
        "cpu": host.cpu.get("model"),
        "cores": host.cpu.get("logical_cores"),
        "gpus": host.gpus,
        "python": host.python,
        "packages": host.packages,
    }


def code_identity(algorithms: list[str]) -> dict[str, str]:
    """A digest of the source a trial runs: after a fix, a stored outcome measured the old code, so
    the trial runs again. The models' handles (how a torch module, a GGUF file or an OpenVINO graph
    is called, greedy decoding included) live in honed.models and run every trial, the baseline's
    too; honed's own algorithms share helpers within their package, so it counts whole; a plugin's
    counts its module."""
    import honed.models
    from honed.optimization import ALGORITHMS

    files = set(Path(honed.models.__file__).parent.glob("*.py"))
    for name in algorithms:
        module = sys.modules[ALGORITHMS.get(name).apply.__module__]
        path = Path(module.__file__ or "")
        files |= set(path.parent.glob("*.py")) if module.__name__.startswith("honed.") else {path}
    return {
        f"{f.parent.name}/{f.name}": hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files) if f.is_file()
    }


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _signature(source: str) -> list[tuple[str, int, int]]:
    path = Path(source)
    if not path.exists():
        return []
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())[:MAX_FILES]
    return [(str(f.relative_to(path) if f != path else f.name), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
