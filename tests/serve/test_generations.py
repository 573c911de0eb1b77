"""Concurrent completions decoded together (continuous batching): requests join and leave the
running batch between decoding steps and each gets, token for token, the text it gets alone, on
llama.cpp's parallel sequences and on a torch model's sequences in turn; a client leaving frees its
slot; the decode steps and token times are in /metrics."""

from __future__ import annotations

import json
import re
import threading

import pytest

from helpers import ready_client

PROMPTS = ["the cat sat on", "a dog ran to the", "one two three", "my house is near the"]


def _complete(client, prompt: str, **fields) -> dict:
    reply = client.post("/v1/completions", json={"prompt": prompt, "max_tokens": 24, **fields})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _at_once(client, prompts: list[str], **fields) -> list[str]:
    """Every prompt sent at the same moment, each from its own thread."""
    texts: list[str | None] = [None] * len(prompts)
    start = threading.Barrier(len(prompts))

    def send(i: int) -> None:
        start.wait()
        texts[i] = _complete(client, prompts[i], **fields)["choices"][0]["text"]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return [text for text in texts if text is not None]


def _metric(client, name: str) -> float:
    [value] = re.findall(rf"^{re.escape(name)} ([0-9.e+-]+)$", client.get("/metrics").text, flags=re.M)
    return float(value)


@pytest.mark.parametrize("model", ["gguf", "torch"])
def test_concurrent_completions_share_decode_steps_and_each_decodes_as_alone(model, request):
    handle = request.getfixturevalue("tiny_gguf_handle" if model == "gguf" else "tiny_llama_handle")
    with ready_client(handle, None) as client:  # 4 slots (the batcher's max batch)
        alone = [_complete(client, prompt)["choices"][0]["text"] for prompt in PROMPTS]
        steps_alone = _metric(client, "honed_decode_batch_size_count")
        assert _metric(client, 'honed_decode_batch_size_bucket{le="1.0"}') == steps_alone  # one sequence a step
        together = _at_once(client, PROMPTS)
        assert together == alone
        steps_together = _metric(client, "honed_decode_batch_size_count") - steps_alone
        assert steps_together < steps_alone  # the same tokens in fewer steps: sequences shared them
        assert _metric(client, 'honed_decode_batch_size_bucket{le="1.0"}') < steps_alone + steps_together
        seeded = _at_once(client, PROMPTS[:2] * 2, temperature=1.0, seed=5)
        assert seeded[0] == seeded[2] and seeded[1] == seeded[3]  # the seed decides, not who ran beside
        assert _metric(client, "honed_time_to_first_token_seconds_count") == 12
        assert _metric(client, "honed_inter_token_seconds_count") > 0
        assert _metric(client, "honed_sequences_running") == 0


def test_a_client_leaving_mid_stream_frees_its_slot(tiny_gguf_handle):
    from fastapi.testclient import TestClient

    from honed.serve.admission import Admission
    from honed.serve.app import build_app
    from honed.serve.batcher import DynamicBatcher

    admission = Admission(max_queue=8, timeout_s=60.0, watchdog_s=60.0)
    app = build_app(tiny_gguf_handle, DynamicBatcher(tiny_gguf_handle, 1, 1.0, admission=admission), None)
    with TestClient(app) as client:
        while client.get("/ready").status_code != 200:
            pass
        body = {"prompt": "the cat", "max_tokens": 4000, "stream": True}
        with client.stream("POST", "/v1/completions", json=body) as stream:  # one slot, held by this stream
            first = next(line for line in stream.iter_lines() if line.startswith("data: {"))
            assert json.loads(first[6:])["choices"]
        # Left after one chunk: the slot is freed at the next step, so the next request is decoded.
        reply = client.post("/v1/completions", json={"prompt": "the dog", "max_tokens": 3})
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 3
        assert _metric(client, "honed_generated_tokens_total") < 200  # not the 1,000 its context holds
