"""Optimisation: algorithms in a registry, recipes, and ``optimize``."""

from honed.optimization.algorithm import ALGORITHMS, FAMILIES, Algorithm, Context, Params, list_algorithms, register_algorithm
from honed.optimization.api import optimize, runs_kept_files
from honed.optimization.plan import RecipeError, available, plan
from honed.optimization.recipe import Recipe, Step


__all__ = ["ALGORITHMS", "FAMILIES", "Algorithm", "Context", "Params", "Recipe", "RecipeError", "Step",
           "available", "list_algorithms", "optimize", "plan", "register_algorithm", "runs_kept_files"]
