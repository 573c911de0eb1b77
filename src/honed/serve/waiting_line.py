"""The admitted items waiting for a batch, in the order the server takes them: oldest first while
it keeps up, newest first once a queue stands (adaptive LIFO). Served first-in first-out under
overload, every admitted item waits about as long as the queue is deep, so all arrive late
together; served newest first, the items just admitted are answered within the SLO and the
oldest, which would have been late anyway, make way (Facebook's "Fail at Scale" describes the
pairing with CoDel's standing-queue test: a queue is standing when its oldest item has waited
longer than a target, not when a burst briefly fills it)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Order = Literal["adaptive", "fifo"]
ORDERS: tuple[Order, ...] = ("adaptive", "fifo")


@dataclass(eq=False)
class Pending:
    item: Any  # a tensor of one item (no batch dimension), a mapping of them, or a text
    deadline: float  # perf_counter seconds
    arrived: float = field(default_factory=time.perf_counter)
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    taken: bool = False  # in a batch (run or about to be)
    dropped: str | None = None  # why it will never run


class WaitingLine:
    """``standing_s``: how long the oldest live item may have waited before the line serves the
    newest first (with ``order`` "fifo", never). An item is live while nobody dropped it."""

    def __init__(self, standing_s: float, order: Order = "adaptive", clock: Callable[[], float] = time.perf_counter):
        self.standing_s, self.order, self._clock = standing_s, order, clock
        self._items: deque[Pending] = deque()
        self._arrived = asyncio.Event()
        self.last_order = "oldest_first"  # how the last item was taken

    def put(self, pending: Pending) -> None:
        self._items.append(pending)
        self._arrived.set()

    def oldest(self) -> Pending | None:
        """The live item that has waited longest (dead ones at the front are let go here)."""
        while self._items and not _live(self._items[0]):
            self._items.popleft()
        return self._items[0] if self._items else None

    def newest_first(self) -> bool:
        """True while a queue stands: its oldest live item has waited past ``standing_s``."""
        if self.order == "fifo" or (oldest := self.oldest()) is None:
            return False
        return self._clock() - oldest.arrived > self.standing_s

    def get_nowait(self) -> Pending | None:
        """The next item in the line's present order; None when no item is left (letting go of the
        dead ones at the front can empty it)."""
        newest = self.newest_first()
        if not self._items:
            self._arrived.clear()
            return None
        pending = self._items.pop() if newest else self._items.popleft()
        self.last_order = "newest_first" if newest else "oldest_first"
        return pending

    async def get(self) -> Pending:
        while (pending := self.get_nowait()) is None:
            await self._arrived.wait()
        return pending


def _live(pending: Pending) -> bool:
    return pending.dropped is None and not pending.taken and not pending.future.done()
