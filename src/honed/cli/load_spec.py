"""``honed load SPEC``: a load run written down. The file's ``[load]`` table takes the command's
options by their names (``url``, ``scenario``, ``qps``, ``slo_p99_ms``, ``body`` as a table,
``header`` and ``recipe`` as lists, ...); options given on the command line win. Paths (``trace``,
``prompts``, ``json_out``, a local ``model``) are relative to the file."""

from __future__ import annotations

import difflib
import json
import tomllib
from pathlib import Path
from typing import Any

import typer

from honed.core.errors import SpecError

MAX_SPEC_BYTES = 1 << 20
PATHS = ("trace", "prompts", "json_out")
LISTS = ("recipe", "header")


def spec_options(path: Path, ctx: typer.Context, names: set[str]) -> dict[str, Any]:
    """The spec's values for every option the command line left at its default."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SpecError("spec", str(path), "a readable TOML file", hint=error.strerror) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError("spec", str(path), f"a file under {MAX_SPEC_BYTES >> 10} KiB")
    try:
        document = tomllib.loads(raw.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError as error:
        raise SpecError("spec", str(path), "valid TOML", hint=str(error)) from None
    extra = set(document) - {"load"}
    if extra or not isinstance(document.get("load"), dict):
        raise SpecError("spec", sorted(extra) or str(path), "one [load] table of `honed load` options")
    values = {}
    for key, value in document["load"].items():
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=1)
            raise SpecError(
                f"load.{key}", value, "an option of honed load" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        values[key] = _value(key, value, path.parent)
    # typer bundles its own click: its ParameterSource is compared by name
    return {
        key: value
        for key, value in values.items()
        if getattr(ctx.get_parameter_source(key), "name", "DEFAULT") == "DEFAULT"
    }


def _value(key: str, value: Any, folder: Path) -> Any:
    if key == "body":
        if not isinstance(value, (dict, str)):
            raise SpecError("load.body", value, 'a table (the request template), a JSON string, or "@FILE"')
        return json.dumps(value) if isinstance(value, dict) else value
    if key in LISTS:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SpecError(f"load.{key}", value, "a list of strings")
        return value
    if key in PATHS:
        if not isinstance(value, str):
            raise SpecError(f"load.{key}", value, "a path (relative to the spec file)")
        return folder / value
    if key == "model" and isinstance(value, str) and (folder / value).exists():
        return str(folder / value)
    return value
