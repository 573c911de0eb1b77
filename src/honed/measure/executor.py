"""Runs one measurement in a fresh worker process and turns whatever happens into a Measurement.

A crash, an out-of-memory kill or a timeout is a failed Measurement with the reason, never
an exception that would lose the rest of a sweep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from honed.measure.worker import Job
from honed.record import Measurement

STDERR_TAIL_CHARS = 2000


def worker_env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    # The worker must import what the caller can (e.g. a model class defined in a test module).
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    return env


def run_job(job: Job, workdir: Path) -> Measurement:
    tag = f"b{job.batch_size}-r{job.repetition}"
    job_path = workdir / f"job-{tag}.json"
    stderr_path = workdir / f"stderr-{tag}.txt"
    result_path = Path(job.result_path)
    job_path.write_text(job.model_dump_json())
    with open(stderr_path, "wb") as stderr:
        spawned_at = time.monotonic_ns()
        process = subprocess.Popen(
            [sys.executable, "-m", "honed.measure.worker", str(job_path), str(spawned_at)],
            stdout=stderr, stderr=stderr, stdin=subprocess.DEVNULL,
            env=worker_env(job.protocol.threads), start_new_session=True,
        )
        try:
            exit_code = process.wait(timeout=job.protocol.timeout_seconds)
        except BaseException as interruption:  # Ctrl-C must not leave an orphaned worker running
            _kill_group(process)
            if not isinstance(interruption, subprocess.TimeoutExpired):
                raise
            return Measurement(
                batch_size=job.batch_size, repetition=job.repetition, status="timeout",
                error=f"worker exceeded timeout_seconds={job.protocol.timeout_seconds:g} and was killed"
                + _tail(stderr_path),
            )
    if result_path.is_file():
        return Measurement.model_validate_json(result_path.read_text()).model_copy(update={"exit_code": exit_code})
    return Measurement(
        batch_size=job.batch_size, repetition=job.repetition, status="crashed", exit_code=exit_code,
        error=describe_exit(exit_code) + _tail(stderr_path),
    )


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


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
