"""The plan of a sweep, checked once before its first trial: the baseline's run plan (the
model, its inputs, the task and its fit), the objective's needs, and the candidates with those
skipped and why. Each trial's own plan is ``sweep.run.with_recipe(steps)``."""

from __future__ import annotations

from dataclasses import dataclass, replace

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, RunSpec, TaskSpec
from honed.optimization import Recipe
from honed.run.plan import RunPlan, plan_run
from honed.tuning.candidates import single_candidates
from honed.tuning.hold_out import held_out, learners
from honed.tuning.settings import TuneSettings


@dataclass(frozen=True)
class SweepPlan:
    run: RunPlan  # the baseline's: no steps, the sweep's task (agreement when none was given)
    candidates: tuple[Recipe, ...]  # single-step recipes to try first
    skipped: dict[str, str]  # candidate label -> why it is not tried
    metric: str  # the guardrail's metric: the one named, else the task's primary
    held_out: str | None = None  # which of the task's items calibrate and train, unscored (hold_out.py)

    @property
    def task(self) -> TaskSpec:
        """The sweep's task: ``plan_run(..., sweep=True)`` always gives one (agreement when none was named)."""
        assert self.run.task is not None, "a sweep's plan has a task"
        return self.run.task


def plan_sweep(model: ModelRef, spec: RunSpec, settings: TuneSettings) -> SweepPlan:
    """Everything tune checks before its first trial; a bad model, task, guardrail or objective
    fails here. A candidate whose runtime export cannot run the task is skipped with the reason."""
    if not isinstance(model, ModelRef):
        raise SpecError(
            "model",
            type(model).__name__,
            "a ModelRef (a file, directory or hub id), so that trials can be "
            "cached and resumed; save an in-memory model with ModelHandle.save first",
        )
    run = plan_run(model, spec.model_copy(update={"recipe": ()}), sweep=True)
    if settings.objective == "cost" and spec.target.price_per_hour is None:
        raise SpecError("target.price_per_hour", None, "a price (USD per hour) when the objective is cost")
    from honed.tasks import TASKS

    sweep_task = run.task
    assert sweep_task is not None, "plan_run(..., sweep=True) gives a sweep a task"
    task_class = TASKS.get(sweep_task.name)
    metric = settings.guardrail.metric or task_class.primary_of(dict(sweep_task.options))
    if metric not in task_class.metrics:
        raise SpecError(
            "guardrail.metric", metric, f"a metric of task {sweep_task.name!r}: {', '.join(task_class.metrics)}"
        )
    singles, skipped = single_candidates(
        run.device, model.kind, settings.candidates, settings.exclude, run.capabilities
    )
    unfit = {
        recipe.label: error.hint or str(error) for recipe in singles if (error := run.unfit(recipe.steps)) is not None
    }
    candidates = tuple(r for r in singles if r.label not in unfit)
    learning = learners([r.steps[0] for r in candidates], knob_search=settings.search != "list")
    task, note = held_out(sweep_task, learning, settings.hold_out)
    return SweepPlan(replace(run, task=task), candidates, {**skipped, **unfit}, metric, note)
