"""When queries arrive: seconds from the start of a run, scheduled before it starts and
independently of completions (open loop), seeded so a scenario repeats exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from honed.core.errors import SpecError


def poisson(qps: float, count: int, seed: int) -> np.ndarray:
    """Exponential inter-arrival times at mean rate ``qps``: MLPerf's Server scenario."""
    _check_rate(qps)
    gaps = np.random.default_rng(seed).exponential(1.0 / qps, count)
    return np.cumsum(gaps) - gaps[0]  # the first query at t=0


def bursty(qps: float, burstiness: float, count: int, seed: int) -> np.ndarray:
    """Gamma inter-arrival times with mean 1/qps and shape ``burstiness`` (vLLM's benchmark):
    1 is Poisson, below 1 burstier (clusters and gaps), above 1 more even."""
    _check_rate(qps)
    if not burstiness > 0:
        raise SpecError("load.burstiness", burstiness, "a number > 0 (1 is Poisson; below 1 burstier)")
    gaps = np.random.default_rng(seed).gamma(burstiness, 1.0 / (qps * burstiness), count)
    return np.cumsum(gaps) - gaps[0]


def uniform(qps: float, count: int) -> np.ndarray:
    """Evenly spaced arrivals: the steady load closed-loop benchmarks assume."""
    _check_rate(qps)
    return np.arange(count) / qps


def trace(path: str | Path, limit: int | None = None) -> np.ndarray:
    """Arrival times replayed from a file: one timestamp in seconds per line (any origin; sorted
    and shifted to start at 0), ``#`` comments and blank lines ignored."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise SpecError(
            "load.trace", str(path), "a readable file of timestamps in seconds, one per line", hint=error.strerror
        ) from None
    values = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise SpecError(f"load.trace line {number}", text, "a timestamp in seconds") from None
        if not np.isfinite(value):
            raise SpecError(f"load.trace line {number}", text, "a finite timestamp in seconds")
        values.append(value)
    if not values:
        raise SpecError("load.trace", str(path), "a file with at least one timestamp")
    times = np.sort(np.asarray(values))[:limit]
    return times - times[0]


def _check_rate(qps: float) -> None:
    if not (np.isfinite(qps) and qps > 0):
        raise SpecError("load.qps", qps, "a rate in queries per second > 0")
