"""Pre-flight: everything about a run that can be checked without timing, once, in the parent,
before any worker starts: the model reference, the inputs, the task and whether the model can
run it, the recipe's plan, and known-bad pairings. A bad spec fails here in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honed.errors import SpecError
from honed.models.capabilities import Capability, describe, missing
from honed.models.registry import adapter, check_ref
from honed.protocol import AGREEMENT_TASK, InputSpec, ModelRef, Step, TargetSpec, TaskSpec
from honed.target import resolve_device


@dataclass(frozen=True)
class Preflight:
    """What a run will do, checked in the parent before any worker starts."""

    device: str
    steps: list[Step]
    task: TaskSpec | None
    warnings: list[str]  # known-bad pairings of a step and this model, found by measurement


def preflight(model: Any, inputs: InputSpec, target: TargetSpec, recipe: Any = None,
              task: TaskSpec | None = None) -> Preflight:
    """The model reference (files exist, a saved model's manifest, a factory builds a module, a
    vision model's input shape), the task and its fit to the model, the inputs' source and the
    recipe's plan. With a recipe and no task, the task is agreement with the base model."""
    check_model(model, inputs)
    if task is not None:
        task = check_task(task)
    elif inputs.source == "task":
        raise SpecError("inputs.source", "task", "'synthetic', or give the run a task (--task, [task]) to draw inputs from")
    device = resolve_device(target)
    steps = recipe_steps(recipe, device)
    if task is None and (steps or getattr(model, "recipe", None)):
        # An optimised model is always checked against its base: agreement, and what each step changed.
        task = AGREEMENT_TASK
    if task is not None:
        check_task_fits(model, task, steps)
    from honed.optimization.pairings import pairing_warnings

    warnings = pairing_warnings(model, steps) if isinstance(model, ModelRef) else []
    return Preflight(device, steps, task, warnings)


def check_model(model: Any, inputs: InputSpec) -> None:
    if isinstance(model, ModelRef):
        check_ref(model)
        if hasattr(kind := adapter(model.kind), "check_inputs"):
            kind.check_inputs(model, inputs)


def check_task(task: TaskSpec) -> TaskSpec:
    """An unknown task name fails here, with suggestions, before any worker starts. A task
    defined outside honed gets its module named, so that worker processes import it too."""
    from honed.tasks import TASKS

    module = TASKS.get(task.name).__module__
    if task.module is not None or module.startswith("honed."):
        return task
    if module == "__main__":
        raise SpecError("task", task.name, "a task defined in an importable module (workers cannot import a script's "
                        "__main__), or registered through the honed.tasks entry-point group")
    return task.model_copy(update={"module": module})


def check_task_fits(model: Any, task: TaskSpec, steps: list[Step]) -> None:
    """The task builds with its options, and the model can do what it needs, where that can be
    told before loading (e.g. language modelling needs a causal LM with a tokenizer)."""
    from honed.tasks import build_task

    have = model_capabilities(model)
    unfit = fit_error(model, task, build_task(task).requires, after_steps(have, steps) if have is not None else None)
    if unfit is not None:
        raise unfit


def fit_error(model: Any, task: TaskSpec, needs: frozenset[Capability],
              have: frozenset[Capability] | None) -> SpecError | None:
    """The refusal (its hint says what is missing) when the model lacks what the task needs;
    None when it has it, or when what it has cannot be told before loading (``have`` None)."""
    if have is None or not (gaps := missing(needs, have)):
        return None
    name = model.display_name if isinstance(model, ModelRef) else getattr(model, "name", type(model).__name__)
    return SpecError("task", task.name, f"a task that {name} can run",
                     hint=f"{task.name!r} needs {describe(needs)}; {name} lacks: {', '.join(c.value for c in gaps)}")


def model_capabilities(model: Any) -> frozenset[Capability] | None:
    """What the model can do, from its files where it is a reference (None: only loading tells)."""
    if isinstance(model, ModelRef):
        static = getattr(adapter(model.kind), "static_capabilities", None)
        return static(model) if static is not None else None
    return getattr(model, "capabilities", frozenset())  # a loaded handle, or a bare module: none


def after_steps(have: frozenset[Capability], steps: list[Step]) -> frozenset[Capability]:
    """What is left after ``steps``: an export to another runtime keeps what its handle keeps
    (pre-processing; decoding too for OpenVINO and llama.cpp; transcription for OpenVINO)."""
    from honed.optimization import ALGORITHMS

    for step in steps:
        algorithm = ALGORITHMS.get(step.algorithm)
        if algorithm.family == "runtime":
            have = have & algorithm.keeps
    return have


def recipe_steps(recipe: Any, device: str) -> list[Step]:
    """Validated steps of ``recipe`` (checked here, before any worker starts)."""
    if not recipe:
        return []
    from honed.optimization import Recipe, plan

    recipe = recipe if isinstance(recipe, Recipe) else Recipe.of(*recipe)
    plan(recipe, device)
    return list(recipe.canonical().steps)
