"""A model under load in its own process: ``honed serve`` on a free loopback port, for the
length of a ``honed load --model`` run, then stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from honed.core.errors import ModelLoadError

START_TIMEOUT_S = 300.0  # loading and optimising a model (an export) can take minutes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(serve_args: list[str], timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Start ``honed serve SERVE_ARGS`` on a free loopback port; yield its base URL once ready (warmed up)."""
    with served_process(serve_args, timeout_s) as (base, _):
        yield base


@contextlib.contextmanager
def served_process(serve_args: list[str], timeout_s: float = START_TIMEOUT_S) -> Iterator[tuple[str, Any]]:
    """``served``, with the server's process (to signal it or read its memory); stopped after the
    block by SIGTERM (it drains) unless it exited already."""
    port = free_port()
    print(f"starting honed serve {' '.join(serve_args)} on port {port}", file=sys.stderr)
    command = [sys.executable, "-m", "honed.cli", "serve", *serve_args, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base}/ready", timeout_s)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def served_job(job: Any, serve_args: Sequence[str] = ()) -> Iterator[str]:
    """Serve a ServeJob (any model reference, options and recipe included) for the block."""
    with tempfile.TemporaryDirectory(prefix="honed-serve-") as folder:
        path = Path(folder, "job.json")
        path.write_text(job.model_dump_json())
        with served(["--job", str(path), *serve_args]) as base:
            yield base


def synthetic_body(shape: tuple[int, ...] | None) -> dict[str, Any] | None:
    """One seeded item of ``shape`` for /v1/predict; None (the endpoint's text template) without one."""
    if shape is None:
        return None
    import torch

    return {"inputs": torch.randn(shape, generator=torch.Generator().manual_seed(0)).tolist()}


def wait_ready(process: subprocess.Popen, url: str, timeout_s: float, name: str = "honed serve") -> None:
    """Until ``url`` answers 200 (a server's readiness), or the process exits, or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            reason = (process.stderr.read() if process.stderr else "").strip().splitlines()
            raise ModelLoadError(
                f"{name} exited ({process.returncode}) before serving: {reason[-1] if reason else 'no message'}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise ModelLoadError(f"{name} was not ready on {url} within {timeout_s:g} s")
