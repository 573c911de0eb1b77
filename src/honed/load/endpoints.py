"""What one query sends and how its answer is read, per endpoint kind: a generic JSON POST (the
body as given), KServe v2 / Triton (``/v2/models/NAME/infer``), and OpenAI-compatible completions
and chat completions, streamed (server-sent events) or not."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp

from honed.core.errors import SpecError

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
    parts: list[Query] = field(default_factory=list)  # a multi-stream query's requests, each its own stream

    @property
    def streams(self) -> list[Query]:
        """The requests whose tokens streamed: a multi-stream query's parts, else the query itself."""
        return [part for part in self.parts or [self] if part.token_times]

    @property
    def ok(self) -> bool:
        return self.error is None and self.done is not None


PROMPT = "{{prompt}}"  # in a request template: replaced by each query's prompt
DEFAULT_PROMPT = "the quick brown fox jumps over the lazy dog"
DEFAULT_BODIES: dict[str, dict[str, Any]] = {  # templates for a body not given (kserve-v2 needs its tensors)
    "json": {"text": PROMPT},
    "openai-completions": {"prompt": PROMPT, "max_tokens": 64},
    "openai-chat": {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64},
}


@dataclass(frozen=True)
class Endpoint:
    """Where queries go and what they carry: ``body`` is a request template; with ``prompts``
    every ``{{prompt}}`` in its strings is replaced by the next prompt, in turn."""

    url: str
    kind: EndpointKind = "json"
    body: dict[str, Any] | None = None
    stream: bool = False
    prompts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise SpecError("load.url", self.url, "an http:// or https:// URL")
        if self.kind not in KINDS:
            raise SpecError("load.endpoint", self.kind, ", ".join(KINDS))
        if self.stream and not self.kind.startswith("openai"):
            raise SpecError("load.stream", True, "false for a json or kserve-v2 endpoint (streams are OpenAI's)")
        if self.body is None and self.kind not in DEFAULT_BODIES:
            raise SpecError("load.body", None, f"a request body for a {self.kind} endpoint (its input tensors)")
        if self.prompts and PROMPT not in json.dumps(self.template):
            raise SpecError("load.body", self.template, f"a request template with {PROMPT} where each prompt goes")

    @property
    def template(self) -> dict[str, Any]:
        body = DEFAULT_BODIES[self.kind] if self.body is None else self.body
        return {**body, "stream": True} if self.stream else body

    @property
    def requested_tokens(self) -> int | None:
        """The answer length each query asks for (OpenAI's ``max_tokens``), when the body says."""
        value = self.template.get("max_tokens", self.template.get("max_completion_tokens"))
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    def bodies(self) -> list[bytes]:
        """One encoded request body per prompt (the template alone when there are none), sent in
        turn; encoded once, not per query (the driver's time per query is what limits its rate)."""
        return [json.dumps(_fill(self.template, prompt)).encode() for prompt in self.prompts or (DEFAULT_PROMPT,)]


def _fill(value: Any, prompt: str) -> Any:
    if isinstance(value, str):
        return value.replace(PROMPT, prompt)
    if isinstance(value, dict):
        return {key: _fill(item, prompt) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, prompt) for item in value]
    return value


def read_prompts(path: str | Path) -> tuple[str, ...]:
    """Prompts for a request template: a ``.txt`` file, one prompt per line (blank lines skipped),
    or a ``.jsonl`` file of ``{"text": ...}`` objects."""
    from honed.tasks.fidelity import load_inputs

    texts = load_inputs(Path(path), field="load.prompts")
    if not isinstance(texts, list):
        raise SpecError(
            "load.prompts", str(path), 'a .txt file (one prompt per line) or a .jsonl file of {"text": ...}'
        )
    return tuple(texts)


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


JSON_TYPE = {"content-type": "application/json"}
SHED = (429, 503)  # a server refusing work it has no room for (honed serve past --max-queue: 503)


async def send(session: aiohttp.ClientSession, endpoint: Endpoint, query: Query, origin: float, body: bytes) -> None:
    """Send one query (an encoded body from ``Endpoint.bodies``) and fill in its times; a failure
    is recorded by kind, never raised."""
    query.sent = _clock(origin)
    try:
        async with session.post(endpoint.url, data=body, headers=JSON_TYPE) as response:
            _check(response, query)
            if endpoint.stream and query.error is None:
                await _streamed(response, query, origin)
            else:
                data = await response.read()
                if query.error is None and endpoint.kind.startswith("openai"):
                    query.output_tokens = _usage(json.loads(data))
        query.done = _clock(origin)
    except asyncio.TimeoutError:
        query.error = "timeout"
    except aiohttp.ClientConnectionError as error:
        query.error = "protocol" if isinstance(error, aiohttp.ServerDisconnectedError) else "connect"
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError, json.JSONDecodeError, UnicodeDecodeError):
        query.error = "protocol"
    except aiohttp.ClientError:
        query.error = "http"


def _check(response: aiohttp.ClientResponse, query: Query) -> None:
    if response.status in SHED:
        query.error = "rejected"  # the server shed load (admission control): not a failure of the model
    elif response.status >= 400:
        query.error = f"http_{response.status // 100}xx"
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


async def _streamed(response: aiohttp.ClientResponse, query: Query, origin: float) -> None:
    """Server-sent events: each chunk carrying text is a token's arrival; ``[DONE]`` ends."""
    async for raw in response.content:
        line = raw.decode().strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if _has_text(chunk):
            query.token_times.append(_clock(origin))
        query.output_tokens = _usage(chunk) or query.output_tokens
    if query.output_tokens is None:
        query.output_tokens = len(query.token_times)


def _has_text(chunk: Any) -> bool:
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not choices:
        return False
    choice = choices[0]
    return bool(choice.get("text") or (choice.get("delta") or {}).get("content"))
