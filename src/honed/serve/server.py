"""Load a model (and apply a recipe), then serve it with uvicorn until stopped."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, Step
from honed.serve.admission import Admission
from honed.serve.waiting_line import Order


class ServeJob(BaseModel):
    """What to serve, whole (``honed serve --job FILE``): a model reference with its options, its
    recipe and inputs, as a parent process (a tune's peak-rate trial) already checked them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: ModelRef
    recipe: list[Step] = Field(default_factory=list)
    inputs: InputSpec = Field(default_factory=InputSpec)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loaded(ref: ModelRef, recipe: list[Step], inputs: InputSpec, threads: int | None = None) -> Any:
    """The model on the CPU with its recipe applied: what is served or put under load in process."""
    from honed.models import load_model
    from honed.optimization import optimize

    handle = load_model(ref, "cpu", threads=threads, seed=0)
    return optimize(handle, recipe, "cpu", inputs) if recipe else handle


@dataclass(frozen=True)
class ServeSettings:
    """How the server batches, admits and stops (the ``honed serve`` options)."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 8
    max_wait_ms: float = 2.0
    max_queue: int | None = None  # None: from the warm-up batch's time and the SLO; 0: no bound
    request_timeout_ms: float = 30_000.0
    slo_ms: float | None = None  # also each request's deadline, when below request_timeout_ms
    queue_order: Order = "adaptive"
    drain_seconds: float = 30.0
    watchdog_seconds: float = 120.0
    instances: int = 1
    threads: int | None = None  # per copy; None: the cores shared among the copies

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= 4096:
            raise SpecError("serve.max_batch", self.max_batch, "an integer from 1 to 4096")
        if not 0 <= self.max_wait_ms <= 10_000:
            raise SpecError("serve.max_wait_ms", self.max_wait_ms, "milliseconds from 0 to 10000")
        if not 1 <= self.instances <= 64:
            raise SpecError("serve.instances", self.instances, "an integer from 1 to 64")
        if not 0 <= self.drain_seconds <= 3600:
            raise SpecError("serve.drain_seconds", self.drain_seconds, "seconds from 0 to 3600")
        self.admission()  # its own checks name the fields

    def admission(self) -> Admission:
        timeout_ms = min(self.request_timeout_ms, self.slo_ms or self.request_timeout_ms)
        return Admission(
            max_queue=self.max_queue or None,
            timeout_s=timeout_ms / 1e3,
            watchdog_s=self.watchdog_seconds,
            queue_from_warmup=self.max_queue is None,
            slo_s=self.slo_ms / 1e3 if self.slo_ms is not None else None,
            order=self.queue_order,
        )

    def threads_per_copy(self) -> int | None:
        if self.threads is not None or self.instances == 1:
            return self.threads
        return max(1, (os.cpu_count() or 1) // self.instances)


def serve(ref: ModelRef, recipe: list[Step], inputs: InputSpec, settings: ServeSettings, on_ready: Any = print) -> None:
    """Load ``instances`` copies of the model, then serve them until SIGTERM or Ctrl-C, and drain."""
    import uvicorn

    from honed.serve.app import build_app
    from honed.serve.batcher import DynamicBatcher
    from honed.serve.lifecycle import describe, draining_server, run_until_signalled

    threads = settings.threads_per_copy()
    handles = [loaded(ref, recipe, inputs, threads) for _ in range(settings.instances)]
    batcher = DynamicBatcher(
        handles[0], settings.max_batch, settings.max_wait_ms, admission=settings.admission(), copies=handles[1:]
    )
    app = build_app(handles[0], batcher, inputs, on_ready=lambda warmth: on_ready(describe(warmth, batcher)))
    copies = f", {settings.instances} copies" if settings.instances > 1 else ""
    on_ready(
        f"serving {handles[0].name} on http://{settings.host}:{settings.port} (max batch {settings.max_batch}, "
        f"max wait {settings.max_wait_ms:g} ms{copies}); warming up"
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        # uvicorn waits with asyncio.wait_for, which takes a float; its annotation says int
        timeout_graceful_shutdown=settings.drain_seconds,  # type: ignore[arg-type]
    )
    run_until_signalled(draining_server(config, batcher), on_ready)
