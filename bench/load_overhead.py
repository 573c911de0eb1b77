"""Is honed's HTTP load driver the bottleneck? Sends Poisson traffic at a high rate to a no-op
endpoint (a one-route Starlette app under uvicorn, in its own process) and prints what the driver
sustained and its own lag (scheduled arrival -> request sent). Goal: >= 2,000 queries/s with the
driver's p99 lag under 1 ms on 2 cores. Not a test: numbers from one run on a shared machine.

    .venv/bin/python bench/load_overhead.py [--qps 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from honed.load.endpoints import Endpoint
from honed.load.run import LoadSettings, run_load
from honed.load.served import free_port

NO_OP = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def ok(request):
    return JSONResponse({})

uvicorn.run(Starlette(routes=[Route("/", ok, methods=["POST"])]), host="127.0.0.1", port={port}, log_level="warning",
            access_log=False)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qps", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", NO_OP.replace("{port}", str(port))])
    try:
        import time

        import httpx

        for _ in range(100):
            try:
                httpx.post(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        settings = LoadSettings(
            qps=args.qps, queries=round(args.qps * args.seconds), duration_s=args.seconds * 2, warmup_queries=100
        )
        load = run_load(Endpoint(f"http://127.0.0.1:{port}/"), settings).load
    finally:
        server.terminate()
        server.wait()
    print(
        f"offered {args.qps:g} q/s for {args.seconds:g} s: achieved {load.achieved_qps:.0f} q/s, "
        f"{load.queries_ok} of {load.queries_scheduled} answered, errors {load.errors or 'none'}"
    )
    print(f"driver lag (arrival -> sent): p50 {load.late_ms.p50:.3f} ms, p99 {load.late_ms.p99:.3f} ms (goal < 1 ms)")
    print(f"latency from arrival: p50 {load.latency_ms.p50:.3f} ms, p99 {load.latency_ms.p99:.3f} ms")
    print(f"sustained / goal: {load.achieved_qps / 2000:.2f}x of 2,000 q/s")


if __name__ == "__main__":
    main()
