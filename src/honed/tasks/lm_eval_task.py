"""lm-evaluation-harness as a task source: ``[task] name = "lm-eval", options = { task =
"hellaswag", limit = 100 }``. lm-eval loads the task (its prompts, its data, its metrics) and scores
the handle through ``lm_eval_model.harness_model``; its metrics become honed's quality metrics,
so a guardrail can hold them. Data stays local through lm-eval's own means: a folder of
task YAMLs (``include_path``), e.g. one that includes lm-eval's hellaswag.yaml and sets
``dataset_path: json`` with ``dataset_kwargs.data_files``. Every kind of lm-eval task: multiple
choice (acc, acc_norm), perplexity (word_perplexity, byte_perplexity, bits_per_byte, as on
wikitext) and greedy generation (exact_match; where a task filters its answers, as gsm8k does,
the first filter it lists)."""

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


# Each kind of lm-eval request: the metrics honed reads from its results, the first one the primary.
METRICS_OF = {
    "multiple_choice": ("acc_norm", "acc"),
    "loglikelihood": ("acc",),  # its perplexity is not honed's (that name is the language-modeling task's)
    "loglikelihood_rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte"),
    "generate_until": ("exact_match",),
}


def _metrics_of(config: dict[str, Any]) -> tuple[str, ...]:
    """The metrics honed reads for a task of this lm-eval config (its kind's; multiple choice when
    the config does not say, as lm-eval defaults)."""
    return METRICS_OF.get(config.get("output_type", "multiple_choice"), ())


@TASKS.register("lm-eval")
class LmEvalTask(Task):
    name = "lm-eval"
    requires = frozenset({Capability.TOKENIZES, Capability.SCORES_TOKENS})
    # Every metric an lm-eval task may report here (a guardrail may name any); once scored, the
    # instance keeps those its task reported, and its kind's primary.
    metrics: tuple[str, ...] = tuple(dict.fromkeys(m for kind in METRICS_OF.values() for m in kind))
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

    @classmethod
    def primary_of(cls, options: dict[str, Any]) -> str:
        """The primary metric of the named lm-eval task's kind (read from lm-eval's task index)."""
        from honed.core.installed import installed

        if not installed("lm_eval"):
            raise SpecError("task", "lm-eval", "an installed lm-evaluation-harness: pip install 'honed[lm-eval]'")
        manager = _task_manager(options.get("include_path"))
        task = options.get("task", "")
        if task not in manager.all_tasks:
            raise SpecError("task.options.task", task, "a task lm-eval knows (lm_eval --tasks list)")
        return (*_metrics_of(manager.task_index[task].cfg or {}), cls.primary)[0]

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
        config = results["configs"][self.task]
        filters = [f["name"] for f in config.get("filter_list") or []] or ["none"]
        scored = results["results"][self.task]
        values = {m: float(scored[f"{m},{filters[0]}"]) for m in _metrics_of(config) if f"{m},{filters[0]}" in scored}
        if not values:
            reported = sorted(key for key in scored if "," in key and "_stderr" not in key)
            raise SpecError(
                "task.options.task",
                self.task,
                f"a task reporting {', '.join(self.metrics)}",
                hint=f"it reports {reported}",
            )
        self.metrics, self.primary = tuple(values), next(iter(values))
        return Harnessed(int(results["n-samples"][self.task]["effective"]), values), None


@functools.lru_cache(maxsize=4)
def _task_manager(include_path: str | None) -> Any:
    """lm-eval's index of its tasks (and of ``include_path``'s): reading its ~15,000 task YAMLs takes
    6-11 s, so a process that scores several times (a tune's screens, the tests) reads them once."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, verbosity="ERROR")
