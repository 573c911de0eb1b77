"""Concurrent completions decoded together (continuous batching): requests join and leave the
running batch between decoding steps and each gets, token for token, the text it gets alone, on
llama.cpp's parallel sequences and on a torch model's sequences in turn; a client leaving frees its
slot; the decode steps and token times are in /metrics."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator

import pytest

PROMPTS = ["the cat sat on", "a dog ran to the", "one two three", "my house is near the"]


def _complete(client, prompt: str, **fields) -> dict:
    reply = client.post("/v1/completions", json={"prompt": prompt, "max_tokens": 24, **fields})
    assert reply.status_code == 200, reply.text
    return reply.json()


@contextlib.contextmanager
def _served(handle, max_batch: int = 4) -> Iterator[tuple]:
    """The handle served in process (no socket), with its batcher: the tests hold its model thread."""
    from fastapi.testclient import TestClient

    from honed.serve.admission import Admission
    from honed.serve.app import build_app
    from honed.serve.batcher import DynamicBatcher

    batcher = DynamicBatcher(handle, max_batch, 1.0, admission=Admission(max_queue=64, timeout_s=60, watchdog_s=60))
    with TestClient(build_app(handle, batcher, None)) as client:
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield client, batcher


def _at_once(client, batcher, prompts: list[str], **fields) -> list[str]:
    """Every prompt queued while the model thread is held, then let go: all join the first step."""
    texts: list[str | None] = [None] * len(prompts)
    release = threading.Event()
    batcher.copies[0].thread.submit(release.wait, 60)

    def send(i: int) -> None:
        texts[i] = _complete(client, prompts[i], **fields)["choices"][0]["text"]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while batcher.waiting < len(prompts) and time.monotonic() < deadline:  # each has its place in the queue
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(timeout=120)
    return [text for text in texts if text is not None]


def _metric(client, name: str) -> float:
    [value] = re.findall(rf"^{re.escape(name)} ([0-9.e+-]+)$", client.get("/metrics").text, flags=re.M)
    return float(value)


@pytest.mark.parametrize("model", ["gguf", "torch"])
def test_concurrent_completions_share_decode_steps_and_each_decodes_as_alone(model, request):
    handle = request.getfixturevalue("tiny_gguf_handle" if model == "gguf" else "tiny_llama_handle")
    with _served(handle) as (client, batcher):  # 4 slots (the batcher's max batch)
        alone = [_complete(client, prompt)["choices"][0]["text"] for prompt in PROMPTS]
        steps_alone = _metric(client, "honed_decode_batch_size_count")
        assert _metric(client, 'honed_decode_batch_size_bucket{le="1.0"}') == steps_alone  # one sequence a step
        together = _at_once(client, batcher, PROMPTS)
        assert together == alone
        steps_together = _metric(client, "honed_decode_batch_size_count") - steps_alone
        assert steps_together <= steps_alone / 3  # the same tokens in about a quarter of the steps: shared
        seeded = _at_once(client, batcher, PROMPTS[:2] * 2, temperature=1.0, seed=5)
        assert seeded[0] == seeded[2] and seeded[1] == seeded[3]  # the seed decides, not who ran beside
        assert _metric(client, "honed_time_to_first_token_seconds_count") == 12
        assert _metric(client, "honed_inter_token_seconds_count") > 0
        assert _metric(client, "honed_sequences_running") == 0


def test_a_client_leaving_mid_stream_frees_its_slot(tiny_gguf_handle):
    with _served(tiny_gguf_handle, max_batch=1) as (client, _):
        body = {"prompt": "the cat", "max_tokens": 4000, "stream": True}
        with client.stream("POST", "/v1/completions", json=body) as stream:  # one slot, held by this stream
            first = next(line for line in stream.iter_lines() if line.startswith("data: {"))
            assert json.loads(first[6:])["choices"]
        # Left after one chunk: the slot is freed at the next step, so the next request is decoded.
        reply = client.post("/v1/completions", json={"prompt": "the dog", "max_tokens": 3})
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 3
        assert _metric(client, "honed_generated_tokens_total") < 200  # not the 1,000 its context holds
