"""A served model's life: alive at once (``/health``), ready once every copy has run a full batch
(``/ready``), which also measures the batch time the default queue bound is computed from;
SIGTERM stops admitting, answers what was admitted within the drain time, then exits 0."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from collections.abc import Callable
from typing import Any

from honed.core.protocol import InputSpec
from honed.models.handle import ModelHandle
from honed.serve.admission import default_max_queue
from honed.serve.batcher import DynamicBatcher

WARMUP_CALLS = 3  # the first calls pay for allocation and kernel selection; the last one is timed


@dataclasses.dataclass
class Warmth:
    """What warming up found: the full batch's time (None when it could not be run)."""

    batch_s: float | None = None
    max_queue: int | None = None
    note: str = ""


async def warm_up(batcher: DynamicBatcher, inputs: InputSpec) -> Warmth:
    """Run a full batch of the model's own example items on every copy, then open for traffic
    (with the queue bound set from the time measured when no ``--max-queue`` was given)."""
    loop = asyncio.get_running_loop()
    warmth = Warmth()
    try:
        times = await asyncio.gather(
            *(loop.run_in_executor(copy.thread, _timed_batches, copy.handle, batcher.max_batch, inputs)
              for copy in batcher.copies)
        )  # fmt: skip
        warmth.batch_s = max(times)
        batcher.timed(warmth.batch_s)
    except Exception as error:  # a model without example items (no --shape) still serves
        warmth.note = f"no warm-up batch ({type(error).__name__}: {error})"
    if batcher.admission.queue_from_warmup:
        admission = batcher.admission
        bound = default_max_queue(
            batcher.max_batch, batcher.max_wait_s, warmth.batch_s, len(batcher.copies), admission.budget_s
        )
        batcher.limit(dataclasses.replace(admission, max_queue=bound, queue_from_warmup=False))
    warmth.max_queue = batcher.max_queue
    batcher.warming = None
    batcher.mark_readiness()
    return warmth


def _timed_batches(handle: ModelHandle, max_batch: int, inputs: InputSpec) -> float:
    batch = handle.example_inputs(max_batch, inputs, seed=0)
    elapsed = 0.0
    for _ in range(WARMUP_CALLS):
        started = time.perf_counter()
        with handle.inference_context():
            handle.run(batch)
        handle.synchronize()
        elapsed = time.perf_counter() - started
    return elapsed


def describe(warmth: Warmth, batcher: DynamicBatcher) -> str:
    """The startup line: what warming up measured, and the limits that follow from it."""
    admission = batcher.admission
    batch = f"a batch of {batcher.max_batch} in {warmth.batch_s * 1e3:.1f} ms" if warmth.batch_s else warmth.note
    budget = f"SLO {admission.slo_s * 1e3:g} ms" if admission.slo_s else f"{admission.budget_s:g} s, no --slo-ms"
    queue = "no queue bound" if warmth.max_queue is None else f"queue bound {warmth.max_queue} ({budget})"
    order = (
        "oldest first always (--queue-order fifo)"
        if admission.order == "fifo"
        else f"newest first once the oldest has waited {admission.standing_s * 1e3:g} ms"
    )
    return f"ready: {batch}; {queue}; {order}; request timeout {admission.timeout_s:g} s"


def draining_server(config: Any, batcher: DynamicBatcher) -> Any:
    """A uvicorn server whose SIGTERM (or Ctrl-C) first stops admitting; uvicorn then closes the
    listening socket and waits up to its ``timeout_graceful_shutdown`` for the admitted requests."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            batcher.draining = True
            batcher.mark_readiness()
            super().handle_exit(sig, frame)

    return DrainingServer(config)


def run_until_signalled(server: Any, on_stop: Callable[[str], None]) -> None:
    """Serve until SIGTERM or Ctrl-C, then exit normally (status 0) after the drain: uvicorn
    re-raises the signal it caught once it is done, so a handler that only reports it is set."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    on_stop("stopped: every admitted request was answered or timed out")
