"""Optimisation: algorithms in a registry, recipes, and ``optimize``."""

from honed.core.errors import RecipeError
from honed.optimization.algorithm import (
    ALGORITHMS,
    FAMILIES,
    Algorithm,
    Context,
    Params,
    list_algorithms,
    register_algorithm,
)
from honed.optimization.api import optimize, runs_kept_files
from honed.optimization.recipe import Recipe, Step, available, plan, resolve_recipe

__all__ = [
    "ALGORITHMS",
    "FAMILIES",
    "Algorithm",
    "Context",
    "Params",
    "Recipe",
    "RecipeError",
    "Step",
    "available",
    "list_algorithms",
    "optimize",
    "plan",
    "register_algorithm",
    "resolve_recipe",
    "runs_kept_files",
]
