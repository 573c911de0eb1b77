"""``tune --objective peak_qps``: each trial's recipe is served (``honed serve``, its own process,
on a loopback port) and the highest Poisson rate whose p99 meets the tune's latency SLO is found
(``honed load --find-peak``); quality is scored in a worker as for any trial."""

from __future__ import annotations

from typing import Any

from honed.core.errors import SpecError
from honed.core.protocol import Protocol, Step, TaskSpec
from honed.records.record import RunRecord
from honed.tuning.runner import WorkerRunner


class PeakRunner(WorkerRunner):
    def __init__(
        self,
        *args: Any,
        slo_p99_ms: float | None,
        step_seconds: float = 10.0,
        start_qps: float = 10.0,
        max_batch: int = 8,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        if slo_p99_ms is None:
            raise SpecError("tune.latency_slo_ms", None, "a p99 SLO in ms: the peak rate is the highest that meets it")
        self.slo_p99_ms, self.step_seconds, self.start_qps, self.max_batch = (
            slo_p99_ms,
            step_seconds,
            start_qps,
            max_batch,
        )

    def measure(self, recipe: list[Step], protocol: Protocol, task: TaskSpec, name: str) -> RunRecord:
        from honed.load.endpoints import Endpoint
        from honed.load.peak import PeakSettings, find_peak
        from honed.load.run import LoadSettings
        from honed.load.served import served_job, synthetic_body
        from honed.run.evaluation import assess_quality
        from honed.serve.server import ServeJob
        from honed.store.keep import keep_run

        screened = self.screened(recipe, task, protocol)
        quality = (
            screened[2]
            if screened is not None and screened[2].status == "ok"
            else assess_quality(
                self.model,
                self._spec(recipe, task),
                plan=self.plan.with_recipe(recipe),
            )
        )
        job = ServeJob(model=self.model, recipe=recipe, inputs=self.inputs)
        args = ["--max-batch", str(self.max_batch), *(["--threads", str(protocol.threads)] if protocol.threads else [])]
        peak = PeakSettings(slo_p99_ms=self.slo_p99_ms, start_qps=self.start_qps, step_seconds=self.step_seconds)
        with served_job(job, args) as base:
            endpoint = Endpoint(f"{base}/v1/predict", "json", synthetic_body(self.inputs.shape))
            search, record = find_peak(endpoint, LoadSettings(), peak, model=self.model, recipe=recipe, name=name)
        if record is None:  # even the lowest rate missed: a run with no points, and the search says why
            raise SpecError(
                "tune.latency_slo_ms",
                self.slo_p99_ms,
                "an SLO the served model meets at some rate",
                hint=f"every rate tried, down to {search.steps[-1].qps:.3g} q/s, missed it",
            )
        load = record.load
        assert load is not None, "find_peak returns a load run"
        record = record.model_copy(
            update={"load": load.model_copy(update={"peak": search}), "quality": quality, "inputs": self.inputs}
        )
        return keep_run(record, self.store, False)
