"""Screenshots of every dashboard page for the README (`make screenshots`): fills a fresh store
with real runs (two series of the sleeper, one with a seeded 30 % slowdown, and a tune of a
small MLP), starts `honed dashboard` on a free loopback port and photographs each page in
headless Chromium. Writes docs/screenshots/*.png.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from honed.load.served import free_port

SPEC = """name = "{name}"
[model]
kind = "factory"
source = "honed.zoo:sleeper"
name = "{name}"
options = {{ kwargs = {{ milliseconds = {ms} }} }}
[inputs]
shape = [16]
[protocol]
batch_sizes = [1, 4]
repetitions = 3
min_samples = 20
min_seconds = 0.2
"""


def honed(store: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "honed.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HONED_STORE": f"sqlite:///{store}", "COLUMNS": "200"},
    )
    if done.returncode not in (0, 5):  # 5: the seeded regression, found as it should be
        raise SystemExit(f"honed {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def fill(folder: Path) -> tuple[Path, list[str]]:
    store, ids = folder / "runs.db", []
    for name, milliseconds in [
        ("steady", 10),
        ("seeded", 10),
        ("steady", 10),
        ("seeded", 10),
        ("steady", 10),
        ("seeded", 13),
    ]:
        spec = folder / f"{name}.toml"
        spec.write_text(SPEC.format(name=name, ms=milliseconds))
        out = honed(store, "evaluate", str(spec), "--baseline", "latest")
        ids.append(out.split("stored run ")[1].split()[0])
        print(f"  evaluated {name} ({milliseconds} ms)", flush=True)
    honed(
        store,
        "tune",
        "--model",
        "honed.zoo:mlp",
        "--kind",
        "factory",
        "--shape",
        "256",
        "-c",
        "dynamic-int8",
        "-c",
        "bf16",
        "--objective",
        "p50_ms",
        "--name",
        "mlp-cpu",
    )
    print("  tuned the MLP", flush=True)
    return store, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        store, ids = fill(Path(folder))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "honed.cli", "dashboard", "--store", f"sqlite:///{store}", "--port", str(port)]
        )
        base = f"http://127.0.0.1:{port}"
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
        try:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                time.sleep(0.2)
            driver.get(f"{base}/trends")
            seeded = next(
                o.get_attribute("value")
                for o in driver.find_elements(By.CSS_SELECTOR, "#series option")
                if o.text.startswith("seeded ")
            )
            driver.get(f"{base}/sweeps")
            sweep = driver.find_element(By.CSS_SELECTOR, "#sweeps a").get_attribute("href")
            pages = {
                "runs": "/runs",
                "run": f"/runs/{ids[-1]}",
                "compare": f"/compare?a={ids[3]}&b={ids[5]}",
                "trends": f"/trends?series={seeded}&metric=p50_ms&batch=1",
                "sweeps": "/sweeps",
                "sweep": sweep.removeprefix(base),
                "matrix": "/matrix",
            }
            for name, path in pages.items():
                driver.get(base + path)
                time.sleep(1.5)  # plotly draws after load
                driver.save_screenshot(str(out / f"{name}.png"))
                print(f"wrote {out / f'{name}.png'}")
        finally:
            driver.quit()
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
