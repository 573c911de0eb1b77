"""Who gets in, and for how long: the queue bound, the per-request deadline, the order the queue
is served in, and the answers a server gives when it sheds load (503 with Retry-After) or runs
out of time (504). With an SLO (``--slo-ms``) the bound, the deadline and the point at which the
queue turns to newest first all follow from it; without one, from ``QUEUE_BUDGET_S``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from honed.core.errors import SpecError
from honed.serve.waiting_line import ORDERS, Order

# Without an SLO, the default queue holds what the server can run in this long: an admitted item
# waits about this at most, and a client learns "overloaded" at once instead of after seconds.
QUEUE_BUDGET_S = 0.5
# The queue serves the newest first once its oldest item has waited this share of the budget:
# past it, first-in first-out would answer everything behind that item late too.
STANDING_SHARE = 0.5
UNMEASURED_BATCHES = 16  # queued batches allowed when the service time could not be measured
MAX_QUEUE = 100_000
TIMEOUT_HEADER = "x-honed-timeout-ms"  # a client may lower its own deadline (never raise it)


class Refused(Exception):
    """An item the server will not answer with the model's output; ``status`` is the HTTP answer."""

    status = 503
    reason = "refused"

    def __init__(self, detail: str, retry_after_s: float | None = None):
        super().__init__(detail)
        self.detail, self.retry_after_s = detail, retry_after_s

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(max(1, math.ceil(self.retry_after_s)))} if self.retry_after_s else {}


class QueueFull(Refused):
    reason = "queue_full"


class TooLate(Refused):
    reason = "would_expire"


class Evicted(Refused):
    reason = "evicted"  # under overload a newer item took its place: it would have been late


class NotReady(Refused):
    reason = "not_ready"


class Expired(Refused):
    status, reason = 504, "expired"


class CannotFinish(Refused):
    # Taken for a batch with less time left than a batch takes: it would be answered past its
    # deadline, so the model does not run it (CoDel's early drop, by the item's own deadline).
    status, reason = 504, "cannot_finish"


def too_late(left_s: float, batch_s: float | None) -> Refused | None:
    """Why an item about to join a batch, ``left_s`` before its deadline, must not run: its
    deadline passed, or is nearer than a batch takes (``batch_s``); None when it may run."""
    if left_s <= 0:
        return Expired("the request's deadline passed before its batch")
    if batch_s is not None and left_s < batch_s:
        return CannotFinish(
            f"the request's deadline is {left_s * 1e3:.0f} ms away and a batch takes about "
            f"{batch_s * 1e3:.0f} ms: it could not be answered in time"
        )
    return None


class ModelHung(Refused):
    status, reason = 504, "hung"


class ClientGone(Refused):
    status, reason = 499, "disconnected"  # nginx's code for a client that closed the request


@dataclass(frozen=True)
class Admission:
    """The server's limits: ``max_queue`` None admits without bound (what ``--max-queue 0`` asks),
    unless ``queue_from_warmup``: then warming up sets it from the batch time it measured and the
    budget (the SLO, else ``QUEUE_BUDGET_S``). ``order``: "adaptive" serves the newest first once
    a queue stands, "fifo" always the oldest."""

    max_queue: int | None
    timeout_s: float
    watchdog_s: float
    queue_from_warmup: bool = False
    slo_s: float | None = None
    order: Order = "adaptive"

    def __post_init__(self) -> None:
        if self.max_queue is not None and not 1 <= self.max_queue <= MAX_QUEUE:
            raise SpecError("serve.max_queue", self.max_queue, f"0 (no bound) or an integer from 1 to {MAX_QUEUE}")
        if self.slo_s is not None and not 0 < self.slo_s <= 3600:
            raise SpecError("serve.slo_ms", self.slo_s * 1e3, "milliseconds above 0, at most 3600000")
        if not 0 < self.timeout_s <= 3600:
            raise SpecError("serve.request_timeout_ms", self.timeout_s * 1e3, "milliseconds above 0, at most 3600000")
        if not 0 < self.watchdog_s <= 86_400:
            raise SpecError("serve.watchdog_seconds", self.watchdog_s, "seconds above 0, at most 86400")
        if self.order not in ORDERS:
            raise SpecError("serve.queue_order", self.order, " or ".join(ORDERS))

    @property
    def budget_s(self) -> float:
        """How long an admitted item may take in all: the SLO, else the default budget."""
        return self.slo_s or QUEUE_BUDGET_S

    @property
    def standing_s(self) -> float:
        """The oldest item's wait past which the queue stands (and is served newest first)."""
        return STANDING_SHARE * self.budget_s

    def timeout_of(self, headers: Any) -> float:
        """The seconds a request with these HTTP headers may take (``deadline_s`` of its header)."""
        return self.deadline_s(headers.get(TIMEOUT_HEADER))

    def deadline_s(self, header: str | None) -> float:
        """The seconds this request may take: the server's limit, or less if the client asks."""
        if header is None:
            return self.timeout_s
        try:
            asked = float(header) / 1e3
        except ValueError:
            raise SpecError(TIMEOUT_HEADER, header, "milliseconds, a number above 0") from None
        if not asked > 0 or math.isnan(asked):
            raise SpecError(TIMEOUT_HEADER, header, "milliseconds, a number above 0")
        return min(asked, self.timeout_s)


async def client_gone(receive: Any) -> None:
    """Returns when the client closes the connection: ``receive`` is the ASGI channel of a request
    whose body is read, so nothing else can arrive on it."""
    while (await receive())["type"] != "http.disconnect":
        pass


def default_max_queue(
    max_batch: int, max_wait_s: float, batch_s: float | None, instances: int, budget_s: float = QUEUE_BUDGET_S
) -> int:
    """Items the copies run in ``budget_s`` (the SLO): a full batch takes ``batch_s`` plus, at
    worst, ``max_wait_s`` gathering; never less than one batch per copy."""
    if batch_s is None:
        return max_batch * instances * UNMEASURED_BATCHES
    batches = math.floor(budget_s / (batch_s + max_wait_s)) * instances
    return min(MAX_QUEUE, max(max_batch * instances, batches * max_batch))


def latency_bound_s(max_queue: int, max_batch: int, max_wait_s: float, batch_s: float, instances: int) -> float:
    """The longest an admitted item should take, queue and its own batch: what a full queue implies."""
    batches_ahead = math.ceil(max_queue / (max_batch * instances))
    return (batches_ahead + 1) * (batch_s + max_wait_s)
