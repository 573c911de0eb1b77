"""What py-cpuinfo says about this CPU, read once per boot.

py-cpuinfo runs CPUID in a child Python process (so that a crash there cannot take honed down),
which costs about a second: every `honed` command and every stored run paid it. The answer
cannot change until the machine restarts, so it is kept under the cache root, named by the
kernel's boot id and py-cpuinfo's version; where there is no boot id (not Linux) or the cache
cannot be written, py-cpuinfo is asked each time, as before.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from honed.core.cache import cache_root

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
KEPT = ("brand_raw", "arch_string_raw", "flags")  # what the fingerprint reads


def cpu_info() -> dict[str, Any]:
    """py-cpuinfo's brand, architecture and flags for this CPU."""
    path = _kept_at()
    if path is not None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass  # not kept yet, or half written by a process that died: ask again
    import cpuinfo

    answer = cpuinfo.get_cpu_info()
    info = {key: answer.get(key) for key in KEPT}
    if path is not None:
        _keep(path, info)
    return info


def _kept_at() -> Path | None:
    try:
        boot = BOOT_ID.read_text().strip()
    except OSError:
        return None
    return cache_root() / "cpu" / f"{boot}-py-cpuinfo-{metadata.version('py-cpuinfo')}.json"


def _keep(path: Path, info: dict[str, Any]) -> None:
    """Written whole or not at all: another honed process may read it at the same moment."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(info))
        os.replace(partial, path)
    except OSError:
        pass  # a read-only home: the next command asks py-cpuinfo again
