"""``honed doctor``: is this machine fit to time on? In the spirit of ``pyperf system show``:
what makes numbers drift (frequency scaling, turbo, SMT siblings, other busy processes,
more threads than CPUs) and what to do about each. It reads; it changes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CPU_SYSFS = Path("/sys/devices/system/cpu")
BUSY_PERCENT = 5.0  # a process using more than this share of one CPU while we watch is named


@dataclass(frozen=True)
class Check:
    name: str
    status: Literal["ok", "warn", "info"]
    finding: str
    advice: str = ""


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def governor(root: Path = CPU_SYSFS) -> Check:
    found = {value for path in sorted(root.glob("cpu[0-9]*/cpufreq/scaling_governor")) if (value := _read(path))}
    if not found:
        return Check("CPU governor", "info", "not exposed (a VM or container: the host decides)")
    if found == {"performance"}:
        return Check("CPU governor", "ok", "performance")
    return Check(
        "CPU governor",
        "warn",
        ", ".join(sorted(found)),
        "frequency follows load, so early samples run slower: `cpupower frequency-set -g performance`",
    )


def turbo(root: Path = CPU_SYSFS) -> Check:
    no_turbo, boost = _read(root / "intel_pstate/no_turbo"), _read(root / "cpufreq/boost")
    if no_turbo is None and boost is None:
        return Check("turbo", "info", "not exposed")
    if no_turbo == "1" or boost == "0":
        return Check("turbo", "ok", "off")
    return Check(
        "turbo",
        "warn",
        "on",
        "the clock depends on temperature and on the other cores' load; turn it off "
        "for comparisons (`echo 1 > /sys/devices/system/cpu/intel_pstate/no_turbo`) or compare only runs "
        "made minutes apart",
    )


def smt(root: Path = CPU_SYSFS) -> Check:
    active = _read(root / "smt/active")
    if active is None:
        return Check("SMT (hyper-threading)", "info", "not exposed")
    if active == "0":
        return Check("SMT (hyper-threading)", "ok", "off")
    return Check(
        "SMT (hyper-threading)",
        "info",
        "on",
        "sibling threads share a core: give a run --threads no larger than the physical cores, or pin it with taskset",
    )


def isolated(root: Path = CPU_SYSFS) -> Check:
    cpus = _read(root / "isolated")
    if cpus:
        return Check("isolated CPUs", "ok", cpus, "pin runs there: taskset -c " + cpus + " honed evaluate ...")
    return Check("isolated CPUs", "info", "none", "for the steadiest numbers, boot with isolcpus= and pin runs there")


def busy_processes(seconds: float = 0.5) -> Check:
    import time

    import psutil

    me = {os.getpid(), os.getppid()}
    processes = [p for p in psutil.process_iter(["name", "cmdline"]) if p.pid not in me]
    for process in processes:
        try:
            process.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(seconds)
    busy = []
    for process in processes:
        try:
            percent = process.cpu_percent(None)
        except psutil.Error:
            continue
        if percent >= BUSY_PERCENT:
            command = " ".join(process.info["cmdline"] or [process.info["name"] or "?"])[:80]
            busy.append((percent, f"pid {process.pid} {command} ({percent:.0f}% of a CPU)"))
    if not busy:
        return Check("other busy processes", "ok", f"none above {BUSY_PERCENT:.0f}% of a CPU")
    busy.sort(reverse=True)
    return Check(
        "other busy processes",
        "warn",
        "; ".join(text for _, text in busy[:5]),
        "they take CPU time from the model while it is timed: runs made now will be flagged 'contended'",
    )


def threads(cores: int) -> Check:
    requested = {name: os.environ[name] for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if name in os.environ}
    try:
        import torch

        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_threads = None
    finding = f"{cores} CPUs usable; torch uses {torch_threads} intra-op threads" + (
        f"; {', '.join(f'{k}={v}' for k, v in requested.items())}" if requested else ""
    )
    if torch_threads is not None and torch_threads > cores:
        return Check(
            "thread oversubscription",
            "warn",
            finding,
            f"more threads than CPUs slows every call: pass --threads {cores} (or fewer)",
        )
    return Check("thread oversubscription", "ok", finding, "with --concurrency N, keep N x --threads <= the CPUs")


def load_and_steal() -> Check:
    import psutil

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    times = psutil.cpu_times_percent(interval=0.3)
    steal = getattr(times, "steal", 0.0)
    finding = f"load average {load:.2f} over 1 min" if load is not None else "no load average"
    finding += f"; steal {steal:.0f}% (time the hypervisor gave to other guests)"
    if steal >= 5:
        return Check(
            "load and steal",
            "warn",
            finding,
            "a shared VM: numbers move with the neighbours'; prefer a dedicated host, and compare runs made together",
        )
    return Check("load and steal", "ok", finding)


def contention_readable() -> Check:
    if Path("/proc/stat").is_file():
        return Check("contention measurement", "ok", "/proc/stat readable: every run records other processes' CPU time")
    return Check(
        "contention measurement", "warn", "no /proc/stat", "runs are judged stable or not on their spread alone"
    )


def run_checks() -> list[Check]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return [
        governor(),
        turbo(),
        smt(),
        isolated(),
        busy_processes(),
        load_and_steal(),
        threads(cores),
        contention_readable(),
    ]
