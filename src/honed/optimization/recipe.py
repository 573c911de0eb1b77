"""Recipes: ordered, serialisable, hashable lists of (algorithm, params).

A recipe is the unit that is tuned, recorded and compared. Its key is the SHA-256 of its
canonical JSON (algorithms in canonical family order, parameters with defaults filled in),
so two recipes that do the same thing have the same key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from honed.errors import SpecError

SCHEMA = "honed.recipe"
SCHEMA_VERSION = 1


class Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    algorithm: str
    params: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"openvino"`` or ``"openvino:precision=bf16,quantization=int8"`` (the command line's
        form); values are read as JSON where they parse (numbers, booleans), else as text."""
        name, _, rest = text.partition(":")
        params: dict[str, Any] = {}
        for pair in filter(None, rest.split(",")):
            key, equals, value = pair.partition("=")
            if not equals or not key.strip():
                raise SpecError("recipe step", text, "'name' or 'name:key=value,key=value'")
            try:
                params[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                params[key.strip()] = value.strip()
        return cls(algorithm=name.strip(), params=params)

    @property
    def label(self) -> str:
        """The name, with the parameters that differ from the algorithm's defaults."""
        from honed.optimization.algorithm import ALGORITHMS

        try:
            defaults = ALGORITHMS.get(self.algorithm).params().model_dump(mode="json")
        except Exception:  # an unknown name or bad parameters: show what was given
            defaults = {}
        changed = {k: v for k, v in self.params.items() if defaults.get(k, object()) != v}
        return self.algorithm + (f" ({', '.join(f'{k}={v}' for k, v in sorted(changed.items()))})" if changed else "")


def _step(step: Any) -> Step:
    from honed.validation import build

    if isinstance(step, Step):
        return step
    if isinstance(step, str):
        return Step(algorithm=step)
    if not isinstance(step, dict):
        raise SpecError("recipe step", step, "an algorithm name or {algorithm = ..., params = {...}}")
    return build(Step, step, "recipe step")


class Recipe(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    steps: tuple[Step, ...] = ()

    @classmethod
    def of(cls, *steps: str | Step | dict[str, Any]) -> Recipe:
        """``Recipe.of("svd-lowrank", {"algorithm": "torchao-int8-dynamic", "params": {...}})``."""
        return cls(steps=tuple(_step(s) for s in steps))

    def __len__(self) -> int:
        return len(self.steps)

    def canonical(self) -> Recipe:
        """Steps in canonical family order with every parameter filled in (validates them)."""
        from honed.optimization.plan import plan

        return Recipe(steps=tuple(Step(algorithm=a.name, params=p.model_dump(mode="json")) for a, p in plan(self)))

    @property
    def key(self) -> str:
        text = json.dumps([s.model_dump(mode="json") for s in self.canonical().steps], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def label(self) -> str:
        return " + ".join(s.label for s in self.steps) or "baseline"

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, "version": SCHEMA_VERSION, "steps": [s.model_dump(mode="json") for s in self.steps]})

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise SpecError("recipe.schema", data.get("schema") if isinstance(data, dict) else data, repr(SCHEMA))
        if not isinstance(data.get("version"), int) or data["version"] > SCHEMA_VERSION:
            raise SpecError("recipe.version", data.get("version"), f"an integer <= {SCHEMA_VERSION}")
        return cls(steps=tuple(Step.model_validate(s) for s in data["steps"]))
