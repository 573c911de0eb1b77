"""Who gets in, and for how long: the queue bound, the per-request deadline, and the answers a
server gives when it sheds load (503 with Retry-After) or runs out of time (504)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from honed.core.errors import SpecError

# The default queue holds what the server can run in this long: an admitted item waits about
# this at most, and a client learns "overloaded" at once instead of after seconds in a queue.
QUEUE_BUDGET_S = 0.5
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


class NotReady(Refused):
    reason = "not_ready"


class Expired(Refused):
    status, reason = 504, "expired"


class ModelHung(Refused):
    status, reason = 504, "hung"


class ClientGone(Refused):
    status, reason = 499, "disconnected"  # nginx's code for a client that closed the request


@dataclass(frozen=True)
class Admission:
    """The server's limits: ``max_queue`` None admits without bound (what ``--max-queue 0`` asks),
    unless ``queue_from_warmup``: then warming up sets it from the batch time it measured."""

    max_queue: int | None
    timeout_s: float
    watchdog_s: float
    queue_from_warmup: bool = False

    def __post_init__(self) -> None:
        if self.max_queue is not None and not 1 <= self.max_queue <= MAX_QUEUE:
            raise SpecError("serve.max_queue", self.max_queue, f"0 (no bound) or an integer from 1 to {MAX_QUEUE}")
        if not 0 < self.timeout_s <= 3600:
            raise SpecError("serve.request_timeout_ms", self.timeout_s * 1e3, "milliseconds above 0, at most 3600000")
        if not 0 < self.watchdog_s <= 86_400:
            raise SpecError("serve.watchdog_seconds", self.watchdog_s, "seconds above 0, at most 86400")

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


def default_max_queue(max_batch: int, max_wait_s: float, batch_s: float | None, instances: int) -> int:
    """Items the copies run in ``QUEUE_BUDGET_S``: a full batch takes ``batch_s`` plus, at worst,
    ``max_wait_s`` gathering; never less than one batch per copy."""
    if batch_s is None:
        return max_batch * instances * UNMEASURED_BATCHES
    batches = math.floor(QUEUE_BUDGET_S / (batch_s + max_wait_s)) * instances
    return min(MAX_QUEUE, max(max_batch * instances, batches * max_batch))


def latency_bound_s(max_queue: int, max_batch: int, max_wait_s: float, batch_s: float, instances: int) -> float:
    """The longest an admitted item should take, queue and its own batch: what a full queue implies."""
    batches_ahead = math.ceil(max_queue / (max_batch * instances))
    return (batches_ahead + 1) * (batch_s + max_wait_s)
