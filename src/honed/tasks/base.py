"""Task: offline data, how to run a model on a batch, and the quality metrics to compute.

``evaluate_quality(task, handle)`` runs the model over the task's data and returns each
metric; ``agreement(task, base, candidate)`` compares two models' outputs on the task's
inputs when labels are absent or beside them.
"""

from __future__ import annotations

import copy
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import torch

from honed.core.errors import SpecError, UntrustedCodeError
from honed.core.protocol import InputSpec, TaskSpec
from honed.core.registry import Registry
from honed.models.capabilities import Capability, describe, missing
from honed.models.handle import ModelHandle
from honed.models.output import ModelOutput
from honed.records.record import QualityResult
from honed.tasks.metrics import get_metric

AGREEMENT_METRICS = ("top1_agreement", "logits_kl", "output_cosine")


class Task(ABC):
    """Subclasses set ``name``, ``metrics`` (names in the metric registry) and ``primary``.

    ``default(**options)`` builds the task on its shipped or generated data: that is what a
    spec's ``[task]`` section and ``honed tune`` use. ``supports_agreement`` is False where
    the outputs are not one tensor per item (multiple choice scores a list per item).
    ``requires`` names what the model must be able to do (honed.models.capabilities): checked
    before any worker starts where the model's files tell, and again on the loaded handle.
    """

    name: str
    metrics: tuple[str, ...]
    primary: str
    supports_agreement: bool = True
    agreement_metrics: tuple[str, ...] = AGREEMENT_METRICS
    requires: frozenset[Capability] = frozenset()
    # Whether one item of the data is one model input, so ``sample`` can hand out batches
    # (calibration and distillation data, inputs.source = "task"); not for multiple choice.
    item_inputs: bool = True
    # The attributes that hold one entry per item, in item order: what ``holding_out`` splits.
    item_fields: tuple[str, ...] = ()
    # The items held out to calibrate on (``[task] options = { calibration = N }``), never scored.
    calibration_part: Task | None = None

    @classmethod
    def default(cls, *args: Any, **options: Any) -> Task:  # each task names its own options
        raise SpecError(
            "task",
            cls.name,
            "a task with shipped or generated data; build this one in Python "
            "and pass it to honed.tasks.evaluate_quality",
        )

    @classmethod
    def primary_of(cls, options: dict[str, Any]) -> str:
        """The primary metric with these options, before the task is built (a tune's guardrail
        metric): ``primary`` unless the options choose another kind of scoring (lm-eval's tasks)."""
        return cls.primary

    @abstractmethod
    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[Any, Any]]:
        """(model-scope inputs, references) batches over the task's data, in a fixed order."""

    def check_model(self, handle: ModelHandle) -> None:
        """Refuse a model that lacks a capability this task needs, naming what it needs."""
        if gaps := missing(self.requires, handle.capabilities):
            raise SpecError(
                "model",
                handle.name,
                describe(self.requires),
                hint=f"task {self.name!r} needs a model that {describe(gaps).removeprefix('a model that ')}",
            )

    def predict(self, handle: ModelHandle, inputs: Any) -> torch.Tensor:
        """The model's output for one batch, as a CPU tensor."""
        with handle.inference_context():
            output = handle.run(inputs)
        self.output_name = output.name if isinstance(output, ModelOutput) else "output"
        return as_tensor(output)

    output_name = "output"  # the name of the output ``predict`` last returned (ModelOutput.name)

    def agreement_items(self, count: int) -> str:
        """Which items an agreement with the base model compared (said in the record)."""
        held = self.calibration_part
        return f"{count} items of task {self.name}" + (f" ({held.item_count} others calibrated)" if held else "")

    @property
    def holds_items(self) -> bool:
        """Whether the task holds items of its own here (what a calibration split divides)."""
        return bool(self.item_fields) and getattr(self, self.item_fields[0]) is not None

    @property
    def item_count(self) -> int:
        return len(getattr(self, self.item_fields[0])) if self.item_fields else 0

    def holding_out(self, count: int) -> Task:
        """This task without its first ``count`` items: they are what calibration and distillation
        draw (``sample``, ``halves``), and are never scored, so the two share no item."""
        field = "task.options.calibration"
        if not self.holds_items:
            raise SpecError(field, count, f"no calibration split: task {self.name!r} holds no items of its own here")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count < self.item_count:
            raise SpecError(
                field, count, f"an integer from 1 to {self.item_count - 1} (the task has {self.item_count} items)"
            )
        scored, calibration = copy.copy(self), copy.copy(self)
        for name in self.item_fields:
            items = getattr(self, name)
            setattr(calibration, name, items[:count])
            setattr(scored, name, items[count:])
        scored.calibration_part = calibration
        return scored

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        """Extra keyword arguments per metric (e.g. num_classes), for the first ``limit`` items."""
        return {}

    def bind(self, inputs: InputSpec) -> None:  # noqa: B027  (an optional hook: most tasks need nothing)
        """The run's input spec, for tasks whose data are the model's own inputs (agreement)."""

    def set_reference_outputs(self, outputs: torch.Tensor | None) -> None:  # noqa: B027  (optional, as bind)
        """The base model's outputs, for tasks that score agreement with them (agreement)."""

    def timing(self, seconds: float, items: int, limit: int | None) -> dict[str, float]:
        """Rates from one timed pass over the data (first call included, no warm-up)."""
        return {"seconds": seconds, "items_per_s": items / seconds if seconds > 0 else float("inf")}

    def sample(self, batch_size: int, seed: int) -> Any:
        """``batch_size`` raw items drawn from the task's data (with replacement, seeded): the
        realistic inputs of a performance run with ``inputs.source = "task"``."""
        pool = self._pool()
        rng = random.Random(seed)
        return _joined([pool[rng.randrange(len(pool))] for _ in range(batch_size)])

    def halves(self, batch_size: int, half: int) -> list[Any]:
        """Every item of one half of the task's data, in order, as raw batches of ``batch_size``:
        half 0 the even-numbered items (to calibrate on), half 1 the odd-numbered ones (held out,
        to judge the calibrated model on). Every held-out item counts once: a few items drawn
        with replacement let a search pick what suits them."""
        if self.calibration_part is not None:  # the held-out split: calibrate on it, judge on the scored items
            part = (self.calibration_part if half == 0 else self)._items()
        else:
            pool = self._items()
            part = pool[half::2] if len(pool) > 1 else pool
        return [_joined(part[start : start + batch_size]) for start in range(0, len(part), batch_size)]

    def _pool(self) -> list[Any]:
        """The items calibration draws from: the held-out ones where the task has them, else all."""
        return (self.calibration_part or self)._items()

    def _items(self) -> list[Any]:
        """Every item of the data as a raw batch of one."""
        return [inputs for inputs, _ in self.batches(1)]

    def model_inputs(self, handle: ModelHandle, raw: Any) -> Any:
        """Raw items as the model's prepared inputs (tensors moved and cast; text tokenized)."""
        return handle.prepare(raw) if isinstance(raw, torch.Tensor) else handle.preprocess(raw)

    def outputs(self, handle: ModelHandle, batch_size: int, limit: int | None) -> torch.Tensor:
        """The model's outputs over the task's inputs, in order."""
        return torch.cat([self.predict(handle, inputs) for inputs, _ in self.batches(batch_size, limit)])

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        """All predictions and references over the data (tasks whose references are model
        outputs too, like retrieval, override this)."""
        references = [refs for _, refs in self.batches(batch_size, limit)]
        labels = (
            torch.cat(references) if isinstance(references[0], torch.Tensor) else [r for b in references for r in b]
        )
        return self.outputs(handle, batch_size, limit), labels


def _joined(items: list[Any]) -> Any:
    """Raw single-item batches as one batch: tensors concatenated, lists of texts joined."""
    return torch.cat(items) if isinstance(items[0], torch.Tensor) else [item for batch in items for item in batch]


def aligned_batches(inputs: Any, references: Any, batch_size: int, limit: int | None) -> Iterator[tuple[Any, Any]]:
    """(inputs, references) slices of two aligned sequences (tensors or lists), in order."""
    end = len(references) if limit is None else min(limit, len(references))
    for start in range(0, end, batch_size):
        stop = min(start + batch_size, end)
        yield inputs[start:stop], references[start:stop]


def as_tensor(output: ModelOutput | torch.Tensor) -> torch.Tensor:
    """A model's output (its main output) or a pipeline's tensor as a float CPU tensor."""
    main = output.main if isinstance(output, ModelOutput) else output
    return main.detach().float().cpu()


def evaluate_quality(task: Task, handle: ModelHandle, batch_size: int = 32, limit: int | None = None) -> QualityResult:
    task.check_model(handle)
    started = time.perf_counter()
    predictions, labels = task.collect(handle, batch_size, limit)
    seconds = time.perf_counter() - started
    options = task.metric_options(limit)
    values = {name: get_metric(name)(predictions, labels, **options.get(name, {})) for name in task.metrics}
    return QualityResult(
        task=task.name,
        items=len(predictions),
        primary=task.primary,
        values=values,
        better={name: get_metric(name).better for name in task.metrics},
        timing=task.timing(seconds, len(predictions), limit),
    )


def agreement(
    task: Task, base: ModelHandle, candidate: ModelHandle, batch_size: int = 32, limit: int | None = None
) -> dict[str, float]:
    """How closely ``candidate`` reproduces ``base`` on the task's inputs (no labels needed)."""
    task.check_model(base)
    task.check_model(candidate)
    return agreement_of(
        task.outputs(base, batch_size, limit), task.outputs(candidate, batch_size, limit), task.agreement_metrics
    )


def agreement_of(
    base_outputs: torch.Tensor, candidate_outputs: torch.Tensor, metrics: tuple[str, ...] = AGREEMENT_METRICS
) -> dict[str, float]:
    return {name: get_metric(name)(candidate_outputs, base_outputs) for name in metrics}


def build_task(spec: TaskSpec) -> Task:
    """The registered task ``spec.name`` on its default data, with ``spec.options``."""
    if spec.module:
        from importlib import import_module

        import_module(spec.module)  # a task defined outside honed registers itself on import
    cls = TASKS.get(spec.name)
    options = dict(spec.options)
    calibration = options.pop("calibration", None)  # any task: its first N items calibrate, never scored
    try:
        task = cls.default(**options)
    except TypeError as error:
        import inspect

        allowed = ", ".join([*inspect.signature(cls.default).parameters, "calibration"])
        raise SpecError(
            "task.options", spec.options, f"options of task {spec.name!r}: {allowed}", hint=str(error)
        ) from None
    return task if calibration is None else task.holding_out(calibration)


def check_task_module(module: str | None, task: str, trusted: bool, where: str) -> None:
    """A task module named by data is imported only if an installed registration already knows it."""
    if module is None or trusted:
        return
    if task in TASKS and TASKS.get(task).__module__ == module:
        return
    raise UntrustedCodeError(
        f"{where} asks to import the module {module!r} for task {task!r}, which is code; register the task "
        "through the 'honed.tasks' entry-point group, or pass trust_code=True (CLI: --trust-code)"
    )


TASKS: Registry[type[Task]] = Registry(
    "task",
    entry_point_group="honed.tasks",
    builtins=tuple(
        f"honed.tasks.{module}"
        for module in (
            "classification",
            "choice",
            "depth",
            "embedding",
            "fidelity",
            "language",
            "lm_eval_task",
            "segmentation",
            "speech",
            "translation",
        )
    ),
)
