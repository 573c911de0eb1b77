"""MLCommons LoadGen as the engine for a model in this process: LoadGen schedules the queries
(SingleStream, MultiStream, Server, Offline), applies its minimums and early stopping and judges
the run valid or not; honed is the system under test (the model on one thread, running whatever
LoadGen has issued as one batch, up to ``max_batch``) and keeps every query's times for the
record, beside LoadGen's own result."""

from __future__ import annotations

import queue
import re
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec
from honed.load.endpoints import Query
from honed.models.handle import ModelHandle
from honed.records.load_result import LoadGenResult

ENGINE = "mlperf-loadgen"
SCENARIOS = {"single-stream": "SingleStream", "multi-stream": "MultiStream", "server": "Server", "offline": "Offline"}
POOL = 64  # distinct items LoadGen picks from (its performance sample set)


def check_scenario(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise SpecError(
            "load.scenario",
            scenario,
            f"one LoadGen runs: {', '.join(SCENARIOS)} (bursty and trace run on honed's own driver: --engine honed)",
        )


class _SystemUnderTest:
    """LoadGen's callbacks put samples on a queue; one model thread takes all that are waiting
    (up to max_batch), runs them as a batch, and tells LoadGen they are complete."""

    def __init__(self, handle: ModelHandle, pool: Any, max_batch: int, per_call: bool):
        self.handle, self.pool, self.max_batch, self.per_call = handle, pool, max_batch, per_call
        self.pending: queue.SimpleQueue = queue.SimpleQueue()
        self.queries: list[Query] = []
        self.origin = time.perf_counter()
        self._open: dict[int, list] = {}  # a multi-stream query: its samples still running

    def issue(self, samples: list) -> None:  # LoadGen's issuing thread
        now = time.perf_counter() - self.origin
        if self.per_call:  # MultiStream: one query of several samples, done with its last
            query = Query(scheduled=now, sent=now)
            self.queries.append(query)
            self._open[id(query)] = [query, len(samples)]
            for sample in samples:
                self.pending.put((sample, query))
            return
        for sample in samples:
            query = Query(scheduled=now, sent=now)
            self.queries.append(query)
            self.pending.put((sample, query))

    def run(self) -> None:  # the model thread
        import mlperf_loadgen as lg

        while (first := self.pending.get()) is not None:
            group = [first]
            while len(group) < self.max_batch:
                try:
                    item = self.pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.pending.put(None)  # stop after this batch
                    break
                group.append(item)
            error = self._call([sample.index for sample, _ in group])
            done = time.perf_counter() - self.origin
            lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, 0, 0) for sample, _ in group])
            for _, query in group:
                self._finish(query, done, error)

    def _call(self, indices: list[int]) -> str | None:
        picked = np.asarray(indices)
        batch = (
            {name: value[picked] for name, value in self.pool.items()}
            if isinstance(self.pool, Mapping)
            else self.pool[picked]
        )
        try:
            self.handle.run(batch)
        except Exception as error:  # LoadGen waits for every sample: fail the query, never the thread
            return f"model: {type(error).__name__}"
        return None

    def _finish(self, query: Query, done: float, error: str | None) -> None:
        query.error = query.error or error
        if self.per_call:
            entry = self._open[id(query)]
            entry[1] -= 1
            if entry[1]:
                return
            del self._open[id(query)]
        if query.error is None:
            query.done = done


def run_loadgen(
    handle: ModelHandle,
    inputs: InputSpec,
    scenario: str,
    settings: Any,
    max_batch: int = 8,
) -> tuple[list[Query], LoadGenResult]:
    """One LoadGen performance run of the model; ``settings`` is a LoadSettings. Returns every
    query's times and LoadGen's own result."""
    import mlperf_loadgen as lg

    check_scenario(scenario)
    pool = handle.example_inputs(POOL, inputs, seed=settings.seed)
    sut_model = _SystemUnderTest(handle, pool, max_batch, per_call=scenario == "multi-stream")
    worker = threading.Thread(target=sut_model.run, name="honed-loadgen-model", daemon=True)
    worker.start()
    sut = lg.ConstructSUT(sut_model.issue, lambda: None)
    qsl = lg.ConstructQSL(POOL, POOL, lambda indices: None, lambda indices: None)
    try:
        with tempfile.TemporaryDirectory(prefix="honed-loadgen-") as folder:
            log = lg.LogSettings()
            log.log_output.outdir = folder
            log.log_output.copy_summary_to_stdout = False
            sut_model.origin = time.perf_counter()
            lg.StartTestWithLogSettings(sut, qsl, _test_settings(lg, scenario, settings), log)
            result = read_result(Path(folder) / "mlperf_log_detail.txt")
    finally:
        sut_model.pending.put(None)
        worker.join(timeout=settings.timeout_s)
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    return sut_model.queries, result


def _test_settings(lg: Any, scenario: str, settings: Any) -> Any:
    test = lg.TestSettings()
    test.scenario = getattr(lg.TestScenario, SCENARIOS[scenario])
    test.mode = lg.TestMode.PerformanceOnly
    test.min_duration_ms = round(settings.min_duration_s * 1e3)
    test.max_duration_ms = round(settings.duration_s * 1e3)
    test.min_query_count = settings.min_queries or settings.queries
    test.max_query_count = settings.queries
    test.schedule_rng_seed = test.sample_index_rng_seed = test.qsl_rng_seed = settings.seed
    test.server_target_qps = test.offline_expected_qps = settings.qps
    slo_ns = round((settings.slo_p99_ms or 1e3) * 1e6)  # LoadGen's Server needs a latency target
    test.server_target_latency_ns = slo_ns
    test.single_stream_expected_latency_ns = test.multi_stream_expected_latency_ns = min(slo_ns, 10_000_000)
    test.multi_stream_samples_per_query = settings.samples_per_query
    return test


_LINE = re.compile(r"^:::MLLOG (\{.*\})$")


def read_result(detail: Path) -> LoadGenResult:
    """LoadGen's verdict from its detail log (``:::MLLOG`` JSON lines): validity, early stopping
    and the latency percentiles it computed."""
    import json

    values: dict[str, Any] = {}
    for line in detail.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match:
            entry = json.loads(match.group(1))
            values[entry.get("key")] = entry.get("value")
    percentiles = {
        key[len("result_") : -len("_percentile_latency_ns")]: int(value)
        for key, value in values.items()
        if key.startswith("result_") and key.endswith("_percentile_latency_ns")
    }
    return LoadGenResult(
        version=str(values.get("loadgen_version", "")),
        valid=values.get("result_validity") == "VALID",
        invalid_reason=str(values.get("result_invalid_reason") or ""),
        early_stopping_met=values.get("early_stopping_met"),
        early_stopping="; ".join(
            " ".join(part.split()) for part in str(values.get("early_stopping_result") or "").split("*") if part.strip()
        ),
        completed_samples_per_s=float(
            values.get("result_completed_samples_per_sec") or values.get("result_samples_per_second") or 0.0
        ),
        percentile_latency_ns=percentiles,
    )
