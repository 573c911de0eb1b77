"""OpenAI's request fields on honed serve's completions: sampling is honoured (seeded: the same seed
gives the same text), stop strings end the text before them, and what honed does not serve is
refused naming the field (422), never accepted and ignored."""

from __future__ import annotations

import pytest


def _body(route: str, **fields) -> dict:
    body = {"prompt": "the cat"} if route == "/v1/completions" else {"messages": [{"role": "user", "content": "hi"}]}
    return {**body, **fields}


def _text(reply) -> str:
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    return choice["text"] if "text" in choice else choice["message"]["content"]


ROUTES = ["/v1/completions", "/v1/chat/completions"]


@pytest.mark.parametrize("route", ROUTES)
def test_greedy_values_change_nothing_and_what_is_not_served_is_refused_naming_the_field(llm_client, route):
    greedy = {"temperature": 0, "top_p": 1, "n": 1, "seed": 7, "model": "any", "presence_penalty": 0}
    answered = llm_client.post(route, json=_body(route, max_tokens=2, **greedy))
    plain = llm_client.post(route, json=_body(route, max_tokens=2)).json()
    assert _text(answered) == _text_of(plain) and answered.json()["choices"][0]["finish_reason"] == "length"
    for field, value in [
        ("temperature", 2.5),
        ("top_p", 0),
        ("top_k", -1),
        ("n", 2),
        ("frequency_penalty", 0.5),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("stop", [""]),
        ("logprobs", 1),
        ("top_p", 0.9),
        ("top_k", 5),
    ]:  # fmt: skip  (the last two: no temperature, so greedy)
        refused = llm_client.post(route, json=_body(route, max_tokens=2, **{field: value}))
        assert refused.status_code == 422, (field, refused.text)
        [problem] = refused.json()["detail"]
        assert field in problem["loc"], problem


def _text_of(reply: dict) -> str:
    choice = reply["choices"][0]
    return choice["text"] if "text" in choice else choice["message"]["content"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_sampled_completion_is_reproducible_from_its_seed(llm_client, route):
    def sampled(seed: int, **options) -> str:
        return _text(llm_client.post(route, json=_body(route, max_tokens=12, temperature=1.0, seed=seed, **options)))

    assert sampled(7) == sampled(7) and sampled(7, top_k=5, top_p=0.9) == sampled(7, top_k=5, top_p=0.9)
    assert len({sampled(seed) for seed in range(4)}) > 1  # the seed, not greedy decoding, chose them
    greedy = _text(llm_client.post(route, json=_body(route, max_tokens=12)))
    assert sampled(3, top_k=1) == greedy  # one candidate left: the most likely, whatever the draw


def test_a_stop_string_ends_the_text_before_it_whole_and_streamed(llm_client):
    whole = _text(llm_client.post("/v1/completions", json=_body("/v1/completions", max_tokens=16)))
    stop = whole.split()[2]  # a word the greedy text reaches after a few tokens
    cut = llm_client.post("/v1/completions", json=_body("/v1/completions", max_tokens=16, stop=[stop, "never"]))
    assert _text(cut) == whole[: whole.index(stop)] and cut.json()["choices"][0]["finish_reason"] == "stop"
    assert cut.json()["usage"]["completion_tokens"] < 16
    streamed = llm_client.post("/v1/completions", json=_body("/v1/completions", max_tokens=16, stop=stop, stream=True))
    import json

    chunks = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole[: whole.index(stop)]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
