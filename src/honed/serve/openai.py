"""OpenAI-compatible completions for a served causal language model: ``/v1/completions`` and
``/v1/chat/completions``, whole or streamed as server-sent events. Decoding is greedy with the
KV cache, one request at a time on the model thread (the server's batching is for forward
passes; continuous batching of generations is what dedicated LLM servers add). A request asking
for sampling, several answers or an option honed does not serve is refused naming the field."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from honed.models.capabilities import as_text_decoder
from honed.models.handle import ModelHandle
from honed.serve.admission import ClientGone, Expired, Refused, client_gone
from honed.serve.batcher import DynamicBatcher

MAX_TOKENS = 4096


class _Decoding(BaseModel):
    """What a request asks of the decoding. honed decodes greedily: a sampling option is taken at
    the value that means greedy and refused (422, naming it) at any other; an option not listed
    here is refused too, never accepted and ignored."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int = Field(default=16, ge=1, le=MAX_TOKENS)
    stream: bool = False
    model: str | None = None  # the one model served answers whatever name is asked for
    user: str | None = None
    seed: int | None = None  # greedy decoding is the same for every seed
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    @field_validator("temperature", "presence_penalty", "frequency_penalty")
    @classmethod
    def _zero(cls, value: float | None) -> float | None:
        if value not in (None, 0):
            raise ValueError("0 or absent: honed serve decodes greedily (sampling is not served)")
        return value

    @field_validator("top_p", "n")
    @classmethod
    def _one(cls, value: float | None) -> float | None:
        if value not in (None, 1):
            raise ValueError("1 or absent: honed serve decodes greedily, one answer a request")
        return value


class CompletionRequest(_Decoding):
    prompt: str


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(_Decoding):
    messages: list[ChatMessage] = Field(min_length=1)


def greedy_pieces(handle: ModelHandle, prompt: str, max_tokens: int) -> Iterator[str]:
    """The text each new token adds, one string per token (empty while a character split across
    tokens is incomplete: the new tokens are decoded as a whole), greedy with the KV cache, until
    ``max_tokens`` or the end-of-sequence token."""
    import torch

    decoder = as_text_decoder(handle)
    tokenizer = decoder.tokenizer
    stop = tokenizer.eos_token_id
    new: list[int] = []
    text, state, step = "", None, handle.prepare(handle.preprocess([prompt]))
    with torch.inference_mode():
        for _ in range(max_tokens):
            step, state = decoder.greedy_step(step, state)
            token = int(step[0, 0])
            if token == stop:
                return
            new.append(token)
            decoded = tokenizer.decode(new, skip_special_tokens=True)
            yield decoded[len(text) :] if decoded.startswith(text) else ""
            text = decoded if decoded.startswith(text) else text


def chat_prompt(handle: ModelHandle, messages: list[ChatMessage]) -> str:
    """The tokenizer's chat template where it has one, else the messages as ``role: content`` lines."""
    rows = [message.model_dump() for message in messages]
    tokenizer = as_text_decoder(handle).tokenizer
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(rows, tokenize=False, add_generation_prompt=True)
    return "\n".join(f"{row['role']}: {row['content']}" for row in rows) + "\nassistant:"


def add_routes(app: FastAPI, handle: ModelHandle, batcher: DynamicBatcher, served_as: str) -> None:
    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        job = _Generation(batcher, handle, body.prompt, body.max_tokens, batcher.admission.timeout_of(request.headers))
        return await _respond(job, served_as, body.stream, request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        prompt = chat_prompt(handle, body.messages)
        job = _Generation(batcher, handle, prompt, body.max_tokens, batcher.admission.timeout_of(request.headers))
        return await _respond(job, served_as, body.stream, request, chat=True)


async def _respond(job: _Generation, served_as: str, stream: bool, request: Request, chat: bool) -> Any:
    reply = _Reply(served_as, chat, len(as_text_decoder(job.handle).token_ids(job.prompt)))
    job.start()  # admitted, or refused (503), before any decoding
    pieces = job.pieces()
    if stream:  # a stream closed early stops the decode (pieces' finally)
        return StreamingResponse(reply.events(pieces), media_type="text/event-stream")
    whole = asyncio.ensure_future(_gathered(pieces))
    gone = asyncio.ensure_future(client_gone(request.receive))
    await asyncio.wait({whole, gone}, return_when=asyncio.FIRST_COMPLETED)
    gone.cancel()
    if not whole.done():  # the client went away: the decode stops at its next token
        job.stop.set()
        whole.cancel()
        raise ClientGone("the client went away")
    texts = whole.result()
    return JSONResponse(reply.whole("".join(texts), len(texts), job.max_tokens))


async def _gathered(pieces: AsyncIterator[str]) -> list[str]:
    return [piece async for piece in pieces]


class _Generation:
    """One greedy decode on the model thread, with the request's deadline: not started once it has
    passed (504), cut short when it passes mid-way or when the client goes (a stream closed early)."""

    def __init__(self, batcher: DynamicBatcher, handle: ModelHandle, prompt: str, max_tokens: int, timeout_s: float):
        self.batcher, self.handle, self.prompt, self.max_tokens = batcher, handle, prompt, max_tokens
        self.deadline = time.perf_counter() + timeout_s
        self.stop = threading.Event()

    def start(self) -> None:
        """Take a place in the queue (or be refused) and queue the decode on the model thread: at
        once, so the place is given back when it starts even if nobody reads the pieces."""
        self.batcher.reserve()
        loop = asyncio.get_running_loop()
        self._pieces: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

        def put(piece: str | BaseException | None) -> None:
            loop.call_soon_threadsafe(self._pieces.put_nowait, piece)

        self.batcher.on_model_thread(functools.partial(self._decode, loop, put))

    async def pieces(self) -> AsyncIterator[str]:
        """Each piece reaches the event loop as soon as the model thread makes it."""
        try:
            while (piece := await self._pieces.get()) is not None:
                if isinstance(piece, Refused):
                    raise piece
                if isinstance(piece, BaseException):
                    raise HTTPException(500, f"the model failed: {type(piece).__name__}: {piece}")
                yield piece
        finally:
            self.stop.set()  # the client went away (the stream was closed): the thread stops decoding

    def _decode(self, loop: asyncio.AbstractEventLoop, put: Any) -> None:
        gone, late = self.stop.is_set(), time.perf_counter() >= self.deadline
        loop.call_soon_threadsafe(self.batcher.release, "disconnected" if gone else "expired" if late else None)
        try:
            if gone or late:
                put(Expired("the request's deadline passed before its generation started"))
                return
            for piece in greedy_pieces(self.handle, self.prompt, self.max_tokens):
                if self.stop.is_set():
                    break
                if time.perf_counter() >= self.deadline:
                    put(Expired("the request's deadline passed during its generation"))
                    break
                put(piece)
        except Exception as error:  # the client hears why; the model thread lives on
            put(error)
        finally:
            put(None)


class _Reply:
    """OpenAI's response shapes for one request."""

    def __init__(self, model: str, chat: bool, prompt_tokens: int):
        self.model, self.chat, self.prompt_tokens = model, chat, prompt_tokens
        self.id, self.created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

    def _choice(self, text: str, finish: str | None, whole: bool) -> dict[str, Any]:
        if not self.chat:
            return {"index": 0, "text": text, "finish_reason": finish}
        key = "message" if whole else "delta"
        return {"index": 0, key: {"role": "assistant", "content": text}, "finish_reason": finish}

    def _object(self, whole: bool) -> str:
        if self.chat:
            return "chat.completion" if whole else "chat.completion.chunk"
        return "text_completion"

    def whole(self, text: str, tokens: int, max_tokens: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self._object(True),
            "created": self.created,
            "model": self.model,
            "choices": [self._choice(text, "length" if tokens >= max_tokens else "stop", True)],
            "usage": self._usage(tokens),
        }

    def _usage(self, tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": self.prompt_tokens + tokens,
        }

    async def events(self, pieces: AsyncIterator[str]) -> AsyncIterator[str]:
        tokens = 0
        try:
            async for piece in pieces:
                tokens += 1
                if piece:  # a token that completes no character yet is counted, not sent
                    yield self._event({"choices": [self._choice(piece, None, False)]})
        except (Refused, HTTPException) as error:  # the 200 is sent already: the stream says why, as OpenAI's do
            code = error.status if isinstance(error, Refused) else error.status_code
            yield f"data: {json.dumps({'error': {'message': error.detail, 'code': code}})}\n\n"
            yield "data: [DONE]\n\n"
            return
        yield self._event({"choices": [self._choice("", "stop", False)], "usage": self._usage(tokens)})
        yield "data: [DONE]\n\n"

    def _event(self, fields: dict[str, Any]) -> str:
        chunk = {"id": self.id, "object": self._object(False), "created": self.created, "model": self.model, **fields}
        return f"data: {json.dumps(chunk)}\n\n"
