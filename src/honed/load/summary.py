"""From a load run's queries to its LoadResult: latency from arrival with CIs, achieved rate,
goodput under the SLO, errors by kind, queue depth over time, validity, token streams."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from honed.core.protocol import Protocol
from honed.load.endpoints import Query
from honed.meters.stats import LatencySummary, summarize_latency
from honed.records.load_result import LoadResult, Scenario, StreamingSummary, Validity

DEPTH_POINTS = 100
# A run's queries are split into this many consecutive windows (by arrival) for its CIs: queueing
# makes neighbouring queries' latencies correlated, so resampling windows, then queries within
# them (the hierarchical bootstrap compare uses for worker processes), keeps the CI honest.
WINDOWS = 5


@dataclass(frozen=True)
class Plan:
    """What was asked: the scenario, its rate, and the run's minimums."""

    scenario: Scenario
    endpoint: str
    offered_qps: float | None
    burstiness: float | None
    seed: int
    scheduled: int
    samples_per_query: int = 1
    min_duration_s: float = 0.0
    min_queries: int = 0
    slo_p99_ms: float | None = None
    engine: str = ""  # what scheduled and timed the queries (the driver's ENGINE)
    requested_output_tokens: int | None = None  # OpenAI's max_tokens, for effective q/s


def summarize_load(plan: Plan, queries: list[Query], protocol: Protocol) -> LoadResult:
    ok = [q for q in queries if q.ok]
    sent = [q for q in queries if q.sent is not None]
    ends = [q.done for q in queries if q.done is not None]
    duration = max(ends) if ends else 0.0  # t=0 is the first scheduled arrival

    # An answered query was sent and is done: the filters below say so to the type checker.
    latencies = [(q.done - q.scheduled) * 1e3 for q in ok if q.done is not None]
    by_window = [np.asarray(window, dtype=np.float64) for window in latencies_ns_by_window(queries)]
    good = sum(value <= plan.slo_p99_ms for value in latencies) if plan.slo_p99_ms is not None else None
    return LoadResult(
        engine=plan.engine,
        scenario=plan.scenario,
        endpoint=plan.endpoint,
        offered_qps=plan.offered_qps,
        burstiness=plan.burstiness,
        samples_per_query=plan.samples_per_query,
        seed=plan.seed,
        queries_scheduled=plan.scheduled,
        queries_sent=len(sent),
        queries_ok=len(ok),
        duration_s=duration,
        achieved_qps=len(ok) / duration if duration > 0 else 0.0,
        latency_ms=summarize_latency(by_window, protocol.confidence, protocol.bootstrap_resamples, protocol.seed)
        if latencies
        else None,
        service_ms=_summary(
            [(q.done - q.sent) * 1e3 for q in ok if q.done is not None and q.sent is not None], protocol
        ),
        late_ms=_summary([(q.sent - q.scheduled) * 1e3 for q in sent if q.sent is not None], protocol),
        server_queue_ms=_summary([q.server_queue_ms for q in ok if q.server_queue_ms is not None], protocol),
        server_compute_ms=_summary([q.server_compute_ms for q in ok if q.server_compute_ms is not None], protocol),
        errors=dict(Counter(q.error for q in queries if q.error is not None)),
        slo_p99_ms=plan.slo_p99_ms,
        goodput_qps=good / duration if good is not None and duration > 0 else None,
        queue_depth=queue_depth(queries, duration),
        validity=_validity(plan, duration, len(ok)),
        streaming=_streaming(ok, duration, protocol, plan.requested_output_tokens),
    )


def latencies_ns_by_window(queries: list[Query]) -> list[list[int]]:
    """Latency from the scheduled arrival of every successful query, in ``WINDOWS`` consecutive
    windows by arrival (fewer when there are fewer queries): a run's raw samples."""
    ok = sorted((q for q in queries if q.ok), key=lambda q: q.scheduled)
    parts = np.array_split(np.arange(len(ok)), min(WINDOWS, len(ok))) if ok else []
    return [[round((ok[i].done - ok[i].scheduled) * 1e9) for i in part] for part in parts]


def queue_depth(queries: list[Query], duration: float, points: int = DEPTH_POINTS) -> list[tuple[float, int]]:
    """Queries arrived and not yet answered, at evenly spaced times (from the queries' own times)."""
    if duration <= 0 or not queries:
        return []
    arrived = np.sort([q.scheduled for q in queries])
    finished = np.sort([q.done if q.done is not None else np.inf for q in queries])
    times = np.linspace(0.0, duration, points)
    depth = np.searchsorted(arrived, times, side="right") - np.searchsorted(finished, times, side="right")
    return [(float(t), int(d)) for t, d in zip(times, depth)]


def _summary(values: Sequence[float], protocol: Protocol) -> LatencySummary | None:
    if not values:
        return None
    return summarize_latency(
        [np.asarray(values, dtype=np.float64) * 1e6], protocol.confidence, protocol.bootstrap_resamples, protocol.seed
    )


def _validity(plan: Plan, duration: float, ok: int) -> Validity:
    reasons = []
    if duration < plan.min_duration_s:
        reasons.append(f"ran {duration:.1f} s, less than the minimum {plan.min_duration_s:g} s")
    if ok < plan.min_queries:
        reasons.append(f"{ok} queries answered, fewer than the minimum {plan.min_queries}")
    return Validity(
        min_duration_s=plan.min_duration_s, min_queries=plan.min_queries, valid=not reasons, reasons=reasons
    )


def _streaming(ok: list[Query], duration: float, protocol: Protocol, requested: int | None) -> StreamingSummary | None:
    streamed = [stream for q in ok for stream in q.streams]  # multi-stream: each request's own stream
    if not streamed:
        return None
    per_token = [
        (q.token_times[-1] - q.token_times[0]) / (len(q.token_times) - 1) * 1e3
        for q in streamed
        if len(q.token_times) > 1
    ]
    gaps = [gap * 1e3 for q in streamed for gap in np.diff(q.token_times)]
    tokens = sum(q.output_tokens or len(q.token_times) for q in streamed)
    per_second = tokens / duration if duration > 0 else 0.0
    ttft = _summary([(q.token_times[0] - q.scheduled) * 1e3 for q in streamed], protocol)
    if ttft is None:  # not with a streamed query: for the type checker
        return None
    return StreamingSummary(
        ttft_ms=ttft,
        tpot_ms=_summary(per_token, protocol),
        itl_ms=_summary(gaps, protocol),
        output_tokens_per_s=per_second,
        output_tokens=tokens,
        requested_output_tokens=requested,
        effective_qps=per_second / requested if requested else None,
    )
