"""Optimisation: algorithms in a registry, recipes, and ``optimize``."""

from honed.optimize.algorithm import ALGORITHMS, FAMILIES, Algorithm, Context, Params, register_algorithm
from honed.optimize.api import optimize
from honed.optimize.plan import RecipeError, available, plan
from honed.optimize.recipe import Recipe, Step


def list_algorithms() -> list[Algorithm]:
    from honed.optimize.plan import _load_builtin_algorithms

    _load_builtin_algorithms()
    return [ALGORITHMS.get(name) for name in ALGORITHMS.names()]


__all__ = ["ALGORITHMS", "FAMILIES", "Algorithm", "Context", "Params", "Recipe", "RecipeError", "Step",
           "available", "list_algorithms", "optimize", "plan", "register_algorithm"]
