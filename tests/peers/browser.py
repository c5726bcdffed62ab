"""Fixtures ``browser`` and ``screenshots``: Debian's chromium, headless, driven by selenium.

``browser`` (session) is a :class:`selenium.webdriver.Chrome` on /usr/bin/chromium through
/usr/bin/chromedriver (packages chromium and chromium-driver), both passed explicitly and
``SE_OFFLINE`` set, so selenium's manager never downloads a browser or a driver. The
browser's console is readable with ``browser.get_log("browser")`` (a CSP violation shows
there). Every test gets the browser at ``about:blank``.

``screenshots`` is a directory under pytest's base temporary directory
(``--basetemp``/screenshots) where tests save pictures of pages for people to look at;
:func:`save_screenshot` names a file there and returns its path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers._base import need_binary

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# A laptop's window: the dashboard's rows are laid out for at least this width.
WINDOW = (1400, 900)
# Seconds a page may take to load before the driver gives up (a 10,000-row overview loads
# in about one; a hung server should fail the test, not hang it).
PAGE_LOAD_TIMEOUT = 60


@pytest.fixture(scope="session")
def _chromium() -> Iterator:
    chromium = need_binary(CHROMIUM, "chromium")
    driver_path = need_binary(CHROMEDRIVER, "chromium-driver")
    os.environ["SE_OFFLINE"] = "true"    # selenium manager: use what is given, fetch nothing
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run", f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(_chromium):
    """The session's chromium, on a blank page with its console log emptied."""
    _chromium.get("about:blank")
    _chromium.get_log("browser")
    return _chromium


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    path = tmp_path_factory.getbasetemp() / "screenshots"
    path.mkdir(exist_ok=True)
    return path


def save_screenshot(driver, directory: Path, name: str) -> Path:
    """The whole page (as tall as its content, up to 4,000 px) as ``directory/name.png``."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    full = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
    driver.set_window_size(width, max(full, WINDOW[1]))
    try:
        path = directory / f"{name}.png"
        driver.save_screenshot(str(path))
        return path
    finally:
        driver.set_window_size(width, height)
