"""Timers for one call: host wall clock after device sync, or CUDA events on CUDA."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class WallTimer:
    """perf_counter_ns around the call followed by the handle's synchronize()."""

    name = "perf_counter_ns"

    def __init__(self, synchronize: Callable[[], None]):
        self._sync = synchronize

    def time(self, fn: Callable[[], Any]) -> int:
        t0 = time.perf_counter_ns()
        fn()
        self._sync()
        return time.perf_counter_ns() - t0


class CudaEventTimer:
    """CUDA events recorded on the current stream around the call; the device is idle
    before each call (the previous one was synchronised), so the start event marks the
    moment the call was issued."""

    name = "cuda_event"

    def __init__(self, torch: Any, device: str):
        self._torch = torch
        self._device = device

    def time(self, fn: Callable[[], Any]) -> int:
        start = self._torch.cuda.Event(enable_timing=True)
        end = self._torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return int(start.elapsed_time(end) * 1e6)  # ms -> ns


class Timed(Protocol):
    """What a timer reads of a loaded model (a ModelHandle: meters sit below models)."""

    @property
    def device(self) -> str: ...

    def synchronize(self) -> None: ...


def timer_for(handle: Timed) -> WallTimer | CudaEventTimer:
    if handle.device.startswith("cuda") and hasattr(handle, "module"):
        import torch

        return CudaEventTimer(torch, handle.device)
    return WallTimer(handle.synchronize)
