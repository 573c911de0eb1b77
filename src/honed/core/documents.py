"""Versioned JSON documents: every file honed writes for another honed to read (run exports,
recipes, sweeps, saved-model manifests) is ``{schema, version, <payload>}``.

Reading one checks its size and nesting before parsing (it is data from elsewhere), its schema,
and its version: a document from a newer honed is refused with a clear error rather than
misread. The shape follows torchao's ``config_to_dict`` / ``config_from_dict``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from honed.core.errors import SpecError
from honed.core.safe_json import read_json


@dataclass(frozen=True)
class DocumentKind:
    """One kind of document: its schema name, the newest version this honed writes and reads, and
    the key that holds its data (None: the data's fields sit beside schema and version)."""

    schema: str
    version: int
    payload: str | None
    max_bytes: int = 64 << 20
    schema_key: str = "schema"
    version_key: str = "version"

    def dump(self, data: Any, indent: int | None = None, sort_keys: bool = False) -> str:
        head = {self.schema_key: self.schema, self.version_key: self.version}
        body = {self.payload: data} if self.payload is not None else dict(data)
        return json.dumps({**head, **body}, indent=indent, sort_keys=sort_keys)

    def load(self, text: str | bytes, what: str) -> Any:
        """The data of a document of this kind, after every check; ``what`` names it in errors."""
        return self.unwrap(read_json(text, what, self.max_bytes), what)

    def unwrap(self, document: Any, what: str) -> Any:
        """The data of an already parsed document, after the schema and version checks."""
        if not isinstance(document, dict):
            raise SpecError(what, type(document).__name__, f"a JSON object with {self.schema_key} {self.schema!r}")
        if document.get(self.schema_key) != self.schema:
            raise SpecError(f"{what}.{self.schema_key}", document.get(self.schema_key), repr(self.schema))
        self.check_version(document.get(self.version_key), f"{what}.{self.version_key}")
        if self.payload is None:
            return {k: v for k, v in document.items() if k not in (self.schema_key, self.version_key)}
        if self.payload not in document:
            raise SpecError(f"{what}.{self.payload}", None, f"the {self.payload} this {self.schema} document holds")
        return document[self.payload]

    def check_version(self, version: Any, field: str) -> None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SpecError(field, version, f"an integer from 1 to {self.version}")
        if version > self.version:
            raise SpecError(
                field,
                version,
                f"<= {self.version}",
                hint=f"written by a newer honed; upgrade honed to read {self.schema} version {version}",
            )
