"""The search space: algorithms that can run here, then their combinations in canonical order.

Round one tries each algorithm alone. Later rounds extend the recipes that passed with one
more algorithm that also passed alone, most promising first (the product of the parts'
gains), skipping any combination ``plan`` rejects (same family, declared conflicts).
"""

from __future__ import annotations

from honed.optimize import Recipe
from honed.optimize.plan import RecipeError, available
from honed.optimize.recipe import Step

# Algorithms whose inputs are a torch model; an ONNX file takes none of them.
_TORCH_KINDS = {"torch", "factory", "transformers", "sentence-transformers", "honed"}


def single_candidates(device: str, model_kind: str, names: tuple[str, ...] | None, exclude: tuple[str, ...]) -> list[Recipe]:
    """One recipe per usable algorithm, in canonical family order."""
    from honed.optimize import ALGORITHMS

    if names is not None:
        for name in names:  # unknown names fail with suggestions before any work
            ALGORITHMS.get(name)
    if model_kind not in _TORCH_KINDS:
        return []
    here = {a.name for a in available(device)}
    chosen = [a for a in ALGORITHMS.values() if a.name in here and (names is None or a.name in names) and a.name not in exclude]
    return [Recipe(steps=(Step(algorithm=a.name),)) for a in _canonical(chosen)]


def extensions(passed: dict[str, tuple[Recipe, float]], singles: dict[str, tuple[Recipe, float]], size: int,
               tried: set[str]) -> list[Recipe]:
    """Recipes of ``size`` steps: a passing recipe of ``size - 1`` steps plus one passing single,
    ordered by the product of their gains (gain = base objective / objective, > 1 is better)."""
    scored: dict[str, tuple[float, Recipe]] = {}
    for recipe, gain in passed.values():
        if len(recipe) != size - 1:
            continue
        for single, single_gain in singles.values():
            if single.steps[0].algorithm in {s.algorithm for s in recipe.steps}:
                continue
            combined = Recipe(steps=recipe.steps + single.steps)
            try:
                combined = combined.canonical()
            except RecipeError:
                continue
            if combined.key in tried or combined.key in scored:
                continue
            scored[combined.key] = (gain * single_gain, combined)
    return [recipe for _, recipe in sorted(scored.values(), key=lambda pair: -pair[0])]


def _canonical(algorithms: list) -> list:
    from honed.optimize.algorithm import FAMILIES

    return sorted(algorithms, key=lambda a: (FAMILIES.index(a.family), a.name))

