"""A user's own data for a task (``[task] options = { data = "PATH" }``, ``--task-data PATH``), read
whole and checked when the task is built, which the run plan does before any worker starts: a
malformed file fails with its name, line and field, in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from honed.core.errors import SpecError

FIELD = "task.options.data"
MAX_DATA_BYTES = 256 << 20  # an evaluation set, not a training corpus

# A row's check beyond its fields' types: the problem in words, or None when the row is fine.
RowCheck = Callable[[dict[str, Any]], "str | None"]


def data_file(path: str | Path, formats: str, field: str = FIELD) -> Path:
    """``path`` as an existing file of a bounded size; ``formats`` says what is accepted."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(field, str(path), f"an existing file: {formats}")
    if path.stat().st_size > MAX_DATA_BYTES:
        raise SpecError(field, str(path), f"a file of at most {MAX_DATA_BYTES >> 20} MiB")
    return path


def jsonl_rows(
    path: str | Path,
    fields: dict[str, tuple[type, ...]],
    example: str,
    check: RowCheck | None = None,
    field: str = FIELD,
) -> list[dict[str, Any]]:
    """The JSON object on every non-blank line of ``path``, each holding ``fields`` with those types
    (``example`` shows one row); blank lines are skipped, line numbers are the file's own."""
    path = data_file(path, f".jsonl, one {example} per line", field)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{field} ({path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise SpecError(
                where + ")", line[:80], f"one JSON object per line, e.g. {example}", hint=error.msg
            ) from None
        if not isinstance(row, dict):
            raise SpecError(where + ")", line[:80], f"a JSON object, e.g. {example}")
        for name, types in fields.items():
            value = row.get(name)
            if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
                allowed = " or ".join(t.__name__ for t in types)
                raise SpecError(f"{where}, field {name!r})", value, f"{allowed}, as in {example}")
        if check is not None and (problem := check(row)) is not None:
            raise SpecError(where + ")", line[:80], problem)
        rows.append(row)
    if not rows:
        raise SpecError(field, str(path), f"at least one row, e.g. {example}")
    return rows


def texts(path: str | Path, field: str = FIELD) -> list[str]:
    """Texts: a ``.txt`` file, one per non-empty line, or a ``.jsonl`` file of ``{"text": ...}``."""
    formats = 'a .txt file (one text per line) or a .jsonl file ({"text": ...} per line)'
    path = data_file(path, formats, field)
    if path.suffix == ".jsonl":
        return [row["text"] for row in jsonl_rows(path, {"text": (str,)}, '{"text": "..."}', field=field)]
    if path.suffix != ".txt":
        raise SpecError(field, str(path), formats)
    found = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not found:
        raise SpecError(field, str(path), "at least one non-empty line")
    return found
