"""Checking a recipe before any work (names, parameters, conflicts, target support, order):
``plan`` lives beside ``Recipe`` in recipe.py, which canonicalises itself with it."""

from honed.optimization.recipe import RecipeError, available, plan

__all__ = ["RecipeError", "available", "plan"]
