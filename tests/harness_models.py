"""Misbehaving models for the harness's own tests: they run in worker processes, which import
this module through the PYTHONPATH the executor passes on."""

from __future__ import annotations

import subprocess
import sys
import time

import torch


class Hog(torch.nn.Module):
    """Allocates 64 MiB more on every call and keeps it: a leak without bound."""

    def __init__(self):
        super().__init__()
        self.kept: list[torch.Tensor] = []
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.kept.append(torch.ones(16 * 2**20))
        return x * self.scale


class SpawnsAndHangs(torch.nn.Module):
    """Starts a child process in a session of its own, then hangs: its tree must still be killed."""

    def __init__(self, pid_file: str):
        super().__init__()
        self.pid_file = pid_file
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        with open(self.pid_file, "w") as file:
            file.write(str(child.pid))
        time.sleep(600)
        return x


class Slow(torch.nn.Module):
    """Burns CPU for ``milliseconds`` per call (a busy loop, as real inference does)."""

    def __init__(self, milliseconds: float = 50.0):
        super().__init__()
        self.milliseconds = milliseconds
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        end = time.perf_counter() + self.milliseconds / 1e3
        while time.perf_counter() < end:
            pass
        return x * self.scale


def hog() -> Hog:
    return Hog()


def spawns_and_hangs(pid_file: str) -> SpawnsAndHangs:
    return SpawnsAndHangs(pid_file)


def slow(milliseconds: float = 50.0) -> Slow:
    return Slow(milliseconds)
