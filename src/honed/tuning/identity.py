"""Cache keys: a trial is the same trial when the model files, recipe, task, protocol, inputs,
target and software/hardware are the same; then its stored outcome is reused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from honed import fingerprint as fingerprints
from honed.protocol import ModelRef

MAX_FILES = 10_000


def model_identity(ref: ModelRef) -> dict[str, Any]:
    """The ref plus the size and modification time of every file behind it: a retrained model
    at the same path is a different model. (Hub ids carry their own revision.)"""
    paths = [ref.source, ref.options.get("weights")]
    return {"ref": ref.model_dump(mode="json"), "files": [_signature(p) for p in paths if p]}


def host_identity() -> dict[str, Any]:
    host = fingerprints.collect()
    return {"cpu": host.cpu.get("model"), "cores": host.cpu.get("logical_cores"), "gpus": host.gpus,
            "python": host.python, "packages": host.packages}


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _signature(source: str) -> list[tuple[str, int, int]]:
    path = Path(source)
    if not path.exists():
        return []
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())[:MAX_FILES]
    return [(str(f.relative_to(path) if f != path else f.name), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
