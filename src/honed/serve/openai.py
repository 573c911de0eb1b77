"""OpenAI-compatible completions for a served causal language model: ``/v1/completions`` and
``/v1/chat/completions``, whole or streamed as server-sent events. Decoding is greedy with the
KV cache, one request at a time on the model thread (the server's batching is for forward
passes; continuous batching of generations is what dedicated LLM servers add)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from honed.models.handle import ModelHandle
from honed.serve.batcher import DynamicBatcher

MAX_TOKENS = 4096


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # sampling options other servers take are accepted, not used
    prompt: str
    max_tokens: int = Field(default=16, ge=1, le=MAX_TOKENS)
    stream: bool = False


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int = Field(default=16, ge=1, le=MAX_TOKENS)
    stream: bool = False


def greedy_pieces(handle: Any, prompt: str, max_tokens: int) -> Iterator[str]:
    """The text each new token adds, one string per token (empty while a character split across
    tokens is incomplete: the new tokens are decoded as a whole), greedy with the KV cache, until
    ``max_tokens`` or the end-of-sequence token."""
    import torch

    tokenizer = handle.tokenizer
    stop = tokenizer.eos_token_id
    new: list[int] = []
    text, state, step = "", None, handle.prepare(handle.preprocess([prompt]))
    with torch.inference_mode():
        for _ in range(max_tokens):
            step, state = handle.greedy_step(step, state)
            token = int(step[0, 0])
            if token == stop:
                return
            new.append(token)
            decoded = tokenizer.decode(new, skip_special_tokens=True)
            yield decoded[len(text) :] if decoded.startswith(text) else ""
            text = decoded if decoded.startswith(text) else text


def chat_prompt(handle: Any, messages: list[ChatMessage]) -> str:
    """The tokenizer's chat template where it has one, else the messages as ``role: content`` lines."""
    rows = [message.model_dump() for message in messages]
    if getattr(handle.tokenizer, "chat_template", None):
        return handle.tokenizer.apply_chat_template(rows, tokenize=False, add_generation_prompt=True)
    return "\n".join(f"{row['role']}: {row['content']}" for row in rows) + "\nassistant:"


def add_routes(app: FastAPI, handle: ModelHandle, batcher: DynamicBatcher, served_as: str) -> None:
    @app.post("/v1/completions")
    async def completions(body: CompletionRequest) -> Any:
        return await _respond(handle, batcher, served_as, body.prompt, body.max_tokens, body.stream, chat=False)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest) -> Any:
        prompt = chat_prompt(handle, body.messages)
        return await _respond(handle, batcher, served_as, prompt, body.max_tokens, body.stream, chat=True)


async def _respond(
    handle: Any, batcher: DynamicBatcher, served_as: str, prompt: str, max_tokens: int, stream: bool, chat: bool
) -> Any:
    reply = _Reply(served_as, chat, len(handle.token_ids(prompt)))
    pieces = _pieces_from_model_thread(batcher, handle, prompt, max_tokens)
    if stream:
        return StreamingResponse(reply.events(pieces), media_type="text/event-stream")
    texts = [piece async for piece in pieces]
    return JSONResponse(reply.whole("".join(texts), len(texts), max_tokens))


async def _pieces_from_model_thread(
    batcher: DynamicBatcher, handle: Any, prompt: str, max_tokens: int
) -> AsyncIterator[str]:
    """Decode on the model thread; each piece reaches the event loop as soon as it is made."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

    def decode() -> None:
        try:
            for piece in greedy_pieces(handle, prompt, max_tokens):
                loop.call_soon_threadsafe(pieces.put_nowait, piece)
        except Exception as error:  # the client hears why; the model thread lives on
            loop.call_soon_threadsafe(pieces.put_nowait, error)
        loop.call_soon_threadsafe(pieces.put_nowait, None)

    batcher.on_model_thread(decode)
    while (piece := await pieces.get()) is not None:
        if isinstance(piece, BaseException):
            raise HTTPException(500, f"the model failed: {type(piece).__name__}: {piece}")
        yield piece


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
        async for piece in pieces:
            tokens += 1
            if piece:  # a token that completes no character yet is counted, not sent
                yield self._event({"choices": [self._choice(piece, None, False)]})
        yield self._event({"choices": [self._choice("", "stop", False)], "usage": self._usage(tokens)})
        yield "data: [DONE]\n\n"

    def _event(self, fields: dict[str, Any]) -> str:
        chunk = {"id": self.id, "object": self._object(False), "created": self.created, "model": self.model, **fields}
        return f"data: {json.dumps(chunk)}\n\n"
