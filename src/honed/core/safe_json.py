"""JSON from elsewhere, parsed only after its size and nesting depth are checked (without
recursion), so a hostile file cannot exhaust memory or the parser's recursion (SECURITY.md)."""

from __future__ import annotations

import json
import re
from typing import Any

from honed.core.errors import SpecError

MAX_JSON_DEPTH = 64


def read_json(text: str | bytes, what: str, max_bytes: int) -> Any:
    """Parse a JSON document after checking its size and nesting depth (without recursion)."""
    size = len(text)
    if size > max_bytes:
        raise SpecError(what, f"{size} bytes", f"a document of at most {max_bytes} bytes")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = _nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise SpecError(what, f"nesting depth {depth}", f"a document nested at most {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SpecError(what, _first_line(error), "a valid JSON document") from None


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def _nesting_depth(text: str) -> int:
    deepest = depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):  # brackets inside strings do not nest
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0][:200]
