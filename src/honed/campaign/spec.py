"""Campaign specs as TOML files: several models, each tuned on several targets, as one job.

name = "case-study"
[[models]]
name = "minilm"
kind = "sentence-transformers"
source = "models/minilm"            # relative paths are relative to this file
inputs = { seq_len = 32 }
task = { name = "text-embedding" }  # optional: agreement with the base model without it
tune = { max_trials = 8 }           # optional: overrides [tune] for this model
[[targets]]
name = "xeon-spr"
resource = "target:xeon-spr"        # the Ray resource that places work there (default target:NAME)
device = "cpu"
price_per_hour = 0.40
[tune]                              # shared by every model (see TuneSettings)
guardrail = { max_drop = 0.05 }
[scenario]                          # the measurement protocol (see Protocol)
batch_sizes = [1, 8]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from honed.core.protocol import InputSpec, ModelRef, TaskSpec
from honed.core.spec_files import absolute_source, absolute_task_inputs, read_toml
from honed.core.validation import Frozen, build

CAMPAIGN_VERSION = 1
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class CampaignModel(Frozen):
    name: str = Field(pattern=_NAME, description="the model's row in the matrix")
    kind: str = Field(description="the adapter that loads it, as [model] kind in a run's spec")
    source: str = Field(
        description="a local path (relative to the campaign file), a hub id, or package.module:function"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="the adapter's options, as [model] options")
    allow_pickle: bool = Field(default=False, description="load pickle files (they can run code)")
    trust_code: bool = Field(default=False, description="run code that the model's own files name")
    task: TaskSpec | None = Field(default=None, description="the quality task guarding this model's tunes")
    inputs: InputSpec = Field(default_factory=InputSpec, description="the synthetic items, as [inputs]")
    tune: dict[str, Any] = Field(default_factory=dict, description="TuneSettings fields overriding [tune]")
    scenario: dict[str, Any] = Field(default_factory=dict, description="Protocol fields overriding [scenario]")

    @property
    def ref(self) -> ModelRef:
        return ModelRef(
            kind=self.kind,
            source=self.source,
            options=self.options,
            allow_pickle=self.allow_pickle,
            trust_code=self.trust_code,
            name=self.name,
        )


class CampaignTarget(Frozen):
    name: str = Field(pattern=_NAME, description="the target's column in the matrix")
    resource: str | None = Field(
        default=None, description="the Ray resource of the nodes that are this target; default target:NAME"
    )
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="the device on the target's machines")
    price_per_hour: float | None = Field(default=None, ge=0, description="USD per hour of one such machine")
    exclude: tuple[str, ...] = Field(default=(), description="algorithms never tried on this target")

    @property
    def label(self) -> str:
        return self.resource or f"target:{self.name}"


class CampaignSpec(Frozen):
    version: int = Field(default=CAMPAIGN_VERSION, description="the campaign format's version")
    name: str = Field(pattern=_NAME, description="the campaign's name (its id digests the whole file and the code)")
    models: tuple[CampaignModel, ...] = Field(min_length=1, description="[[models]]: the matrix's rows")
    targets: tuple[CampaignTarget, ...] = Field(min_length=1, description="[[targets]]: the matrix's columns")
    tune: dict[str, Any] = Field(default_factory=dict, description="TuneSettings fields shared by every model")
    scenario: dict[str, Any] = Field(default_factory=dict, description="Protocol fields shared by every model")

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > CAMPAIGN_VERSION:
            raise ValueError(f"<= {CAMPAIGN_VERSION} (a newer honed wrote this campaign: upgrade honed)")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> CampaignSpec:
        for what, names in (("models", [m.name for m in self.models]), ("targets", [t.name for t in self.targets])):
            if twice := sorted({n for n in names if names.count(n) > 1}):
                raise ValueError(f"{what} named once each; {', '.join(twice)} appear twice")
        return self

    def model(self, name: str) -> CampaignModel:
        return next(m for m in self.models if m.name == name)

    def target(self, name: str) -> CampaignTarget:
        return next(t for t in self.targets if t.name == name)


def load_campaign(path: str | Path) -> CampaignSpec:
    """The campaign in ``path``, with model sources and item files made absolute (every node
    reads them from the same place: a shared file system, or a hub id)."""
    path = Path(path)
    data = read_toml(path, "campaign")
    if isinstance(data.get("models"), list):
        data["models"] = [_absolute(model, path.parent) for model in data["models"]]
    return build(CampaignSpec, data, where=path.name)


def _absolute(model: Any, root: Path) -> Any:
    model = absolute_source(model, root)
    if isinstance(model, dict) and "task" in model:
        model = {**model, "task": absolute_task_inputs(model["task"], root)}
    return model
