"""Run records: immutable, versioned, and self-describing (environment, protocol, raw samples)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from honed.fingerprint import Fingerprint
from honed.measure.energy import EnergyReading
from honed.measure.peaks import Peaks
from honed.measure.stats import LatencySummary
from honed.models.handle import ModelStats
from honed.protocol import InputSpec, ModelRef, Protocol, TargetSpec, TaskSpec

SCHEMA = "honed.run"
SCHEMA_VERSION = 1


# Raw samples make records large (100,000 samples x processes x batch sizes); larger is refused.
MAX_EXPORT_BYTES = 512 << 20


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColdStart(_Record):
    """Seconds from the worker process being spawned to each point."""

    interpreter_s: float = Field(description="spawn -> worker code running (interpreter + imports of honed)")
    loaded_s: float = Field(description="spawn -> model loaded on its device")
    optimized_s: float | None = Field(default=None, description="spawn -> recipe applied (None: no recipe)")
    first_result_s: float = Field(description="spawn -> first result synchronised: the cold start")


class Measurement(_Record):
    """What one worker process measured for one batch size; failed ones say why."""

    batch_size: int
    repetition: int
    status: Literal["ok", "crashed", "timeout", "error", "out_of_memory"]
    error: str | None = None
    exit_code: int | None = None
    timer: str | None = None
    samples_ns: list[int] = Field(default_factory=list)
    first_token_ns: list[int] = Field(default_factory=list, description="generate scope: per call, to the first token")
    warmup_iterations: int = 0
    timed_seconds: float | None = None
    cold_start: ColdStart | None = None
    memory: dict[str, int] = Field(default_factory=dict)
    energy: EnergyReading | None = None
    flops_per_batch: int | None = None
    model_stats: ModelStats | None = None
    runtime: dict[str, Any] = Field(default_factory=dict)


class Efficiency(_Record):
    achieved_flops_per_s: float
    flops_utilisation: float = Field(description="achieved FLOP/s / measured peak FLOP/s")
    weight_bandwidth_utilisation: float = Field(description="weight bytes per call / latency / measured peak bandwidth")
    arithmetic_intensity: float = Field(description="FLOPs per weight byte")
    roofline_bound_flops_per_s: float
    roofline_efficiency: float = Field(description="achieved / min(peak FLOP/s, intensity x peak bandwidth)")


class EnergySummary(_Record):
    status: Literal["measured", "unavailable"]
    source: str
    joules_per_item: float | None = None
    joules_per_item_above_idle: float | None = None
    idle_watts: float | None = None
    mean_watts: float | None = None
    reason: str | None = None


class GenerationSummary(_Record):
    """Generate scope: a call is a prompt plus ``new_tokens`` greedy tokens for each sequence."""

    new_tokens: int
    time_to_first_token_ms: LatencySummary
    time_per_output_token_ms: float | None = Field(description="(mean call - mean first token) / (new_tokens - 1)")
    tokens_per_s: float = Field(description="batch x new_tokens / mean call time")


class BatchResult(_Record):
    """Everything measured at one batch size, pooled over the successful repetitions."""

    batch_size: int
    repetitions_ok: int
    repetitions_failed: int
    latency_ms: LatencySummary | None = None
    p50_ms_by_repetition: list[float] = Field(default_factory=list)
    throughput_items_per_s: float | None = None
    cold_start_s: list[float] = Field(default_factory=list)
    peak_rss_bytes: int | None = None
    cuda_peak_allocated_bytes: int | None = None
    cuda_peak_reserved_bytes: int | None = None
    energy: EnergySummary | None = None
    cost_per_million_usd: float | None = None
    efficiency: Efficiency | None = None
    generation: GenerationSummary | None = None


class QualityResult(_Record):
    """A model's quality on a task's data; with a recipe, also its agreement with the base model."""

    task: str
    status: Literal["ok", "crashed", "timeout", "error", "out_of_memory"] = "ok"
    error: str | None = None
    items: int = 0
    primary: str | None = None
    values: dict[str, float] = Field(default_factory=dict)
    better: dict[str, Literal["higher", "lower"]] = Field(default_factory=dict)
    agreement: dict[str, float] = Field(default_factory=dict, description="optimised vs base outputs on the same inputs")
    timing: dict[str, float] = Field(default_factory=dict, description="one pass over the data: seconds, items/s, "
                                     "and task-specific rates such as speech's real-time factor")
    seconds: float | None = None

    @property
    def primary_value(self) -> float | None:
        return self.values.get(self.primary) if self.primary else None


class RunRecord(_Record):
    schema_version: int = SCHEMA_VERSION
    id: str
    created_at: datetime
    name: str | None = None
    status: Literal["ok", "partial", "failed"]
    model: ModelRef
    model_stats: ModelStats | None = None
    recipe: list[dict[str, Any]] = Field(default_factory=list)
    task: str = "performance"
    task_spec: TaskSpec | None = None
    quality: QualityResult | None = None
    inputs: InputSpec
    protocol: Protocol
    target: TargetSpec
    device: str
    peaks: Peaks | None = None
    peaks_note: str | None = None
    fingerprint: Fingerprint
    measurements: list[Measurement]
    results: list[BatchResult]
    notes: list[str] = Field(default_factory=list)

    @property
    def recipe_key(self) -> str:
        """The SHA-256 of the canonical recipe (what ``Recipe.key`` gives): runs of the same recipe share it."""
        return hashlib.sha256(json.dumps(self.recipe, sort_keys=True).encode()).hexdigest()

    def result(self, batch_size: int) -> BatchResult | None:
        return next((r for r in self.results if r.batch_size == batch_size), None)

    def to_json(self, indent: int | None = None) -> str:
        """The versioned export form: ``{"schema": ..., "version": ..., "record": ...}``."""
        return json.dumps({"schema": SCHEMA, "version": SCHEMA_VERSION, "record": self.model_dump(mode="json")}, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        """Read an export; size, nesting, schema and every field are checked (it is data from elsewhere)."""
        from honed.errors import SpecError
        from honed.trust import read_json
        from honed.validation import build

        data = read_json(text, "run export", MAX_EXPORT_BYTES)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise SpecError("schema", data.get("schema") if isinstance(data, dict) else type(data).__name__, repr(SCHEMA))
        if not isinstance(data.get("version"), int) or data["version"] > SCHEMA_VERSION:
            raise SpecError("version", data.get("version"), f"an integer <= {SCHEMA_VERSION} (upgrade honed to read newer records)")
        return build(cls, data.get("record"), "record")
