"""What one query sends and how its answer is read, per endpoint kind: a generic JSON POST (the
body as given), KServe v2 / Triton (``/v2/models/NAME/infer``), and OpenAI-compatible completions
and chat completions, streamed (server-sent events) or not."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from honed.errors import SpecError

EndpointKind = Literal["json", "kserve-v2", "openai-completions", "openai-chat"]
KINDS: tuple[str, ...] = ("json", "kserve-v2", "openai-completions", "openai-chat")


@dataclass
class Query:
    """One query's times, in seconds from the run's start."""

    scheduled: float
    sent: float | None = None
    done: float | None = None
    error: str | None = None
    token_times: list[float] = field(default_factory=list)
    output_tokens: int | None = None
    server_queue_ms: float | None = None  # as the server reported it (honed serve does), else None
    server_compute_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.done is not None


@dataclass(frozen=True)
class Endpoint:
    url: str
    kind: EndpointKind = "json"
    body: dict[str, Any] = field(default_factory=dict)
    stream: bool = False

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise SpecError("load.url", self.url, "an http:// or https:// URL")
        if self.kind not in KINDS:
            raise SpecError("load.endpoint", self.kind, ", ".join(KINDS))
        if self.stream and not self.kind.startswith("openai"):
            raise SpecError("load.stream", True, "false for a json or kserve-v2 endpoint (streams are OpenAI's)")

    @property
    def request_body(self) -> dict[str, Any]:
        return {**self.body, "stream": True} if self.stream else self.body


def headers_from_env(pairs: list[str]) -> dict[str, str]:
    """``NAME=ENV_VAR`` pairs: each header's value is read from the environment at run time, so a
    secret never reaches a command line, a spec or a stored record."""
    headers = {}
    for pair in pairs:
        name, _, variable = pair.partition("=")
        if not name or not variable:
            raise SpecError("load.header", pair, "NAME=ENV_VAR (the value is read from the environment variable)")
        if variable not in os.environ:
            raise SpecError("load.header", pair, f"an environment variable {variable!r} that is set")
        headers[name] = os.environ[variable]
    return headers


def _clock(origin: float) -> float:
    return time.perf_counter() - origin


async def send(client: httpx.AsyncClient, endpoint: Endpoint, query: Query, origin: float) -> None:
    """Send one query and fill in its times; a failure is recorded by kind, never raised."""
    query.sent = _clock(origin)
    try:
        if endpoint.stream:
            await _streamed(client, endpoint, query, origin)
        else:
            response = await client.post(endpoint.url, json=endpoint.request_body)
            query.done = _clock(origin)
            _check(response, query)
            if query.error is None and endpoint.kind.startswith("openai"):
                query.output_tokens = _usage(response.json())
    except httpx.TimeoutException:
        query.error = "timeout"
    except httpx.ConnectError:
        query.error = "connect"
    except (httpx.RemoteProtocolError, httpx.ReadError, json.JSONDecodeError):
        query.error = "protocol"
    except httpx.HTTPError:
        query.error = "http"


def _check(response: httpx.Response, query: Query) -> None:
    if response.status_code >= 400:
        query.error = f"http_{response.status_code // 100}xx"
    query.server_queue_ms = _milliseconds(response.headers.get("x-honed-queue-ms"))
    query.server_compute_ms = _milliseconds(response.headers.get("x-honed-compute-ms"))


def _milliseconds(header: str | None) -> float | None:
    try:
        return float(header) if header is not None else None
    except ValueError:
        return None  # a header we do not understand is not an error of the query


def _usage(body: Any) -> int | None:
    usage = body.get("usage") if isinstance(body, dict) else None
    return usage.get("completion_tokens") if isinstance(usage, dict) else None


async def _streamed(client: httpx.AsyncClient, endpoint: Endpoint, query: Query, origin: float) -> None:
    """Server-sent events: each chunk carrying text is a token's arrival; ``[DONE]`` ends."""
    async with client.stream("POST", endpoint.url, json=endpoint.request_body) as response:
        _check(response, query)
        if query.error is not None:
            query.done = _clock(origin)
            return
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if _has_text(chunk):
                query.token_times.append(_clock(origin))
            query.output_tokens = _usage(chunk) or query.output_tokens
    query.done = _clock(origin)
    if query.output_tokens is None:
        query.output_tokens = len(query.token_times)


def _has_text(chunk: Any) -> bool:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not choices:
        return False
    choice = choices[0]
    return bool(choice.get("text") or (choice.get("delta") or {}).get("content"))
