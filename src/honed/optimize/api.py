"""``optimize(model, recipe, target)``: apply a recipe to a copy of a model."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from honed.models.handle import ModelHandle
from honed.optimize.algorithm import Context
from honed.optimize.plan import RecipeError, plan
from honed.optimize.recipe import Recipe, Step
from honed.protocol import InputSpec, ModelRef, TaskSpec


def optimize(
    model: ModelHandle | ModelRef,
    recipe: Recipe | Sequence[str | dict[str, Any]],
    target: str = "cpu",
    inputs: InputSpec | None = None,
    task: TaskSpec | None = None,
) -> ModelHandle:
    """Return a new handle with ``recipe`` applied in canonical family order; ``model`` is untouched.

    The whole recipe is checked (names, parameters, conflicts, target, dependencies) before
    any work. ``inputs`` describes the model's input where an algorithm needs to run it
    (structured pruning traces the model). ``task`` is the run's task: distillation trains on
    its data and static quantization calibrates on it (else on the model's synthetic inputs).
    """
    from honed.models import load_model
    from honed.models.torch_common import TorchBackedHandle

    if not isinstance(recipe, Recipe):
        recipe = Recipe.of(*recipe)
    steps = plan(recipe, target)
    handle = load_model(model, target) if isinstance(model, ModelRef) else model
    if not isinstance(handle, TorchBackedHandle):
        raise RecipeError(f"recipes apply to torch models; {handle.ref.kind!r} models are measured as they are")
    inputs = inputs or handle.optimize_inputs or InputSpec()
    task = task or handle.optimize_task
    context = Context(target=target, inputs=inputs, task=task)
    result = handle.with_module(copy.deepcopy(handle.module))
    for algorithm, params in steps:
        result = algorithm.apply(result, params, context)  # a runtime step returns a non-torch handle
    result.recipe = list(handle.recipe) + [
        Step(algorithm=a.name, params=p.model_dump(mode="json")).model_dump(mode="json") for a, p in steps
    ]
    result.base = handle.base or handle
    result.optimize_inputs = inputs
    result.optimize_task = task
    return result
