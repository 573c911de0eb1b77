"""A tune's evidence: every trial, the points measured, the Pareto front and the recommendation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from honed.core.documents import DocumentKind
from honed.core.protocol import InputSpec, ModelRef, Protocol, Step, TargetSpec, TaskSpec
from honed.records.record import QualityResult, Stability
from honed.tuning.settings import TuneSettings

SWEEP_DOCUMENT = DocumentKind("honed.sweep", 1, "sweep", max_bytes=512 << 20)

TrialStatus = Literal["ok", "rejected", "failed"]


class Point(BaseModel):
    """One recipe at one scenario (batch size, threads): the unit of the Pareto front."""

    model_config = ConfigDict(frozen=True)
    trial: str = Field(description="trial key")
    label: str
    steps: int | None = Field(
        default=None, description="algorithms in the recipe (None: a sweep stored before it was kept)"
    )
    batch_size: int
    threads: int | None
    objective: float
    objective_ci: tuple[float, float] | None = None
    quality: float | None
    passes: bool = Field(description="guardrail and constraints both hold")
    why_not: str | None = None


class Trial(BaseModel):
    model_config = ConfigDict(frozen=True)
    key: str
    label: str
    recipe: list[Step]
    threads: int | None = None
    status: TrialStatus
    reason: str | None = Field(default=None, description="why it was rejected or failed")
    screen: QualityResult | None = None
    quality: QualityResult | None = None
    quality_drop: float | None = Field(default=None, description="guardrail measure: relative or absolute drop")
    run_id: str | None = None
    reused: bool = Field(default=False, description="its run is a stored one measured before the tune (a baseline)")
    stability: Stability | None = Field(default=None, description="of the run the trial's numbers come from")
    attempts: int = Field(default=1, description="runs measured: more than one when earlier ones were contended")
    seconds: float = 0.0
    cached: bool = False

    @property
    def contended(self) -> bool:
        return self.stability is not None and self.stability.verdict == "contended"


class TuneResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    created_at: datetime
    name: str | None = None
    model: ModelRef
    task: TaskSpec
    inputs: InputSpec
    protocol: Protocol
    target: TargetSpec
    settings: TuneSettings
    skipped: dict[str, str] = Field(default_factory=dict, description="algorithm -> why it was not tried")
    baseline: Trial | None = None
    trials: list[Trial] = Field(default_factory=list)
    points: list[Point] = Field(default_factory=list)
    pareto: list[Point] = Field(default_factory=list)
    recommended: Point | None = None
    recommendation_reason: str | None = Field(default=None, description="why it beat a faster point, when one exists")
    satisfied: bool = False
    stop_reason: str = "running"
    metric: str | None = Field(default=None, description="the guardrail's quality metric")
    best_effort: str | None = Field(
        default=None,
        description="when no recipe passed: the closest one, what it missed by, and the knob that moved quality most",
    )

    @property
    def contended_trials(self) -> list[Trial]:
        """Trials whose evidence was measured while other work took the CPU, even after retries."""
        return [t for t in ([self.baseline] if self.baseline else []) + self.trials if t.contended]

    def to_json(self, indent: int | None = None) -> str:
        return SWEEP_DOCUMENT.dump(self.model_dump(mode="json"), indent=indent)
