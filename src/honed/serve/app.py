"""The HTTP face of ``honed serve`` (FastAPI): a generic JSON route, KServe v2 / Triton's infer
route, liveness, readiness, Prometheus metrics and model facts. Every answer says how long it
queued and computed, in headers; a refusal says why, with its HTTP status (503, 504, 413, 422)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import torch
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, model_validator

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec
from honed.models.capabilities import Capability
from honed.models.handle import ModelHandle
from honed.serve.admission import Refused, client_gone
from honed.serve.batcher import Answer, DynamicBatcher
from honed.serve.items import ItemSchema, output_list
from honed.serve.lifecycle import Warmth, warm_up
from honed.serve.metrics import CONTENT_TYPE, BodyTooLarge, CountRequests
from honed.serve.waiting_line import Pending

MAX_BODY_BYTES = 16 * 1024 * 1024


class PredictRequest(BaseModel):
    """One item: ``inputs`` (a nested list for the main input, or one per input name), or ``text``."""

    model_config = ConfigDict(extra="forbid")
    inputs: list[Any] | dict[str, list[Any]] | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.inputs is None) == (self.text is None):
            raise ValueError("give exactly one of 'inputs' (a nested list, or one per input name) and 'text'")
        return self


class KServeTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class KServeRequest(BaseModel):
    inputs: list[KServeTensor]


def url_name(name: str) -> str:
    """A model's name as a URL path segment (KServe's /v2/models/NAME): "honed.zoo:sleeper" -> "honed.zoo-sleeper"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "model"


def build_app(
    handle: ModelHandle,
    batcher: DynamicBatcher,
    inputs: InputSpec | tuple[int, ...] | None = None,
    on_ready: Callable[[Warmth], None] | None = None,
) -> FastAPI:
    """The server's routes over ``batcher``; ``inputs`` is what the model's example items are made
    of (an item shape alone is taken as ``InputSpec(shape=...)``)."""
    if not isinstance(inputs, InputSpec):
        inputs = InputSpec(shape=inputs)
    served_as = url_name(handle.name)
    schema = ItemSchema.of(handle, inputs, texts=Capability.TOKENIZES in handle.capabilities)
    metrics = batcher.metrics

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        warming = asyncio.get_running_loop().create_task(warm_up(batcher, inputs))
        warming.add_done_callback(lambda task: on_ready and not task.cancelled() and on_ready(task.result()))
        yield
        warming.cancel()
        await batcher.stop()

    app = FastAPI(title=f"honed serve: {handle.name}", lifespan=lifespan)
    app.add_middleware(CountRequests, metrics=metrics, max_body_bytes=MAX_BODY_BYTES)

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status, headers=error.headers())

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=413)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, which JSON cannot always carry (NaN, Infinity): a 500.
        fields = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in error.errors()
        ]
        return JSONResponse({"detail": fields}, status_code=422)

    @app.exception_handler(SpecError)
    async def bad_header(request: Request, error: SpecError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Alive: the process answers (a load balancer's liveness probe)."""
        return {"status": "ok", "model": served_as}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Takes traffic: loaded, warmed up, not draining, not stuck in a hung model call."""
        reason = batcher.not_ready()
        if reason is not None:
            return JSONResponse({"status": "unready", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready", "model": served_as, "max_queue": batcher.max_queue})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    @app.get("/v1/model")
    async def model() -> dict[str, Any]:
        return {
            "name": served_as,
            "kind": handle.ref.kind,
            "recipe": [s.model_dump() for s in handle.recipe],
            "item_shape": schema.item_shape,
            "runtime": handle.runtime_info(),
            "max_batch": batcher.max_batch,
            "max_wait_ms": batcher.max_wait_s * 1e3,
            "max_queue": batcher.max_queue,
            "request_timeout_ms": batcher.admission.timeout_s * 1e3,
            "instances": len(batcher.copies),
            "openai_completions": _generates(handle),
        }

    @app.get("/v1/stats")
    async def stats() -> dict[str, Any]:
        return metrics.stats()

    @app.post("/v1/predict")
    async def predict(body: PredictRequest, request: Request) -> JSONResponse:
        item = schema.text(body.text) if body.text is not None else schema.item(body.inputs)
        answer = await _answer(batcher, batcher.admit(item, batcher.admission.timeout_of(request.headers)), request)
        return JSONResponse({"outputs": output_list(answer.output)}, headers=_timing(answer))

    if _generates(handle):
        from honed.serve.openai import add_routes

        add_routes(app, handle, batcher, served_as)

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, body: KServeRequest, request: Request) -> JSONResponse:
        if name != served_as:
            raise HTTPException(404, f"no model {name!r}; this server serves {served_as!r}")
        items = schema.kserve(body.inputs)
        if batcher.max_queue is not None and len(items) > batcher.max_queue:
            raise HTTPException(413, f"inputs: {len(items)} rows; this server queues {batcher.max_queue} at most")
        timeout_s = batcher.admission.timeout_of(request.headers)
        pendings = [batcher.admit(item, timeout_s) for item in items]  # queued at once: batched
        answers = await asyncio.gather(*(_answer(batcher, p, request) for p in pendings))
        stacked = torch.stack([a.output for a in answers])
        return JSONResponse(
            {
                "model_name": served_as,
                "outputs": [
                    {
                        "name": "output",
                        "shape": list(stacked.shape),
                        "datatype": "FP32",
                        "data": output_list(stacked.flatten()),
                    }
                ],
            },
            headers=_timing(answers[0]),
        )

    return app


def _generates(handle: ModelHandle) -> bool:
    """A causal language model with its tokenizer: served OpenAI's completions too."""
    return {Capability.TOKENIZES, Capability.GENERATES, Capability.SCORES_TOKENS} <= handle.capabilities


async def _answer(batcher: DynamicBatcher, pending: Pending, request: Request) -> Answer:
    try:
        return await batcher.answer(pending, client_gone(request.receive))
    except (Refused, HTTPException):
        raise
    except Exception as error:  # the model failed on this item
        raise HTTPException(500, f"the model failed: {type(error).__name__}: {error}") from None


def _timing(answer: Answer) -> dict[str, str]:
    return {
        "x-honed-queue-ms": f"{answer.queue_ms:.3f}",
        "x-honed-compute-ms": f"{answer.compute_ms:.3f}",
        "x-honed-batch": str(answer.batch),
    }
