"""``optimize(model, recipe, target)``: apply a recipe to a copy of a model."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from honed.core.errors import RecipeError
from honed.core.protocol import InputSpec, ModelRef, TaskSpec
from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context
from honed.optimization.coverage import layer_flops, snapshot, step_coverage
from honed.optimization.kept_files import reuse
from honed.optimization.recipe import Recipe, Step, resolve_recipe


def optimize(
    model: ModelHandle | ModelRef,
    recipe: Recipe | Sequence[str | Step | dict[str, Any]],
    target: str = "cpu",
    inputs: InputSpec | None = None,
    task: TaskSpec | None = None,
    coverage: bool = False,
    kept: Path | None = None,
) -> ModelHandle:
    """Return a new handle with ``recipe`` applied in canonical family order; ``model`` is untouched.

    The whole recipe is checked (names, parameters, conflicts, target, dependencies) before
    any work. ``inputs`` describes the model's input where an algorithm needs to run it
    (structured pruning traces the model). ``task`` is the run's task: distillation trains on
    its data and static quantization calibrates on it (else on the model's synthetic inputs).
    ``coverage``: record on the result what each step changed (``handle.coverage``), at the
    cost of one call of the model and a pass over its weights. ``kept``: a directory shared by
    the worker processes of one run; a runtime step keeps its converted model there, and finds
    it there in the next worker instead of converting again.
    """
    from honed.models import load_model

    if not isinstance(recipe, Recipe):
        recipe = Recipe.of(*recipe)
    steps = resolve_recipe(recipe, target)
    handle = load_model(model, target) if isinstance(model, ModelRef) else model
    if not isinstance(handle, TorchBackedHandle):
        raise RecipeError(f"recipes apply to torch models; {handle.ref.kind!r} models are measured as they are")
    inputs = inputs or handle.optimize_inputs or InputSpec()
    task = task or handle.optimize_task
    context = Context(target=target, inputs=inputs, task=task)
    result: ModelHandle = handle.with_module(copy.deepcopy(handle.module))
    flops = _flops(handle, inputs) if coverage else {}
    covered = []
    for index, (algorithm, params) in enumerate(steps):
        if not isinstance(result, TorchBackedHandle):  # resolve_recipe puts a runtime step last
            raise RecipeError(f"{algorithm.name} after a runtime step: recipes end in the runtime they run on")
        before = snapshot(result.module) if coverage else None
        step_kept = _step_directory(kept, index, algorithm.name)
        result = algorithm.apply(
            result, params, dataclasses.replace(context, kept=step_kept)
        )  # a runtime step returns a non-torch handle
        if before is not None:
            covered.append(step_coverage(algorithm.name, algorithm.family, before, result, flops))
    result.coverage = list(handle.coverage) + covered
    result.recipe = list(handle.recipe) + [Step(algorithm=a.name, params=p.model_dump(mode="json")) for a, p in steps]
    result.base = handle.base or handle
    result.optimize_inputs = inputs
    result.optimize_task = task
    return result


def _step_directory(kept: Path | None, index: int, algorithm: str) -> Path | None:
    return kept / f"{index}-{algorithm}" if kept is not None else None


def runs_kept_files(recipe: Recipe | Sequence[str | dict[str, Any]], kept: Path | None) -> bool:
    """Whether ``recipe`` is one runtime step whose files an earlier worker of the run kept in
    ``kept``: the step then runs those files and never reads the model's weights, so a worker
    loads the model without them (a deployment of the converted model never loads them either).
    With steps before the runtime step the model is loaded and they are replayed as always."""
    steps = resolve_recipe(recipe if isinstance(recipe, Recipe) else Recipe.of(*recipe))
    if len(steps) != 1 or steps[0][0].family != "runtime":
        return False
    return reuse(_step_directory(kept, 0, steps[0][0].name)) is not None


def _flops(handle: TorchBackedHandle, inputs: InputSpec) -> dict[str, int]:
    try:
        batch = handle.example_inputs(1, inputs, 0)
    except Exception:  # no input shape known: coverage falls back to parameter shares
        return {}
    return layer_flops(handle, batch)
