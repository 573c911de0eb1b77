"""What is measured and how: the model reference, the inputs, the protocol and the target.

All of it is recorded with every run, so a run can be repeated exactly.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from honed.core.validation import Frozen


class ModelRef(Frozen):
    """How a worker process loads the model: an adapter kind and a source it understands.

    kinds: ``torch`` (a ``.safetensors`` file with ``options.factory``, or a pickled module
    with ``allow_pickle``), ``factory`` (``"package.module:function"`` returning an
    ``nn.Module``), ``transformers`` and ``sentence-transformers`` (a local path or a hub id),
    ``onnx`` (a ``.onnx`` file), ``openvino`` (an IR ``.xml`` beside its ``.bin``; ``options.precision``
    f32 or bf16), ``honed`` (a directory written by ``ModelHandle.save``).

    A spec's own ``factory`` is code the user wrote; code that the model's files name runs only
    with ``trust_code`` (SECURITY.md).
    """

    kind: str = Field(
        description="the adapter that loads it: torch, factory, transformers, sentence-transformers, onnx, "
        "openvino, gguf, ctranslate2, honed (a saved directory)"
    )
    source: str = Field(
        description="a local path (relative to the spec file), a hub id, or package.module:function for a factory"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="the adapter's options, e.g. auto_class (transformers), precision (openvino), "
        "kwargs (factory), context (gguf)",
    )
    allow_pickle: bool = Field(default=False, description="load pickle files (they can run code); off: safetensors")
    trust_code: bool = Field(
        default=False,
        description="run code that the model's own files name (a manifest's "
        "factory or task module, transformers' trust_remote_code); off: such files are refused",
    )
    name: str | None = Field(
        default=None, description="the model's name in tables and the store (default: the source's last part)"
    )

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        return self.source.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


class Step(Frozen):
    """One optimisation of a recipe: a registered algorithm and its parameters (checked by
    ``honed.optimization.recipe.resolve_recipe``, which fills in defaults)."""

    algorithm: str = Field(description="a registered algorithm (`honed algorithms` lists them)")
    params: dict[str, Any] = Field(
        default_factory=dict, description="its parameters; those left out take the algorithm's defaults"
    )

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"openvino"`` or ``"openvino:precision=bf16,quantization=int8"`` (the command line's
        form); values are read as JSON where they parse (numbers, booleans), else as text."""
        name, _, rest = text.partition(":")
        params: dict[str, Any] = {}
        for pair in filter(None, rest.split(",")):
            key, equals, value = pair.partition("=")
            if not equals or not key.strip():
                from honed.core.errors import SpecError

                raise SpecError("recipe step", text, "'name' or 'name:key=value,key=value'")
            try:
                params[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                params[key.strip()] = value.strip()
        return cls(algorithm=name.strip(), params=params)


class InputSpec(Frozen):
    """The shape of one synthetic input item (the batch dimension is added by the protocol)."""

    shape: tuple[int, ...] | None = Field(default=None, description="per-item tensor shape for plain torch/ONNX models")
    dtype: Literal["float32", "float16", "bfloat16", "int64", "int32"] = Field(
        default="float32", description="element type of the synthetic tensors for plain torch/ONNX models"
    )
    seq_len: int = Field(default=32, ge=1, description="tokens per item for language models")
    audio_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="seconds of synthetic 16 kHz audio per item in the pipeline scope of speech models",
    )
    source: Literal["synthetic", "task"] = Field(
        default="synthetic",
        description="synthetic: the model's own generator (shape, seq_len); task: items drawn "
        "from the run's task data (real images, sentences, audio), seeded",
    )

    @field_validator("shape")
    @classmethod
    def _positive(cls, shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if shape is not None and any(d < 1 for d in shape):
            raise ValueError("every dimension must be >= 1")
        return shape


class Protocol(Frozen):
    """How performance is measured. Every field is recorded with the run."""

    scope: Literal["model", "pipeline", "generate"] = Field(
        default="model",
        description="model: the forward pass on prepared tensors; pipeline: raw input -> "
        "pre-processing -> model -> post-processing; generate: greedy decoding of new_tokens tokens "
        "after a seq_len-token prompt (causal language models), with time to first token",
    )
    new_tokens: int = Field(
        default=32,
        ge=1,
        description="tokens generated per call in the generate scope; at "
        "most this many per item in the pipeline scope of speech models (a transcript)",
    )
    warmup_iterations: int = Field(default=5, ge=0, description="untimed calls before timing, at least")
    warmup_min_seconds: float = Field(default=0.2, ge=0, description="and at least this long warming up")
    min_samples: int = Field(default=30, ge=2, description="timed calls per worker, at least")
    min_seconds: float = Field(default=1.0, ge=0, description="and at least this long timing")
    max_samples: int = Field(default=100_000, ge=2, description="stop timing after this many calls")
    max_seconds: float = Field(default=60.0, gt=0, description="or after this long")
    batch_sizes: tuple[int, ...] = Field(default=(1,), description="items per call; each measured in its own workers")
    repetitions: int = Field(default=3, ge=1, description="separate worker processes per batch size")
    timeout_seconds: float = Field(
        default=600.0, gt=0, description="per worker process; a worker past it is killed with every process it started"
    )
    memory_limit_mib: int | None = Field(
        default=None,
        ge=16,
        description="address space a worker may add after "
        "start-up (RLIMIT_AS: heap, thread stacks, mapped files); past it the "
        "measurement is recorded as out of memory; None = no limit",
    )
    threads: int | None = Field(default=None, ge=1, description="intra-op threads; None = library default")
    concurrency: int = Field(
        default=1,
        ge=1,
        le=256,
        description="requests in flight at once in each worker: "
        "client threads calling the model back to back, as a server's clients would; latency "
        "is then per request under that load, throughput is items finished per wall second",
    )
    seed: int = Field(default=0, description="seeds the synthetic inputs, the task items drawn and the bootstrap")
    measure_energy: bool = Field(default=True, description="read the energy counters (RAPL, NVML) where they exist")
    energy_idle_seconds: float = Field(default=0.5, ge=0, description="idle baseline window")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="level of every confidence interval")
    bootstrap_resamples: int = Field(default=2000, ge=100, description="resamples behind each bootstrap interval")

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if not sizes:
            raise ValueError("give at least one batch size")
        if any(b < 1 for b in sizes):
            raise ValueError("batch sizes must be >= 1")
        if len(set(sizes)) != len(sizes):
            raise ValueError("batch sizes must not repeat")
        return sizes

    @model_validator(mode="after")
    def _bounds(self) -> Protocol:
        if self.max_samples < self.min_samples:
            raise ValueError(f"max_samples ({self.max_samples}) is below min_samples ({self.min_samples})")
        if self.max_seconds < self.min_seconds:
            raise ValueError(f"max_seconds ({self.max_seconds}) is below min_seconds ({self.min_seconds})")
        if self.concurrency > 1 and self.scope == "generate":
            raise ValueError("concurrency > 1 needs scope 'model' or 'pipeline' (first-token times are per call)")
        return self


class TargetSpec(Frozen):
    """Where it runs. The peaks are measured, not declared (see honed.meters.peaks)."""

    device: Literal["cpu", "cuda", "auto"] = Field(default="auto", description="auto: cuda where a GPU is, else cpu")
    price_per_hour: float | None = Field(default=None, ge=0, description="USD per hour of this machine")
    measure_peaks: bool = Field(
        default=True, description="measure the device's compute and memory peaks, for roofline efficiency"
    )
    name: str | None = Field(
        default=None,
        max_length=64,
        description="what the user calls this target (a campaign's "
        "target, e.g. xeon-spr): its runs are tracked under it rather than the measured hardware",
    )

    def identity(self) -> dict[str, object]:
        """What makes two targets the same for cached trials (an unnamed one as before names existed)."""
        return self.model_dump(mode="json", exclude=None if self.name else {"name"})


class TaskSpec(Frozen):
    """The task whose quality is measured beside performance (see ``honed.tasks``).

    ``name`` is a registered task; ``options`` go to its ``default(**options)`` constructor,
    which builds the task on its shipped or generated data.
    """

    name: str = Field(description="a registered task (`honed tasks` lists them)")
    module: str | None = Field(
        default=None,
        description="module that registers the task, imported first in workers "
        "(filled in for tasks defined outside honed)",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="the task's options, e.g. data (your own data), calibration (items held out for calibration)",
    )
    limit: int | None = Field(default=None, ge=1, description="only the first N items (a quick screen)")
    batch_size: int = Field(default=16, ge=1, description="items per forward pass while scoring quality")
    expect: dict[str, float] | None = Field(
        default=None,
        description="the base model's expected quality on this task: metric values and a tolerance "
        "in the metrics' units, e.g. { wer = 0.12, tolerance = 0.02 }; the run says whether the base "
        "model reproduced it",
    )

    @model_validator(mode="before")
    @classmethod
    def _lm_eval_shorthand(cls, data: Any) -> Any:
        """``lm-eval:hellaswag`` (the CLI's ``--task``) is name "lm-eval" with options.task "hellaswag"."""
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name.startswith("lm-eval:"):
            return data
        options, task = dict(data.get("options") or {}), name.split(":", 1)[1]
        if options.get("task", task) != task:
            raise ValueError(f"name {name!r} and options.task {options['task']!r} name two lm-eval tasks: give one")
        return {**data, "name": "lm-eval", "options": {**options, "task": task}}

    @field_validator("expect")
    @classmethod
    def _expectation(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        if value.get("tolerance", -1) < 0 or len(value) < 2:
            raise ValueError(
                "metric values and a tolerance >= 0 in the metrics' units, e.g. { wer = 0.12, tolerance = 0.02 }"
            )
        return value


# The guardrail of a run with a recipe and no task of its own: agreement with the base model.
AGREEMENT_TASK = TaskSpec(name="agreement")


class RunSpec(Frozen):
    """One run, everything but the model: what ``evaluate`` and ``tune`` take beside it. A spec
    file's ``EvaluationSpec`` is one of these with its model and [tune] section added."""

    name: str | None = Field(default=None, description="a label for the run in tables and the store")
    inputs: InputSpec = Field(default_factory=InputSpec, description="[inputs]: the synthetic items")
    protocol: Protocol = Field(default_factory=Protocol, description="[protocol]: how performance is measured")
    target: TargetSpec = Field(default_factory=TargetSpec, description="[target]: where it runs")
    recipe: tuple[Step, ...] = Field(default=(), description="[[recipe]]: optimisations applied first, in order")
    task: TaskSpec | None = Field(default=None, description="[task]: quality scored beside performance")

    @field_validator("recipe", mode="before")
    @classmethod
    def _named_steps(cls, value: Any) -> Any:
        """A step may be written as on the command line: ``"bf16"``, ``"openvino:precision=bf16"``;
        a ``Recipe`` gives its steps."""
        value = getattr(value, "steps", value)
        if isinstance(value, (list, tuple)):
            return tuple(Step.parse(step) if isinstance(step, str) else step for step in value)
        return value


def quality_task(task: TaskSpec | None, optimised: bool) -> TaskSpec | None:
    """The task a run's quality is scored on: its own, else, for an optimised model (a recipe, or
    a tune's candidates), agreement with the base model; none for a plain model without a task."""
    return task if task is not None else (AGREEMENT_TASK if optimised else None)
