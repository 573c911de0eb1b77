"""``honed load SPEC``: a load run written down. The file's ``[load]`` table takes the command's
options by their names (``url``, ``scenario``, ``qps``, ``slo_p99_ms``, ``body`` as a table,
``header`` and ``recipe`` as lists, ...); options given on the command line win. Paths (``trace``,
``prompts``, ``json_out``, a local ``model``) are relative to the file.

The table is a pydantic model, read as every other spec file is (core/spec_files.py): a wrong
type or an unknown option names ``load.<option>`` with what it takes (and the option meant)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from honed.core.errors import SpecError
from honed.core.spec_files import read_toml
from honed.core.validation import Frozen, build

PATHS = ("trace", "prompts", "json_out")


class LoadSpec(Frozen):
    """The ``[load]`` table: each field is the `honed load` option of the same name (see its ``--help``)."""

    url: str | None = None
    model: str | None = None
    engine: str | None = None
    kind: str | None = None
    recipe: list[str] | None = None
    shape: str | None = None
    scenario: str | None = None
    qps: float | None = Field(default=None, gt=0)
    burstiness: float | None = Field(default=None, gt=0)
    queries: int | None = Field(default=None, ge=1)
    duration: float | None = Field(default=None, gt=0)
    trace: str | None = None
    endpoint: str | None = None
    body: str | None = Field(default=None, description='a table (the request template), a JSON string, or "@FILE"')
    prompts: str | None = None
    samples_per_query: int | None = Field(default=None, ge=1)
    stream: bool | None = None
    header: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0)
    connections: int | None = Field(default=None, ge=1)
    slo_p99_ms: float | None = Field(default=None, gt=0)
    find_peak: bool | None = None
    step_seconds: float | None = Field(default=None, gt=0)
    min_duration: float | None = Field(default=None, ge=0)
    min_queries: int | None = Field(default=None, ge=0)
    seed: int | None = None
    warmup: int | None = Field(default=None, ge=0)
    insecure: bool | None = None
    max_batch: int | None = Field(default=None, ge=1)
    max_wait_ms: float | None = Field(default=None, ge=0)
    allow_pickle: bool | None = None
    trust_code: bool | None = None
    name: str | None = None
    json_out: str | None = None
    json_: bool | None = Field(default=None, alias="json")
    store: str | None = None

    @field_validator("body", mode="before")
    @classmethod
    def _body_as_json(cls, value: Any) -> Any:
        """A TOML table is the request template, sent as JSON."""
        return json.dumps(value) if isinstance(value, dict) else value


def read_load_spec(path: Path) -> dict[str, Any]:
    """The options the file sets (by the command's parameter names), its paths made absolute."""
    document = read_toml(path, "spec")
    extra = set(document) - {"load"}
    if extra or not isinstance(document.get("load"), dict):
        raise SpecError("spec", sorted(extra) or str(path), "one [load] table of `honed load` options")
    spec = build(LoadSpec, document["load"], where="load")
    options = spec.model_dump(exclude_unset=True, by_alias=True)
    for key in PATHS:
        if key in options:
            options[key] = path.parent / options[key]
    if isinstance(options.get("model"), str) and (path.parent / options["model"]).exists():
        options["model"] = str(path.parent / options["model"])
    return options
