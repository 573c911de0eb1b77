"""Measure a target's peak fp32 matmul FLOP/s and memory copy bandwidth.

Run in its own process (``python -m honed.meters.peaks``) with the run's thread setting so
that the peak matches the conditions of the measurement it is compared with.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict


class Peaks(BaseModel):
    model_config = ConfigDict(frozen=True)
    device: str
    device_name: str
    threads: int
    peak_flops: float
    peak_bandwidth_bytes_per_s: float
    method: str


def _matmul_flops(torch: Any, n: int, dev: Any, sync: Any, repeats: int) -> float:
    """FLOP/s of an n x n fp32 matmul; its operands are freed when this returns."""
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    return 2 * n**3 / _best_seconds(lambda: torch.mm(a, b), sync, repeats)


def _best_seconds(fn: Any, sync: Any, repeats: int) -> float:
    fn()
    sync()  # first call pays for allocation and kernel selection
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(device: str = "cpu", threads: int | None = None, repeats: int = 5) -> Peaks:
    import torch

    if threads:
        torch.set_num_threads(threads)
    dev = torch.device(device)
    on_cuda = dev.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(dev)) if on_cuda else (lambda: None)
    n = 8192 if on_cuda else 2048
    flops = _matmul_flops(torch, n, dev, sync, repeats)
    elements = 1 << 28 if on_cuda else 1 << 26  # 1 GiB / 256 MiB of fp32
    src = torch.empty(elements, device=dev).fill_(1.0)
    dst = torch.empty_like(src)
    # A copy reads and writes every byte once.
    bandwidth = 2 * src.numel() * src.element_size() / _best_seconds(lambda: dst.copy_(src), sync, repeats)
    name = torch.cuda.get_device_name(dev) if on_cuda else "cpu"
    return Peaks(
        device=device,
        device_name=name,
        threads=torch.get_num_threads(),
        peak_flops=flops,
        peak_bandwidth_bytes_per_s=bandwidth,
        method=f"best of {repeats}: fp32 {n}x{n} matmul; copy of {src.numel() * 4 >> 20} MiB",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    print(json.dumps(measure(args.device, args.threads).model_dump()))


if __name__ == "__main__":
    main()
