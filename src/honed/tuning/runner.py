"""How a trial is run: a quick quality screen and a full evaluation, each in worker processes.

``tune`` talks to this interface only, so the search can also be driven by another runner
(a remote machine, or a test's scripted one).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from typing import Protocol as Interface

from honed.core.protocol import InputSpec, ModelRef, Protocol, RunSpec, Step, TargetSpec, TaskSpec
from honed.records.record import QualityResult, RunRecord
from honed.run.plan import RunPlan
from honed.store import Store


class TrialRunner(Interface):
    def screen(self, recipe: list[Step], task: TaskSpec) -> QualityResult: ...

    def measure(self, recipe: list[Step], protocol: Protocol, task: TaskSpec, name: str) -> RunRecord: ...


class WorkerRunner:
    """Each trial's plan is the sweep's baseline plan with the trial's recipe: the model's files
    were read, and the task checked, once for the whole sweep."""

    def __init__(
        self,
        model: ModelRef,
        plan: RunPlan,
        inputs: InputSpec,
        target: TargetSpec,
        store: Store | None,
        on_progress: Any = None,
    ):
        self.model, self.plan, self.inputs, self.target = model, plan, inputs, target
        self.store, self.on_progress = store, on_progress
        # The last screen's converted files, for the measurement of the same recipe and task that follows it.
        self._screened: tuple[Any, tempfile.TemporaryDirectory] | None = None

    def screen(self, recipe: list[Step], task: TaskSpec) -> QualityResult:
        from honed.run.evaluation import assess_quality

        if self._screened is not None:
            self._screened[1].cleanup()  # a model's conversion can be gigabytes: one kept at a time
        self._screened = (_identity(recipe, task), tempfile.TemporaryDirectory(prefix="honed-screen-"))
        return assess_quality(
            self.model,
            task,
            recipe,
            self.target,
            inputs=self.inputs,
            plan=self.plan.with_recipe(recipe),
            kept=Path(self._screened[1].name) / "kept",
        )

    def measure(self, recipe: list[Step], protocol: Protocol, task: TaskSpec, name: str) -> RunRecord:
        from honed.run.evaluation import evaluate

        spec = RunSpec(
            name=name, inputs=self.inputs, protocol=protocol, target=self.target, recipe=tuple(recipe), task=task
        )
        plan = self.plan.with_recipe(recipe)
        screened = self._screened
        kept = Path(screened[1].name) / "kept" if screened and screened[0] == _identity(recipe, task) else None
        return evaluate(
            self.model,
            spec,
            store=self.store,
            on_progress=self.on_progress,
            plan=plan if plan.task == task else None,
            kept=kept,
        )


def _identity(recipe: list[Step], task: TaskSpec) -> Any:
    """A conversion depends on the recipe and, through calibration, on the task's items."""
    return [s.model_dump(mode="json") for s in recipe], task.model_dump(mode="json")
