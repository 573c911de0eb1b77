"""Does the dashboard stay fast on a real history? Fills a fresh SQLite store with 10,000 runs
(one series of 1,000, the rest spread over 90 series of 100, each stored through Store.add, so
every run is indexed and judged against the one before it as in real use), starts `honed
dashboard`'s app under uvicorn, and times its pages. Goal: the runs list and a 1,000-point trend
each served in under 1 s on 2 cores. Not a test: numbers from one run on a shared machine.

    .venv/bin/python bench/dashboard_pages.py [--runs 10000] [--store /tmp/dashboard-bench.db]
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np

from honed.core.fingerprint import collect
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec
from honed.load.served import free_port
from honed.measure.summary import summarize
from honed.records.record import Measurement, RunRecord
from honed.store.database import Store

SERIES_OF_1000 = "bench-model-0"


def synthetic(model: str, when: datetime, centre_ms: float, rng: np.random.Generator) -> RunRecord:
    """A run as `honed evaluate` stores it: three worker processes of 30 samples at batch 1."""
    protocol = Protocol(batch_sizes=(1,), repetitions=3, bootstrap_resamples=200)
    measurements = [
        Measurement(
            batch_size=1,
            repetition=r,
            status="ok",
            timer="perf_counter",
            samples_ns=(rng.normal(centre_ms, centre_ms * 0.02, 30) * 1e6).astype(int).tolist(),
        )
        for r in range(3)
    ]
    target = TargetSpec(device="cpu")
    results = summarize(measurements, protocol, target, None, None)
    return RunRecord(
        id=rng.bytes(16).hex(),
        created_at=when,
        status="ok",
        model=ModelRef(kind="factory", source=model),
        inputs=InputSpec(shape=(16,)),
        protocol=protocol,
        target=target,
        device="cpu",
        fingerprint=collect(),
        measurements=measurements,
        results=results,
    )


def fill(store: Store, runs: int) -> float:
    rng = np.random.default_rng(0)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    plan = [SERIES_OF_1000] * 1000 + [f"bench-model-{1 + i % 90}" for i in range(runs - 1000)]
    began = time.perf_counter()
    for index, model in enumerate(plan):
        centre = 10.0 * (1.15 if index % 97 == 96 else 1.0)  # now and then a seeded slowdown
        store.add(synthetic(model, start + timedelta(minutes=index), centre, rng))
        if index % 1000 == 999:
            print(f"  stored {index + 1} runs ({time.perf_counter() - began:.0f} s)", flush=True)
    return time.perf_counter() - began


def timed(client: httpx.Client, path: str, repeats: int = 5) -> tuple[float, int]:
    client.get(path).raise_for_status()  # the first call warms imports and caches
    best = []
    for _ in range(repeats):
        began = time.perf_counter()
        response = client.get(path)
        best.append(time.perf_counter() - began)
        response.raise_for_status()
    return float(np.median(best)), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--store", default="/tmp/honed-dashboard-bench.db")
    args = parser.parse_args()
    path = Path(args.store)
    store = Store(f"sqlite:///{path}")
    if not store.list(limit=1):
        print(f"filling {path} with {args.runs} runs (once; rerun reuses it)")
        print(f"filled in {fill(store, args.runs):.0f} s")
    import uvicorn

    from honed.dashboard.app import create_app
    from honed.dashboard.queries import series_list

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        series = next(s for s in series_list(store) if s.model == SERIES_OF_1000)
        pages = {
            "runs list (newest 50 of all)": "/runs",
            "runs list, filtered by model": f"/runs?model={SERIES_OF_1000}",
            "runs list, page 150": "/runs?page=150",
            f"trend of {series.runs} points (p99)": f"/trends?series={series.key}&metric=p99_ms&batch=1",
            "matrix": "/matrix",
        }
        print(f"{'page':<40} {'median s':>9} {'bytes':>10}")
        for name, page in pages.items():
            seconds, size = timed(client, page)
            print(f"{name:<40} {seconds:>9.3f} {size:>10}  {'ok' if seconds < 1 else 'SLOWER THAN 1 s'}")
        _browser_draw(f"http://127.0.0.1:{port}{pages[f'trend of {series.runs} points (p99)']}")
    server.should_exit = True


def _browser_draw(url: str) -> None:
    """Headless Chromium: from navigation to the trend drawn by plotly.js (data-drawn set)."""
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        print("no chromium/chromedriver: browser drawing not timed (make browser installs them)")
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    try:
        driver.get(url)  # the first load caches plotly.min.js, as a returning user has it
        times = []
        for _ in range(3):
            began = time.perf_counter()
            driver.get(url)
            while driver.find_element("id", "trend").get_attribute("data-drawn") != "true":
                time.sleep(0.01)
            times.append(time.perf_counter() - began)
        seconds = float(np.median(times))
        print(
            f"{'trend drawn in Chromium (load + plot)':<40} {seconds:>9.3f} {'':>10}  "
            f"{'ok' if seconds < 1 else 'SLOWER THAN 1 s'}"
        )
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
