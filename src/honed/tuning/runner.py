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
        protocol: Protocol | None = None,
    ):
        self.model, self.plan, self.inputs, self.target = model, plan, inputs, target
        self.store, self.on_progress = store, on_progress
        self.protocol = protocol or Protocol()  # the sweep's: the screens' seed and threads
        # The last screen (its recipe and task, converted files and quality), for the measurement of
        # the same recipe and task that follows it: it neither converts nor scores again.
        self._screened: tuple[Any, tempfile.TemporaryDirectory, QualityResult] | None = None

    def screen(self, recipe: list[Step], task: TaskSpec) -> QualityResult:
        from honed.run.evaluation import assess_quality

        if self._screened is not None:
            self._screened[1].cleanup()  # a model's conversion can be gigabytes: one kept at a time
        files = tempfile.TemporaryDirectory(prefix="honed-screen-")
        spec = self._spec(recipe, task)
        quality = assess_quality(self.model, spec, plan=self.plan.with_recipe(recipe), kept=Path(files.name) / "kept")
        self._screened = (_identity(recipe, task, self.protocol), files, quality)
        return quality

    def measure(self, recipe: list[Step], protocol: Protocol, task: TaskSpec, name: str) -> RunRecord:
        from honed.run.evaluation import evaluate

        spec = self._spec(recipe, task).model_copy(update={"name": name, "protocol": protocol})
        plan = self.plan.with_recipe(recipe)
        screened = self.screened(recipe, task, protocol)
        return evaluate(
            self.model,
            spec,
            store=self.store,
            on_progress=self.on_progress,
            plan=plan if plan.task == task else None,
            kept=Path(screened[1].name) / "kept" if screened else None,
            scored=screened[2] if screened and screened[2].status == "ok" else None,
        )

    def _spec(self, recipe: list[Step], task: TaskSpec) -> RunSpec:
        """A quality pass of ``recipe`` on ``task`` under the sweep's inputs, target, seed and threads."""
        return RunSpec(inputs=self.inputs, protocol=self.protocol, target=self.target, recipe=tuple(recipe), task=task)

    def screened(self, recipe: list[Step], task: TaskSpec, protocol: Protocol) -> Any:
        """The last screen (its identity, files and quality) when it screened this recipe on this
        task under this protocol's seed and threads, else None."""
        same = self._screened is not None and self._screened[0] == _identity(recipe, task, protocol)
        return self._screened if same else None


def _identity(recipe: list[Step], task: TaskSpec, protocol: Protocol) -> Any:
    """A conversion depends on the recipe and, through calibration, on the task's items; a
    quality score on the items the protocol's seed draws and, in the last bits, its threads."""
    return [s.model_dump(mode="json") for s in recipe], task.model_dump(mode="json"), protocol.seed, protocol.threads
