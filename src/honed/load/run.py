"""A load run from its settings to a stored RunRecord: schedule, drive, summarise, keep."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from honed.core import fingerprint as fingerprints
from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, Protocol, Step, TargetSpec
from honed.load import arrivals
from honed.load.driver import ENGINE, Limits, drive
from honed.load.endpoints import Endpoint, Query
from honed.load.summary import WINDOWS, Plan, latencies_ns_by_window, summarize_load
from honed.records.load_result import Scenario
from honed.records.record import BatchResult, Measurement, RunRecord
from honed.store.database import Store
from honed.store.keep import keep_run


class LoadSettings(BaseModel):
    """What traffic to send, and the bounds every run stops within."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: Scenario = "server"
    qps: float = Field(default=10.0, gt=0, le=1e6, description="mean arrival rate (server, bursty)")
    burstiness: float = Field(default=0.5, gt=0, description="bursty: gamma shape; 1 is Poisson, below 1 burstier")
    queries: int = Field(default=1000, ge=1, le=10_000_000, description="queries at most")
    duration_s: float = Field(default=60.0, gt=0, le=86_400, description="no query is sent after this")
    trace: str | None = Field(default=None, description="trace: a file of arrival timestamps in seconds")
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    connections: int = Field(default=256, ge=1, le=10_000)
    slo_p99_ms: float | None = Field(default=None, gt=0)
    min_duration_s: float = Field(default=0.0, ge=0)
    min_queries: int = Field(default=0, ge=0)
    seed: int = 0
    verify_tls: bool = True
    warmup_queries: int = Field(default=10, ge=0, le=10_000, description="sent one by one first, not counted")
    samples_per_query: int = Field(default=8, ge=1, le=1024, description="multi-stream: requests per query")

    def schedule(self) -> np.ndarray | None:
        """Arrival times in seconds; None for single and multi stream (each query waits for the last)."""
        if self.scenario == "server":
            return arrivals.poisson(self.qps, self.queries, self.seed)
        if self.scenario == "bursty":
            return arrivals.bursty(self.qps, self.burstiness, self.queries, self.seed)
        if self.scenario == "offline":
            return np.zeros(self.queries)  # everything at once: throughput
        if self.scenario == "trace":
            if self.trace is None:
                raise SpecError("load.trace", None, "a file of arrival timestamps for the trace scenario")
            return arrivals.trace(self.trace, self.queries)
        return None

    @property
    def offered_qps(self) -> float | None:
        return self.qps if self.scenario in ("server", "bursty") else None


def public_url(url: str) -> str:
    """The URL as it may be stored: no user:password, no query string (either can hold a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def run_load(
    endpoint: Endpoint,
    settings: LoadSettings,
    headers: dict[str, str] | None = None,
    model: ModelRef | None = None,
    recipe: list[Step] | None = None,
    name: str | None = None,
    store: Store | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunRecord:
    """Drive the endpoint and keep the run (in ``store`` when given); Ctrl-C keeps the partial run."""
    schedule = settings.schedule()
    limits = Limits(
        max_seconds=settings.duration_s,
        timeout_s=settings.timeout_s,
        connections=settings.connections,
        verify_tls=settings.verify_tls,
        queries=settings.queries,
        warmup_queries=settings.warmup_queries,
        samples_per_query=settings.samples_per_query if settings.scenario == "multi-stream" else 1,
    )
    queries: list[Query] = []
    interrupted = False
    try:
        drive(endpoint, schedule, limits, headers, queries, on_progress)
    except KeyboardInterrupt:
        interrupted = True
    plan = Plan(
        scenario=settings.scenario,
        endpoint=endpoint.kind,
        offered_qps=settings.offered_qps,
        burstiness=settings.burstiness if settings.scenario == "bursty" else None,
        seed=settings.seed,
        samples_per_query=limits.samples_per_query,
        scheduled=len(schedule) if schedule is not None else settings.queries,
        engine=ENGINE,
        min_duration_s=settings.min_duration_s,
        min_queries=settings.min_queries,
        slo_p99_ms=settings.slo_p99_ms,
        requested_output_tokens=endpoint.requested_tokens,
    )
    record = load_record(
        plan, queries, model or ModelRef(kind="http", source=public_url(endpoint.url)), recipe or [], name, interrupted
    )
    return keep_run(record, store, interrupted)


def run_in_process(
    ref: ModelRef,
    recipe: list[Step],
    inputs: InputSpec,
    settings: LoadSettings,
    max_batch: int = 8,
    threads: int | None = None,
    name: str | None = None,
    store: Store | None = None,
) -> RunRecord:
    """MLCommons LoadGen's scenario against the model in this process (no HTTP): LoadGen's
    schedule, minimums and verdict; the queries' own times for the record's samples."""
    from honed.load import loadgen
    from honed.serve.server import loaded

    loadgen.check_scenario(settings.scenario)
    queries, verdict = loadgen.run_loadgen(
        loaded(ref, recipe, inputs, threads), inputs, settings.scenario, settings, max_batch
    )
    plan = Plan(
        scenario=settings.scenario,
        endpoint="in-process",
        offered_qps=settings.offered_qps,
        burstiness=None,
        seed=settings.seed,
        scheduled=len(queries),
        engine=f"{loadgen.ENGINE} {verdict.version}".strip(),
        samples_per_query=settings.samples_per_query if settings.scenario == "multi-stream" else 1,
        min_duration_s=settings.min_duration_s,
        min_queries=settings.min_queries,
        slo_p99_ms=settings.slo_p99_ms,
    )
    record = load_record(plan, queries, ref, recipe, name, False)
    reasons = [
        reason
        for reason in (
            verdict.invalid_reason,
            "" if verdict.early_stopping_met is not False else f"early stopping: {verdict.early_stopping}",
        )
        if reason
    ]
    load = record.load
    assert load is not None, "load_record writes a load run"
    validity = load.validity.model_copy(update={"valid": verdict.valid, "reasons": reasons})
    record = record.model_copy(
        update={"load": load.model_copy(update={"loadgen": verdict, "validity": validity}), "inputs": inputs}
    )
    return keep_run(record, store, False)


def load_record(
    plan: Plan, queries: list[Query], model: ModelRef, recipe: list[Step], name: str | None, interrupted: bool
) -> RunRecord:
    protocol = Protocol(batch_sizes=(1,), repetitions=WINDOWS)
    result = summarize_load(plan, queries, protocol)
    windows = latencies_ns_by_window(queries)
    # One measurement per window of consecutive queries: what compare's bootstrap resamples.
    measurements = [
        Measurement(
            batch_size=1,
            repetition=index,
            status="ok",
            timer="perf_counter",
            samples_ns=window,
            timed_seconds=result.duration_s / len(windows),
        )
        for index, window in enumerate(windows)
    ]
    if not windows:
        measurements = [
            Measurement(batch_size=1, repetition=0, status="error", error=f"no query was answered: {result.errors}")
        ]
    batch = BatchResult(
        batch_size=1,
        repetitions_ok=len(windows),
        repetitions_failed=int(not windows),
        latency_ms=result.latency_ms,
        throughput_items_per_s=result.achieved_qps or None,
        p50_ms_by_repetition=[float(np.median(window)) / 1e6 for window in windows],
    )
    notes = []  # the run's validity is in record.load.validity, shown with it
    if interrupted:
        notes.append(f"interrupted by the user after {len(queries)} of {plan.scheduled} queries")
    status: Literal["ok", "partial", "failed"] = (
        "failed" if not windows else ("ok" if not result.errors and not interrupted else "partial")
    )
    return RunRecord(
        id=uuid.uuid4().hex,
        created_at=datetime.now(timezone.utc),
        name=name,
        status=status,
        model=model,
        recipe=recipe,
        task="load",
        inputs=InputSpec(),
        protocol=protocol,
        target=TargetSpec(),
        device="client",
        fingerprint=fingerprints.collect(),
        measurements=measurements,
        results=[batch],
        notes=notes,
        load=result,
    )
