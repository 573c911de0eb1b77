"""Optimisation: algorithms in a registry, recipes, and ``optimize``."""

from honed.optimize.algorithm import ALGORITHMS, FAMILIES, Algorithm, Context, Params, list_algorithms, register_algorithm
from honed.optimize.api import optimize
from honed.optimize.plan import RecipeError, available, plan
from honed.optimize.recipe import Recipe, Step


__all__ = ["ALGORITHMS", "FAMILIES", "Algorithm", "Context", "Params", "Recipe", "RecipeError", "Step",
           "available", "list_algorithms", "optimize", "plan", "register_algorithm"]
