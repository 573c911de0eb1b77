"""The dashboard as a browser sees it: `honed dashboard` started on a free loopback port, and
headless Chromium (Debian's chromium and its chromium-driver, installed by `make test`) through
Selenium."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from honed.load.served import free_port

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
TOKEN = "a-token-of-sixteen-characters"


@contextlib.contextmanager
def dashboard(store: Path, *extra: str, host: str = "127.0.0.1") -> Iterator[str]:
    """`honed dashboard` over ``store`` on a free loopback port, until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "honed.cli",
            "dashboard",
            "--store",
            f"sqlite:///{store}",
            "--host",
            host,
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200:
                    break
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and CHROMEDRIVER, "make test installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def wait_for(condition, seconds: float = 15.0):
    """``condition()``'s first truthy value, polled until ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError("the page never got there")


def click_and_load(browser, element) -> None:
    """Clicks ``element`` and returns once the page it leads to has replaced this one and
    finished loading: a click does not wait for the navigation, and the old page would answer
    meanwhile. The old page is marked with a window property the new one does not have; while
    the navigation is under way Chrome may answer any command with an error (a stale element,
    or "Node with given id does not belong to the document"), which only means "not yet"."""
    from selenium.common.exceptions import WebDriverException

    browser.execute_script("window.__honedOldPage = true;")
    element.click()

    def loaded() -> bool:
        try:
            return bool(
                browser.execute_script(
                    "return window.__honedOldPage === undefined && document.readyState === 'complete';"
                )
            )
        except WebDriverException:
            return False

    wait_for(loaded)
