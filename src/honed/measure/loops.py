"""The timed window of a worker: warm-up, then back-to-back calls (or concurrent clients) until
the protocol's sample and time bounds are met, with energy and contention metered around it."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from honed.core.protocol import Protocol
from honed.models.handle import ModelHandle


def timed_loop(timer: Any, call: Any, protocol: Protocol) -> tuple[list[int], float]:
    """Sample until both min_samples and min_seconds are reached, capped by the max_* bounds."""
    samples: list[int] = []
    start = time.perf_counter_ns()
    while True:
        samples.append(timer.time(call))
        elapsed = (time.perf_counter_ns() - start) / 1e9
        if len(samples) >= protocol.min_samples and elapsed >= protocol.min_seconds:
            break
        if len(samples) >= protocol.max_samples or elapsed >= protocol.max_seconds:
            break
    return samples, elapsed


def concurrent_loop(timer: Any, call: Any, protocol: Protocol, context: Any) -> tuple[list[int], float]:
    """``protocol.concurrency`` client threads call back to back until the same stopping rule
    as ``timed_loop`` holds over all their calls; calls in flight then finish and count, and
    the wall time covers them. Each sample is one call's wall time under that load."""
    samples: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        try:
            with context():  # torch's inference mode is per thread
                while not stop.is_set():
                    samples.append(timer.time(call))  # list.append is atomic under the GIL
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            stop.set()

    start = time.perf_counter_ns()
    clients = [
        threading.Thread(target=client, name=f"honed-client-{i}", daemon=True) for i in range(protocol.concurrency)
    ]
    for thread in clients:
        thread.start()
    while not stop.is_set():
        stop.wait(0.002)
        elapsed, count = (time.perf_counter_ns() - start) / 1e9, len(samples)
        if (
            (count >= protocol.min_samples and elapsed >= protocol.min_seconds)
            or count >= protocol.max_samples
            or elapsed >= protocol.max_seconds
        ):
            stop.set()
    for thread in clients:
        thread.join()
    if errors:
        raise errors[0]
    return samples, (time.perf_counter_ns() - start) / 1e9


def warm_up(call: Any, sync: Any, protocol: Protocol) -> int:
    count, start = 0, time.perf_counter()
    while count < protocol.warmup_iterations or time.perf_counter() - start < protocol.warmup_min_seconds:
        call()
        sync()
        count += 1
    return count


def timed_window(handle: ModelHandle, call: Callable[[], Any], protocol: Protocol):
    """The timed window, energy and contention metered around it and peak memory reset before it."""
    from honed.measure.contention import ContentionMeter
    from honed.meters.energy import meter_for
    from honed.meters.timers import WallTimer, timer_for

    meter = meter_for(handle.device) if protocol.measure_energy else None
    if meter is not None:
        meter.measure_idle(protocol.energy_idle_seconds)
    torch = reset_peaks(handle)
    timer = timer_for(handle) if protocol.concurrency == 1 else WallTimer(handle.synchronize)
    with meter if meter is not None else contextlib.nullcontext(), ContentionMeter() as contention:
        if protocol.concurrency == 1:
            samples, seconds = timed_loop(timer, call, protocol)
        else:
            samples, seconds = concurrent_loop(timer, call, protocol, handle.inference_context)
    return timer, samples, seconds, meter, contention, torch


def reset_peaks(handle: ModelHandle) -> Any:
    """Reset peak memory before the timed loop; returns torch when the model is on CUDA, else None."""
    from honed.meters.memory import reset_peak_rss

    torch = sys.modules.get("torch") if handle.device.startswith("cuda") else None
    if torch is not None:
        torch.cuda.reset_peak_memory_stats(handle.device)
    reset_peak_rss()
    return torch
