"""`honed serve` under overload and failure, with real traffic on loopback ports: load shedding
(503) with a bounded queue, deadlines and disconnects that drop queued items before the model
runs them, a watchdog for hung calls, readiness, a graceful drain on SIGTERM, Prometheus metrics,
and model copies. Bounded in count and time; traffic goes to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from honed.load.endpoints import Endpoint
from honed.load.run import LoadSettings, run_load
from honed.load.served import served, served_job, served_process
from honed.serve.admission import latency_bound_s
from honed.serve.server import ServeJob

SLEEPER = ["honed.zoo:sleeper", "--kind", "factory", "--shape", "4"]
ITEM = {"inputs": [1.0, 2.0, 3.0, 4.0]}


def _stall_job(seconds: float) -> ServeJob:
    return ServeJob.model_validate(
        {
            "model": {"source": "honed.zoo:stall", "kind": "factory", "options": {"kwargs": {"seconds": seconds}}},
            "inputs": {"shape": [4]},
        }
    )


def _metrics(base: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser."""
    samples = {}
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _offered(base: str, qps: float, seconds: float, seed: int) -> object:
    return run_load(
        Endpoint(f"{base}/v1/predict", body=ITEM),
        LoadSettings(scenario="server", qps=qps, queries=round(qps * seconds), duration_s=seconds * 3, seed=seed),
    ).load


@pytest.mark.slow
def test_three_times_the_peak_is_shed_with_503s_and_admitted_latency_stays_bounded():
    with served_process([*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0"]) as (base, process):
        facts = httpx.get(f"{base}/v1/model").json()
        max_queue = facts["max_queue"]
        assert 1 <= max_queue < 200  # set from the warm-up batch: about 0.5 s of the sleeper's 10 ms calls
        # All at once (offline): what is past the queue is shed, the rest shows the capacity.
        offline = run_load(Endpoint(f"{base}/v1/predict", body=ITEM), LoadSettings(scenario="offline", queries=200))
        capacity = offline.load.achieved_qps
        assert 60 < capacity < 110  # one 10 ms call at a time

        first = _offered(base, 3 * capacity, 4.0, seed=1)  # also settles the server's allocator
        rss_before = psutil.Process(process.pid).memory_info().rss
        load = _offered(base, 3 * capacity, 4.0, seed=2)
        rss_after = psutil.Process(process.pid).memory_info().rss

        for run in (first, load):
            # About two thirds shed, each a 503 that honed load counts as a rejection; nothing else fails.
            assert set(run.errors) == {"rejected"} and 0.4 < run.errors["rejected"] / run.queries_scheduled < 0.85
            assert run.queries_ok + run.errors["rejected"] == run.queries_scheduled
            # The server kept working at its peak: no collapse below the offline capacity, and no more
            # than one 10 ms call at a time allows (on a slow 2-core machine the offline burst
            # measured 69 q/s and the open loop then achieved 89: the burst underestimates the peak).
            assert 0.75 * capacity < run.achieved_qps < 110
        batch_s = load.server_compute_ms.mean / 1e3
        bound_s = latency_bound_s(max_queue, 1, 0.0, batch_s, 1)
        assert load.latency_ms.p99 / 1e3 < 1.5 * bound_s + 0.1  # an unbounded queue reached seconds here
        stats = httpx.get(f"{base}/v1/stats").json()
        rejected = sum(run.errors.get("rejected", 0) for run in (offline.load, first, load))
        # Each 503 is counted once: refused at the door (queue full), or, once the queue stood and was
        # served newest first, evicted from it by a newer item.
        assert set(stats["rejected"]) == {"queue_full"} and set(stats["dropped"]) <= {"evicted"}
        assert stats["rejected"]["queue_full"] + stats["dropped"].get("evicted", 0) == rejected
        assert stats["queue_depth"] == 0
        samples = _metrics(base)
        assert samples[("honed_rejected_total", (("reason", "queue_full"),))] == stats["rejected"]["queue_full"]
        assert rss_after - rss_before < 20 * 2**20  # nothing kept per request
        assert httpx.get(f"{base}/health").status_code == 200 and httpx.get(f"{base}/ready").status_code == 200


@pytest.mark.slow
def test_with_an_slo_three_times_the_peak_is_answered_within_it_newest_first():
    """Issue 40's default: with --slo-ms alone, what is answered at 3x the peak is answered within
    the SLO at about the peak rate (first in first out with the default bound: 2 % of it)."""
    slo_ms = 100.0
    with served([*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0", "--slo-ms", f"{slo_ms:g}"]) as base:
        quiet = _offered(base, 20.0, 2.0, seed=4)
        peak = 1e3 / quiet.server_compute_ms.mean  # one 10 ms call at a time
        settings = LoadSettings(
            scenario="server", qps=3 * peak, queries=round(3 * peak * 4), duration_s=12, seed=5, slo_p99_ms=slo_ms
        )
        load = run_load(Endpoint(f"{base}/v1/predict", body=ITEM), settings).load
        stats = httpx.get(f"{base}/v1/stats").json()
        samples = _metrics(base)
    assert set(load.errors) <= {"rejected", "http_5xx"} and load.queries_ok > 0
    # The bench asks 90 % of the peak on a quiet machine; beside a busy test suite, 60 %.
    assert load.goodput_qps >= 0.6 * peak, (load.goodput_qps, peak, load.errors, stats)
    assert (
        stats["taken"]["newest_first"] > 0
        and stats["taken"]["newest_first"] == samples[("honed_taken_total", (("order", "newest_first"),))]
    )


def test_metrics_count_requests_by_route_and_status_and_batches_by_size():
    with served([*SLEEPER, "--max-batch", "4", "--max-wait-ms", "20", "--max-queue", "64"]) as base:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.post(f"{base}/v1/predict", json=ITEM, timeout=10), range(8)))
        assert [a.status_code for a in answers] == [200] * 8
        assert all(a.json()["outputs"] == [2.0, 4.0, 6.0, 8.0] for a in answers)
        assert httpx.post(f"{base}/v1/predict", json={"inputs": [1.0]}).status_code == 422
        assert httpx.get(f"{base}/no/such/path").status_code == 404
        samples = _metrics(base)
        assert samples[("honed_requests_total", (("route", "/v1/predict"), ("status", "200")))] == 8
        assert samples[("honed_requests_total", (("route", "/v1/predict"), ("status", "422")))] == 1
        assert samples[("honed_requests_total", (("route", "unmatched"), ("status", "404")))] == 1
        assert samples[("honed_request_seconds_count", (("route", "/v1/predict"),))] == 9
        assert samples[("honed_batch_size_sum", ())] == 8  # items run; warm-up is not counted
        batches = samples[("honed_batch_size_count", ())]
        assert batches == httpx.get(f"{base}/v1/stats").json()["batches"] and 2 <= batches < 8
        assert samples[("honed_batch_size_bucket", (("le", "4.0"),))] == batches  # never over max batch
        assert samples[("honed_queue_seconds_count", ())] == 8
        assert samples[("honed_queue_depth", ())] == 0 and samples[("honed_ready", ())] == 1


def test_a_request_past_its_deadline_is_answered_504_and_never_run():
    with served_job(_stall_job(1.5), ["--max-batch", "1", "--max-queue", "10"]) as base:
        with ThreadPoolExecutor(2) as pool:
            stalled = pool.submit(httpx.post, f"{base}/v1/predict", json={"inputs": [999.0, 0, 0, 0]}, timeout=30)
            time.sleep(0.3)  # the stall holds the model for 1.5 s; the next item's deadline is 200 ms
            started = time.perf_counter()
            late = httpx.post(f"{base}/v1/predict", json=ITEM, headers={"x-honed-timeout-ms": "200"}, timeout=10)
            assert late.status_code == 504 and "deadline" in late.json()["detail"]
            assert time.perf_counter() - started < 1.0  # answered at its deadline, not when the model was free
            assert stalled.result().status_code == 200
        time.sleep(0.2)
        stats = httpx.get(f"{base}/v1/stats").json()
        assert stats["items"] == 1 and stats["dropped"] == {"expired": 1}  # never run after its deadline


def test_a_request_the_queue_would_outlast_is_refused_at_once():
    with served([*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0", "--max-queue", "100"]) as base:

        async def burst() -> list[int]:
            async with aiohttp.ClientSession() as session:

                async def one() -> int:
                    headers = {"x-honed-timeout-ms": "100"}
                    async with session.post(f"{base}/v1/predict", json=ITEM, headers=headers) as response:
                        await response.read()
                        return response.status

                return await asyncio.gather(*(one() for _ in range(40)))  # 40 x 10 ms: 10 fit in 100 ms

        statuses = asyncio.run(burst())
        stats = httpx.get(f"{base}/v1/stats").json()
    answered, refused, expired = statuses.count(200), statuses.count(503), statuses.count(504)
    assert answered + refused + expired == 40 and 4 <= answered <= 14 and refused >= 20
    assert stats["rejected"] == {"would_expire": refused}
    # What was admitted was expected in time; one that still ran late was dropped, never run after.
    assert stats["items"] + stats["dropped"].get("expired", 0) >= answered


def test_an_item_whose_client_went_away_is_dropped_before_the_model_runs_it():
    with served_job(_stall_job(2.0), ["--max-batch", "1", "--max-queue", "10"]) as base:
        with ThreadPoolExecutor(2) as pool:
            stalled = pool.submit(httpx.post, f"{base}/v1/predict", json={"inputs": [999.0, 0, 0, 0]}, timeout=30)
            time.sleep(0.3)  # the stall holds the model
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{base}/v1/predict", json=ITEM, timeout=0.5)  # queued behind it; the client gives up
            assert stalled.result().status_code == 200
        time.sleep(0.2)
        stats = httpx.get(f"{base}/v1/stats").json()
        assert stats["items"] == 1 and stats["dropped"] == {"disconnected": 1}


def test_a_hung_model_call_fails_its_items_with_504_and_the_server_is_unready_until_it_returns():
    with served_job(_stall_job(3.0), ["--max-batch", "1", "--watchdog-seconds", "0.5"]) as base:
        assert httpx.get(f"{base}/ready").status_code == 200
        started = time.perf_counter()
        hung = httpx.post(f"{base}/v1/predict", json={"inputs": [999.0, 0, 0, 0]}, timeout=30)
        assert hung.status_code == 504 and "watchdog" in hung.json()["detail"]
        assert time.perf_counter() - started < 2.0  # answered at the watchdog, not when the call returned
        ready = httpx.get(f"{base}/ready")
        assert ready.status_code == 503 and "watchdog" in ready.json()["reason"]
        refused = httpx.post(f"{base}/v1/predict", json=ITEM)
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
        assert httpx.get(f"{base}/health").status_code == 200  # alive all along
        deadline = time.monotonic() + 10
        while httpx.get(f"{base}/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.post(f"{base}/v1/predict", json=ITEM).json()["outputs"] == [2.0, 4.0, 6.0, 8.0]
        stats = httpx.get(f"{base}/v1/stats").json()
        assert stats["failed"] == {"hung": 1} and stats["rejected"] == {"not_ready": 1}


def test_a_client_trickling_its_body_does_not_hold_up_the_others():
    with served([*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0"]) as base:
        port = int(base.rsplit(":", 1)[1])
        body = json.dumps(ITEM).encode()
        with socket.create_connection(("127.0.0.1", port)) as slow:
            head = (
                f"POST /v1/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
            )
            slow.sendall(head.encode() + b"\r\n\r\n" + body[:5])
            started = time.perf_counter()
            for _ in range(20):
                assert httpx.post(f"{base}/v1/predict", json=ITEM, timeout=5).status_code == 200
            assert time.perf_counter() - started < 3.0  # 20 x 10 ms, and the slow body never in their way
            for index in range(5, len(body)):
                slow.sendall(body[index : index + 1])
            slow.settimeout(5)
            assert slow.recv(4096).startswith(b"HTTP/1.1 200")


def test_sigterm_mid_load_drains_every_admitted_request_then_exits_0():
    with served_process([*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0", "--max-queue", "200"]) as (
        base,
        process,
    ):

        async def load() -> tuple[list[object], bool]:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

                async def one() -> object:
                    async with session.post(f"{base}/v1/predict", json=ITEM) as response:
                        return response.status, (await response.json())["outputs"]

                sent = [asyncio.ensure_future(one()) for _ in range(60)]
                while httpx.get(f"{base}/v1/stats").json()["queue_depth"] < 30:  # 60 x 10 ms: most still queued
                    await asyncio.sleep(0.01)
                process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                try:  # the listening socket is closed at once: nothing new gets in
                    async with aiohttp.ClientSession() as fresh:
                        await fresh.get(f"{base}/health")
                    refused = False
                except aiohttp.ClientConnectionError:
                    refused = True
                return await asyncio.gather(*sent), refused

        answers, refused = asyncio.run(load())
        assert answers == [(200, [2.0, 4.0, 6.0, 8.0])] * 60 and refused
        assert process.wait(timeout=15) == 0
        assert "stopped" in process.stderr.read()


def test_two_copies_of_the_model_run_two_batches_at_once():
    def capacity(instances: int) -> float:
        args = [*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0", "--instances", str(instances)]
        with served(args) as base:
            assert httpx.get(f"{base}/v1/model").json()["instances"] == instances
            settings = LoadSettings(scenario="offline", queries=150)
            return run_load(Endpoint(f"{base}/v1/predict", body=ITEM), settings).load.achieved_qps

    # The sleeper's 10 ms leave the CPU idle: two copies on their own threads take twice the traffic.
    assert capacity(2) > 1.6 * capacity(1)


def test_a_generation_whose_client_went_away_stops_and_frees_the_model(tiny_llama_dir):
    with served([str(tiny_llama_dir), "--kind", "transformers"]) as base:
        started = time.perf_counter()
        httpx.post(f"{base}/v1/completions", json={"prompt": "hello", "max_tokens": 8}, timeout=30)
        per_token_s = (time.perf_counter() - started) / 8
        with pytest.raises(httpx.ReadTimeout):  # 4,096 tokens asked; the client leaves after 0.3 s
            httpx.post(f"{base}/v1/completions", json={"prompt": "hello", "max_tokens": 4096}, timeout=0.3)
        started = time.perf_counter()
        after = httpx.post(f"{base}/v1/completions", json={"prompt": "hello", "max_tokens": 2}, timeout=60)
        assert after.status_code == 200
        # The model thread was free again: nowhere near the 4,096 tokens' time.
        assert time.perf_counter() - started < min(2.0, 4096 * per_token_s / 4)
