"""``compare``: before/after with confidence intervals and a verdict per metric.

A change is called only when the bootstrap CI of the relative change excludes zero AND the
change is at least ``min_effect`` (default 2 %): statistically and practically significant.
Otherwise the verdict is "no significant difference".
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from honed.core.errors import EnvironmentMismatchError
from honed.core.objective import Objective
from honed.meters.stats import STATISTICS, Interval, relative_change
from honed.records.record import BatchResult, RunRecord

NO_DIFFERENCE = "no significant difference"
# Below this many worker processes per run, a bootstrap over processes is too coarse to call a change.
MIN_REPLICATES = 3
# Protocol and input fields whose difference makes two runs measure different things.
PROTOCOL_FIELDS = ("scope", "threads")
# A load run times one server instance: its CI resamples windows of queries, not instances, and two
# instances of the same model, started one after the other, differed by 3.4 % and 5.8 % at p50 in
# two CI runs (A/A pairs of `honed load --model` runs). Changes smaller than this are not called
# between load runs.
LOAD_MIN_EFFECT = 0.10
INPUT_FIELDS = ("shape", "dtype", "seq_len")


class MetricVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)
    batch_size: int
    metric: str
    unit: str
    better: Literal["lower", "higher"]
    a: float
    b: float
    change: float
    ci: Interval
    verdict: str

    @property
    def significant(self) -> bool:
        return self.verdict != NO_DIFFERENCE


class QualityChange(BaseModel):
    """A quality metric before and after, on the same items: the difference is exact, not sampled."""

    model_config = ConfigDict(frozen=True)
    metric: str
    better: Literal["lower", "higher"]
    a: float
    b: float
    verdict: Literal["better", "worse", "unchanged"]


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)
    run_a: str
    run_b: str
    min_effect: float
    confidence: float
    verdicts: list[MetricVerdict]
    environment_differences: dict[str, tuple[object, object]]
    warnings: list[str]
    quality: list[QualityChange] = []

    def verdict(self, metric: str, batch_size: int) -> MetricVerdict:
        return next(v for v in self.verdicts if v.metric == metric and v.batch_size == batch_size)

    @property
    def regressions(self) -> list[MetricVerdict]:
        return [v for v in self.verdicts if v.verdict in ("slower", "larger")]

    @property
    def quality_regressions(self) -> list[QualityChange]:
        return [q for q in self.quality if q.verdict == "worse"]


def check_min_effect(min_effect: float) -> None:
    """Refuse a smallest significant change outside [0, 1) (before any measuring, where a command can)."""
    if not 0 <= min_effect < 1:
        from honed.core.errors import SpecError

        raise SpecError("min_effect", min_effect, "a fraction in [0, 1), e.g. 0.02 for 2 %")


def compare(a: RunRecord, b: RunRecord, min_effect: float = 0.02, strict: bool = False) -> Comparison:
    """Compare run ``b`` (after) against run ``a`` (before)."""
    check_min_effect(min_effect)
    differences = a.fingerprint.differences(b.fingerprint)
    warnings = [f"environment differs: {field}: {va!r} vs {vb!r}" for field, (va, vb) in differences.items()]
    warnings += [
        f"protocol differs: {f}: {getattr(a.protocol, f)!r} vs {getattr(b.protocol, f)!r}"
        for f in PROTOCOL_FIELDS
        if getattr(a.protocol, f) != getattr(b.protocol, f)
    ]
    warnings += [
        f"inputs differ: {f}: {getattr(a.inputs, f)!r} vs {getattr(b.inputs, f)!r}"
        for f in INPUT_FIELDS
        if getattr(a.inputs, f) != getattr(b.inputs, f)
    ]
    warnings += [
        f"run {r.id[:12]} is {r.stability.verdict}: {'; '.join(r.stability.reasons)}"
        for r in (a, b)
        if r.stability is not None and not r.stability.trusted
    ]
    if strict and warnings:
        raise EnvironmentMismatchError("refusing to compare (strict): " + "; ".join(warnings))

    if (a.load is not None or b.load is not None) and min_effect < LOAD_MIN_EFFECT:
        min_effect = LOAD_MIN_EFFECT
        warnings.append(
            f"load runs: each timed one server instance, and instances differ by a few percent, so "
            f"changes under {LOAD_MIN_EFFECT:.0%} are not called"
        )
    confidence = min(a.protocol.confidence, b.protocol.confidence)
    resamples = max(a.protocol.bootstrap_resamples, b.protocol.bootstrap_resamples)
    verdicts: list[MetricVerdict] = []
    shared = [bs for bs in a.protocol.batch_sizes if bs in b.protocol.batch_sizes]
    for batch_size in shared:
        ra, rb = a.result(batch_size), b.result(batch_size)
        if not (ra and rb and ra.latency_ms and rb.latency_ms):
            warnings.append(f"batch size {batch_size}: no successful measurement in one of the runs")
            continue
        enough = min(ra.repetitions_ok, rb.repetitions_ok) >= MIN_REPLICATES
        if not enough:
            warnings.append(
                f"batch size {batch_size}: fewer than {MIN_REPLICATES} successful worker processes in a run; "
                "no verdict is called (raise protocol.repetitions)"
            )
        verdicts += _batch_verdicts(a, b, ra, rb, min_effect, confidence, resamples, enough)
    missing = sorted(set(a.protocol.batch_sizes) ^ set(b.protocol.batch_sizes))
    if missing:
        warnings.append(f"batch sizes measured in only one run: {missing}")
    quality, quality_warnings = _quality_changes(a, b)
    return Comparison(
        run_a=a.id,
        run_b=b.id,
        min_effect=min_effect,
        confidence=confidence,
        verdicts=verdicts,
        environment_differences=differences,
        warnings=warnings + quality_warnings,
        quality=quality,
    )


def _quality_changes(a: RunRecord, b: RunRecord) -> tuple[list[QualityChange], list[str]]:
    qa, qb = a.quality, b.quality
    if qa is None and qb is None:
        return [], []
    if not (qa and qb and qa.status == "ok" and qb.status == "ok"):
        return [], ["quality: scored successfully in only one run (or neither); not compared"]
    if a.task_spec != b.task_spec:
        return [], [f"quality: the runs used different tasks ({a.task_spec} vs {b.task_spec}); not compared"]
    changes = []
    for metric, va in qa.values.items():
        if metric not in qb.values:
            continue
        vb, better = qb.values[metric], qa.better.get(metric, "higher")
        verdict: Literal["better", "worse", "unchanged"] = (
            "unchanged" if vb == va else ("better" if Objective(metric, better).beats(vb, va) else "worse")
        )
        changes.append(QualityChange(metric=metric, better=better, a=va, b=vb, verdict=verdict))
    return changes, []


def _samples_ms(record: RunRecord, batch_size: int) -> list[np.ndarray]:
    """One array per worker process: the process, not the sample, is the unit of replication."""
    return [
        np.asarray(m.samples_ns, dtype=np.float64) / 1e6
        for m in record.measurements
        if m.batch_size == batch_size and m.status == "ok" and m.samples_ns
    ]


def _batch_verdicts(
    a, b, ra: BatchResult, rb: BatchResult, min_effect, confidence, resamples, enough: bool
) -> list[MetricVerdict]:
    """``enough``: both runs have MIN_REPLICATES processes; otherwise report the numbers, call nothing."""
    bs = ra.batch_size
    xa, xb = _samples_ms(a, bs), _samples_ms(b, bs)
    out = []
    for stat in ("p50", "p99", "mean"):
        change = relative_change(xa, xb, STATISTICS[stat], confidence, resamples, seed=a.protocol.seed)
        out.append(
            _verdict(
                bs,
                f"latency_{stat}",
                "ms",
                "lower",
                change.a,
                change.b,
                change.change,
                change.ci,
                min_effect,
                test_passed=enough,
            )
        )
    ok_a = [m for m in a.measurements if m.batch_size == bs and m.status == "ok"]
    ok_b = [m for m in b.measurements if m.batch_size == bs and m.status == "ok"]
    per_process: list[tuple[str, str, str, list, list]] = []
    if a.protocol.concurrency == b.protocol.concurrency == 1:
        # Throughput is batch / mean latency, so its change and CI follow from the mean's (order flips).
        mean = next(v for v in out if v.metric == "latency_mean")
        inverse = lambda c: 1.0 / (1.0 + c) - 1.0  # noqa: E731
        out.append(
            _verdict(
                bs,
                "throughput",
                "items/s",
                "higher",
                ra.throughput_items_per_s,
                rb.throughput_items_per_s,
                inverse(mean.change),
                Interval(low=inverse(mean.ci.high), high=inverse(mean.ci.low)),
                min_effect,
                test_passed=enough,
            )
        )
    else:  # concurrent clients: each process's items over its wall time, not batch / mean latency
        rates = lambda ms: [bs * len(m.samples_ns) / m.timed_seconds for m in ms if m.timed_seconds]  # noqa: E731
        per_process.append(("throughput", "items/s", "higher", rates(ok_a), rates(ok_b)))
    per_process += [
        ("cold_start", "s", "lower", ra.cold_start_s, rb.cold_start_s),
        (
            "peak_rss",
            "bytes",
            "lower",
            [m.memory.get("peak_rss_bytes") for m in ok_a],
            [m.memory.get("peak_rss_bytes") for m in ok_b],
        ),
    ]
    # One value per process: significance from a rank test (scipy's Mann-Whitney U), which
    # cannot call a difference from three values a side, rather than a bootstrap, which would.
    for metric, unit, better, va, vb in per_process:
        va, vb = [v for v in va if v], [v for v in vb if v]
        if va and vb:
            from scipy.stats import mannwhitneyu

            change = relative_change(
                [np.array([v]) for v in va],
                [np.array([v]) for v in vb],
                STATISTICS["p50"],
                confidence,
                resamples,
                seed=a.protocol.seed,
            )
            p_value = mannwhitneyu(va, vb, alternative="two-sided").pvalue if len(set(va + vb)) > 1 else 1.0
            out.append(
                _verdict(
                    bs,
                    metric,
                    unit,
                    better,
                    change.a,
                    change.b,
                    change.change,
                    change.ci,
                    min_effect,
                    test_passed=enough and p_value < 1 - confidence,
                )
            )
    return out


def _verdict(bs, metric, unit, better, a, b, change, ci: Interval, min_effect, test_passed: bool) -> MetricVerdict:
    significant = test_passed and not ci.contains(0.0) and abs(change) >= min_effect
    if not significant:
        word = NO_DIFFERENCE
    else:
        improved = Objective(metric, better, unit).improved(change)
        if metric.startswith("latency") or metric in ("throughput", "cold_start"):
            word = "faster" if improved else "slower"
        else:
            word = "smaller" if improved else "larger"
    return MetricVerdict(
        batch_size=bs, metric=metric, unit=unit, better=better, a=a, b=b, change=change, ci=ci, verdict=word
    )
