"""lm-evaluation-harness as a task source: ``[task] name = "lm-eval", options = { task =
"hellaswag", limit = 100 }``. lm-eval loads the task (its prompts, its data, its metrics) and scores
the handle through ``lm_eval_model.harness_model``; its acc and acc_norm become honed's quality
metrics, so a guardrail can hold them. Data stays local through lm-eval's own means: a folder of
task YAMLs (``include_path``), e.g. one that includes lm-eval's hellaswag.yaml and sets
``dataset_path: json`` with ``dataset_kwargs.data_files``. Multiple-choice (log-likelihood) tasks
only, so far."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from honed.core.errors import SpecError
from honed.models.capabilities import Capability
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task


class Harnessed(list):  # type: ignore[type-arg]
    """What lm-eval scored: one entry per document (so a record counts them) and its aggregates."""

    def __init__(self, documents: int, values: dict[str, float]):
        super().__init__(range(documents))
        self.values = values


@TASKS.register("lm-eval")
class LmEvalTask(Task):
    name = "lm-eval"
    requires = frozenset({Capability.TOKENIZES, Capability.SCORES_TOKENS})
    metrics = ("acc", "acc_norm")
    primary = "acc_norm"
    supports_agreement = False  # lm-eval's aggregates, not one output per item
    item_inputs = False

    def __init__(self, task: str, limit: int | None = None, include_path: str | None = None, num_fewshot: int = 0):
        if not isinstance(task, str) or not task:
            raise SpecError("task.options.task", task, "the name of an lm-evaluation-harness task, e.g. 'hellaswag'")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise SpecError("task.options.limit", limit, "a positive number of documents")
        self.task, self.limit, self.include_path, self.num_fewshot = task, limit, include_path, num_fewshot

    @classmethod
    def default(
        cls, task: str = "", limit: int | None = None, include_path: str | None = None, num_fewshot: int = 0
    ) -> LmEvalTask:
        """``task``: an lm-eval task name; ``include_path``: a folder of lm-eval task YAMLs (local data)."""
        return cls(task, limit, include_path, num_fewshot)

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[Any, Any]]:
        raise SpecError("inputs.source", "task", "'synthetic': lm-eval's documents are prompts it builds itself")

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        import lm_eval

        from honed.tasks.lm_eval_model import harness_model

        manager = _task_manager(self.include_path)
        if self.task not in manager.all_tasks:
            raise SpecError("task.options.task", self.task, "a task lm-eval knows (lm_eval --tasks list)")
        results = lm_eval.simple_evaluate(
            model=harness_model(handle),
            tasks=[self.task],
            task_manager=manager,
            limit=limit or self.limit,
            num_fewshot=self.num_fewshot,
            bootstrap_iters=0,
            random_seed=0,
            numpy_random_seed=0,
            torch_random_seed=0,
            fewshot_random_seed=0,
        )
        scored = results["results"][self.task]
        values = {metric: float(scored[f"{metric},none"]) for metric in self.metrics if f"{metric},none" in scored}
        if set(values) != set(self.metrics):
            raise SpecError("task.options.task", self.task, "a multiple-choice lm-eval task (it reports acc, acc_norm)")
        return Harnessed(int(results["n-samples"][self.task]["effective"]), values), None


@functools.lru_cache(maxsize=4)
def _task_manager(include_path: str | None) -> Any:
    """lm-eval's index of its tasks (and of ``include_path``'s): reading its ~15,000 task YAMLs takes
    6-11 s, so a process that scores several times (a tune's screens, the tests) reads them once."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, verbosity="ERROR")
