"""Peak memory of the worker process (CPU) and of the CUDA caching allocator."""

from __future__ import annotations

import resource
import sys
from typing import Any


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux) so the peak covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident set size: VmHWM on Linux (resettable), else ru_maxrss (process lifetime)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def current_rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def cuda_peaks(torch: Any, device: Any) -> dict[str, int]:
    return {
        "cuda_peak_allocated_bytes": int(torch.cuda.max_memory_allocated(device)),
        "cuda_peak_reserved_bytes": int(torch.cuda.max_memory_reserved(device)),
    }
