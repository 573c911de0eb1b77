"""honed's open-loop driver: every query is sent at its scheduled arrival whether or not earlier
ones have finished (asyncio + httpx), so a server that falls behind builds a queue and the
latency, counted from the scheduled arrival, shows it. Bounded by the schedule and a duration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np

from honed.load.endpoints import Endpoint, Query, send

ENGINE = "honed-open-loop"


@dataclass(frozen=True)
class Limits:
    max_seconds: float = 60.0  # no query is scheduled after this, and the run ends this long after it
    queries: int = 1000  # single stream: how many (an open-loop run has its schedule)
    warmup_queries: int = 10  # sent one by one before the run and not counted: first calls, connections
    timeout_s: float = 30.0  # one query's limit
    connections: int = 256  # open connections at most; queries beyond them wait (and that wait counts)
    verify_tls: bool = True


def drive(endpoint: Endpoint, schedule: np.ndarray | None, limits: Limits, headers: dict[str, str] | None = None,
          queries: list[Query] | None = None, on_progress: Callable[[int, int], None] | None = None) -> list[Query]:
    """Run the schedule against the endpoint; returns every scheduled query with its times.
    ``schedule`` None: single stream, each query sent when the previous one is answered, for
    ``limits.queries`` queries or ``max_seconds``. ``queries`` (a list to fill) keeps what
    finished if the caller is interrupted (Ctrl-C)."""
    found: list[Query] = [] if queries is None else queries
    asyncio.run(_drive(endpoint, schedule, limits, headers or {}, found, on_progress))
    return found


async def _drive(endpoint: Endpoint, schedule: np.ndarray, limits: Limits, headers: dict[str, str],
                 queries: list[Query], on_progress: Callable[[int, int], None] | None) -> None:
    pool = httpx.Limits(max_connections=limits.connections, max_keepalive_connections=limits.connections)
    async with httpx.AsyncClient(limits=pool, timeout=limits.timeout_s, verify=limits.verify_tls,
                                 headers=headers) as client:
        for _ in range(limits.warmup_queries):
            await send(client, endpoint, Query(scheduled=0.0), time.perf_counter())
        origin = time.perf_counter() + 0.01  # t=0 a moment ahead, so the first query is not already late
        if schedule is None:
            await _single_stream(client, endpoint, limits, queries, origin)
            return
        pending: set[asyncio.Task] = set()
        planned = [float(t) for t in schedule if t <= limits.max_seconds]
        for at in planned:
            delay = origin + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            query = Query(scheduled=at)
            queries.append(query)
            task = asyncio.create_task(send(client, endpoint, query, origin))
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


async def _single_stream(client: httpx.AsyncClient, endpoint: Endpoint, limits: Limits, queries: list[Query],
                         origin: float) -> None:
    """MLPerf's SingleStream: one query at a time, the next as soon as the last is answered."""
    await asyncio.sleep(max(0.0, origin - time.perf_counter()))
    while len(queries) < limits.queries and time.perf_counter() - origin < limits.max_seconds:
        query = Query(scheduled=time.perf_counter() - origin)
        queries.append(query)
        await send(client, endpoint, query, origin)
