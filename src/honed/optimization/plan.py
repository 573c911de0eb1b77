"""Checking a recipe before any work: names, parameters, conflicts, target support, order."""

from __future__ import annotations

from honed.errors import HonedError, UnknownNameError
from honed.optimization.algorithm import ALGORITHMS, FAMILIES, ONE_PER_FAMILY, Algorithm, Params
from honed.optimization.recipe import Recipe
from honed.validation import build


class RecipeError(HonedError):
    """A recipe that cannot be applied; says which steps and why."""


def plan(recipe: Recipe, target: str | None = None) -> list[tuple[Algorithm, Params]]:
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
