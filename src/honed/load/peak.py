"""The highest rate that still meets a latency SLO (LoadGen's peak-performance mode): Poisson
runs at rising rates until one misses, then bisection between the last pass and the first miss
(a miss is always run again before it counts), then the answer confirmed by repeated runs (a miss
steps it down)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, Step
from honed.load.endpoints import Endpoint
from honed.load.run import LoadSettings, run_load
from honed.records.load_result import PeakSearch, PeakStep
from honed.records.record import RunRecord


@dataclass(frozen=True)
class PeakSettings:
    slo_p99_ms: float
    start_qps: float = 10.0
    step_seconds: float = 10.0  # each rate runs this long (its query count follows)
    precision: float = 0.05  # stop bisecting when the bracket is this narrow, relative
    confirmations: int = 2
    max_runs: int = 30  # the search always stops

    def __post_init__(self) -> None:
        if not self.slo_p99_ms > 0:
            raise SpecError("load.slo_p99_ms", self.slo_p99_ms, "milliseconds > 0 (--find-peak needs --slo-p99-ms)")
        if not 0 < self.precision < 1:
            raise SpecError("load.precision", self.precision, "a fraction between 0 and 1")


def find_peak(
    endpoint: Endpoint,
    base: LoadSettings,
    peak: PeakSettings,
    on_step: Callable[[PeakStep], None] | None = None,
    headers: dict[str, str] | None = None,
    model: ModelRef | None = None,
    recipe: list[Step] | None = None,
    name: str | None = None,
) -> tuple[PeakSearch, RunRecord | None]:
    """The search, and the last confirming run at the peak (None when even the first rate missed);
    no run is stored here."""
    steps: list[PeakStep] = []
    passes: dict[float, RunRecord] = {}  # each rate's last run that met the SLO

    def attempt(qps: float, seed: int) -> bool:
        settings = base.model_copy(
            update={
                "scenario": "server",
                "qps": qps,
                "seed": seed,
                "slo_p99_ms": peak.slo_p99_ms,
                "queries": max(20, round(qps * peak.step_seconds)),
                "duration_s": peak.step_seconds * 1.5,
            }
        )
        record = run_load(endpoint, settings, headers, model, recipe, name)
        load = record.load
        assert load is not None, "run_load writes a load run"
        p99 = load.latency_ms.p99 if load.latency_ms else None
        ok = p99 is not None and p99 <= peak.slo_p99_ms and not load.errors
        steps.append(
            PeakStep(qps=qps, p99_ms=p99, achieved_qps=load.achieved_qps, passed=ok, errors=sum(load.errors.values()))
        )
        if ok:
            passes[qps] = record
        if on_step:
            on_step(steps[-1])
        return ok

    def holds(qps: float) -> bool:
        # A miss is run again before it counts: one stall of a shared machine must not halve the
        # answer (a pass is checked too, by the confirmations below).
        return attempt(qps, seed=len(steps)) or attempt(qps, seed=len(steps))

    passed, missed = 0.0, None
    qps = peak.start_qps
    while missed is None and len(steps) < peak.max_runs:  # rise until a rate misses
        if holds(qps):
            passed, qps = qps, qps * 2
        else:
            missed = qps
    while not passed and missed is not None and missed > peak.start_qps / 1024 and len(steps) < peak.max_runs:
        qps = missed / 2  # the start already missed: fall until a rate meets the SLO
        if holds(qps):
            passed = qps
        else:
            missed = qps
    while missed is not None and passed and (missed - passed) / passed > peak.precision and len(steps) < peak.max_runs:
        middle = (passed + missed) / 2
        if holds(middle):
            passed = middle
        else:
            missed = middle
    confirmed = 0
    while passed and confirmed < peak.confirmations and len(steps) < peak.max_runs:
        if attempt(passed, seed=len(steps)):
            confirmed += 1
        else:  # a miss on repetition: the peak was luck; step down and confirm again
            missed, passed, confirmed = passed, passed * (1 - peak.precision), 0
    if passed and confirmed >= peak.confirmations:
        stopped = "confirmed"
    else:
        # Cut short (max_runs), perhaps just after a step down to a rate never run: the answer is
        # the highest rate a run met the SLO at below the latest miss, unconfirmed and said so.
        below = [qps for qps in passes if missed is None or qps < missed]
        passed = max(below, default=0.0)
        stopped = (
            "no rate met the SLO"
            if not passed
            else (
                f"reached max_runs ({peak.max_runs}) before {peak.confirmations} confirmations: "
                "the peak is the highest rate that met the SLO once, unconfirmed"
            )
        )
    search = PeakSearch(
        slo_p99_ms=peak.slo_p99_ms, peak_qps=passed or None, first_miss_qps=missed, steps=steps, stopped=stopped
    )
    return search, passes.get(passed) if passed else None
