"""Fuzzed request bodies on every POST route of `honed serve`: each gets an answer (200 when it
happens to be valid) or a 4xx that says why, never a 5xx, and the server lives on. Example counts
come from the Hypothesis profile: 1,000 per route in `make test` (tests/conftest.py)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
NUMBERS = st.lists(st.integers(-3, 3) | st.floats(-1e3, 1e3) | st.just(10**40), min_size=0, max_size=6)
KSERVE_TENSOR = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["input", "x", ""]) | VALUES,
        "shape": st.lists(st.integers(-2, 5), max_size=3) | VALUES,
        "datatype": st.sampled_from(["FP32", "INT64", "BOOL", "BYTES", "fp32"]) | VALUES,
        "data": NUMBERS | VALUES,
    },
)
VALID_ROW = st.lists(st.floats(-10, 10), min_size=4, max_size=4)
KSERVE_VALID = st.lists(VALID_ROW, min_size=1, max_size=3).map(
    lambda rows: {"name": "input", "shape": [len(rows), 4], "datatype": "FP32", "data": sum(rows, [])}
)
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]), "content": st.text(max_size=20)})
ROUTE_FIELDS = {
    "/v1/predict": {
        "inputs": VALID_ROW
        | NUMBERS
        | st.lists(NUMBERS, max_size=3)
        | st.dictionaries(st.text(max_size=6), NUMBERS, max_size=2),
        "text": st.text(max_size=40),
    },
    "/v2/models/{name}/infer": {"inputs": st.lists(KSERVE_VALID | KSERVE_TENSOR, max_size=3)},
    "/v1/completions": {"prompt": st.text(max_size=40), "max_tokens": st.integers(-2, 8), "stream": st.booleans()},
    "/v1/chat/completions": {
        "messages": st.lists(
            MESSAGE | st.fixed_dictionaries({}, optional={"role": SCALARS, "content": SCALARS}), max_size=3
        ),
        "max_tokens": st.integers(-2, 8),
        "stream": st.booleans(),
    },
}


REQUIRED = {"/v1/predict": "inputs", "/v2/models/{name}/infer": "inputs", "/v1/completions": "prompt"}
REQUIRED["/v1/chat/completions"] = "messages"


def bodies(route: str) -> st.SearchStrategy[bytes]:
    """Raw bytes, any JSON, objects with any of the route's own fields holding near-valid or any
    values, and objects with its required field in the form it takes (valid often enough)."""
    fields = ROUTE_FIELDS[route]
    anything = {name: strategy | VALUES for name, strategy in fields.items()}
    shaped = st.fixed_dictionaries({}, optional={**anything, "extra": VALUES})
    required = REQUIRED[route]
    near = st.fixed_dictionaries(
        {required: fields[required]}, optional={k: v for k, v in fields.items() if k != required}
    )
    objects = shaped | near
    return st.binary(max_size=64) | VALUES.map(json.dumps).map(str.encode) | objects.map(json.dumps).map(str.encode)


def _check(client: TestClient, path: str, body: bytes) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: how many were valid
    assert response.status_code == 200 or 400 <= response.status_code < 500, (body, response.text)
    if response.status_code != 200 and "event-stream" not in response.headers.get("content-type", ""):
        assert response.json()["detail"]  # a refusal says why


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies("/v1/predict"))
def test_predict_bodies(sleeper_client, body):
    _check(sleeper_client[0], "/v1/predict", body)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies("/v2/models/{name}/infer"))
def test_kserve_infer_bodies(sleeper_client, body):
    client, name = sleeper_client
    _check(client, f"/v2/models/{name}/infer", body)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies("/v1/completions"))
def test_completions_bodies(llm_client, body):
    _check(llm_client, "/v1/completions", body)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies("/v1/chat/completions"))
def test_chat_bodies(llm_client, body):
    _check(llm_client, "/v1/chat/completions", body)


def test_the_servers_lived_through_the_fuzzing(sleeper_client, llm_client):
    client, name = sleeper_client
    answer = client.post("/v1/predict", json={"inputs": [1, 2, 3, 4]})
    assert answer.status_code == 200 and answer.json()["outputs"] == [2.0, 4.0, 6.0, 8.0]
    assert client.get("/v1/stats").json()["failed"] == {}  # no item made the model fail
    assert llm_client.post("/v1/completions", json={"prompt": "hello", "max_tokens": 2}).status_code == 200
