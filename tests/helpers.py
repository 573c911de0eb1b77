"""Build run records from chosen samples, without worker processes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from honed.core.fingerprint import collect
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec
from honed.measure.summary import summarize
from honed.records.record import Measurement, RunRecord

# Fast protocol for tests that run worker processes: the statistics are not the point there.
FAST = dict(
    warmup_iterations=2,
    warmup_min_seconds=0.0,
    min_samples=10,
    min_seconds=0.1,
    energy_idle_seconds=0.0,
    bootstrap_resamples=300,
)


def synthetic_record(
    samples_ms: list[np.ndarray],
    batch_size: int = 1,
    threads: int | None = None,
    runtime: dict | None = None,
    price_per_hour: float | None = None,
) -> RunRecord:
    protocol = Protocol(
        batch_sizes=(batch_size,), repetitions=len(samples_ms), threads=threads, bootstrap_resamples=500
    )
    target = TargetSpec(device="cpu", price_per_hour=price_per_hour)
    measurements = [
        Measurement(
            batch_size=batch_size,
            repetition=i,
            status="ok",
            samples_ns=[int(v * 1e6) for v in s],
            memory={"peak_rss_bytes": 100 * 2**20},
        )
        for i, s in enumerate(samples_ms)
    ]
    fingerprint = collect().model_copy(update={"runtime": runtime or {"threads": threads or 2, "device_name": "cpu"}})
    return RunRecord(
        id=uuid.uuid4().hex,
        created_at=datetime.now(timezone.utc),
        status="ok",
        model=ModelRef(kind="factory", source="honed.zoo:sleeper"),
        inputs=InputSpec(shape=(1,)),
        protocol=protocol,
        target=target,
        device="cpu",
        fingerprint=fingerprint,
        measurements=measurements,
        results=summarize(measurements, protocol, target, None, None),
    )


def noisy(center_ms: float, n: int, seed: int, spread: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return center_ms * (1 + spread * rng.standard_normal(n)).clip(0.5)


def tomlish(value) -> str:
    """A TOML inline value for a dict of str/int/dict (enough for model options)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {tomlish(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def digits_tune_spec(path, model: ModelRef, candidates: list[str], name: str = "digits") -> None:
    """A small real tune: the digits CNN, its shipped task, one quick worker per trial, no second
    measurement when the machine is busy (these tests run several tunes at once on purpose)."""
    path.write_text(f"""
name = "{name}"
[model]
kind = "factory"
source = "honed.zoo:cnn"
options = {tomlish(model.options)}
[inputs]
shape = [1, 8, 8]
[protocol]
batch_sizes = [16]
repetitions = 1
min_samples = 5
min_seconds = 0.0
warmup_iterations = 1
warmup_min_seconds = 0.0
energy_idle_seconds = 0.0
[target]
device = "cpu"
measure_peaks = false
[task]
name = "image-classification"
limit = 200
[tune]
candidates = {json.dumps(candidates)}
max_steps = 1
patience = 100
contention_retries = 0
""")


def honed(
    *args: str,
    store: Path,
    check_code: int | None = 0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """The command line run to completion, as a user runs it, on the SQLite store at ``store``."""
    environment = {**os.environ, "HONED_STORE": f"sqlite:///{store}", "COLUMNS": "200", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "honed.cli", *args], capture_output=True, text=True, env=environment, timeout=600
    )
    if check_code is not None:
        assert done.returncode == check_code, done.stdout + done.stderr
    return done


def honed_process(*args: str, store: str, **popen) -> subprocess.Popen:
    """The command line in its own process, as a user runs it, writing to ``store`` (a URL)."""
    env = {**os.environ, "HONED_STORE": store, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "honed.cli", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def postgres_url_or_skip() -> str:
    import pytest

    url = os.environ.get("HONED_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide HONED_TEST_POSTGRES_URL (.ci/run starts a PostgreSQL server)")
        pytest.skip("set HONED_TEST_POSTGRES_URL to a PostgreSQL database to run this test")
    return url


@contextlib.contextmanager
def ready_client(handle, shape, admission=None) -> Iterator:
    """The handle served in process (FastAPI's TestClient, no socket), once warmed up (``/ready``
    answers 200)."""
    from fastapi.testclient import TestClient

    from honed.serve.admission import Admission
    from honed.serve.app import build_app
    from honed.serve.batcher import DynamicBatcher

    admission = admission or Admission(max_queue=64, timeout_s=10.0, watchdog_s=60.0)
    app = build_app(handle, DynamicBatcher(handle, 4, 1.0, admission=admission), InputSpec(shape=shape))
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/ready").json()
            time.sleep(0.05)
        yield client


def extras_packages() -> set[str]:
    """The import names of every package an extra installs (docs and test aside): read from
    pyproject.toml and the installed distributions' own top-level names."""
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    core = {"torch", "numpy", "scipy"}  # also named by an extra's own requirements; the core installs them
    wanted = {
        re.split(r"[\[<>=; ]", requirement)[0].lower().replace("_", "-")
        for name, requirements in extras.items()
        if name not in ("docs", "test")
        for requirement in requirements
        if not requirement.startswith("honed[")
    }
    return {
        module
        for module, distributions in packages_distributions().items()
        if any(d.lower().replace("_", "-") in wanted for d in distributions) and module not in core
    }
