"""The search space: algorithms that can run here, then their combinations in canonical order.

Round one tries each algorithm alone. Later rounds extend the recipes that passed with one
more algorithm that also passed alone, most promising first (the product of the parts'
gains), skipping any combination ``plan`` rejects (same family, declared conflicts).
"""

from __future__ import annotations

from honed.core.errors import RecipeError
from honed.models.capabilities import Capability
from honed.optimization import Recipe
from honed.optimization.recipe import Step, available, step_label

# Algorithms whose inputs are a torch model; an ONNX file takes none of them.
_TORCH_KINDS = {"torch", "factory", "transformers", "sentence-transformers", "honed"}


def single_candidates(
    device: str,
    model_kind: str,
    candidates: tuple[str | Step, ...] | None,
    exclude: tuple[str, ...],
    capabilities: frozenset[Capability] | None = None,
) -> tuple[list[Recipe], dict[str, str]]:
    """One recipe per usable candidate (every available algorithm with its defaults and the
    variants that suit a model of ``capabilities``, or the given names and parameterised steps),
    in canonical family order, and why each other one was left out (wrong target, missing
    package, excluded, wrong model kind)."""
    from honed.optimization import ALGORITHMS

    steps = (
        default_steps(capabilities)
        if candidates is None
        else [Step(algorithm=c) if isinstance(c, str) else c for c in candidates]
    )
    for name in (*(s.algorithm for s in steps), *exclude):  # unknown names fail with suggestions before any work
        ALGORITHMS.get(name)
    for step in steps:  # bad parameters fail here too, naming the field
        Recipe(steps=(step,)).canonical()
    if model_kind not in _TORCH_KINDS:
        return [], {step_label(s): f"works on torch models; this model is {model_kind!r}" for s in steps}
    here = {a.name for a in available(device)}
    skipped = {
        step_label(s): "excluded"
        if s.algorithm in exclude
        else ALGORITHMS.get(s.algorithm).unavailable_reason(device) or "unavailable"
        for s in steps
        if s.algorithm not in here or s.algorithm in exclude
    }
    chosen = [s for s in steps if step_label(s) not in skipped]
    return [Recipe(steps=(s,)) for s in _canonical(chosen)], skipped


def default_steps(capabilities: frozenset[Capability] | None) -> list[Step]:
    """Every algorithm with its defaults, and each variant an algorithm names for such a model."""
    from honed.optimization import ALGORITHMS

    steps = []
    for algorithm in ALGORITHMS.values():
        steps.append(Step(algorithm=algorithm.name))
        steps += [Step(algorithm=algorithm.name, params=v.params) for v in algorithm.variants if v.suits(capabilities)]
    return steps


def extensions(
    passed: dict[str, tuple[Recipe, float]], singles: dict[str, tuple[Recipe, float]], size: int, tried: set[str]
) -> list[Recipe]:
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


def _canonical(steps: list[Step]) -> list[Step]:
    from honed.optimization.algorithm import ALGORITHMS, FAMILIES

    return sorted(steps, key=lambda s: (FAMILIES.index(ALGORITHMS.get(s.algorithm).family), step_label(s)))
