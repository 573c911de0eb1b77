"""Algorithms: one optimisation each, with typed parameters, targets, dependencies and conflicts.

An algorithm's ``apply(handle, params, context)`` receives a private copy of the model handle
(``optimize`` makes it) and returns the optimised handle; it never sees the user's model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from honed.core.installed import installed
from honed.core.protocol import InputSpec, TaskSpec
from honed.core.registry import Registry
from honed.models.capabilities import KEPT_BY_EXPORT, Capability
from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.space import Knob

# Families apply in this order whatever order a recipe lists them in.
FAMILIES = ("prune", "factorize", "distill", "precision", "quantize", "layout", "compile", "runtime")
# At most one algorithm of these families in a recipe: a model is quantized or compiled once.
ONE_PER_FAMILY = frozenset({"precision", "quantize", "compile", "runtime"})


class Params(BaseModel):
    """Base of every algorithm's parameters: immutable, and unknown fields are errors. A field that
    means something in some modes only (``only_with``: field -> the mode's field and the values it
    applies under, declared after that field) is refused when given, off its default, in another
    mode: a parameter is never silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    only_with: ClassVar[dict[str, tuple[str, tuple[Any, ...]]]] = {}

    @field_validator("*")
    @classmethod
    def _in_its_mode(cls, value: Any, info: ValidationInfo) -> Any:
        rule = cls.only_with.get(info.field_name or "")
        if rule is None or value == cls.model_fields[info.field_name or ""].default:
            return value  # a default (a canonical recipe spells every field out) says nothing
        mode, applies = rule
        current = info.data.get(mode, cls.model_fields[mode].default)
        if current not in applies:
            raise ValueError(
                f"a parameter of {mode} {' or '.join(map(str, applies))} only ({mode} is {current} here): "
                f"leave it out, or set {mode}"
            )
        return value


@dataclass(frozen=True)
class Context:
    """What an algorithm may need beyond the model: where it will run, what it is fed, and
    the run's task, whose data distillation trains on and static quantization calibrates on.
    ``kept``: where this step keeps what it builds for the run's other workers (kept_files.py)."""

    target: str
    inputs: InputSpec
    task: TaskSpec | None = None
    kept: Path | None = None

    def batch(self, handle: ModelHandle, batch_size: int, seed: int) -> Any:
        """One batch of model inputs, reproducible from ``seed``: seeded items of the run's task
        where its items are model inputs, else the model's own synthetic inputs (so replays agree)."""
        task = self._task
        if task is None:
            return handle.example_inputs(batch_size, self.inputs, seed=seed)
        return task.model_inputs(handle, task.sample(batch_size, seed))

    def half_batches(self, handle: ModelHandle, batch_size: int, half: int, batches: int) -> list[Any]:
        """Model inputs from one half of the run's task (``Task.halves``: 0 to calibrate on, 1
        held out from it); without task data, ``batches`` of the model's own synthetic inputs,
        other seeds for each half."""
        task = self._task
        if task is None:
            first = half * batches
            return [handle.example_inputs(batch_size, self.inputs, seed=s) for s in range(first, first + batches)]
        return [task.model_inputs(handle, raw) for raw in task.halves(batch_size, half)]

    @property
    def real_items(self) -> bool:
        """Whether ``batch`` draws the task's items (else the model's synthetic inputs)."""
        return self._task is not None

    @cached_property
    def _task(self) -> Any:
        if self.task is None:
            return None
        from honed.tasks import build_task

        task = build_task(self.task)
        task.bind(self.inputs)  # a user's images are resized to the run's input shape where the model has no processor
        return task if task.item_inputs else None  # multiple choice, language modelling: synthetic inputs


@dataclass(frozen=True)
class Variant:
    """Parameters a default tune tries besides the algorithm's defaults, on the models they suit
    (judged on the model's capabilities, as ``Algorithm.needs`` is), and the evidence for them.
    A knob search (``tune --search``) starts from them: a hand-found point, never the only one."""

    params: dict[str, Any]
    needs: frozenset[Capability] = frozenset()
    excludes: frozenset[Capability] = frozenset()
    suited: str = "every model"  # needs and excludes in words, for `honed algorithms`
    why: str = ""

    def suits(self, capabilities: frozenset[Capability] | None) -> bool:
        """Only a model whose capabilities its files tell: a guess would spend a trial on a misfit."""
        if capabilities is None:
            return not self.needs and not self.excludes
        return self.needs <= capabilities and not self.excludes & capabilities


P = TypeVar("P", bound=Params)
# What an algorithm does: a torch model (optimize()'s private copy), its checked params, the run's
# context -> the optimised model (the same handle changed in place, or a new one for another runtime).
Transform = Callable[[TorchBackedHandle, P, Context], ModelHandle]


@dataclass(frozen=True)
class Algorithm:
    name: str
    family: str
    summary: str
    params: type[Params]
    apply: Transform[Any]  # the recipe step's params, checked as ``params``
    targets: frozenset[str] = frozenset({"cpu", "cuda"})
    requires: tuple[str, ...] = ()
    extra: str = "optimize"  # the honed extra that installs ``requires``
    conflicts: frozenset[str] = field(default_factory=frozenset)
    # The smallest output cosine similarity to the base model that is expected on a trained
    # model; tests check it, and users read it as "how much quality can this cost".
    typical_min_cosine: float = 0.99
    # A runtime export: which of the model's capabilities its handle keeps (checked before any
    # worker starts, e.g. whether a speech task can still run after it).
    keeps: frozenset[Capability] = KEPT_BY_EXPORT
    # What the model must be able to do for this step to apply, and what it must not be: checked
    # before any worker where the model's files tell (a tune skips the step with the reason).
    needs: frozenset[Capability] = frozenset()
    excludes: frozenset[Capability] = frozenset()
    # How a model this step changed is written as files that load without honed (honed optimize -o):
    # "weights" (the model's own format: save_pretrained, safetensors), "runtime" (the runtime's
    # files: ONNX, OpenVINO IR, GGUF), or None, with the reason and what to do in ``export_note``.
    export: Literal["weights", "runtime"] | None = None
    export_note: str = "no export is declared for this algorithm"
    # What a default tune (no candidates named) tries besides the defaults, where they suit the model.
    variants: tuple[Variant, ...] = ()
    # The knobs a search walks (optimization/space.py), in order: a knob's condition names earlier ones.
    space: tuple[Knob, ...] = ()
    # Whether a step with these parameters learns from the task's items (calibrates or trains on
    # them): a tune then holds a share of the items out of its scoring (None: never).
    learns: Callable[[Any], bool] | None = None
    # Why this algorithm's runtime cannot run on a target it declares, here (onnxruntime without
    # its CUDA provider), or None: asked before any worker, so a step never runs elsewhere silently.
    refuses: Callable[[str], str | None] | None = None

    def unavailable_reason(self, target: str) -> str | None:
        """Why this algorithm cannot run on ``target`` here, or None when it can."""
        kind = target.split(":")[0]
        if kind not in self.targets:
            return f"{self.name} runs on {', '.join(sorted(self.targets))} only, not {target}"
        missing = [m for m in self.requires if not installed(m)]
        if missing:
            return f"{self.name} needs {', '.join(missing)}: pip install 'honed[{self.extra}]'"
        return self.refuses(target) if self.refuses is not None else None


ALGORITHMS: Registry[Algorithm] = Registry(
    "algorithm",
    entry_point_group="honed.algorithms",
    builtins=tuple(
        f"honed.optimization.algorithms.{module}"
        for module in (
            "prune",
            "factorize",
            "distill",
            "precision",
            "quantize",
            "layout",
            "compile",
            "runtime",
            "openvino",
            "llama_cpp",
            "ctranslate2_whisper",
        )
    ),
)


def list_algorithms() -> list[Algorithm]:
    return ALGORITHMS.values()


def register_algorithm(
    name: str,
    family: str,
    summary: str,
    params: type[P] = Params,  # type: ignore[assignment]  # P is Params itself when none is given
    **options: Any,
) -> Callable[[Transform[P]], Transform[P]]:
    """Decorator: ``@register_algorithm("svd-lowrank", "factorize", "...", SvdParams)`` on apply."""
    if family not in FAMILIES:
        raise ValueError(f"family {family!r} is not one of {FAMILIES}")

    def decorator(apply: Transform[P]) -> Transform[P]:
        options.setdefault("conflicts", frozenset())
        options["conflicts"] = frozenset(options["conflicts"])
        ALGORITHMS.register(name)(
            Algorithm(name=name, family=family, summary=summary, params=params, apply=apply, **options)
        )
        return apply

    return decorator
