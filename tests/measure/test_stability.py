"""Contention and stability: the arithmetic on fixed readings, a real CPU burner beside a run,
and what compare, tune and the report do with a contended run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import FAST, noisy, synthetic_record
from honed.core.errors import EnvironmentMismatchError
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec
from honed.measure.contention import _Snapshot, contention_between
from honed.measure.stability import CONTENDED_SHARE, judge
from honed.records.comparison import compare
from honed.records.record import Contention, Stability
from honed.run.evaluation import evaluate

TICK = os.sysconf("SC_CLK_TCK")
NO_PEAKS = TargetSpec(device="cpu", measure_peaks=False)


def _snapshot(wall: float, busy_s: float, steal_s: float, own_s: float) -> _Snapshot:
    return _Snapshot(wall, round(busy_s * TICK), round(steal_s * TICK), own_s, 1.0, None)


def test_other_cpu_time_is_the_machines_busy_time_minus_the_workers_own():
    # 2 s window on 2 CPUs: the machine was busy 3 s of CPU, 1.2 s of it the worker's, 0.1 s stolen
    reading = contention_between(_snapshot(10.0, 100.0, 5.0, 4.0), _snapshot(12.0, 103.0, 5.1, 5.2), cores=2)
    assert reading.window_s == pytest.approx(2.0) and reading.own_cpu_s == pytest.approx(1.2)
    assert reading.other_cpu_s == pytest.approx(1.8) and reading.steal_s == pytest.approx(0.1)
    assert reading.other_share == pytest.approx(0.45)
    # a busy counter that moved less than the worker's own time (sampling) is no negative load
    assert contention_between(_snapshot(0, 10, 0, 0), _snapshot(1, 10.5, 0, 0.6), 2).other_cpu_s == 0.0


def _with(record, *readings: Contention):
    measurements = [m.model_copy(update={"contention": r}) for m, r in zip(record.measurements, readings)]
    return record.model_copy(update={"measurements": measurements})


def _reading(other_s: float, steal_s: float = 0.0) -> Contention:
    return Contention(window_s=2.0, cores=2, own_cpu_s=1.0, other_cpu_s=other_s, steal_s=steal_s)


def test_the_verdict_pools_every_timed_window_and_names_the_share():
    record = synthetic_record([noisy(5, 50, s) for s in (1, 2)])
    quiet = _with(record, _reading(0.1), _reading(0.2))
    assert judge(quiet.measurements, quiet.results).verdict == "stable"
    busy = _with(record, _reading(0.1), _reading(2.9))  # (0.1 + 2.9) / (2 x 2 s x 2 CPUs) = 37.5 %
    stability = judge(busy.measurements, busy.results)
    assert stability.verdict == "contended" and stability.other_share == pytest.approx(0.375)
    assert "38% of the 2 CPUs' time" in stability.reasons[0] and "0.75 cores" in stability.reasons[0]
    stolen = _with(record, _reading(0.0, steal_s=0.3), _reading(0.0, steal_s=0.3))
    assert judge(stolen.measurements, stolen.results).verdict == "contended"
    wide = synthetic_record([noisy(5, 50, s, spread=0.5) for s in (1, 2)])
    wide = _with(wide, _reading(0.0), _reading(0.0))
    assert judge(wide.measurements, wide.results).verdict == "unstable"


def test_compare_warns_and_strict_refuses_a_contended_run():
    a = synthetic_record([noisy(5, 50, s) for s in (1, 2, 3)])
    b = synthetic_record([noisy(5, 50, s) for s in (4, 5, 6)]).model_copy(
        update={"stability": Stability(verdict="contended", reasons=["other work took 50% of the 2 CPUs' time"])}
    )
    assert any("contended" in w for w in compare(a, b).warnings)
    with pytest.raises(EnvironmentMismatchError, match="contended"):
        compare(a, b, strict=True)


def _sleeper_run() -> object:
    ref = ModelRef(kind="factory", source="honed.zoo:sleeper", options={"kwargs": {"milliseconds": 5}})
    protocol = Protocol(**{**FAST, "min_seconds": 1.5}, repetitions=2)
    return evaluate(ref, protocol, InputSpec(shape=(4,)), NO_PEAKS)


@pytest.mark.slow
def test_a_cpu_burner_beside_the_run_is_seen_with_its_share_and_the_same_run_alone_is_stable():
    cores = len(os.sched_getaffinity(0))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(1, cores // 2))]
    try:
        busy = _sleeper_run()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    expected = len(burners) / cores  # each burner keeps one CPU busy
    assert busy.stability.verdict == "contended", busy.stability
    assert 0.7 * expected <= busy.stability.other_share <= 1.3 * expected + 0.05
    alone = _sleeper_run()
    assert alone.stability.verdict == "stable", alone.stability
    assert alone.stability.other_share < CONTENDED_SHARE


def test_doctor_names_a_busy_process_and_reads_sysfs(tmp_path):
    from honed.measure.doctor import busy_processes, governor, turbo

    burner = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: pass", "honed-doctor-test-burner"])
    try:
        check = busy_processes(seconds=1.0)
    finally:
        burner.kill()
        burner.wait()
    assert check.status == "warn" and f"pid {burner.pid}" in check.finding and "contended" in check.advice
    (tmp_path / "cpu0/cpufreq").mkdir(parents=True)
    (tmp_path / "cpu0/cpufreq/scaling_governor").write_text("powersave\n")
    assert governor(tmp_path).status == "warn" and "powersave" in governor(tmp_path).finding
    (tmp_path / "intel_pstate").mkdir()
    (tmp_path / "intel_pstate/no_turbo").write_text("0\n")
    assert turbo(tmp_path).status == "warn"
    assert governor(tmp_path / "missing").status == "info"
