"""A campaign expanded into its cells: one tune per (model, target), each with its settings,
protocol and the algorithms the target cannot run (with why), keyed by the spec and the software."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from honed.campaign.spec import CampaignModel, CampaignSpec, CampaignTarget
from honed.core.fingerprint import package_version
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec, TaskSpec
from honed.core.validation import build
from honed.tuning.candidates import single_candidates
from honed.tuning.identity import code_identity, digest
from honed.tuning.settings import TuneSettings

# The packages whose versions change what a campaign measures: a new one is a new campaign.
_SOFTWARE = ("honed", "torch", "torchao", "onnxruntime", "openvino", "transformers")


class CampaignCell(BaseModel):
    """One (model, target) tune job, complete enough to run on any node."""

    model_config = ConfigDict(frozen=True)
    campaign_id: str
    model: str
    target: str
    resource: str
    ref: ModelRef
    task: TaskSpec | None
    inputs: InputSpec
    protocol: Protocol
    settings: TuneSettings
    target_spec: TargetSpec
    skipped: dict[str, str]
    fresh: bool = False  # measure every trial again rather than reuse stored ones

    @property
    def key(self) -> tuple[str, str]:
        return self.model, self.target


def software() -> dict[str, str | None]:
    return {name: package_version(name) for name in _SOFTWARE}


def campaign_id(spec: CampaignSpec) -> str:
    """Same spec, software and algorithms' source, same campaign: running it again resumes it.
    After a fix to an algorithm or a runtime's handle every cell is tuned again, and each tune
    re-measures only the trials whose stored key the fix changed."""
    from honed.optimization import ALGORITHMS

    return digest("campaign", spec.model_dump(mode="json"), software(), code_identity(sorted(ALGORITHMS.names())))[:16]


def settings_for(spec: CampaignSpec, model: CampaignModel, target: CampaignTarget) -> TuneSettings:
    data: dict[str, Any] = {**spec.tune, **model.tune}
    if isinstance(spec.tune.get("guardrail"), dict) and isinstance(model.tune.get("guardrail"), dict):
        data["guardrail"] = {**spec.tune["guardrail"], **model.tune["guardrail"]}
    if target.exclude:
        data["exclude"] = tuple(dict.fromkeys((*data.get("exclude", ()), *target.exclude)))
    return build(TuneSettings, data, where=f"models.{model.name}.tune")


def protocol_for(spec: CampaignSpec, model: CampaignModel) -> Protocol:
    return build(Protocol, {**spec.scenario, **model.scenario}, where=f"models.{model.name}.scenario")


def expand(spec: CampaignSpec) -> list[CampaignCell]:
    """Every (model, target) cell, models in spec order then targets. Bad settings fail here,
    naming the model, before any work starts."""
    identity = campaign_id(spec)
    cells = []
    for model in spec.models:
        protocol = protocol_for(spec, model)
        for target in spec.targets:
            settings = settings_for(spec, model, target)
            _, skipped = single_candidates(target.device, model.kind, settings.candidates, settings.exclude)
            cells.append(
                CampaignCell(
                    campaign_id=identity,
                    model=model.name,
                    target=target.name,
                    resource=target.label,
                    ref=model.ref,
                    task=model.task,
                    inputs=model.inputs,
                    protocol=protocol,
                    settings=settings,
                    target_spec=TargetSpec(
                        device=target.device, price_per_hour=target.price_per_hour, name=target.name
                    ),
                    skipped=skipped,
                )
            )
    return cells
