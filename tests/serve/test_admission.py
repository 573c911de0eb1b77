"""Admission in `honed serve`'s own terms: the default queue bound, the deadline header, readiness
while warming up, generations under the same deadline, and outputs JSON cannot carry."""

from __future__ import annotations

import json

import pytest
import torch
from fastapi.testclient import TestClient

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models import load_model
from honed.serve.admission import Admission, default_max_queue, latency_bound_s
from honed.serve.app import build_app
from honed.serve.batcher import DynamicBatcher
from honed.serve.items import output_list
from honed.serve.server import ServeSettings


def test_the_default_queue_holds_half_a_second_of_batches_and_at_least_one_per_copy():
    # 10 ms batches of 8, no gathering wait: 50 batches in 0.5 s, 400 items.
    assert default_max_queue(8, 0.0, 0.010, 1) == 400
    assert default_max_queue(8, 0.0, 0.010, 2) == 800  # two copies drain twice as fast
    assert default_max_queue(8, 0.002, 0.048, 1) == 80  # 50 ms a batch with the wait: 10 batches
    assert default_max_queue(4, 0.0, 2.0, 3) == 12  # a batch slower than the budget: one per copy
    assert default_max_queue(4, 0.0, None, 1) == 64  # not measured: 16 batches
    # A full queue of 400 behind one copy: 50 batches ahead, then its own.
    assert latency_bound_s(400, 8, 0.0, 0.010, 1) == pytest.approx(0.51)


def test_a_client_may_lower_its_deadline_never_raise_it():
    admission = Admission(max_queue=10, timeout_s=2.0, watchdog_s=60.0)
    assert admission.deadline_s(None) == 2.0
    assert admission.deadline_s("250") == 0.25
    assert admission.deadline_s("60000") == 2.0
    for bad in ("soon", "0", "-5", "nan"):
        with pytest.raises(SpecError, match="x-honed-timeout-ms"):
            admission.deadline_s(bad)


@pytest.mark.parametrize(
    "field, settings",
    [
        ("serve.max_queue", {"max_queue": 10**6}),
        ("serve.request_timeout_ms", {"request_timeout_ms": 0}),
        ("serve.watchdog_seconds", {"watchdog_seconds": -1}),
        ("serve.instances", {"instances": 0}),
        ("serve.drain_seconds", {"drain_seconds": -1}),
        ("serve.max_batch", {"max_batch": 0}),
        ("serve.slo_ms", {"slo_ms": 0}),
        ("serve.slo_ms", {"slo_ms": -5}),  # not the request timeout it lowers
        ("serve.queue_order", {"queue_order": "lifo"}),
    ],
)
def test_bad_serve_settings_name_the_field(field, settings):
    with pytest.raises(SpecError, match=field):
        ServeSettings(**settings)


def test_max_queue_0_means_no_bound_and_none_means_measured():
    assert ServeSettings(max_queue=0).admission().max_queue is None
    assert not ServeSettings(max_queue=0).admission().queue_from_warmup
    assert ServeSettings().admission().queue_from_warmup
    assert ServeSettings(max_queue=7).admission().max_queue == 7


def test_an_slo_sets_the_deadline_the_budget_and_when_the_queue_turns_newest_first():
    admission = ServeSettings(slo_ms=250).admission()
    assert admission.timeout_s == 0.25 and admission.budget_s == 0.25 and admission.standing_s == 0.125
    assert ServeSettings(slo_ms=250, request_timeout_ms=100).admission().timeout_s == 0.1  # the lower one
    plain = ServeSettings().admission()
    assert plain.timeout_s == 30 and plain.budget_s == 0.5 and plain.standing_s == 0.25 and plain.order == "adaptive"
    # 10 ms batches of 8: 25 batches in 250 ms.
    assert default_max_queue(8, 0.0, 0.010, 1, admission.budget_s) == 200


def test_outputs_json_cannot_carry_become_null():
    assert output_list(torch.tensor([1.0, float("nan"), float("inf")])) == [1.0, None, None]
    assert output_list(torch.tensor([[1.0], [float("-inf")]])) == [[1.0], [None]]
    assert output_list(torch.tensor([1, 2])) == [1, 2]


def test_the_server_is_alive_but_not_ready_while_it_warms_up():
    handle = load_model(ModelRef(source="honed.zoo:sleeper", kind="factory", options={"kwargs": {"milliseconds": 400}}))
    app = build_app(handle, DynamicBatcher(handle, 2, 1.0), InputSpec(shape=(4,)))
    with TestClient(app) as client:  # warming up: three batches of 400 ms
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["reason"] == "warming up"
        refused = client.post("/v1/predict", json={"inputs": [1, 2, 3, 4]})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert client.get("/v1/stats").json()["rejected"] == {"not_ready": 1}


def test_a_generation_past_its_deadline_is_refused_whole_or_ends_its_stream_with_the_reason(llm_client):
    late = {"x-honed-timeout-ms": "0.001"}  # gone before the model thread takes it
    whole = llm_client.post("/v1/completions", json={"prompt": "hello", "max_tokens": 4}, headers=late)
    assert whole.status_code == 504 and "deadline" in whole.json()["detail"]
    streamed = llm_client.post("/v1/completions", json={"prompt": "hello", "stream": True}, headers=late)
    events = [line[5:].strip() for line in streamed.text.splitlines() if line.startswith("data:")]
    assert events[-1] == "[DONE]" and json.loads(events[0])["error"]["code"] == 504
    assert llm_client.get("/v1/stats").json()["dropped"] == {"expired": 2}
    on_time = llm_client.post("/v1/completions", json={"prompt": "hello", "max_tokens": 4})
    assert on_time.status_code == 200 and on_time.json()["usage"]["completion_tokens"] >= 1


def test_the_expected_wait_counts_the_full_batches_ahead_then_its_own():
    handle = load_model(ModelRef(source="honed.zoo:sleeper", kind="factory", options={"kwargs": {"milliseconds": 0}}))
    batcher = DynamicBatcher(handle, 8, 2.0, copies=[handle])
    assert batcher.expected_wait_s() is None  # nothing timed yet: no refusal on a guess
    batcher.timed(0.010)
    batcher.timed(0.020)
    assert batcher.batch_s == pytest.approx(0.012)  # the newest weighs a fifth
    batcher.waiting = 33  # this item the 33rd: two rounds of 2 copies x 8 ahead, then its own
    assert batcher.expected_wait_s() == pytest.approx(3 * 0.012)
