"""The run plan: everything about a run that can be checked without timing, once, in the parent,
before any worker starts: the model reference, the inputs, the task and whether the model can run
it, the recipe's steps, and known-bad pairings. A bad spec fails here in seconds.

A tune checks its model once (``plan_run(..., sweep=True)``) and derives each trial's plan with
``RunPlan.with_recipe``, which re-checks only what a recipe changes: its steps, what the model
can still do after them, and the pairings. No trial reads the model's files again."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, RunSpec, Step, TaskSpec, quality_task
from honed.models.capabilities import Capability, describe, missing
from honed.models.registry import adapter, check_ref
from honed.run.target import resolve_device


@dataclass(frozen=True)
class RunPlan:
    """What a run will do, checked in the parent before any worker starts."""

    model: Any  # the ModelRef, ModelHandle or torch module it was checked for
    device: str
    steps: tuple[Step, ...]  # validated, canonical order, parameters filled in
    task: TaskSpec | None  # the run's task, or agreement with the base model for an optimised one
    capabilities: frozenset[Capability] | None  # the model's own, from its files (None: only loading tells)
    needs: frozenset[Capability]  # what the task needs of the model
    layers: str | None  # the layer kind holding most parameters (for pairings); None: not judged
    warnings: tuple[str, ...]  # known-bad pairings of a step and this model, found by measurement
    layers_read: bool = False  # whether ``layers`` was read (a plan without steps leaves it for later)

    def with_recipe(self, recipe: Any) -> RunPlan:
        """This plan with ``recipe`` (a Recipe, or steps/names) as its steps: the recipe is
        validated, and the task's fit and the pairings are judged from what this plan read."""
        steps = recipe_steps(recipe, self.device)
        plan = self
        if self.task is None and steps:
            task = quality_task(None, optimised=True)
            plan = replace(self, task=task, needs=_needs(task))
        if (unfit := plan.unfit(steps)) is not None:
            raise unfit
        if steps and not plan.layers_read and isinstance(self.model, ModelRef):
            plan = replace(plan, layers=_dominant_layers(self.model), layers_read=True)
        return replace(plan, steps=tuple(steps), warnings=tuple(_pairings(self.model, plan.layers, steps)))

    def unfit(self, steps: list[Step] | tuple[Step, ...]) -> SpecError | None:
        """The refusal when a step cannot take the model as the steps before it leave it, or when
        the model, after ``steps``, lacks what the task needs; None when it fits, or when what it
        has cannot be told before loading."""
        if self.capabilities is None:
            return None
        if (misfit := step_error(self.model, self.capabilities, list(steps))) is not None:
            return misfit
        if self.task is None:
            return None
        return fit_error(self.model, self.task, self.needs, after_steps(self.capabilities, list(steps)))


def plan_run(model: Any, spec: RunSpec, *, sweep: bool = False) -> RunPlan:
    """Check a run of ``model`` (a ModelRef, a ModelHandle or a torch module) under ``spec``.
    ``sweep``: the plan is the baseline of a tune, whose trials add recipes (so quality is
    agreement when no task is given, and the pairings are read now)."""
    check_model(model, spec.inputs)
    task = check_task(spec.task) if spec.task is not None else None
    if task is None and spec.inputs.source == "task":
        raise SpecError(
            "inputs.source", "task", "'synthetic', or give the run a task (--task, [task]) to draw inputs from"
        )
    # An optimised model is always checked against its base: agreement, and what each step changed
    # (a recipe of the run's own makes it optimised too: with_recipe decides that case).
    task = quality_task(task, optimised=sweep or bool(getattr(model, "recipe", None)))
    layers_read = isinstance(model, ModelRef) and sweep
    base = RunPlan(
        model=model,
        device=resolve_device(spec.target),
        steps=(),
        task=task,
        capabilities=model_capabilities(model),
        needs=_needs(task),
        layers=_dominant_layers(model) if layers_read else None,
        warnings=(),
        layers_read=layers_read,
    )
    return base.with_recipe(spec.recipe)


def check_model(model: Any, inputs: Any) -> None:
    if isinstance(model, ModelRef):
        check_ref(model)
        adapter(model.kind).check_inputs(model, inputs)


def check_task(task: TaskSpec) -> TaskSpec:
    """An unknown task name fails here, with suggestions, before any worker starts. A task
    defined outside honed gets its module named, so that worker processes import it too."""
    from honed.tasks import TASKS
    from honed.tasks.expected import check_expectation

    check_expectation(task.expect, task.name, TASKS.get(task.name).metrics)
    module = TASKS.get(task.name).__module__
    if task.module is not None or module.startswith("honed."):
        return task
    if module == "__main__":
        raise SpecError(
            "task",
            task.name,
            "a task defined in an importable module (workers cannot import a script's "
            "__main__), or registered through the honed.tasks entry-point group",
        )
    return task.model_copy(update={"module": module})


def fit_error(
    model: Any, task: TaskSpec, needs: frozenset[Capability], have: frozenset[Capability] | None
) -> SpecError | None:
    """The refusal (its hint says what is missing) when the model lacks what the task needs;
    None when it has it, or when what it has cannot be told before loading (``have`` None)."""
    if have is None or not (gaps := missing(needs, have)):
        return None
    name = _name(model)
    return SpecError(
        "task",
        task.name,
        f"a task that {name} can run",
        hint=f"{task.name!r} needs {describe(needs)}; {name} lacks: {', '.join(c.value for c in gaps)}",
    )


def step_error(model: Any, have: frozenset[Capability], steps: list[Step]) -> SpecError | None:
    """The refusal when a step needs what the model lacks at that step (llama-cpp: a causal LM;
    ctranslate2: a speech-to-text model) or is what the step excludes (layer-distill: an
    encoder-decoder); None when every step fits."""
    from honed.optimization import ALGORITHMS

    for index, step in enumerate(steps):
        algorithm = ALGORITHMS.get(step.algorithm)
        now = after_steps(have, steps[:index])
        gaps = missing(algorithm.needs, now)
        clashes = [c for c in Capability if c in algorithm.excludes and c in now]
        if not gaps and not clashes:
            continue
        name = _name(model)
        why = (
            f"{step.algorithm} needs {describe(algorithm.needs)}; {name} lacks: {', '.join(c.value for c in gaps)}"
            if gaps
            else f"{step.algorithm} does not apply to {describe(clashes[:1])} ({name} is one)"
        )
        return SpecError("recipe", step.algorithm, f"a step that {name} can take", hint=why)
    return None


def _name(model: Any) -> str:
    return model.display_name if isinstance(model, ModelRef) else getattr(model, "name", type(model).__name__)


def model_capabilities(model: Any) -> frozenset[Capability] | None:
    """What the model can do, from its files where it is a reference (None: only loading tells)."""
    if isinstance(model, ModelRef):
        return adapter(model.kind).static_capabilities(model)
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
    from honed.optimization import Recipe, resolve_recipe

    recipe = recipe if isinstance(recipe, Recipe) else Recipe.of(*recipe)
    resolve_recipe(recipe, device)
    return list(recipe.canonical().steps)


def _needs(task: TaskSpec | None) -> frozenset[Capability]:
    if task is None:
        return frozenset()
    from honed.tasks import build_task

    return build_task(task).requires


def _dominant_layers(ref: ModelRef) -> str | None:
    from honed.optimization.pairings import dominant_layers

    return dominant_layers(ref)


def _pairings(model: Any, layers: str | None, steps: list[Step]) -> list[str]:
    if not isinstance(model, ModelRef) or not steps:
        return []
    from honed.optimization.pairings import pairing_warnings

    return pairing_warnings(model.display_name, layers, steps)
