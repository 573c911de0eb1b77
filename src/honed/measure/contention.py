"""How busy the machine was while a worker timed: the CPU time other processes took, steal,
load average and clock frequency over the timed window (docs/concepts/stability.md).

Read from /proc/stat for the CPUs this process may run on, so that it works without
privileges; where /proc/stat is missing (not Linux) the reading says so and the run's
stability is judged on its spread alone.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

from honed.records.record import Contention

_STAT = "/proc/stat"


@dataclass(frozen=True)
class _Snapshot:
    wall: float
    busy_jiffies: int | None  # user+nice+system+irq+softirq on our CPUs (guest time is inside user)
    steal_jiffies: int | None
    own_cpu_s: float
    load_1m: float | None
    freq_mhz: float | None


def _cpu_lines(cpus: set[int]) -> list[list[int]] | None:
    try:
        with open(_STAT) as stat:
            lines = [line.split() for line in stat if line.startswith("cpu") and line[3].isdigit()]
    except OSError:
        return None
    return [[int(v) for v in fields[1:]] for fields in lines if int(fields[0][3:]) in cpus]


def _snapshot(cpus: set[int]) -> _Snapshot:
    lines = _cpu_lines(cpus)
    busy = steal = None
    if lines:
        # columns: user nice system idle iowait irq softirq steal guest guest_nice
        busy = sum(v[0] + v[1] + v[2] + v[5] + v[6] for v in lines)
        steal = sum(v[7] for v in lines if len(v) > 7)
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return _Snapshot(time.monotonic(), busy, steal, usage.ru_utime + usage.ru_stime, _load(), _frequency())


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _frequency() -> float | None:
    try:
        import psutil

        reading = psutil.cpu_freq()
    except (ImportError, OSError, RuntimeError, NotImplementedError):
        return None
    return float(reading.current) if reading and reading.current else None


class ContentionMeter:
    """A context manager around the timed loop; ``reading`` is set on exit."""

    def __init__(self) -> None:
        self.cpus = (
            set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
        )
        self.reading: Contention | None = None

    def __enter__(self) -> ContentionMeter:
        self._start = _snapshot(self.cpus)
        return self

    def __exit__(self, *_: object) -> None:
        self.reading = contention_between(self._start, _snapshot(self.cpus), len(self.cpus))


def contention_between(start: _Snapshot, end: _Snapshot, cores: int) -> Contention:
    window = max(end.wall - start.wall, 1e-9)
    own = max(end.own_cpu_s - start.own_cpu_s, 0.0)
    other = steal = None
    if start.busy_jiffies is not None and end.busy_jiffies is not None:
        tick = os.sysconf("SC_CLK_TCK")
        busy = (end.busy_jiffies - start.busy_jiffies) / tick
        other = max(busy - own, 0.0)  # the machine's busy time that was not this worker's
        steal = max((end.steal_jiffies or 0) - (start.steal_jiffies or 0), 0) / tick
    return Contention(
        window_s=window,
        cores=cores,
        own_cpu_s=own,
        other_cpu_s=other,
        steal_s=steal,
        load_1m_start=start.load_1m,
        load_1m_end=end.load_1m,
        freq_mhz_start=start.freq_mhz,
        freq_mhz_end=end.freq_mhz,
    )
