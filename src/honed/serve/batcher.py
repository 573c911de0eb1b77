"""Dynamic batching with admission control: queries wait until ``max_batch`` items are queued or
the first has waited ``max_wait_ms``, then run as one batch on a model copy's own thread (the event
loop stays free). The queue is bounded and served newest first once it stands (``waiting_line``);
an item whose client went away, whose deadline passed, or whose deadline is nearer than a batch's
time is dropped before the model runs it; a model call that hangs past the watchdog fails its items."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from honed.models.handle import ModelHandle
from honed.serve.admission import (
    Admission,
    ClientGone,
    Evicted,
    Expired,
    ModelHung,
    NotReady,
    QueueFull,
    Refused,
    TooLate,
    too_late,
)
from honed.serve.calls import run_batch
from honed.serve.metrics import ServeMetrics
from honed.serve.waiting_line import Pending, WaitingLine

UNBOUNDED = Admission(max_queue=None, timeout_s=3600, watchdog_s=86_400)


@dataclass(frozen=True)
class Answer:
    output: torch.Tensor  # this item's main output
    queue_ms: float  # arrival -> its batch started
    compute_ms: float  # the batch's model call
    batch: int


@dataclass(eq=False)
class Copy:
    """One copy of the model with the thread that runs it (Triton's instance)."""

    handle: ModelHandle
    thread: ThreadPoolExecutor
    hung: bool = False


class DynamicBatcher:
    def __init__(
        self,
        handle: ModelHandle,
        max_batch: int = 8,
        max_wait_ms: float = 2.0,
        *,
        admission: Admission = UNBOUNDED,
        copies: Sequence[ModelHandle] = (),
        metrics: ServeMetrics | None = None,
    ):
        self.max_batch, self.max_wait_s = max_batch, max_wait_ms / 1e3
        self.admission = admission
        self.metrics = metrics or ServeMetrics(max_batch)
        self.copies = [
            Copy(h, ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"honed-model-{i}"))
            for i, h in enumerate([handle, *copies])
        ]
        self._queue = WaitingLine(admission.standing_s, admission.order)
        self._tasks: list[asyncio.Task] = []
        self.waiting = 0  # admitted, not yet in a batch, not dropped
        self.warming: str | None = "warming up"  # why not ready yet; None once warm
        self.batch_s: float | None = None  # a batch's time, recent batches weighted most (warm-up's first)
        self.draining = False

    @property
    def max_queue(self) -> int | None:
        return self.admission.max_queue

    def limit(self, admission: Admission) -> None:
        """New limits (warming up sets the queue bound it measured)."""
        self.admission = admission
        self._queue.standing_s, self._queue.order = admission.standing_s, admission.order

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(copy)) for copy in self.copies]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        while (pending := self._queue.get_nowait()) is not None:  # the drain ran out of time: nobody runs these
            self._fail([pending], NotReady("the server stopped before running this item"))
        for copy in self.copies:
            copy.thread.shutdown(wait=False, cancel_futures=True)

    def not_ready(self) -> str | None:
        """Why the server should take no traffic now, or None when it should."""
        if self.draining:
            return "draining: the server is shutting down"
        if self.warming:
            return self.warming
        if stopped := [task for task in self._tasks if task.done()]:
            why = "cancelled" if stopped[0].cancelled() else repr(stopped[0].exception())
            return f"a batching task stopped ({why}): restart the server"
        if all(copy.hung for copy in self.copies):
            return f"a model call has run past the watchdog ({self.admission.watchdog_s:g} s)"
        return None

    def on_model_thread(self, work: Any) -> asyncio.Future:
        """Run ``work()`` on the first copy's thread, between batches (generation uses it)."""
        return asyncio.get_running_loop().run_in_executor(self.copies[0].thread, work)

    def admit(self, item: Any, timeout_s: float | None = None) -> Pending:
        """Queue one item, or refuse it (503) when the server is not ready, the queue is full,
        or the queue ahead of it would outlast its deadline (it would only be answered 504).
        While the queue stands it is served newest first: a new item goes ahead of the others,
        and takes the oldest one's place when the queue is full (that one is answered 503)."""
        timeout_s = timeout_s or self.admission.timeout_s
        newest_first = self._queue.newest_first()
        self.metrics.newest_first.set(int(newest_first))
        if newest_first and self.max_queue is not None and self.waiting >= self.max_queue and self.not_ready() is None:
            if (oldest := self._queue.oldest()) is not None:
                self._drop(oldest, Evicted("overloaded: newer requests were served first", self._retry_s()))
        self.reserve()
        expected_s = None if newest_first else self.expected_wait_s()
        if expected_s is not None and expected_s > timeout_s:
            self.release()
            self.metrics.rejected.labels(reason=TooLate.reason).inc()
            raise TooLate(
                f"overloaded: the {self.waiting} items queued take about {expected_s * 1e3:.0f} ms, "
                f"past this request's deadline ({timeout_s * 1e3:.0f} ms)",
                max(1.0, expected_s),
            )
        pending = Pending(item, time.perf_counter() + timeout_s)
        self._queue.put(pending)
        return pending

    def expected_wait_s(self) -> float | None:
        """When an item queued now would be answered: the full batches ahead of it, then its own."""
        if self.batch_s is None:
            return None
        ahead = (self.waiting - 1) // (self.max_batch * len(self.copies))
        return (ahead + 1) * self.batch_s

    def timed(self, batch_s: float) -> None:
        """A batch's time, into the running estimate (each new one weighs a fifth)."""
        self.batch_s = batch_s if self.batch_s is None else 0.8 * self.batch_s + 0.2 * batch_s

    def reserve(self) -> None:
        """A place in the queue, or a refusal (503): for an item, or for work that waits for the
        model thread outside the batch queue (a generation) and ``release``s it when it starts."""
        retry_s = self._retry_s()
        reason = self.not_ready()
        if reason is not None:
            self.metrics.rejected.labels(reason=NotReady.reason).inc()
            raise NotReady(reason, retry_s)
        if self.max_queue is not None and self.waiting >= self.max_queue:
            self.metrics.rejected.labels(reason=QueueFull.reason).inc()
            raise QueueFull(f"overloaded: {self.waiting} items already queued (--max-queue {self.max_queue})", retry_s)
        self._waiting(+1)

    def _retry_s(self) -> float:
        return max(1.0, self.max_wait_s + 0.1)

    def release(self, dropped: str | None = None) -> None:
        """The reserved place is left: the work started, or was dropped (``dropped``: why)."""
        self._waiting(-1)
        if dropped is not None:
            self.metrics.dropped.labels(reason=dropped).inc()

    async def submit(self, item: Any, timeout_s: float | None = None) -> Answer:
        return await self.answer(self.admit(item, timeout_s))

    async def answer(self, pending: Pending, client_gone: Awaitable | None = None) -> Answer:
        """The item's answer; raises Expired at its deadline and ClientGone if ``client_gone``
        finishes first: either way an item still queued is dropped, never run."""
        watch = asyncio.ensure_future(client_gone) if client_gone is not None else None
        try:
            waits = {pending.future} | ({watch} if watch else set())
            left = pending.deadline - time.perf_counter()
            await asyncio.wait(waits, timeout=max(0.0, left), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if watch is not None:
                watch.cancel()
        if pending.future.done():
            return pending.future.result()
        gone = watch is not None and watch.done() and not watch.cancelled()
        refusal = ClientGone("the client went away") if gone else Expired("the request's deadline passed")
        self._drop(pending, refusal)
        raise refusal

    def _drop(self, pending: Pending, refusal: Refused) -> None:
        if not pending.taken and pending.dropped is None:
            pending.dropped = refusal.reason
            self.release(refusal.reason)
        if not pending.future.done():
            pending.future.set_exception(refusal)
            pending.future.exception()  # retrieved: nobody awaits a dropped item's future

    def _waiting(self, change: int) -> None:
        self.waiting += change
        self.metrics.queue_depth.set(self.waiting)

    async def _work(self, copy: Copy) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = await self._gather()
            if not group:
                continue
            started = time.perf_counter()
            call = loop.run_in_executor(copy.thread, run_batch, copy.handle, [p.item for p in group])
            try:
                outputs = await asyncio.wait_for(asyncio.shield(call), self.admission.watchdog_s)
            except asyncio.TimeoutError:
                await self._hung(copy, group, call)
                continue
            except Exception as error:  # the model failed on this batch: each query gets the reason
                self.metrics.failed.labels(reason="model_error").inc(len(group))
                self._fail(group, error)
                continue
            compute_s = time.perf_counter() - started
            self.metrics.ran(len(group), compute_s)
            if len(group) == self.max_batch:  # a full batch: what the queue drains at under load
                self.timed(compute_s)
            for pending, output in zip(group, outputs):
                self.metrics.queue_seconds.observe(started - pending.arrived)
                if pending.future.done():  # its client went away while it ran
                    continue
                if isinstance(output, Exception):
                    self.metrics.failed.labels(reason="model_error").inc()
                    pending.future.set_exception(output)
                else:
                    answer = Answer(output, (started - pending.arrived) * 1e3, compute_s * 1e3, len(group))
                    pending.future.set_result(answer)

    async def _hung(self, copy: Copy, group: list[Pending], call: asyncio.Future) -> None:
        """The call ran past the watchdog: its items fail now (504) and this copy takes no batch
        (the server is unready if no copy is left) until the call returns, if ever."""
        copy.hung = True
        self.metrics.failed.labels(reason=ModelHung.reason).inc(len(group))
        self._fail(group, ModelHung(f"the model call ran past the watchdog ({self.admission.watchdog_s:g} s)"))
        self.mark_readiness()
        with contextlib.suppress(Exception):
            await call
        copy.hung = False
        self.mark_readiness()

    def mark_readiness(self) -> None:
        """The readiness gauge of /metrics, from ``not_ready``."""
        self.metrics.ready.set(0 if self.not_ready() else 1)

    def _fail(self, group: list[Pending], error: BaseException) -> None:
        for pending in group:
            if not pending.future.done():
                pending.future.set_exception(error)

    async def _gather(self) -> list[Pending]:
        """The next batch: every live query already waiting (up to max_batch), then more until the
        first one has waited max_wait_ms (one that waited through the last batch goes at once)."""
        group = [first] if (first := self._take(await self._queue.get())) else []
        if not group:
            return group
        deadline = group[0].arrived + self.max_wait_s
        while len(group) < self.max_batch:
            if (waiting := self._queue.get_nowait()) is not None:
                pending = waiting
            else:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            if (taken := self._take(pending)) is not None:
                group.append(taken)
        return group

    def _take(self, pending: Pending) -> Pending | None:
        """The item for a batch, or None: dropped already, or its deadline has passed or will
        before a batch could answer it (dropped now, so the model's time goes to items that can)."""
        if pending.dropped is not None or pending.future.done():
            return None
        if (late := too_late(pending.deadline - time.perf_counter(), self.batch_s)) is not None:
            self._drop(pending, late)
            return None
        pending.taken = True
        self._waiting(-1)
        self.metrics.taken.labels(order=self._queue.last_order).inc()
        return pending
