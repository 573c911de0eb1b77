"""The queue's order: oldest first while the server keeps up, newest first once the oldest live
item has waited past the standing target (adaptive LIFO), back to oldest first once it drains;
and under overload a full queue gives its oldest item's place to a new one (503 "evicted")."""

from __future__ import annotations

import asyncio

import pytest

from honed.core.protocol import ModelRef
from honed.models import load_model
from honed.serve.admission import Admission, Evicted
from honed.serve.batcher import DynamicBatcher
from honed.serve.waiting_line import Pending, WaitingLine


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _line(order: str = "adaptive") -> tuple[WaitingLine, Clock, list[Pending]]:
    clock = Clock()
    line = WaitingLine(standing_s=0.1, order=order, clock=clock)  # type: ignore[arg-type]
    items = [Pending(item=i, deadline=10.0, arrived=i * 0.01) for i in range(4)]  # 0, 10, 20, 30 ms
    for pending in items:
        line.put(pending)
    return line, clock, items


def test_the_line_is_oldest_first_until_a_queue_stands_then_newest_first():
    async def run() -> None:
        line, clock, items = _line()
        clock.now = 0.05  # the oldest has waited 50 ms, under the 100 ms target
        assert not line.newest_first() and line.get_nowait().item == 0 and line.last_order == "oldest_first"
        clock.now = 0.2  # the oldest (10 ms) has waited 190 ms: a standing queue
        assert line.newest_first() and [line.get_nowait().item for _ in range(2)] == [3, 2]
        assert line.last_order == "newest_first"
        items[1].dropped = "expired"  # a dead item at the front does not keep the queue standing
        assert line.oldest() is None and not line.newest_first() and line.get_nowait() is None

    asyncio.run(run())


def test_a_line_of_dead_items_gives_none_and_a_waiter_waits_on():
    """Once served a standing queue's dead items made the line empty under its own reader: the
    batching task stopped and the server stayed 'ready' answering nothing but 503s."""

    async def run() -> None:
        line, clock, items = _line()
        clock.now = 5.0
        for pending in items:
            pending.dropped = "evicted"
        assert line.get_nowait() is None
        waiter = asyncio.ensure_future(line.get())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        fresh = Pending(item="fresh", deadline=10.0, arrived=5.0)
        line.put(fresh)
        assert await asyncio.wait_for(waiter, 1.0) is fresh

    asyncio.run(run())


def test_a_fifo_line_never_turns():
    async def run() -> None:
        line, clock, _ = _line("fifo")
        clock.now = 60.0
        assert not line.newest_first() and [line.get_nowait().item for _ in range(4)] == [0, 1, 2, 3]

    asyncio.run(run())


def test_an_item_waits_for_the_line_to_fill():
    async def run() -> list:
        line = WaitingLine(standing_s=1.0)
        waiter = asyncio.ensure_future(line.get())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        line.put(Pending(item="late", deadline=10.0))
        return [await asyncio.wait_for(waiter, 1.0)]

    assert [p.item for p in asyncio.run(run())] == ["late"]


def test_a_full_standing_queue_evicts_its_oldest_for_a_new_item():
    handle = load_model(ModelRef(source="honed.zoo:sleeper", kind="factory", options={"kwargs": {"milliseconds": 0}}))

    async def run() -> None:
        admission = Admission(max_queue=3, timeout_s=10.0, watchdog_s=60.0, slo_s=0.02)  # standing after 10 ms
        batcher = DynamicBatcher(handle, 1, 0.0, admission=admission)  # not started: nothing is taken
        batcher.warming = None
        first = [batcher.admit(i) for i in range(3)]
        with pytest.raises(Exception, match="already queued"):
            batcher.admit(3)  # full, and not standing yet: the newcomer is refused, as before
        await asyncio.sleep(0.03)
        newcomer = batcher.admit(4)  # standing: the oldest makes way
        with pytest.raises(Evicted):
            first[0].future.result()
        assert batcher.waiting == 3 and batcher.metrics.stats()["dropped"] == {"evicted": 1}
        assert batcher._queue.get_nowait() is newcomer  # and the newest is served first

    asyncio.run(run())


def test_an_item_whose_deadline_is_nearer_than_a_batch_is_dropped_before_the_model_runs_it():
    """CoDel's early drop, judged by each item's own deadline: taken for a batch with less time left
    than a batch takes, it would be answered late anyway (504 now, counted as cannot_finish)."""
    from honed.serve.admission import CannotFinish, Expired, too_late

    handle = load_model(ModelRef(source="honed.zoo:sleeper", kind="factory", options={"kwargs": {"milliseconds": 0}}))

    async def run() -> None:
        batcher = DynamicBatcher(handle, 1, 0.0, admission=Admission(max_queue=8, timeout_s=60.0, watchdog_s=60.0))
        batcher.warming = None
        # Admitted while the batch time was unknown (or short: newest first, admission does not
        # check it), then batches turned out to take 2 s.
        doomed, able = batcher.admit(0, timeout_s=1.0), batcher.admit(1, timeout_s=30.0)
        batcher.timed(2.0)
        assert batcher._take(batcher._queue.get_nowait()) is None  # not started: taken by hand
        with pytest.raises(CannotFinish, match="2000 ms"):
            doomed.future.result()
        assert CannotFinish.status == 504 and batcher._take(batcher._queue.get_nowait()) is able
        assert batcher.metrics.stats()["dropped"] == {"cannot_finish": 1} and batcher.waiting == 0

    asyncio.run(run())
    assert too_late(0.5, None) is None and too_late(0.5, 0.2) is None  # no estimate yet, or time enough
    assert isinstance(too_late(0.1, 0.2), CannotFinish) and isinstance(too_late(-0.1, 0.2), Expired)
