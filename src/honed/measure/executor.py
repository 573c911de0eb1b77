"""Runs one job in a fresh worker process and turns whatever happens into a Measurement (or,
for a quality job, a QualityResult).

A crash, an out-of-memory kill or a timeout is a failed Measurement with the reason, never
an exception that would lose the rest of a sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from honed.measure.worker import Job
from honed.records.record import Measurement, QualityResult

STDERR_TAIL_CHARS = 2000


# The thread-count variables of the math libraries a worker's threads are set by.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def worker_env(threads: int | None, workdir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if workdir is not None:
        # The worker's temporary files live in the run's work directory, so they go with it even
        # when the worker is killed (it removes the directory itself when its parent dies).
        (workdir / "tmp").mkdir(exist_ok=True)
        env["TMPDIR"] = str(workdir / "tmp")
    # The worker must import what the caller can (e.g. a model class defined in a test module).
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    if threads:
        for name in THREAD_VARIABLES:
            env[name] = str(threads)
    return env


def run_job(job: Job, workdir: Path) -> Measurement:
    outcome = run_worker(job, workdir, f"b{job.batch_size}-r{job.repetition}")
    if outcome.payload is not None:
        return Measurement.model_validate(outcome.payload).model_copy(update={"exit_code": outcome.exit_code})
    return Measurement(
        batch_size=job.batch_size,
        repetition=job.repetition,
        status=outcome.status,
        exit_code=outcome.exit_code,
        error=outcome.error,
    )


def run_quality_job(job: Job, workdir: Path) -> QualityResult:
    outcome = run_worker(job, workdir, "quality")
    payload = outcome.payload or {}
    if payload.get("status") == "ok":
        return QualityResult.model_validate(payload["quality"])
    return QualityResult(
        task=job.task.name if job.task else "?",
        status=payload.get("status", outcome.status),
        error=payload.get("error", outcome.error),
    )


@dataclass(frozen=True)
class WorkerOutcome:
    """``payload``: the result file the worker wrote, or None when it crashed or timed out."""

    status: Literal["ok", "crashed", "timeout"]
    payload: dict[str, Any] | None
    exit_code: int | None = None
    error: str | None = None


def run_worker(job: Job, workdir: Path, tag: str) -> WorkerOutcome:
    job_path = workdir / f"job-{tag}.json"
    stderr_path = workdir / f"stderr-{tag}.txt"
    result_path = Path(job.result_path)
    job_path.write_text(job.model_dump_json())
    with open(stderr_path, "wb") as stderr:
        spawned_at = time.monotonic_ns()
        process = subprocess.Popen(
            [sys.executable, "-m", "honed.measure.worker", str(job_path), str(spawned_at), str(os.getpid())],
            stdout=stderr,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=worker_env(job.protocol.threads, workdir),
            start_new_session=True,
        )
        try:
            exit_code = process.wait(timeout=job.protocol.timeout_seconds)
        except BaseException as interruption:  # Ctrl-C must not leave an orphaned worker running
            _kill_tree(process)
            if not isinstance(interruption, subprocess.TimeoutExpired):
                raise
            return WorkerOutcome(
                "timeout",
                None,
                error=f"worker exceeded timeout_seconds={job.protocol.timeout_seconds:g} "
                "and was killed" + _tail(stderr_path),
            )
    if result_path.is_file():
        return WorkerOutcome("ok", json.loads(result_path.read_text()), exit_code)
    return WorkerOutcome("crashed", None, exit_code, describe_exit(exit_code) + _tail(stderr_path))


def describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        reason = f"worker killed by {name}"
        if -code == signal.SIGKILL:
            reason += " (often the out-of-memory killer)"
        return reason
    return f"worker exited with code {code} before writing a result"


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return f"; stderr tail: {text[-STDERR_TAIL_CHARS:]}" if text else ""


def _kill_tree(process: subprocess.Popen) -> None:
    """The worker's process group, and its descendants that left the group (a new session)."""
    import psutil

    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    process.wait()
