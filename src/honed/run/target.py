"""Target resolution and its measured peaks, cached per machine and thread count."""

from __future__ import annotations

import json
import subprocess
import sys

from honed.core.fingerprint import Fingerprint
from honed.core.protocol import TargetSpec
from honed.measure.executor import worker_env
from honed.meters.peaks import Peaks

PEAKS_TIMEOUT_S = 300


def resolve_device(spec: TargetSpec) -> str:
    if spec.device != "auto":
        return spec.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def peaks_key(fingerprint: Fingerprint, device: str, threads: int | None) -> str:
    hardware = fingerprint.cpu.get("model") if device == "cpu" else ",".join(g["name"] for g in fingerprint.gpus)
    torch = fingerprint.packages.get("torch")
    return f"{fingerprint.hostname}|{device}|{hardware}|threads={threads or 'default'}|torch={torch}"


def measure_peaks(device: str, threads: int | None) -> Peaks:
    """Measured in a separate process so that the run's own process state cannot skew it."""
    command = [sys.executable, "-m", "honed.meters.peaks", "--device", device]
    if threads:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=PEAKS_TIMEOUT_S, env=worker_env(threads))
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-500:] or f"exit code {done.returncode}")
    return Peaks.model_validate(json.loads(done.stdout.strip().splitlines()[-1]))
