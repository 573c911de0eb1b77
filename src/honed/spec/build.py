"""Evaluation specs as TOML files: a run written down, checked in, and re-run.

name = "minilm-cpu"
[model]
kind = "sentence-transformers"
source = "models/minilm"          # relative paths are relative to this file
[inputs]
seq_len = 32
[protocol]
batch_sizes = [1, 8]
[target]
device = "cpu"
price_per_hour = 0.40
[[recipe]]                          # optional: optimisations applied before measuring
algorithm = "torchao-int8-dynamic"
[task]                              # optional: quality on a registered task's data
name = "text-embedding"
options = { k = 1 }
# or: name = "agreement", options = { inputs = "items.npy" }: agreement with the base model on
# your own items (.npy, or texts in .txt/.jsonl; relative to this file)
[tune]                              # optional: settings for `honed tune` (see TuneSettings)
objective = "p50_ms"
guardrail = { max_drop = 0.05 }
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import cast

from pydantic import Field

from honed.core.errors import SpecError
from honed.core.protocol import AGREEMENT_TASK, ModelRef, RunSpec
from honed.core.spec_files import absolute_source, absolute_task_inputs, read_toml
from honed.core.validation import build
from honed.optimization.export import artifact_source
from honed.optimization.recipe import Step
from honed.tuning.settings import TuneSettings

SPEC_VERSION = 1


class EvaluationSpec(RunSpec):
    """A run written down: the model, the run (name, inputs, protocol, target, recipe, task) and
    the settings ``honed tune`` searches with. ``evaluate(spec.model, spec)`` runs it."""

    version: int = Field(default=SPEC_VERSION, description="the spec format's version (a newer one is refused)")
    model: ModelRef = Field(description="[model]: what is measured")
    tune: TuneSettings | None = Field(default=None, description="[tune]: the settings `honed tune` searches with")


def load_spec(path: str | Path) -> EvaluationSpec:
    path = Path(path)
    data = read_toml(path, "spec")
    if data.get("version", SPEC_VERSION) > SPEC_VERSION:
        raise SpecError("version", data["version"], f"<= {SPEC_VERSION} (upgrade honed)")
    for name, absolute in (("task", absolute_task_inputs), ("model", absolute_source)):
        if name in data:
            data[name] = absolute(data[name], path.parent)
    return build(EvaluationSpec, data, where=path.name)


# The command-line options build_spec reads, by the commands' parameter names (-b is batch_size).
SPEC_OPTIONS = frozenset(
    {
        "model",
        "kind",
        "allow_pickle",
        "trust_code",
        "batch_size",
        "repetitions",
        "scope",
        "threads",
        "new_tokens",
        "concurrency",
        "audio_seconds",
        "device",
        "price_per_hour",
        "seq_len",
        "task",
        "task_limit",
        "shape",
        "inputs_from_task",
        "agreement_inputs",
        "task_data",
        "name",
        "recipe",
    }
)


def command_spec(
    spec_file: str | Path | None, options: Mapping[str, object], besides: tuple[str, ...] = ()
) -> EvaluationSpec:
    """A command's spec from its parameters (``locals()`` of the command): the options of
    SPEC_OPTIONS it has, less ``besides`` (a parameter of the same name that means something else
    there, as tune's ``threads``, the thread counts it tries)."""
    given = {k: v for k, v in options.items() if k in SPEC_OPTIONS and k not in besides}
    if "batch_size" in given:
        given["batch_sizes"] = given.pop("batch_size")
    return build_spec(spec_file, **given)


def build_spec(spec_file: str | Path | None = None, **overrides: object) -> EvaluationSpec:
    """A spec from a file, from command-line values, or a file with values overriding it."""
    base = load_spec(spec_file).model_dump(exclude_defaults=True) if spec_file else {}
    model = dict(base.get("model", {}))
    sections = {name: dict(base.get(name, {})) for name in ("inputs", "protocol", "target", "task")}
    given = _given(overrides)
    for key, section, field in (
        ("model", model, "source"),
        ("kind", model, "kind"),
        ("allow_pickle", model, "allow_pickle"),
        ("trust_code", model, "trust_code"),
        ("batch_sizes", sections["protocol"], "batch_sizes"),
        ("repetitions", sections["protocol"], "repetitions"),
        ("scope", sections["protocol"], "scope"),
        ("threads", sections["protocol"], "threads"),
        ("new_tokens", sections["protocol"], "new_tokens"),
        ("concurrency", sections["protocol"], "concurrency"),
        ("audio_seconds", sections["inputs"], "audio_seconds"),
        ("device", sections["target"], "device"),
        ("price_per_hour", sections["target"], "price_per_hour"),
        ("seq_len", sections["inputs"], "seq_len"),
        ("task", sections["task"], "name"),
        ("task_limit", sections["task"], "limit"),
    ):
        if key in given:
            section[field] = given[key]
    if "shape" in given:
        sections["inputs"]["shape"] = parse_shape(str(given["shape"]))
    if given.get("inputs_from_task"):
        sections["inputs"]["source"] = "task"
    if "agreement_inputs" in given:
        _agreement_inputs(sections["task"], Path(str(given["agreement_inputs"])))
    if "task_data" in given:
        options = dict(sections["task"].get("options", {}))
        sections["task"]["options"] = {**options, "data": str(Path(str(given["task_data"])).resolve())}
    if model.get("source") and not model.get("kind") and (found := artifact_source(str(model["source"]))):
        model["kind"], model["source"] = found  # a directory `honed optimize -o` wrote says what it holds
    if not model.get("source") or not model.get("kind"):
        missing = "--model" if not model.get("source") else "--kind"
        raise SpecError(missing, None, "a spec file or both --model and --kind")
    if not sections["task"]:
        del sections["task"]
    elif "name" not in sections["task"]:
        raise SpecError("--task", None, "a task name with --task-limit or --task-data (see `honed tasks`)")
    data = {**base, "model": model, **sections}
    if "name" in given:
        data["name"] = given["name"]
    if "recipe" in given:
        data["recipe"] = [Step.parse(text).model_dump() for text in cast("list[str]", given["recipe"])]
    return build(EvaluationSpec, data, where="spec")


def _agreement_inputs(task: dict[str, object], path: Path) -> None:
    """--agreement-inputs: the agreement task, on the user's items (an absolute path for workers)."""
    if task.get("name", AGREEMENT_TASK.name) != AGREEMENT_TASK.name:
        raise SpecError(
            "--agreement-inputs",
            str(path),
            f"only with task {AGREEMENT_TASK.name!r} or no task (a task "
            f"other than agreement brings its own data; --task was {task['name']!r})",
        )
    task["name"] = AGREEMENT_TASK.name
    task["options"] = {**cast("dict[str, object]", task.get("options", {})), "inputs": str(path.resolve())}


def _given(overrides: dict[str, object]) -> dict[str, object]:
    """The options a user gave: not None, not an unset flag, not an empty list (0 is a value)."""
    return {k: v for k, v in overrides.items() if v is not None and v is not False and v != [] and v != ()}


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise SpecError("--shape", text, "dimensions joined by 'x', e.g. 3x224x224") from None
    return shape


def tune_settings(spec: EvaluationSpec, **overrides: object) -> TuneSettings:
    """The spec's [tune] section with command-line values overriding it."""
    data = spec.tune.model_dump(exclude_defaults=True) if spec.tune else {}
    if (starts := overrides.pop("starts", None)) is not None:  # --no-starts is a value, not an unset flag
        data["starts"] = starts
    given = _given(overrides)
    guardrail = dict(data.get("guardrail", {}))
    if "max_drop" in given:
        guardrail["max_drop"] = given.pop("max_drop")
    for field in ("min_cosine", "max_kl"):
        if field in given:
            guardrail[field] = given.pop(field)
    if given.pop("absolute", False):
        guardrail["relative"] = False
    data.update(given)
    if guardrail:
        data["guardrail"] = guardrail
    return build(TuneSettings, data, where="tune")
