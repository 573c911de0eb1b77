"""Turns pydantic validation errors into messages that name field, value and what is allowed."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from honed.core.errors import SpecError


class Frozen(BaseModel):
    """The base of every config object and record: immutable, and an unknown field is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def build(model_cls: type[BaseModel], data: Any, where: str) -> Any:
    """Validate ``data`` into ``model_cls``; raise SpecError naming ``where.field``."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as error:
        raise to_spec_error(error, model_cls, where) from None


def to_spec_error(error: ValidationError, model_cls: type[BaseModel], where: str) -> SpecError:
    first = error.errors()[0]
    loc = ".".join(_loc_part(part) for part in first["loc"])
    field = f"{where}.{loc}" if loc else where
    value = first.get("input")
    if first["type"] == "extra_forbidden":
        known = _field_names(model_cls, first["loc"][:-1])
        name = str(first["loc"][-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else None
        allowed = f"one of {', '.join(sorted(known))}" if known else "no fields here"
        return SpecError(field, name, allowed, hint="unknown field" + (f"; {hint}" if hint else ""))
    message = first["msg"]
    for prefix in ("Value error, ", "Input should be "):  # pydantic's wording, not ours
        if message.startswith(prefix):
            message = message[len(prefix) :]
    extra = f" ({len(error.errors()) - 1} more problem(s))" if len(error.errors()) > 1 else ""
    return SpecError(field, value, message + extra)


def _loc_part(part: object) -> str:
    """A field name as written, or quoted when it is empty or holds spaces or control characters."""
    text = str(part)
    return text if text and text.isprintable() and not any(c.isspace() for c in text) else repr(text)


def _field_names(model_cls: type[BaseModel], loc: tuple) -> list[str]:
    cls: Any = model_cls
    for part in loc:
        field = cls.model_fields.get(str(part)) if hasattr(cls, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        cls = annotation
    return list(cls.model_fields)
