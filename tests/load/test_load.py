"""Load scenarios against real servers on loopback ports: `honed serve` of the sleeper (a known
10 ms per call) and a small OpenAI-compatible streaming server written here. Bounded in count and
time; traffic goes to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request  # module level: FastAPI reads the route's annotations from here
from fastapi.responses import JSONResponse, StreamingResponse
from scipy import stats

from helpers import honed, honed_process
from honed.core.errors import SpecError
from honed.load import arrivals
from honed.load.endpoints import Endpoint
from honed.load.run import LoadSettings, public_url, run_load
from honed.load.served import free_port, served

SLEEPER = ["honed.zoo:sleeper", "--kind", "factory", "--shape", "4"]


@pytest.fixture
def store(tmp_path):
    return tmp_path / "runs.db"


def test_poisson_arrivals_are_exponential_and_bursty_ones_are_not():
    gaps = np.diff(arrivals.poisson(50.0, 5000, seed=1))
    assert stats.kstest(gaps, "expon", args=(0, 1 / 50)).pvalue > 0.01
    assert abs(gaps.mean() * 50 - 1) < 0.05  # the asked mean rate
    bursty = np.diff(arrivals.bursty(50.0, 0.25, 5000, seed=1))
    assert abs(bursty.mean() * 50 - 1) < 0.1  # the same mean rate...
    assert stats.kstest(bursty, "expon", args=(0, 1 / 50)).pvalue < 1e-6  # ...not Poisson
    assert bursty.std() / bursty.mean() == pytest.approx(2.0, rel=0.15)  # gamma shape k: CV 1/sqrt(k)
    assert stats.kstest(np.diff(arrivals.bursty(50.0, 1.0, 5000, seed=2)), "expon", args=(0, 1 / 50)).pvalue > 0.01


def test_a_trace_is_replayed_sorted_from_zero_and_bad_lines_are_named(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text("# seconds\n10.5\n10.0\n\n12.25  # late\n")
    assert arrivals.trace(path).tolist() == [0.0, 0.5, 2.25]
    assert arrivals.trace(path, limit=2).tolist() == [0.0, 0.5]
    path.write_text("1.0\nsoon\n")
    with pytest.raises(SpecError, match="load.trace line 2"):
        arrivals.trace(path)


def test_a_stored_url_keeps_no_credentials_or_query():
    assert (
        public_url("https://user:secret@example.com:8443/v1/completions?key=abc")
        == "https://example.com:8443/v1/completions"
    )


@pytest.fixture(scope="module")
def sleeper_one_at_a_time():
    with served([*SLEEPER, "--max-batch", "1", "--max-wait-ms", "0"]) as base:
        yield base


def _item() -> dict:
    return {"inputs": [1.0, 2.0, 3.0, 4.0]}


def _lindley_mean_wait(arrived: np.ndarray, service_s: float) -> float:
    """The exact mean wait of a FIFO single server with constant service on these arrivals."""
    wait, total = 0.0, 0.0
    for gap in np.diff(arrived):
        wait = max(0.0, wait + service_s - gap)
        total += wait
    return total / len(arrived)


@pytest.mark.slow
def test_queueing_at_half_load_matches_m_d_1(sleeper_one_at_a_time):
    """Poisson arrivals at half the capacity of a server that takes D per query, one at a time:
    the mean wait is rho D / (2 (1 - rho)) (M/D/1). Seed 3's schedule has an exact queue (the
    Lindley recursion on its own arrivals) within 5 % of the formula, checked below, so what is
    tested is the system's queueing, not sampling luck."""
    settings = LoadSettings(scenario="server", qps=50.0, queries=1500, duration_s=60, seed=3)
    record = run_load(Endpoint(f"{sleeper_one_at_a_time}/v1/predict", body=_item()), settings)
    load = record.load
    assert load.queries_ok == 1500 and not load.errors and record.status == "ok"
    service_s = load.server_compute_ms.mean / 1e3  # D, as the server measured its model calls
    rho = 50.0 * service_s
    assert 0.45 < rho < 0.6
    formula_ms = rho * service_s / (2 * (1 - rho)) * 1e3
    exact_ms = _lindley_mean_wait(settings.schedule(), service_s) * 1e3
    assert exact_ms == pytest.approx(formula_ms, rel=0.05)  # the seed's schedule is a fair sample
    assert load.server_queue_ms.mean == pytest.approx(formula_ms, rel=0.2)
    # Latency from arrival is the wait plus the service, seen from the client.
    assert load.latency_ms.mean > load.server_queue_ms.mean + load.server_compute_ms.mean
    assert load.achieved_qps == pytest.approx(50.0, rel=0.1)


@pytest.mark.slow
def test_bursty_traffic_has_a_longer_tail_than_poisson_at_the_same_rate(sleeper_one_at_a_time):
    endpoint = Endpoint(f"{sleeper_one_at_a_time}/v1/predict", body=_item())
    poisson = run_load(endpoint, LoadSettings(scenario="server", qps=40.0, queries=600, seed=5)).load
    bursty = run_load(endpoint, LoadSettings(scenario="bursty", qps=40.0, burstiness=0.2, queries=600, seed=5)).load
    assert poisson.queries_ok == bursty.queries_ok == 600
    assert bursty.latency_ms.p99 > 1.5 * poisson.latency_ms.p99
    assert max(d for _, d in bursty.queue_depth) > max(d for _, d in poisson.queue_depth)


def test_dynamic_batching_runs_waiting_queries_together():
    with served([*SLEEPER, "--max-batch", "8", "--max-wait-ms", "20"]) as base:
        # The sleeper doubles its input: every query gets its own item back, whatever batch it was in.
        answer = httpx.post(f"{base}/v1/predict", json=_item()).json()
        assert answer["outputs"] == [2.0, 4.0, 6.0, 8.0]
        record = run_load(
            Endpoint(f"{base}/v1/predict", body=_item()), LoadSettings(scenario="offline", queries=64, warmup_queries=0)
        )
        assert record.load.queries_ok == 64
        stats_ = httpx.get(f"{base}/v1/stats").json()
        assert stats_["items"] == 65 and stats_["mean_batch"] > 4  # 64 queries at once, 8 per batch at most
        name = httpx.get(f"{base}/v1/model").json()["name"]
        assert name == "honed.zoo-sleeper"
        kserve = httpx.post(
            f"{base}/v2/models/{name}/infer",
            json={"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}]},
        ).json()
        assert kserve["outputs"][0]["shape"] == [2, 4] and kserve["outputs"][0]["data"] == [2, 4, 6, 8, 10, 12, 14, 16]
        wrong = httpx.post(f"{base}/v1/predict", json={"inputs": [1.0, 2.0]})
        assert wrong.status_code == 422 and "shape [2]" in wrong.json()["detail"]


def _streaming_app(first_token_s: float, gap_s: float, tokens: int):
    """An OpenAI-compatible completions endpoint that streams ``tokens`` chunks, the first after
    ``first_token_s`` and the rest ``gap_s`` apart."""
    app = FastAPI()

    @app.post("/v1/completions")
    async def completions(request: Request):
        if request.headers.get("authorization") != "Bearer secret-value":  # the header honed read from the environment
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        body = await request.json()

        async def events():
            await asyncio.sleep(first_token_s)
            for index in range(tokens):
                if index:
                    await asyncio.sleep(gap_s)
                yield f"data: {json.dumps({'choices': [{'index': 0, 'text': f' t{index}'}]})}\n\n"
            yield "data: [DONE]\n\n"

        assert body["stream"] is True and body["prompt"] == "hello"
        return StreamingResponse(events(), media_type="text/event-stream")

    app.state.fast_calls = 0
    app.state.bodies = []

    @app.post("/echo")
    async def echo(request: Request):
        app.state.bodies.append(await request.json())
        return {}

    @app.post("/fast")
    async def fast():
        app.state.fast_calls += 1
        return {}

    @app.post("/slow")
    async def slow():
        await asyncio.sleep(1.0)
        return {}

    return app


STREAMING_APP = _streaming_app(0.05, 0.01, 8)


@pytest.fixture(scope="module")
def streaming_server():
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(STREAMING_APP, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_streamed_completion_gives_time_to_first_token_and_per_token(streaming_server, store):
    result = honed(
        "load",
        "--url",
        f"{streaming_server}/v1/completions",
        "--endpoint",
        "openai-completions",
        "--stream",
        "--body",
        '{"prompt": "hello", "max_tokens": 8}',
        "--scenario",
        "server",
        "--qps",
        "20",
        "--queries",
        "40",
        "--header",
        "Authorization=HONED_TEST_TOKEN",
        store=store,
        env={"HONED_TEST_TOKEN": "Bearer secret-value"},
    )
    assert "time to first token" in result.stdout
    from honed.store.database import Store

    db = Store(str(store))
    record = db.get(db.list()[0].id)
    streaming = record.load.streaming
    assert streaming.output_tokens == 40 * 8 and record.load.queries_ok == 40
    assert 50 <= streaming.ttft_ms.p50 < 90  # 50 ms to the first token, plus a little
    assert 10 <= streaming.tpot_ms.p50 < 16  # 10 ms between tokens
    assert "secret-value" not in record.to_json()  # headers come from the environment and stay there


def test_multi_stream_token_streams_are_summarised_request_by_request(streaming_server):
    """Each of a multi-stream query's requests is its own token stream: its first token and its
    gaps are read apart from the others' (interleaved, the gaps would shrink to a few ms)."""
    load = run_load(
        Endpoint(f"{streaming_server}/v1/completions", "openai-completions", {"prompt": "hello"}, stream=True),
        LoadSettings(scenario="multi-stream", samples_per_query=3, queries=4, warmup_queries=0),
        {"Authorization": "Bearer secret-value"},
    ).load
    streaming = load.streaming
    assert load.queries_ok == 4 and streaming.output_tokens == 4 * 3 * 8
    assert 50 <= streaming.ttft_ms.p50 < 120 and 9 <= streaming.itl_ms.p50 < 20  # 10 ms between a stream's tokens


def test_effective_rate_counts_answers_at_their_requested_length(streaming_server):
    """The server stops every answer at 8 tokens; queries that asked for 16 are worth half a
    full-length query each, whatever the raw rate says."""
    body = {"prompt": "hello", "max_tokens": 16}
    load = run_load(
        Endpoint(f"{streaming_server}/v1/completions", "openai-completions", body, stream=True),
        LoadSettings(qps=20, queries=30, warmup_queries=0),
        {"Authorization": "Bearer secret-value"},
    ).load
    streaming = load.streaming
    assert streaming.output_tokens == 30 * 8 and streaming.requested_output_tokens == 16
    assert streaming.effective_qps == pytest.approx(load.achieved_qps / 2, rel=0.02)


def test_a_load_spec_file_holds_the_options_and_the_command_line_wins(streaming_server, store, tmp_path):
    spec = tmp_path / "load.toml"
    spec.write_text(f"""[load]
url = "{streaming_server}/fast"
scenario = "server"
qps = 50
queries = 30
warmup = 0
slo_p99_ms = 500
body = {{ inputs = [1, 2] }}
name = "from-a-spec"
""")
    done = honed("load", str(spec), "--queries", "12", store=store)
    from honed.store.database import Store

    db = Store(str(store))
    record = db.get(db.list()[0].id)
    assert record.name == "from-a-spec" and record.load.queries_ok == 12 and record.load.slo_p99_ms == 500
    assert "stored run" in done.stdout
    spec.write_text('[load]\nurl = "http://127.0.0.1:9/x"\nqpss = 5\n')
    refused = honed("load", str(spec), store=store, check_code=2)
    assert "load.qpss" in refused.stderr and "'qps'" in refused.stderr


def test_errors_are_counted_by_kind_and_a_run_with_no_answer_exits_3(streaming_server, store):
    closed = f"http://127.0.0.1:{free_port()}/v1/predict"
    result = honed("load", "--url", closed, "--queries", "5", "--qps", "50", store=store, check_code=3)
    assert "connect 5" in result.stdout
    slow = run_load(Endpoint(f"{streaming_server}/slow"), LoadSettings(queries=3, qps=50, timeout_s=0.2))
    assert slow.load.errors == {"timeout": 3} and slow.status == "failed"


def test_each_query_fills_the_request_template_with_the_next_prompt(streaming_server, tmp_path):
    from honed.load.endpoints import read_prompts

    (tmp_path / "prompts.txt").write_text("first\n\nsecond\nthird\n")
    template = {"model": "m", "messages": [{"role": "user", "content": "Say: {{prompt}}"}]}
    endpoint = Endpoint(
        f"{streaming_server}/echo", "openai-chat", template, prompts=read_prompts(tmp_path / "prompts.txt")
    )
    STREAMING_APP.state.bodies.clear()
    run_load(endpoint, LoadSettings(scenario="single-stream", queries=6, warmup_queries=0))
    sent = [body["messages"][0]["content"] for body in STREAMING_APP.state.bodies]
    assert sent == ["Say: first", "Say: second", "Say: third"] * 2


def test_an_openai_endpoint_without_a_body_gets_its_kinds_template(streaming_server):
    STREAMING_APP.state.bodies.clear()
    run_load(Endpoint(f"{streaming_server}/echo", "openai-completions"), LoadSettings(queries=2, warmup_queries=0))
    assert STREAMING_APP.state.bodies[0]["prompt"] and STREAMING_APP.state.bodies[0]["max_tokens"] == 64


def test_prompts_for_a_template_without_a_place_for_them_are_refused():
    with pytest.raises(SpecError, match=r"\{\{prompt\}\}") as refused:
        Endpoint("http://127.0.0.1:9/x", "json", {"inputs": [1.0]}, prompts=("a",))
    assert refused.value.field == "load.body"


def test_multi_stream_queries_are_done_when_their_last_request_is(sleeper_one_at_a_time):
    """MLPerf's MultiStream: each query is several requests sent together; the next query goes
    when the last is answered. The server here runs one request at a time, so a query of four
    takes four model calls."""
    settings = LoadSettings(scenario="multi-stream", samples_per_query=4, queries=20, warmup_queries=0)
    load = run_load(Endpoint(f"{sleeper_one_at_a_time}/v1/predict", body=_item()), settings).load
    assert load.queries_ok == 20 and load.samples_per_query == 4 and not load.errors
    # Medians on both sides: one slow first call (CI saw 194 ms against 11 ms typical) moves a mean
    # of twenty calls past what a query of four waits for.
    compute = load.server_compute_ms.p50
    assert load.latency_ms.p50 > 3.5 * compute
    assert load.server_queue_ms.p50 > 2 * compute  # the last of the four waited for three


def test_bad_load_settings_name_the_field(store):
    result = honed("load", "--url", "http://127.0.0.1:9/x", "--qps", "-1", store=store, check_code=2)
    assert "load.qps" in result.stderr
    result = honed("load", "--url", "ftp://127.0.0.1/x", store=store, check_code=2)
    assert "load.url" in result.stderr
    result = honed(
        "load", "--url", "http://127.0.0.1:9/x", "--header", "X=HONED_UNSET_VARIABLE", store=store, check_code=2
    )
    assert "HONED_UNSET_VARIABLE" in result.stderr


@pytest.mark.slow
def test_load_a_served_model_then_compare_two_runs(store):
    """`honed load --model` serves the model in its own process for the run; two runs compare."""
    args = [
        "load",
        "--model",
        "honed.zoo:sleeper",
        "--kind",
        "factory",
        "--shape",
        "4",
        "--qps",
        "20",
        "--queries",
        "100",
    ]
    first = honed(*args, "--name", "a", store=store)
    second = honed(*args, "--name", "b", store=store)
    ids = [line.split("stored run ")[1].split()[0] for line in (first.stdout, second.stdout)]
    shown = honed("runs", "show", ids[0], store=store)
    assert "latency from arrival" in shown.stdout and "server compute" in shown.stdout
    # The same model under the same traffic twice (A/A): compare calls nothing. Its bootstrap
    # resamples windows of consecutive queries (five per run), then queries within them; the two
    # server instances can differ by a few percent, which is why load runs need a 10 % change.
    compared = honed("compare", *ids, store=store)
    p50 = next(line for line in compared.stdout.splitlines() if "p50 ms" in line)
    assert "not significant" in p50 and "fewer than 3" not in compared.stdout + compared.stderr, compared.stdout
    assert "changes under 10% are not called" in " ".join(compared.stdout.split()), (
        compared.stdout
    )  # one instance a run


def _max_rate_meeting(slo_ms: float, service_ms: float, overhead_ms: float, n: int = 20_000) -> float:
    """Theory for the peak search: the highest Poisson rate at which an M/D/1 queue's p99 time in
    system (wait + service), plus a fixed per-query overhead, stays within the SLO (bisection on
    the rate, each rate's p99 from the Lindley recursion over n seeded arrivals)."""

    def p99(rate: float) -> float:
        gaps = np.random.default_rng(0).exponential(1 / rate, n)
        waits = np.zeros(n)
        for i in range(1, n):
            waits[i] = max(0.0, waits[i - 1] + service_ms / 1e3 - gaps[i])
        return float(np.percentile(waits * 1e3 + service_ms + overhead_ms, 99))

    low, high = 1.0, 1e3 / service_ms  # the queue is unstable at the capacity itself
    for _ in range(25):
        middle = (low + high) / 2
        low, high = (middle, high) if p99(middle) <= slo_ms else (low, middle)
    return low


def test_a_peak_search_cut_short_after_a_step_down_answers_a_rate_that_was_run(monkeypatch):
    """max_runs can stop the search just after a confirmation missed and the peak stepped down to a
    rate never run: the answer is then the highest rate a run passed below that miss, with its run,
    and the search says it is unconfirmed (before: no answer at all, and tune failed the trial)."""
    from types import SimpleNamespace

    from honed.load import peak as peak_module

    outcomes = iter([True, True, False, False, True, False])  # 10, 20, 40 twice, 30, then 30 misses
    offered: list[float] = []

    def scripted_run(endpoint, settings, *args):
        offered.append(settings.qps)
        p99 = 50.0 if next(outcomes) else 120.0
        return SimpleNamespace(
            load=SimpleNamespace(latency_ms=SimpleNamespace(p99=p99), achieved_qps=settings.qps, errors={}),
            qps=settings.qps,
        )

    monkeypatch.setattr(peak_module, "run_load", scripted_run)
    settings = peak_module.PeakSettings(slo_p99_ms=80.0, start_qps=10.0, precision=0.5, max_runs=6)
    search, record = peak_module.find_peak(Endpoint("http://127.0.0.1:9/v1/predict"), LoadSettings(), settings)
    assert offered == [10.0, 20.0, 40.0, 40.0, 30.0, 30.0]
    assert search.peak_qps == 20.0 and search.first_miss_qps == 30.0 and record.qps == 20.0
    assert "unconfirmed" in search.stopped


@pytest.mark.slow
def test_the_peak_search_finds_the_highest_rate_that_meets_the_slo(sleeper_one_at_a_time):
    endpoint = Endpoint(f"{sleeper_one_at_a_time}/v1/predict", body=_item())
    quiet = run_load(endpoint, LoadSettings(qps=10.0, queries=50, seed=9)).load  # 5 s: the service time
    service_ms = quiet.server_compute_ms.mean
    overhead_ms = quiet.latency_ms.p50 - quiet.server_queue_ms.p50 - quiet.server_compute_ms.p50  # HTTP, both ends
    from honed.load.peak import PeakSettings, find_peak

    search, record = find_peak(
        endpoint, LoadSettings(), PeakSettings(slo_p99_ms=80.0, start_qps=20.0, step_seconds=6.0, precision=0.1)
    )
    theory = _max_rate_meeting(80.0, service_ms, overhead_ms)
    # Each step's p99 comes from ~360 queries (4 in the tail) and a miss is retried once, so the
    # found peak scatters above the theory: +15 % once in CI with 8 s steps (70 against 60.9). 25 % still fails
    # a search that stops at its bracket's bounds (40 or 80 here: 0.66x, 1.31x of the theory); a 10 %
    # bracket (precision) is well inside it and saves the last bisection steps.
    assert search.stopped == "confirmed" and search.peak_qps == pytest.approx(theory, rel=0.25)
    assert record.load.latency_ms.p99 <= 80.0 and record.load.offered_qps == search.peak_qps
    assert search.first_miss_qps > search.peak_qps
    assert [s.passed for s in search.steps if s.qps == search.peak_qps][-2:] == [True, True]  # confirmed twice


def _as_at_a_terminal() -> None:
    """Ctrl-C's default action in the child, as at a terminal. A suite started in the background
    by a non-interactive shell (``nohup .ci/run &``) hands its children SIGINT ignored (POSIX, for
    asynchronous commands without job control), and Python then never raises KeyboardInterrupt:
    that, not honed, is why this test hung in session 20's background rehearsals."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stores_the_partial_run(streaming_server, store):
    import signal

    process = honed_process(
        "load", "--url", f"{streaming_server}/fast", "--qps", "20", "--queries", "2000",
        store=f"sqlite:///{store}", preexec_fn=_as_at_a_terminal,
    )  # fmt: skip
    app = STREAMING_APP
    deadline, before = time.monotonic() + 120, app.state.fast_calls  # earlier tests of the module call /fast too
    while app.state.fast_calls - before < 40 and time.monotonic() < deadline:  # warm-up done, traffic flowing
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    from honed.store.database import Store

    db = Store(str(store))
    record = db.get(db.list()[0].id)
    assert record.status == "partial" and 0 < record.load.queries_ok < 2000
    assert any(note.startswith("interrupted by the user") for note in record.notes)
    assert record.id in stderr  # the message says where the partial run is


@pytest.mark.parametrize("scenario", ["single-stream", "multi-stream", "server", "offline"])
def test_loadgen_runs_its_scenarios_on_a_model_in_process_and_the_run_is_stored(scenario, store):
    """MLCommons LoadGen schedules the queries; honed is the system under test (the sleeper: 10 ms
    a call) and keeps the run, with LoadGen's own verdict beside honed's numbers."""
    from honed.core.protocol import InputSpec, ModelRef
    from honed.load.run import run_in_process
    from honed.store.database import Store

    settings = LoadSettings(scenario=scenario, qps=50.0, queries=40, samples_per_query=4, duration_s=30)
    db = Store(str(store))
    record = run_in_process(
        ModelRef(kind="factory", source="honed.zoo:sleeper"), [], InputSpec(shape=(4,)), settings, max_batch=8, store=db
    )
    load = db.get(record.id).load
    assert load.engine.startswith("mlperf-loadgen 6.") and load.loadgen is not None
    assert load.queries_ok == 40 and not load.errors
    assert load.latency_ms.p50 >= 10.0  # no query finishes faster than one call of the model
    assert load.loadgen.percentile_latency_ns["50.00"] / 1e6 >= 10.0  # LoadGen's own latencies agree
    assert load.validity.valid == load.loadgen.valid


def test_loadgen_refuses_the_scenarios_only_honeds_driver_runs():
    from honed.load.loadgen import check_scenario

    with pytest.raises(SpecError, match="--engine honed") as refused:
        check_scenario("bursty")
    assert refused.value.field == "load.scenario"


def test_loadgen_on_a_url_is_refused_before_any_traffic(store):
    result = honed("load", "--url", "http://127.0.0.1:9/x", "--engine", "loadgen", store=store, check_code=2)
    assert "--engine" in result.stderr and "LoadGen runs a --model in this process" in result.stderr


@pytest.fixture(scope="module")
def served_llama(tiny_llama_dir):
    with served([str(tiny_llama_dir), "--kind", "transformers"]) as base:
        yield base


@pytest.mark.slow
def test_a_served_causal_lm_completes_as_transformers_greedy_generate_does(served_llama, tiny_llama_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    answer = httpx.post(
        f"{served_llama}/v1/completions", json={"prompt": "the cat sat", "max_tokens": 6}, timeout=60
    ).json()
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    ids = tokenizer(["the cat sat"], return_tensors="pt")
    with torch.inference_mode():
        expected = model.generate(
            input_ids=ids["input_ids"],
            attention_mask=ids["attention_mask"],
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=0,
        )[0, ids["input_ids"].shape[1] :]
    assert answer["choices"][0]["text"] == tokenizer.decode(expected, skip_special_tokens=True)
    assert answer["usage"]["completion_tokens"] == 6 and answer["choices"][0]["finish_reason"] == "length"


@pytest.mark.slow
def test_a_served_causal_lm_answers_chat_in_openais_shape(served_llama):
    answer = httpx.post(
        f"{served_llama}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4},
        timeout=60,
    ).json()
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] == 4


@pytest.mark.slow
def test_honed_load_streams_from_honed_serve_of_a_causal_lm(served_llama, store):
    """End to end: honed serve's OpenAI endpoint under honed load, streamed: every token counted."""
    result = honed(
        "load",
        "--url",
        f"{served_llama}/v1/completions",
        "--endpoint",
        "openai-completions",
        "--stream",
        "--body",
        '{"prompt": "{{prompt}}", "max_tokens": 8}',
        "--qps",
        "5",
        "--queries",
        "10",
        store=store,
    )
    assert "time to first token" in result.stdout
    from honed.store.database import Store

    db = Store(str(store))
    load = db.get(db.list()[0].id).load
    assert load.queries_ok == 10 and load.streaming.output_tokens == 10 * 8
    assert load.streaming.tpot_ms.p50 > 0 and load.streaming.ttft_ms.p50 > 0


@pytest.mark.slow
def test_a_tune_on_peak_qps_serves_each_trial_and_ranks_by_its_peak_rate(store):
    """tune --objective peak_qps: every trial (the base and bf16 here) is served in its own process
    and searched for its highest rate under the SLO; the points are those peaks."""
    from honed.core.protocol import InputSpec, ModelRef, Protocol
    from honed.store.database import Store
    from honed.tuning import TuneSettings, tune

    settings = TuneSettings(
        objective="peak_qps",
        latency_slo_ms=80.0,
        peak_step_seconds=0.5,  # ~20-300 queries a step: enough for a p99 under an SLO 8x the service time
        candidates=("bf16",),
        max_steps=1,
        contention_retries=0,
    )
    db = Store(str(store))
    result = tune(
        ModelRef(kind="factory", source="honed.zoo:sleeper"),
        inputs=InputSpec(shape=(4,)),
        protocol=Protocol(batch_sizes=(1,)),
        settings=settings,
        store=db,
    )
    trials = [result.baseline, *result.trials]
    assert {p.label for p in result.points} == {"baseline", "bf16"}, (result.stop_reason, [t.reason for t in trials])
    for point in result.points:
        run = db.get(next(t for t in trials if t.key == point.trial).run_id)
        assert point.objective == run.load.peak.peak_qps and run.load.latency_ms.p99 <= 80.0
        assert point.objective_ci == (run.load.peak.peak_qps, run.load.peak.first_miss_qps)
        assert point.objective > 20  # twice the rate the search starts from, at least
    assert result.recommended is not None


def test_a_tune_on_peak_qps_without_an_slo_is_refused_naming_the_field():
    from honed.core.validation import build
    from honed.tuning import TuneSettings

    with pytest.raises(SpecError, match="--slo-ms") as refused:
        build(TuneSettings, {"objective": "peak_qps"}, where="tune")
    assert refused.value.field == "tune.latency_slo_ms"
