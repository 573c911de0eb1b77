"""OpenAI-compatible completions for a served causal language model: ``/v1/completions`` and
``/v1/chat/completions``, whole or streamed as server-sent events. Concurrent requests are decoded
together (continuous batching, ``generations``), greedy or sampled from the request's seeded
generator (temperature, top_p, top_k, seed), ending at ``stop`` strings. A request asking for
several answers or an option honed does not serve is refused naming the field (422)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from honed.models.capabilities import as_text_decoder
from honed.models.handle import ModelHandle
from honed.serve.admission import ClientGone, Refused, client_gone
from honed.serve.batcher import DynamicBatcher
from honed.serve.completion_text import CompletionText
from honed.serve.generations import DecodeLoop, Generation, Piece
from honed.serve.sampling import Sampler

MAX_TOKENS = 4096


class _Decoding(BaseModel):
    """What a request asks of the decoding. An option not listed here is refused (422), never
    accepted and ignored; so are penalties other than 0 and more than one answer."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int = Field(default=16, ge=1, le=MAX_TOKENS)
    stream: bool = False
    model: str | None = None  # the one model served answers whatever name is asked for
    user: str | None = None
    seed: int | None = None  # sampling draws from a generator seeded with it: the same seed, the same text
    temperature: float | None = Field(default=None, ge=0, le=2)  # 0 or absent: greedy
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0)  # not OpenAI's; llama.cpp's and vLLM's servers take it
    stop: str | list[str] | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    @field_validator("presence_penalty", "frequency_penalty")
    @classmethod
    def _zero(cls, value: float | None) -> float | None:
        if value not in (None, 0):
            raise ValueError("0 or absent: honed serve applies no penalties")
        return value

    @field_validator("n")
    @classmethod
    def _one(cls, value: int | None) -> int | None:
        if value not in (None, 1):
            raise ValueError("1 or absent: honed serve gives one answer a request")
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > 4 or not all(stops):
            raise ValueError("up to 4 non-empty strings (OpenAI's limit)")
        return value

    @field_validator("top_p", "top_k")
    @classmethod
    def _sampling_only(cls, value: float | None, info: ValidationInfo) -> float | None:
        """They shape a draw: without a temperature (greedy, honed's default) they would be taken
        and change nothing."""
        if not info.data.get("temperature") and value not in (None, 1 if info.field_name == "top_p" else 0):
            raise ValueError("applies when sampling: set temperature above 0 (absent or 0: greedy)")
        return value

    def stops(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def sampler(self) -> Sampler:
        return Sampler(self.temperature, self.top_p, self.top_k, self.seed)


class CompletionRequest(_Decoding):
    prompt: str


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(_Decoding):
    messages: list[ChatMessage] = Field(min_length=1)


def greedy_pieces(handle: ModelHandle, prompt: str, max_tokens: int) -> Iterator[str]:
    """The text each new token adds, one string per token (see ``CompletionText``), greedy with
    the KV cache, until ``max_tokens`` or the end-of-sequence token: one request alone, in this
    thread (the arena's contestants)."""
    import torch

    decoder = as_text_decoder(handle)
    text = CompletionText(decoder.tokenizer)
    state, step = None, handle.prepare(handle.preprocess([prompt]))
    with torch.inference_mode():
        for _ in range(max_tokens):
            step, state = decoder.greedy_step(step, state)
            token = int(step[0, 0])
            if token == decoder.tokenizer.eos_token_id:
                return
            yield text.add(token)


def chat_prompt(handle: ModelHandle, messages: list[ChatMessage]) -> str:
    """The tokenizer's chat template where it has one, else the messages as ``role: content`` lines."""
    rows = [message.model_dump() for message in messages]
    tokenizer = as_text_decoder(handle).tokenizer
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(rows, tokenize=False, add_generation_prompt=True)
    return "\n".join(f"{row['role']}: {row['content']}" for row in rows) + "\nassistant:"


def add_routes(app: FastAPI, handle: ModelHandle, batcher: DynamicBatcher, served_as: str) -> None:
    """The OpenAI routes, and the decoding loop they share."""
    loop = DecodeLoop(batcher, handle, slots=batcher.max_batch)
    decoder = as_text_decoder(handle)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Any:
        return await _respond(body, body.prompt, request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Any:
        return await _respond(body, chat_prompt(handle, body.messages), request, chat=True)

    async def _respond(body: _Decoding, prompt: str, request: Request, chat: bool) -> Any:
        prompt_ids = decoder.token_ids(prompt)
        reply = _Reply(served_as, chat, len(prompt_ids))
        pieces: asyncio.Queue[Piece | BaseException | None] = asyncio.Queue()
        events = asyncio.get_running_loop()

        def put(piece: Piece | BaseException | None) -> None:  # from the model thread
            events.call_soon_threadsafe(pieces.put_nowait, piece)

        generation = Generation(
            prompt_ids,
            body.max_tokens,
            body.sampler(),
            CompletionText(decoder.tokenizer, body.stops()),
            time.perf_counter() + batcher.admission.timeout_of(request.headers),
            put,
        )
        loop.submit(generation)  # admitted, or refused (503), before any decoding
        stream = _pieces(pieces, generation)
        if body.stream:  # a stream closed early stops the decode (_pieces' finally)
            return StreamingResponse(reply.events(stream), media_type="text/event-stream")
        whole = asyncio.ensure_future(_gathered(stream))
        gone = asyncio.ensure_future(client_gone(request.receive))
        await asyncio.wait({whole, gone}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if not whole.done():  # the client went away: the decode stops at its next step
            generation.gone.set()
            whole.cancel()
            raise ClientGone("the client went away")
        return JSONResponse(reply.whole(whole.result()))


async def _pieces(queue: asyncio.Queue, generation: Generation) -> AsyncIterator[Piece]:
    """Each piece as soon as the model thread makes it; a refusal or failure raised."""
    try:
        while (piece := await queue.get()) is not None:
            if isinstance(piece, Refused):
                raise piece
            if isinstance(piece, BaseException):
                raise HTTPException(500, f"the model failed: {type(piece).__name__}: {piece}")
            yield piece
    finally:
        generation.gone.set()  # the client went away (the stream was closed): its slot is freed


async def _gathered(pieces: AsyncIterator[Piece]) -> list[Piece]:
    return [piece async for piece in pieces]


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

    def whole(self, pieces: list[Piece]) -> dict[str, Any]:
        finish = pieces[-1].finish if pieces else None
        return {
            "id": self.id,
            "object": self._object(True),
            "created": self.created,
            "model": self.model,
            "choices": [self._choice("".join(p.text for p in pieces), finish, True)],
            "usage": self._usage(sum(p.tokens for p in pieces)),
        }

    def _usage(self, tokens: int) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": self.prompt_tokens + tokens,
        }

    async def events(self, pieces: AsyncIterator[Piece]) -> AsyncIterator[str]:
        tokens, finish = 0, None
        try:
            async for piece in pieces:
                tokens, finish = tokens + piece.tokens, piece.finish
                if piece.text:  # a token that completes no character yet is counted, not sent
                    yield self._event({"choices": [self._choice(piece.text, None, False)]})
        except (Refused, HTTPException) as error:  # the 200 is sent already: the stream says why, as OpenAI's do
            code = error.status if isinstance(error, Refused) else error.status_code
            yield f"data: {json.dumps({'error': {'message': error.detail, 'code': code}})}\n\n"
            yield "data: [DONE]\n\n"
            return
        yield self._event({"choices": [self._choice("", finish, False)], "usage": self._usage(tokens)})
        yield "data: [DONE]\n\n"

    def _event(self, fields: dict[str, Any]) -> str:
        chunk = {"id": self.id, "object": self._object(False), "created": self.created, "model": self.model, **fields}
        return f"data: {json.dumps(chunk)}\n\n"
