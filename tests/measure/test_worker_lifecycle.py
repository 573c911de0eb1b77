"""Workers are units that may die, and never outlive their purpose: a killed parent takes its
worker down, a hung model goes with every process it started, a leak stops at the limit."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from helpers import FAST
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec
from honed.run.evaluation import evaluate

NO_PEAKS = TargetSpec(device="cpu", measure_peaks=False)
TESTS = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    # The parent also runs short helpers (environment capture) that may have exited and not
    # been reaped yet: a zombie or vanished child has no command line and is not the worker.
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _worker_of(parent: subprocess.Popen, seconds: float = 60) -> psutil.Process:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in psutil.Process(parent.pid).children(recursive=True):
            if "honed.measure.worker" in " ".join(_cmdline(child)):
                return child
        assert parent.poll() is None, parent.stderr.read()
        time.sleep(0.1)
    raise AssertionError("no worker process started")


@pytest.mark.slow
def test_a_worker_dies_within_two_seconds_of_its_parent_being_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(TESTS)!r})
        from honed.run.evaluation import evaluate
        from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec
        ref = ModelRef(kind="factory", source="harness_models:slow", options={{"kwargs": {{"milliseconds": 20}}}})
        evaluate(ref, Protocol(min_seconds=300, max_seconds=300, repetitions=1), InputSpec(shape=(4,)),
                 TargetSpec(device="cpu", measure_peaks=False))
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        worker = _worker_of(parent)
        command = worker.cmdline()
        workdir = Path(command[command.index("honed.measure.worker") + 1]).parent
        time.sleep(3)  # well into its measurement: the model is loaded and timing
        assert _alive(worker.pid) and workdir.is_dir()
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        time.sleep(2)
        assert not _alive(worker.pid), "the worker outlived its parent"
        assert not workdir.exists(), "the killed run's work directory was left behind"
    finally:
        parent.kill()


@pytest.mark.slow
def test_a_hung_model_is_killed_with_the_processes_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    ref = ModelRef(
        kind="factory", source="harness_models:spawns_and_hangs", options={"kwargs": {"pid_file": str(pid_file)}}
    )
    protocol = Protocol(**FAST, repetitions=1, timeout_seconds=8)
    record = evaluate(ref, protocol, InputSpec(shape=(4,)), NO_PEAKS)
    assert record.measurements[0].status == "timeout"
    child = int(pid_file.read_text())
    time.sleep(0.5)
    assert not _alive(child), "a process the model started in its own session survived the timeout"


@pytest.mark.slow
def test_a_leak_is_stopped_at_the_memory_limit_and_recorded_as_out_of_memory():
    ref = ModelRef(kind="factory", source="harness_models:hog")
    protocol = Protocol(**{**FAST, "min_seconds": 30.0, "max_seconds": 30.0}, repetitions=1, memory_limit_mib=512)
    started = time.monotonic()
    record = evaluate(ref, protocol, InputSpec(shape=(4,)), NO_PEAKS)
    measurement = record.measurements[0]
    assert measurement.status == "out_of_memory", measurement.error
    assert "memory_limit_mib=512" in measurement.error
    assert time.monotonic() - started < 25  # stopped by the limit, not by the protocol's 30 s


@pytest.mark.slow
def test_without_a_limit_the_same_protocol_runs_normally():
    ref = ModelRef(kind="factory", source="honed.zoo:sleeper", options={"kwargs": {"milliseconds": 1}})
    record = evaluate(ref, Protocol(**FAST, repetitions=1, memory_limit_mib=2048), InputSpec(shape=(4,)), NO_PEAKS)
    assert record.status == "ok", record.measurements[0].error
