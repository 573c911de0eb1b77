"""honed's open-loop driver: every query is sent at its scheduled arrival whether or not earlier
ones have finished (asyncio + aiohttp), so a server that falls behind builds a queue and the
latency, counted from the scheduled arrival, shows it. Bounded by the schedule and a duration.
aiohttp rather than httpx: on 2 cores httpx's async client spent 2-5 ms per request, aiohttp
about 0.3 ms, and the driver must not be what limits the rate."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import numpy as np

from honed.load.endpoints import Endpoint, Query, send

ENGINE = "honed-open-loop"
TIMER_SLACK_S = 0.0015


@dataclass(frozen=True)
class Limits:
    max_seconds: float = 60.0  # no query is scheduled after this, and the run ends this long after it
    queries: int = 1000  # single and multi stream: how many (an open-loop run has its schedule)
    warmup_queries: int = 10  # sent one by one before the run and not counted: first calls, connections
    timeout_s: float = 30.0  # one query's limit
    connections: int = 256  # open connections at most; queries beyond them wait (and that wait counts)
    verify_tls: bool = True
    samples_per_query: int = 1  # multi stream: requests sent together as one query (MLPerf's MultiStream)


def drive(
    endpoint: Endpoint,
    schedule: np.ndarray | None,
    limits: Limits,
    headers: dict[str, str] | None = None,
    queries: list[Query] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Query]:
    """Run the schedule against the endpoint; returns every scheduled query with its times.
    ``schedule`` None: single (or multi) stream, each query sent when the previous one is
    answered, for ``limits.queries`` queries or ``max_seconds``. ``queries`` (a list to fill)
    keeps what finished if the caller is interrupted (Ctrl-C)."""
    found: list[Query] = [] if queries is None else queries
    # Everything alive now (the interpreter, torch, pydantic: ~10^6 objects) is left out of garbage
    # collection while the queries go: a full collection over it stalled the driver for 50-70 ms,
    # which made its own p99 lag 70 ms at 2,000 q/s (1 ms with the heap frozen).
    gc.collect()
    gc.freeze()
    try:
        _run(_drive(endpoint, schedule, limits, headers or {}, found, on_progress))
    finally:
        gc.unfreeze()
    return found


def _run(coroutine) -> None:
    """uvloop's event loop where it is installed (Linux, macOS): less time per request."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


async def _drive(
    endpoint: Endpoint,
    schedule: np.ndarray | None,
    limits: Limits,
    headers: dict[str, str],
    queries: list[Query],
    on_progress: Callable[[int, int], None] | None,
) -> None:
    connector = aiohttp.TCPConnector(limit=limits.connections, ssl=limits.verify_tls)
    timeout = aiohttp.ClientTimeout(total=limits.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        bodies = endpoint.bodies()
        for index in range(limits.warmup_queries):
            await send(session, endpoint, Query(scheduled=0.0), time.perf_counter(), bodies[index % len(bodies)])
        origin = time.perf_counter() + 0.01  # t=0 a moment ahead, so the first query is not already late
        if schedule is None:
            await _streams(session, endpoint, bodies, limits, queries, origin)
        else:
            await _open_loop(session, endpoint, bodies, schedule, limits, queries, origin, on_progress)


async def _open_loop(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    bodies: list[bytes],
    schedule: np.ndarray,
    limits: Limits,
    queries: list[Query],
    origin: float,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    pending: set[asyncio.Task] = set()
    planned = [float(t) for t in schedule if t <= limits.max_seconds]
    for index, at in enumerate(planned):
        await _until(origin + at)
        query = Query(scheduled=at)
        queries.append(query)
        task = asyncio.create_task(send(session, endpoint, query, origin, bodies[index % len(bodies)]))
        pending.add(task)
        task.add_done_callback(pending.discard)
        if on_progress and len(queries) % 100 == 0:
            on_progress(len(queries), len(planned))
    if pending:
        # Every query already has its own timeout; this bounds the run even if one does not honour it.
        _, late = await asyncio.wait(pending, timeout=limits.timeout_s + 1.0)
        for task in late:
            task.cancel()
    for query in queries:
        if query.done is None and query.error is None:
            query.error = "cut"  # still running when the run ended


async def _streams(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    bodies: list[bytes],
    limits: Limits,
    queries: list[Query],
    origin: float,
) -> None:
    """MLPerf's SingleStream (one request per query) and MultiStream (``samples_per_query``
    requests sent together, the query done when the last is answered): the next query goes as
    soon as the last is done."""
    await asyncio.sleep(max(0.0, origin - time.perf_counter()))
    while len(queries) < limits.queries and time.perf_counter() - origin < limits.max_seconds:
        first = len(queries) * limits.samples_per_query  # this query's first body, in turn
        query = Query(scheduled=time.perf_counter() - origin)
        queries.append(query)
        parts = [Query(scheduled=query.scheduled) for _ in range(limits.samples_per_query)]
        await asyncio.gather(
            *(send(session, endpoint, part, origin, bodies[(first + i) % len(bodies)]) for i, part in enumerate(parts))
        )
        _merge(query, parts)


async def _until(deadline: float) -> None:
    """Wait for a perf_counter time. The event loop's timers wake up to a millisecond late (epoll
    counts whole milliseconds), so the last stretch is spent yielding to the loop (which keeps
    serving responses) rather than sleeping: arrivals go out within a few microseconds."""
    while (left := deadline - time.perf_counter()) > 0:
        await asyncio.sleep(left - TIMER_SLACK_S if left > TIMER_SLACK_S else 0)


def _merge(query: Query, parts: list[Query]) -> None:
    """A multi-stream query from its requests: sent with the first, done with the last, failed
    with the first that failed; its requests' token streams kept apart (a gap between two streams'
    tokens is no inter-token latency)."""
    query.parts = parts
    query.sent = min(part.sent for part in parts if part.sent is not None)
    query.error = next((part.error for part in parts if part.error is not None), None)
    if query.error is None:
        query.done = max(part.done for part in parts if part.done is not None)
    query.server_queue_ms = _largest(part.server_queue_ms for part in parts)
    query.server_compute_ms = _largest(part.server_compute_ms for part in parts)


def _largest(values) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None
