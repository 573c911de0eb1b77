"""Reading a TOML file a user wrote (an evaluation spec, a campaign), with its relative paths
made absolute: workers, and a campaign's other nodes, do not start in the file's directory."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from honed.core.errors import SpecError

MAX_SPEC_BYTES = 1 << 20  # a spec is written by hand: a larger file is a mistake (or not a spec)


def read_toml(path: Path, field: str) -> dict[str, Any]:
    """The document in ``path``; a missing, oversized or unreadable file or bad TOML is a SpecError on ``field``."""
    if not path.is_file():
        raise SpecError(field, str(path), "an existing TOML file")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(field, str(path), f"a TOML file under {MAX_SPEC_BYTES >> 10} KiB")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SpecError(field, str(path), "valid TOML", hint=str(error)) from None


def absolute_source(model: Any, root: Path) -> Any:
    """A model table whose ``source`` is a file beside the spec, made absolute (a hub id or a
    ``package.module:function`` is left as it is)."""
    if isinstance(model, dict) and isinstance(model.get("source"), str):
        source = root / model["source"]
        if not Path(model["source"]).is_absolute() and source.exists():
            return {**model, "source": str(source.resolve())}
    return model


def absolute_task_inputs(task: Any, root: Path) -> Any:
    """A task table whose ``options.inputs`` (the agreement task's items) or ``options.data`` (the
    user's data for the task) is made absolute."""
    if not isinstance(task, dict) or not isinstance(task.get("options"), dict):
        return task
    options = dict(task["options"])
    for key in ("inputs", "data"):
        if isinstance(options.get(key), str):
            options[key] = str((root / options[key]).resolve())
    return {**task, "options": options}
