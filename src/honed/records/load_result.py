"""What a load run records (``RunRecord.load``): traffic offered and achieved, latency from the
scheduled arrival, errors by kind, goodput under an SLO, and whether the run is long enough."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from honed.meters.stats import LatencySummary

Scenario = Literal["server", "bursty", "trace", "single-stream", "multi-stream", "offline"]


class Validity(BaseModel):
    """LoadGen's minimums: a run shorter or smaller than asked is reported, never silently used."""

    model_config = ConfigDict(frozen=True)
    min_duration_s: float
    min_queries: int
    valid: bool
    reasons: list[str] = Field(default_factory=list)


class StreamingSummary(BaseModel):
    """Token streams (OpenAI-compatible endpoints with ``stream``)."""

    model_config = ConfigDict(frozen=True)
    ttft_ms: LatencySummary = Field(description="scheduled arrival -> first token")
    tpot_ms: LatencySummary | None = Field(default=None, description="per request: (last - first token) / (tokens - 1)")
    itl_ms: LatencySummary | None = Field(default=None, description="every gap between two tokens")
    output_tokens_per_s: float
    output_tokens: int
    requested_output_tokens: int | None = Field(default=None, description="the request's max_tokens")
    effective_qps: float | None = Field(
        default=None,
        description="output tokens/s / requested_output_tokens: "
        "queries per second as if every answer ran its full length, so runs whose "
        "answers stop early compare with runs whose answers do not",
    )


class PeakStep(BaseModel):
    model_config = ConfigDict(frozen=True)
    qps: float
    p99_ms: float | None
    achieved_qps: float
    passed: bool
    errors: int = 0


class PeakSearch(BaseModel):
    """``--find-peak``: every rate tried, and the highest whose p99 met the SLO in every repetition."""

    model_config = ConfigDict(frozen=True)
    slo_p99_ms: float
    peak_qps: float | None = Field(description="None: even the first rate missed the SLO")
    first_miss_qps: float | None = Field(description="the lowest rate that missed: the peak lies below it")
    steps: list[PeakStep]
    stopped: str


class LoadGenResult(BaseModel):
    """MLCommons LoadGen's own verdict on a run it scheduled (read from its detail log)."""

    model_config = ConfigDict(frozen=True)
    version: str
    valid: bool = Field(description="LoadGen's result_validity: its minimums, constraints and early stopping")
    invalid_reason: str = ""
    early_stopping_met: bool | None = None
    early_stopping: str = Field(default="", description="LoadGen's early-stopping statement, as it wrote it")
    completed_samples_per_s: float
    percentile_latency_ns: dict[str, int] = Field(
        default_factory=dict, description="LoadGen's percentiles by name ('50.00', '99.00', ...)"
    )


class LoadResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    engine: str = Field(description="what scheduled the queries and timed them")
    scenario: Scenario
    endpoint: str = Field(description="the request format: json, kserve-v2, openai-completions, openai-chat")
    offered_qps: float | None = Field(description="the schedule's mean rate; None for single-stream and offline")
    burstiness: float | None = None
    samples_per_query: int = Field(default=1, description="multi-stream: requests per query, sent together")
    seed: int
    queries_scheduled: int
    queries_sent: int
    queries_ok: int
    duration_s: float = Field(description="first scheduled arrival -> last completion")
    achieved_qps: float = Field(description="successful queries / duration")
    latency_ms: LatencySummary | None = Field(
        description="scheduled arrival -> response complete: queueing anywhere (client, network, server) is counted"
    )
    service_ms: LatencySummary | None = Field(description="request sent -> response complete")
    late_ms: LatencySummary | None = Field(
        default=None,
        description="scheduled arrival -> request sent: the "
        "client's own lag (large: the client, not the server, was the limit)",
    )
    server_queue_ms: LatencySummary | None = Field(
        default=None, description="as the server reported it (x-honed-queue-ms), where it does"
    )
    server_compute_ms: LatencySummary | None = Field(
        default=None, description="the model call of the query's batch, as the server reported it (x-honed-compute-ms)"
    )
    errors: dict[str, int] = Field(default_factory=dict, description="failed queries by kind")
    slo_p99_ms: float | None = None
    goodput_qps: float | None = Field(default=None, description="queries that met the SLO's latency, per second")
    queue_depth: list[tuple[float, int]] = Field(
        default_factory=list, description="(seconds from the start, queries in flight): sampled evenly over the run"
    )
    validity: Validity
    streaming: StreamingSummary | None = None
    peak: PeakSearch | None = Field(default=None, description="set on the confirming run of a --find-peak search")
    loadgen: LoadGenResult | None = Field(default=None, description="set when MLCommons LoadGen was the engine")
