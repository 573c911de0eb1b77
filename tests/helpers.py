"""Build run records from chosen samples, without worker processes."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np

from honed.fingerprint import collect
from honed.measure.summary import summarize
from honed.protocol import InputSpec, ModelRef, Protocol, TargetSpec
from honed.record import Measurement, RunRecord


def synthetic_record(samples_ms: list[np.ndarray], batch_size: int = 1, threads: int | None = None,
                     runtime: dict | None = None, price_per_hour: float | None = None) -> RunRecord:
    protocol = Protocol(batch_sizes=(batch_size,), repetitions=len(samples_ms), threads=threads, bootstrap_resamples=500)
    target = TargetSpec(device="cpu", price_per_hour=price_per_hour)
    measurements = [
        Measurement(batch_size=batch_size, repetition=i, status="ok", samples_ns=[int(v * 1e6) for v in s],
                    memory={"peak_rss_bytes": 100 * 2**20})
        for i, s in enumerate(samples_ms)
    ]
    fingerprint = collect().model_copy(update={"runtime": runtime or {"threads": threads or 2, "device_name": "cpu"}})
    return RunRecord(
        id=uuid.uuid4().hex, created_at=datetime.now(timezone.utc), status="ok",
        model=ModelRef(kind="factory", source="honed.zoo:sleeper"), inputs=InputSpec(shape=(1,)),
        protocol=protocol, target=target, device="cpu", fingerprint=fingerprint, measurements=measurements,
        results=summarize(measurements, protocol, target, None, None),
    )


def noisy(center_ms: float, n: int, seed: int, spread: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return center_ms * (1 + spread * rng.standard_normal(n)).clip(0.5)
