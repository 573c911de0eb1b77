"""Load a model (and apply a recipe), then serve it with uvicorn until stopped."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, Step


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


def serve(
    ref: ModelRef,
    recipe: list[Step],
    inputs: InputSpec,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_batch: int = 8,
    max_wait_ms: float = 2.0,
    threads: int | None = None,
    on_ready: Any = print,
) -> None:
    import uvicorn

    from honed.serve.app import build_app
    from honed.serve.batcher import DynamicBatcher

    if not 1 <= max_batch <= 4096:
        raise SpecError("serve.max_batch", max_batch, "an integer from 1 to 4096")
    if not 0 <= max_wait_ms <= 10_000:
        raise SpecError("serve.max_wait_ms", max_wait_ms, "milliseconds from 0 to 10000")
    handle = loaded(ref, recipe, inputs, threads)
    app = build_app(handle, DynamicBatcher(handle, max_batch, max_wait_ms), inputs.shape)
    on_ready(f"serving {handle.name} on http://{host}:{port} (max batch {max_batch}, max wait {max_wait_ms:g} ms)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
