"""OpenAI's request fields on honed serve's completions: what would change greedy decoding is
refused naming the field (422), never accepted and ignored; its greedy values are taken."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("route", ["/v1/completions", "/v1/chat/completions"])
def test_sampling_is_refused_naming_the_field_and_its_greedy_values_are_taken(llm_client, route):
    body = {"prompt": "the cat"} if route == "/v1/completions" else {"messages": [{"role": "user", "content": "hi"}]}
    body["max_tokens"] = 2
    greedy = {"temperature": 0, "top_p": 1, "n": 1, "seed": 7, "model": "any", "presence_penalty": 0}
    answered = llm_client.post(route, json={**body, **greedy})
    assert answered.status_code == 200, answered.text
    plain = llm_client.post(route, json=body).json()
    assert answered.json()["choices"] == plain["choices"]  # the greedy values change nothing
    for field, value in [("temperature", 0.7), ("top_p", 0.9), ("n", 2), ("frequency_penalty", 0.5),
                         ("stop", ["\n"]), ("logprobs", 1)]:  # fmt: skip
        refused = llm_client.post(route, json={**body, field: value})
        assert refused.status_code == 422, (field, refused.text)
        [problem] = refused.json()["detail"]
        assert problem["loc"][-1] == field, problem
