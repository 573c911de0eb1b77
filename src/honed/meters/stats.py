"""Latency summaries and bootstrap confidence intervals.

Quantiles use numpy's default linear interpolation (method 7 of Hyndman & Fan).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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


class Percentile:
    """The q-th percentile (linear interpolation), of one sample or of many resamples at once."""

    def __init__(self, q: float):
        self.q = q

    def __call__(self, sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.percentile(sample, self.q, axis=axis)

    def of_rows(self, rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Each row's percentile over its first ``lengths`` values (the rest is +inf padding)."""
        position = self.q / 100 * (lengths - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, lengths - 1)
        if (lengths == lengths[0]).all():  # one length: two order statistics by partition, O(n)
            ordered = np.partition(rows, np.unique([low[0], high[0]]), axis=1)
        else:
            ordered = np.sort(rows, axis=1)
        a = np.take_along_axis(ordered, low[:, None], axis=1)[:, 0]
        b = np.take_along_axis(ordered, high[:, None], axis=1)[:, 0]
        return a + (b - a) * (position - low)


class Mean:
    def __call__(self, sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(sample, axis=axis)

    def of_rows(self, rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(rows), rows, 0.0).sum(axis=1) / lengths


def _percentile(q: float) -> Percentile:
    return Percentile(q)


Groups = Sequence[np.ndarray]


def _as_groups(samples: Groups | np.ndarray) -> list[np.ndarray]:
    if (isinstance(samples, np.ndarray) and samples.ndim == 1) or (len(samples) and np.isscalar(samples[0])):
        return [np.asarray(samples, dtype=np.float64)]  # one flat sample is one group
    groups = [np.asarray(g, dtype=np.float64) for g in samples if len(g)]
    if not groups:
        raise ValueError("no samples")
    return groups


def hierarchical_bootstrap(
    groups: Groups | np.ndarray, statistic: Callable[..., np.ndarray], resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap distribution of ``statistic`` over groups of samples (one group per worker process).

    Each resample draws the groups with replacement, then the samples within each drawn group
    with replacement: the spread between processes, not only within one, enters the interval.
    With one group this is the ordinary (percentile) bootstrap.
    """
    groups = _as_groups(groups)
    if hasattr(statistic, "of_rows"):
        return _resampled_rows(groups, statistic, resamples, rng)
    k = len(groups)
    out = np.empty(resamples)
    for i in range(resamples):
        chosen = rng.integers(0, k, size=k) if k > 1 else np.zeros(1, dtype=int)
        parts = [groups[j][rng.integers(0, len(groups[j]), size=len(groups[j]))] for j in chosen]
        out[i] = statistic(np.concatenate(parts), axis=-1)
    return out


ROWS_AT_ONCE = 4_000_000  # values per block of resamples (32 MB): bounded memory for any sample size


def _resampled_rows(groups: list[np.ndarray], statistic: Any, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The hierarchical bootstrap as whole arrays: each row one resample (groups drawn, then
    values within each), padded with +inf to the longest; the statistic reads each row's own
    length. One numpy call per block, not one per resample (2000 per CI)."""
    k, sizes = len(groups), np.array([len(g) for g in groups])
    flat, starts = np.concatenate(groups), np.concatenate([[0], np.cumsum(sizes)[:-1]])
    longest = int(sizes.max())
    block = max(1, ROWS_AT_ONCE // (k * longest))
    out = np.empty(resamples)
    for first in range(0, resamples, block):
        count = min(block, resamples - first)
        chosen = rng.integers(0, k, size=(count, k)) if k > 1 else np.zeros((count, 1), dtype=np.int64)
        drawn = sizes[chosen][..., None]
        picks = starts[chosen][..., None] + np.minimum(
            (rng.random((count, k, longest)) * drawn).astype(np.int64), drawn - 1
        )
        rows = np.where(np.arange(longest) < drawn, flat[picks], np.inf).reshape(count, k * longest)
        out[first : first + count] = statistic.of_rows(rows, sizes[chosen].sum(axis=1))
    return out


def _interval(distribution: np.ndarray, confidence: float) -> Interval:
    alpha = 1.0 - confidence
    low, high = np.quantile(distribution, [alpha / 2, 1 - alpha / 2])
    return Interval(low=float(low), high=float(high))


def bootstrap_ci(
    groups: Groups | np.ndarray,
    statistic: Callable[..., np.ndarray],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of ``statistic`` over one sample or groups of samples."""
    rng = np.random.default_rng(seed)
    return _interval(hierarchical_bootstrap(groups, statistic, resamples, rng), confidence)


def summarize_latency(
    samples_ns: Groups | np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> LatencySummary:
    """Summary of latency samples in ns (one array, or one array per worker process)."""
    groups = [g / NS_PER_MS for g in _as_groups(samples_ns)]
    ms = np.concatenate(groups)
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
        p50_ci=bootstrap_ci(groups, _percentile(50), confidence, resamples, seed),
        p99_ci=bootstrap_ci(groups, _percentile(99), confidence, resamples, seed),
    )


class RelativeChange(BaseModel):
    """statistic(b) / statistic(a) - 1, with a CI from resampling a and b independently."""

    model_config = ConfigDict(frozen=True)
    a: float
    b: float
    change: float
    ci: Interval


def relative_change(
    a: Groups | np.ndarray,
    b: Groups | np.ndarray,
    statistic: Callable[..., np.ndarray],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> RelativeChange:
    ga, gb = _as_groups(a), _as_groups(b)
    stat_a = float(statistic(np.concatenate(ga), axis=-1))
    stat_b = float(statistic(np.concatenate(gb), axis=-1))
    change = stat_b / stat_a - 1.0 if stat_a else float("inf")
    if sum(len(g) for g in ga) < 2 or sum(len(g) for g in gb) < 2:
        ci = Interval(low=-np.inf, high=np.inf)  # a single value says nothing about the noise
    else:
        rng = np.random.default_rng(seed)
        dist_a = hierarchical_bootstrap(ga, statistic, resamples, rng)
        dist_b = hierarchical_bootstrap(gb, statistic, resamples, rng)
        ci = _interval(dist_b / dist_a - 1.0, confidence)
    return RelativeChange(a=stat_a, b=stat_b, change=change, ci=ci)


STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "p50": _percentile(50),
    "p99": _percentile(99),
    "mean": Mean(),
}
