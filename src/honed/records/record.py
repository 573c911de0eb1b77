"""Run records: immutable, versioned, and self-describing (environment, protocol, raw samples)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from honed.core.documents import DocumentKind
from honed.core.fingerprint import Fingerprint
from honed.core.protocol import InputSpec, ModelRef, Protocol, Step, TargetSpec, TaskSpec
from honed.core.validation import Frozen
from honed.meters.energy import EnergyReading
from honed.meters.peaks import Peaks
from honed.meters.stats import LatencySummary
from honed.records.load_result import LoadResult

SCHEMA = "honed.run"
SCHEMA_VERSION = 1


# Raw samples make records large (100,000 samples x processes x batch sizes); larger is refused.
MAX_EXPORT_BYTES = 512 << 20
RUN_DOCUMENT = DocumentKind(SCHEMA, SCHEMA_VERSION, "record", MAX_EXPORT_BYTES)


class ModelStats(BaseModel):
    """Facts of a loaded model (its handle's ``stats()``), recorded once per batch size."""

    model_config = ConfigDict(frozen=True)
    parameters: int
    bytes_in_memory: int
    bytes_on_disk: int | None = None
    dtype: str | None = None
    device: str
    weights_sha256: str | None = None


class ColdStart(Frozen):
    """Seconds from the worker process being spawned to each point."""

    interpreter_s: float = Field(description="spawn -> worker code running (interpreter + imports of honed)")
    loaded_s: float = Field(description="spawn -> model loaded on its device")
    optimized_s: float | None = Field(default=None, description="spawn -> recipe applied (None: no recipe)")
    first_result_s: float = Field(description="spawn -> first result synchronised: the cold start")


class Contention(Frozen):
    """How busy the CPUs this worker could use were during its timed window (docs/concepts/stability.md)."""

    window_s: float
    cores: int = Field(description="CPUs the worker may run on")
    own_cpu_s: float = Field(description="CPU time of the worker itself (all its threads)")
    other_cpu_s: float | None = Field(
        default=None,
        description="busy CPU time on those CPUs that was not the "
        "worker's: other processes, the kernel; None where /proc/stat is unreadable",
    )
    steal_s: float | None = Field(default=None, description="time the hypervisor gave those CPUs to other guests")
    load_1m_start: float | None = None
    load_1m_end: float | None = None
    freq_mhz_start: float | None = None
    freq_mhz_end: float | None = None

    @property
    def other_share(self) -> float | None:
        """Share of the CPUs' capacity that other work took during the window."""
        return None if self.other_cpu_s is None else self.other_cpu_s / (self.window_s * self.cores)


class Stability(Frozen):
    """Whether a run's numbers can be trusted as they are: ``stable``, ``contended`` (other work
    took CPU while it was timed), or ``unstable`` (its own spread is too wide to read a centre)."""

    verdict: Literal["stable", "contended", "unstable"]
    reasons: list[str] = Field(default_factory=list)
    other_share: float | None = Field(default=None, description="over every timed window of the run")
    steal_share: float | None = None
    worst_cv: float | None = Field(default=None, description="the largest coefficient of variation of a batch size")

    @property
    def trusted(self) -> bool:
        return self.verdict == "stable"


class StepCoverage(Frozen):
    """What one recipe step changed in the model it was applied to."""

    algorithm: str
    layers_changed: int
    layers_total: int = Field(description="modules that hold parameters, before the step")
    parameter_share: float = Field(description="share of the parameters in the layers it changed")
    flop_share: float | None = Field(default=None, description="share of one call's FLOPs in those layers")
    what: str = Field(description="the step's family, or 'moved to onnx' / 'compiled' for whole-model steps")
    warning: str | None = Field(default=None, description="set when the step changed almost nothing")


class Measurement(Frozen):
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
    contention: Contention | None = None


class Efficiency(Frozen):
    achieved_flops_per_s: float
    flops_utilisation: float = Field(description="achieved FLOP/s / measured peak FLOP/s")
    weight_bandwidth_utilisation: float = Field(description="weight bytes per call / latency / measured peak bandwidth")
    arithmetic_intensity: float = Field(description="FLOPs per weight byte")
    roofline_bound_flops_per_s: float
    roofline_efficiency: float = Field(description="achieved / min(peak FLOP/s, intensity x peak bandwidth)")


class EnergySummary(Frozen):
    status: Literal["measured", "unavailable"]
    source: str
    joules_per_item: float | None = None
    joules_per_item_above_idle: float | None = None
    idle_watts: float | None = None
    mean_watts: float | None = None
    reason: str | None = None


class GenerationSummary(Frozen):
    """Generate scope: a call is a prompt plus ``new_tokens`` greedy tokens for each sequence."""

    new_tokens: int
    time_to_first_token_ms: LatencySummary
    time_per_output_token_ms: float | None = Field(description="(mean call - mean first token) / (new_tokens - 1)")
    tokens_per_s: float = Field(description="batch x new_tokens / mean call time")


class BatchResult(Frozen):
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


class QualityResult(Frozen):
    """A model's quality on a task's data; with a recipe, also its agreement with the base model."""

    task: str
    status: Literal["ok", "crashed", "timeout", "error", "out_of_memory"] = "ok"
    error: str | None = None
    items: int = 0
    primary: str | None = None
    values: dict[str, float] = Field(default_factory=dict)
    better: dict[str, Literal["higher", "lower"]] = Field(default_factory=dict)
    agreement: dict[str, float] = Field(
        default_factory=dict, description="optimised vs base outputs on the same inputs"
    )
    agreement_on: str | None = Field(
        default=None, description="which output of the model and which items the agreement compared"
    )
    timing: dict[str, float] = Field(
        default_factory=dict,
        description="one pass over the data: seconds, items/s, "
        "and task-specific rates such as speech's real-time factor",
    )
    reproduced: bool | None = Field(
        default=None, description="whether the base model reproduced the quality its task's expect states"
    )
    expected: str | None = Field(default=None, description="each expected metric: measured, expected, tolerance")
    seconds: float | None = None
    coverage: list[StepCoverage] = Field(default_factory=list, description="what each recipe step changed")

    @property
    def primary_value(self) -> float | None:
        return self.values.get(self.primary) if self.primary else None


def recipe_key_of(steps: list[Step]) -> str:
    """The stored key of a run's recipe (the base model's: ``recipe_key_of([])``)."""
    return hashlib.sha256(json.dumps([s.model_dump(mode="json") for s in steps], sort_keys=True).encode()).hexdigest()


class RunRecord(Frozen):
    schema_version: int = SCHEMA_VERSION
    id: str
    created_at: datetime
    name: str | None = None
    status: Literal["ok", "partial", "failed"]
    model: ModelRef
    model_stats: ModelStats | None = None
    recipe: list[Step] = Field(default_factory=list)
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
    stability: Stability | None = Field(
        default=None, description="None: no measurement succeeded, or a record from before stability was judged"
    )
    notes: list[str] = Field(default_factory=list)
    load: LoadResult | None = Field(
        default=None,
        description="a load run (honed load): the traffic and what it saw; "
        "its measurement's samples are latencies from the scheduled arrival",
    )

    @property
    def coverage(self) -> list[StepCoverage]:
        """What each recipe step changed (found by the quality worker)."""
        return self.quality.coverage if self.quality is not None else []

    @property
    def recipe_key(self) -> str:
        """The SHA-256 of the canonical recipe (what ``Recipe.key`` gives): runs of the same recipe share it."""
        return recipe_key_of(self.recipe)

    def result(self, batch_size: int) -> BatchResult | None:
        return next((r for r in self.results if r.batch_size == batch_size), None)

    def to_json(self, indent: int | None = None) -> str:
        """The versioned export form: ``{"schema": "honed.run", "version": ..., "record": ...}``."""
        return RUN_DOCUMENT.dump(self.model_dump(mode="json"), indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunRecord:
        """Read an export; size, nesting, schema and every field are checked (it is data from elsewhere)."""
        from honed.core.validation import build

        data = RUN_DOCUMENT.load(text, "run export")
        return build(cls, data, "record")
