"""Recipes: ordered, serialisable, hashable lists of (algorithm, params).

A recipe is the unit that is tuned, recorded and compared. Its key is the SHA-256 of its
canonical JSON (algorithms in canonical family order, parameters with defaults filled in),
so two recipes that do the same thing have the same key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from honed.core.documents import DocumentKind
from honed.core.errors import RecipeError, SpecError, UnknownNameError
from honed.core.protocol import Step
from honed.core.validation import build
from honed.optimization.algorithm import ALGORITHMS, FAMILIES, ONE_PER_FAMILY, Algorithm, Params

RECIPE_DOCUMENT = DocumentKind("honed.recipe", 1, "steps", max_bytes=1 << 20)


def step_label(step: Step) -> str:
    """The name, with the parameters that differ from the algorithm's defaults."""
    try:
        defaults = ALGORITHMS.get(step.algorithm).params().model_dump(mode="json")
    except Exception:  # an unknown name or bad parameters: show what was given
        defaults = {}
    changed = {k: v for k, v in step.params.items() if defaults.get(k, object()) != v}
    return step.algorithm + (f" ({', '.join(f'{k}={v}' for k, v in sorted(changed.items()))})" if changed else "")


def _step(step: Any) -> Step:
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
        return Recipe(
            steps=tuple(Step(algorithm=a.name, params=p.model_dump(mode="json")) for a, p in resolve_recipe(self))
        )

    @property
    def key(self) -> str:
        text = json.dumps([s.model_dump(mode="json") for s in self.canonical().steps], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def label(self) -> str:
        return " + ".join(step_label(s) for s in self.steps) or "baseline"

    def to_json(self) -> str:
        return RECIPE_DOCUMENT.dump([s.model_dump(mode="json") for s in self.steps])

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        return build(cls, {"steps": RECIPE_DOCUMENT.load(text, "recipe")}, "recipe")


def resolve_recipe(recipe: Recipe, target: str | None = None) -> list[tuple[Algorithm, Params]]:
    """Validated (algorithm, params) pairs in canonical order; raises before any model is touched."""
    steps: list[tuple[Algorithm, Params]] = []
    for index, step in enumerate(recipe.steps):
        try:
            algorithm = ALGORITHMS.get(step.algorithm)
        except UnknownNameError as error:
            raise RecipeError(f"recipe step {index + 1}: {error}") from None
        steps.append((algorithm, build(algorithm.params, step.params, where=f"recipe[{index}].{algorithm.name}")))
    names = [a.name for a, _ in steps]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RecipeError(f"recipe repeats {', '.join(duplicates)}; give each algorithm once")
    for family in ONE_PER_FAMILY:
        same = [a.name for a, _ in steps if a.family == family]
        if len(same) > 1:
            raise RecipeError(f"recipe has {len(same)} {family} algorithms ({' and '.join(same)}); choose one")
    for algorithm, _ in steps:
        clash = sorted(algorithm.conflicts & set(names))
        if clash:
            raise RecipeError(f"{algorithm.name} conflicts with {', '.join(clash)}; drop one of them")
    if target is not None:
        reasons = [r for a, _ in steps if (r := a.unavailable_reason(target))]
        if reasons:
            raise RecipeError("cannot apply the recipe here: " + "; ".join(reasons))
    return sorted(steps, key=lambda pair: FAMILIES.index(pair[0].family))  # stable within a family


def available(target: str) -> list[Algorithm]:
    """Algorithms that can run on ``target`` with the packages installed here."""
    return [a for a in ALGORITHMS.values() if a.unavailable_reason(target) is None]


def plan(recipe: Recipe, target: str | None = None) -> list[tuple[Algorithm, Params]]:
    """The 0.1 name of ``resolve_recipe`` ("plan" is the run's and the sweep's now), for one release."""
    import warnings

    warnings.warn(
        "honed.optimization.plan is resolve_recipe now; the old name goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return resolve_recipe(recipe, target)
