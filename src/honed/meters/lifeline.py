"""Inside a worker: die with the parent, and keep within the memory the protocol allows.

A worker whose parent was killed (``kill -9`` of ``honed tune``) must not go on burning CPU
beside the next measurement: on Linux the kernel sends it SIGTERM when the parent dies
(PR_SET_PDEATHSIG), and on every platform a watchdog thread polls the parent's pid. Either
way the worker removes its work directory (its temporary files live there) and kills its own
process group, itself and anything it started, within a second.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.2
OUT_OF_MEMORY = "out_of_memory"


def bind_to_parent(parent_pid: int, workdir: Path) -> None:
    def die(*_: object) -> None:
        shutil.rmtree(workdir, ignore_errors=True)
        os.killpg(os.getpgrp(), signal.SIGKILL)  # the worker leads its own group (start_new_session)

    signal.signal(signal.SIGTERM, die)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        die()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(POLL_SECONDS)
        die()

    threading.Thread(target=watch, name="honed-parent-watchdog", daemon=True).start()


def limit_memory(limit_mib: int | None) -> None:
    """Cap the address space the worker may add from here on at ``limit_mib`` (RLIMIT_AS):
    an allocation past it fails in the worker, which reports 'out of memory' with the limit."""
    if limit_mib is None:
        return
    import resource

    ceiling = _virtual_bytes() + limit_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _virtual_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().vms


def is_out_of_memory(error: BaseException) -> bool:
    """Python's MemoryError, or an allocator's refusal that torch or numpy report as their own error."""
    if isinstance(error, MemoryError):
        return True
    text = str(error).lower()
    return any(
        words in text
        for words in (
            "can't allocate memory",
            "cannot allocate memory",
            "out of memory",
            "bad_alloc",
            "unable to allocate",
        )
    )
