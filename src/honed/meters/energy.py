"""Energy meters: context managers that say whether they measured or could not.

A meter never reports a silent constant: where no sensor can be read, the reading says
``status="unavailable"`` and why.
"""

from __future__ import annotations

import glob
import os
import time
from abc import ABC, abstractmethod
from typing import Literal

from pydantic import BaseModel, ConfigDict

RAPL_ROOT = "/sys/class/powercap"


class EnergyReading(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["measured", "unavailable"]
    source: str
    joules: float | None = None
    seconds: float | None = None
    idle_watts: float | None = None
    reason: str | None = None

    @property
    def joules_above_idle(self) -> float | None:
        if self.joules is None or self.idle_watts is None or self.seconds is None:
            return None
        return max(self.joules - self.idle_watts * self.seconds, 0.0)


class EnergyMeter(ABC):
    """Use as ``with meter: work()`` then read ``meter.reading``."""

    source = "none"

    def __init__(self) -> None:
        self.reading: EnergyReading | None = None
        self._idle_watts: float | None = None

    @abstractmethod
    def _counter_joules(self) -> float:
        """A monotonically increasing energy counter, in joules."""

    def measure_idle(self, seconds: float) -> None:
        """Record the idle power over ``seconds`` so the reading can state its baseline."""
        if seconds <= 0:
            return
        start, t0 = self._counter_joules(), time.perf_counter()
        time.sleep(seconds)
        self._idle_watts = (self._counter_joules() - start) / (time.perf_counter() - t0)

    def __enter__(self) -> EnergyMeter:
        self._start_joules, self._t0 = self._counter_joules(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self._t0
        self.reading = EnergyReading(
            status="measured",
            source=self.source,
            joules=self._counter_joules() - self._start_joules,
            seconds=seconds,
            idle_watts=self._idle_watts,
        )


class UnavailableMeter(EnergyMeter):
    source = "none"

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason

    def _counter_joules(self) -> float:  # pragma: no cover - never read
        raise RuntimeError(self.reason)

    def measure_idle(self, seconds: float) -> None:
        pass

    def __enter__(self) -> EnergyMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reading = EnergyReading(status="unavailable", source=self.source, reason=self.reason)


class RaplMeter(EnergyMeter):
    """Intel/AMD RAPL package domains through the Linux powercap sysfs interface."""

    source = "rapl"

    def __init__(self, root: str = RAPL_ROOT):
        super().__init__()
        self.domains = rapl_package_domains(root)
        if not self.domains:
            raise FileNotFoundError(f"no readable RAPL package domain under {root}")
        self._last: dict[str, int] = {}
        self._total_uj = 0

    def _counter_joules(self) -> float:
        # Counters wrap at max_energy_range_uj; accumulate deltas so a wrap is not a negative reading.
        for domain in self.domains:
            value = int(open(os.path.join(domain, "energy_uj")).read())
            last = self._last.get(domain)
            if last is not None:
                delta = value - last
                if delta < 0:
                    delta += int(open(os.path.join(domain, "max_energy_range_uj")).read())
                self._total_uj += delta
            self._last[domain] = value
        return self._total_uj / 1e6


def rapl_package_domains(root: str = RAPL_ROOT) -> list[str]:
    domains = []
    for path in sorted(glob.glob(os.path.join(root, "intel-rapl:*"))):
        if os.path.basename(path).count(":") != 1:  # sub-domains (core, uncore, dram) are inside a package
            continue
        try:
            name = open(os.path.join(path, "name")).read().strip()
            int(open(os.path.join(path, "energy_uj")).read())
        except (OSError, ValueError):
            continue
        if name.startswith("package"):
            domains.append(path)
    return domains


class NvmlMeter(EnergyMeter):
    """NVIDIA GPU total energy counter (Volta and newer) through NVML."""

    source = "nvml"

    def __init__(self, index: int = 0):
        super().__init__()
        import pynvml

        pynvml.nvmlInit()
        self._nvml = pynvml
        self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self._counter_joules()  # raises NVMLError_NotSupported on GPUs without the counter

    def _counter_joules(self) -> float:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1e3


def meter_for(device: str, rapl_root: str = RAPL_ROOT) -> EnergyMeter:
    """The real sensor for ``device``, or an UnavailableMeter that says why there is none."""
    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        try:
            return NvmlMeter(index)
        except ImportError:
            return UnavailableMeter("nvidia-ml-py is not installed")
        except Exception as error:  # NVMLError subclasses are generated at run time
            return UnavailableMeter(f"NVML energy counter not readable: {error}")
    try:
        return RaplMeter(rapl_root)
    except (FileNotFoundError, PermissionError) as error:
        return UnavailableMeter(f"RAPL: {error}")
