"""The HTTP face of ``honed serve`` (FastAPI): a generic JSON route, KServe v2 / Triton's infer
route, health and model facts. Every answer says how long it queued and computed, in headers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import torch
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, model_validator

from honed.models.handle import ModelHandle
from honed.serve.batcher import Answer, DynamicBatcher

MAX_BODY_BYTES = 16 * 1024 * 1024
KSERVE_TYPES = {
    "FP32": torch.float32,
    "FP16": torch.float16,
    "FP64": torch.float64,
    "INT64": torch.int64,
    "INT32": torch.int32,
    "INT8": torch.int8,
    "UINT8": torch.uint8,
    "BOOL": torch.bool,
}


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


def build_app(handle: ModelHandle, batcher: DynamicBatcher, item_shape: tuple[int, ...] | None) -> FastAPI:
    served_as = url_name(handle.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title=f"honed serve: {handle.name}", lifespan=lifespan)

    @app.middleware("http")
    async def bounded_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse({"detail": f"request body over {MAX_BODY_BYTES} bytes"}, status_code=413)
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": served_as}

    @app.get("/v1/model")
    async def model() -> dict[str, Any]:
        return {
            "name": served_as,
            "kind": handle.ref.kind,
            "recipe": [s.model_dump() for s in handle.recipe],
            "item_shape": item_shape,
            "runtime": handle.runtime_info(),
            "max_batch": batcher.max_batch,
            "max_wait_ms": batcher.max_wait_s * 1e3,
            "openai_completions": _generates(handle),
        }

    @app.get("/v1/stats")
    async def stats() -> dict[str, Any]:
        sizes = batcher.batches
        return {"batches": len(sizes), "items": sum(sizes), "mean_batch": sum(sizes) / len(sizes) if sizes else None}

    @app.post("/v1/predict")
    async def predict(body: PredictRequest) -> JSONResponse:
        item = body.text if body.text is not None else _item(body.inputs, item_shape)
        answer = await _answer(batcher, item)
        return JSONResponse({"outputs": answer.output.tolist()}, headers=_timing(answer))

    if _generates(handle):
        from honed.serve.openai import add_routes

        add_routes(app, handle, batcher, served_as)

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, body: KServeRequest) -> JSONResponse:
        if name != served_as:
            raise HTTPException(404, f"no model {name!r}; this server serves {served_as!r}")
        items = _kserve_items(body.inputs)
        answers = await asyncio.gather(*(_answer(batcher, item) for item in items))  # queued at once: batched
        stacked = torch.stack([a.output for a in answers])
        return JSONResponse(
            {
                "model_name": served_as,
                "outputs": [
                    {
                        "name": "output",
                        "shape": list(stacked.shape),
                        "datatype": "FP32",
                        "data": stacked.flatten().tolist(),
                    }
                ],
            },
            headers=_timing(answers[0]),
        )

    return app


def _generates(handle: ModelHandle) -> bool:
    """A causal language model with its tokenizer: served OpenAI's completions too."""
    from honed.models.capabilities import Capability

    return {Capability.TOKENIZES, Capability.GENERATES, Capability.SCORES_TOKENS} <= handle.capabilities


async def _answer(batcher: DynamicBatcher, item: Any) -> Answer:
    try:
        return await batcher.submit(item)
    except Exception as error:  # the model failed on the batch this item was in
        raise HTTPException(500, f"the model failed: {type(error).__name__}: {error}") from None


def _timing(answer: Answer) -> dict[str, str]:
    return {
        "x-honed-queue-ms": f"{answer.queue_ms:.3f}",
        "x-honed-compute-ms": f"{answer.compute_ms:.3f}",
        "x-honed-batch": str(answer.batch),
    }


def _item(inputs: Any, item_shape: tuple[int, ...] | None) -> Any:
    if isinstance(inputs, dict):
        return {name: _tensor(values, f"inputs.{name}") for name, values in inputs.items()}
    tensor = _tensor(inputs, "inputs")
    if item_shape is not None and tuple(tensor.shape) != tuple(item_shape):
        raise HTTPException(
            422, f"inputs: shape {list(tensor.shape)}; this model takes one item of shape {list(item_shape)}"
        )
    return tensor


def _tensor(values: Any, where: str) -> torch.Tensor:
    try:
        return torch.tensor(values)
    except (TypeError, ValueError, RuntimeError) as error:
        raise HTTPException(422, f"{where}: not a rectangular list of numbers ({error})") from None


def _kserve_items(tensors: list[KServeTensor]) -> list[Any]:
    """KServe v2 tensors (first dimension the batch) as one item per row, by input name."""
    rows = {}
    for tensor in tensors:
        dtype = KSERVE_TYPES.get(tensor.datatype)
        if dtype is None:
            raise HTTPException(
                422, f"inputs.{tensor.name}.datatype: {tensor.datatype!r}; one of {', '.join(KSERVE_TYPES)}"
            )
        try:
            rows[tensor.name] = torch.tensor(tensor.data, dtype=dtype).reshape(tensor.shape)
        except (TypeError, ValueError, RuntimeError) as error:
            raise HTTPException(422, f"inputs.{tensor.name}: data do not fill shape {tensor.shape} ({error})") from None
    sizes = {len(t) for t in rows.values()}
    if len(sizes) != 1:
        raise HTTPException(422, "inputs: every input needs the same first (batch) dimension")
    count = sizes.pop()
    if len(rows) == 1:
        only = next(iter(rows.values()))
        return [only[i] for i in range(count)]
    return [{name: t[i] for name, t in rows.items()} for i in range(count)]
