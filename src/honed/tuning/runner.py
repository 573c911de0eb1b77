"""How a trial is run: a quick quality screen and a full evaluation, each in worker processes.

``tune`` talks to this interface only, so the search can also be driven by another runner
(a remote machine, or a test's scripted one).
"""

from __future__ import annotations

from typing import Any, Protocol as Interface

from honed.protocol import InputSpec, ModelRef, Protocol, Step, TargetSpec, TaskSpec
from honed.record import QualityResult, RunRecord
from honed.store import Store


class TrialRunner(Interface):
    def screen(self, recipe: list[Step], task: TaskSpec) -> QualityResult: ...

    def measure(self, recipe: list[Step], protocol: Protocol, task: TaskSpec, name: str) -> RunRecord: ...


class WorkerRunner:
    def __init__(self, model: ModelRef, inputs: InputSpec, target: TargetSpec, store: Store | None, on_progress: Any = None):
        self.model, self.inputs, self.target, self.store, self.on_progress = model, inputs, target, store, on_progress

    def screen(self, recipe: list[Step], task: TaskSpec) -> QualityResult:
        from honed.evaluation import assess_quality

        return assess_quality(self.model, task, recipe, self.target, inputs=self.inputs)

    def measure(self, recipe: list[Step], protocol: Protocol, task: TaskSpec, name: str) -> RunRecord:
        from honed.evaluation import evaluate

        return evaluate(self.model, protocol, self.inputs, self.target, name=name, store=self.store,
                        on_progress=self.on_progress, recipe=recipe, task=task)
