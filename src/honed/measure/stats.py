"""Latency summaries and bootstrap confidence intervals (scipy.stats.bootstrap).

Quantiles use numpy's default linear interpolation (method 7 of Hyndman & Fan).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

NS_PER_MS = 1e6


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


class LatencySummary(BaseModel):
    """Milliseconds. CIs are percentile-bootstrap intervals at the protocol's confidence."""

    model_config = ConfigDict(frozen=True)
    n: int
    mean: float
    std: float
    cv: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    p50_ci: Interval
    p99_ci: Interval


def _percentile(q: float) -> Callable[..., np.ndarray]:
    def statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.percentile(sample, q, axis=axis)

    return statistic


def bootstrap_ci(
    sample: np.ndarray,
    statistic: Callable[..., np.ndarray],
    confidence: float,
    resamples: int,
    seed: int,
) -> Interval:
    """Percentile bootstrap CI of ``statistic`` (vectorised, taking ``axis``)."""
    from scipy.stats import bootstrap

    if len(sample) < 2 or np.all(sample == sample[0]):
        value = float(statistic(sample, axis=-1))
        return Interval(low=value, high=value)
    result = bootstrap(
        (sample,),
        statistic,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        vectorized=True,
        batch=max(1, 20_000_000 // max(len(sample), 1)),  # bounds memory for long runs
        rng=np.random.default_rng(seed),
    )
    return Interval(low=float(result.confidence_interval.low), high=float(result.confidence_interval.high))


def summarize_latency(
    samples_ns: Sequence[int] | np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> LatencySummary:
    ms = np.asarray(samples_ns, dtype=np.float64) / NS_PER_MS
    if ms.size == 0:
        raise ValueError("no latency samples to summarise")
    mean = float(ms.mean())
    std = float(ms.std(ddof=1)) if ms.size > 1 else 0.0
    p50, p90, p95, p99 = (float(v) for v in np.percentile(ms, [50, 90, 95, 99]))
    return LatencySummary(
        n=int(ms.size),
        mean=mean,
        std=std,
        cv=std / mean if mean > 0 else 0.0,
        min=float(ms.min()),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=float(ms.max()),
        p50_ci=bootstrap_ci(ms, _percentile(50), confidence, resamples, seed),
        p99_ci=bootstrap_ci(ms, _percentile(99), confidence, resamples, seed),
    )


class RelativeChange(BaseModel):
    """(statistic(b) / statistic(a) - 1) with a bootstrap CI; a and b resampled independently."""

    model_config = ConfigDict(frozen=True)
    a: float
    b: float
    change: float
    ci: Interval


def relative_change(
    a: np.ndarray,
    b: np.ndarray,
    statistic: Callable[..., np.ndarray],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> RelativeChange:
    from scipy.stats import bootstrap

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    stat_a = float(statistic(a, axis=-1))
    stat_b = float(statistic(b, axis=-1))
    change = stat_b / stat_a - 1.0 if stat_a else float("inf")

    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(y, axis=axis) / statistic(x, axis=axis) - 1.0

    if min(a.size, b.size) < 2:
        ci = Interval(low=-np.inf, high=np.inf)  # one sample says nothing about the noise
    elif np.ptp(a) == 0 and np.ptp(b) == 0:
        ci = Interval(low=change, high=change)
    else:
        result = bootstrap(
            (a, b),
            ratio,
            confidence_level=confidence,
            n_resamples=resamples,
            method="percentile",
            vectorized=True,
            batch=max(1, 20_000_000 // max(a.size + b.size, 1)),
            rng=np.random.default_rng(seed),
        )
        ci = Interval(low=float(result.confidence_interval.low), high=float(result.confidence_interval.high))
    return RelativeChange(a=stat_a, b=stat_b, change=change, ci=ci)


STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "p50": _percentile(50),
    "p99": _percentile(99),
    "mean": lambda x, axis=-1: np.mean(x, axis=axis),
}
