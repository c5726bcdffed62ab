"""The dashboard in a real browser (Debian's chromium, headless, through selenium) over the
real runner checking real peers: the harness's nginx (OK) and a TCP listener the test
closes. The pages are served with the CSP the dashboard is built for (no inline script or
style), and the browser's console must show no violation. Screenshots of the main pages go
to ``<basetemp>/screenshots``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from urllib.parse import quote

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from netkit.monitor._runner import Monitor
from netkit.monitor._web import make_app, serve
from tests.peers.browser import save_screenshot
from tests.test_monitor_web import THREAD_WAIT, monitor_config

EVIL = "<script>alert(1)</script>"
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " \
      "form-action 'self'; frame-ancestors 'none'"
# Seconds the browser waits for a state to appear (checks run every second; a failure is
# hard at the first failed run with failure-threshold 1; the live sweep runs every 2 s).
WAIT = 30


class Listener:
    """A TCP port that accepts (and closes) connections until ``close()``: a peer to stop."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                conn.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(THREAD_WAIT)


@contextlib.contextmanager
def dashboard(monitor):
    """The runner and the app (with the CSP header) on one loop in a thread: yields the base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="dash-under-test", daemon=True)
    thread.start()
    task = asyncio.run_coroutine_threadsafe(monitor.run(), loop)
    app = make_app(monitor)

    async def csp(request, response):
        response.headers.setdefault("Content-Security-Policy", CSP)

    app.on_response_prepare.append(csp)
    served = asyncio.run_coroutine_threadsafe(serve(app, port=0), loop).result(THREAD_WAIT)
    try:
        yield f"http://127.0.0.1:{served.port}"
    finally:
        asyncio.run_coroutine_threadsafe(served.close(), loop).result(THREAD_WAIT)
        loop.call_soon_threadsafe(monitor.stop)
        task.result(THREAD_WAIT * 3)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(THREAD_WAIT)
        loop.close()


@pytest.fixture
def peers(nginx):
    listener = Listener()
    yield nginx, listener
    listener.close()


@pytest.fixture
def site(tmp_path, peers):
    nginx, listener = peers
    body = f'''
[defaults]
interval = "1s"
failure-threshold = 1
success-threshold = 1
[group.web]
[group.backend]
[web]
status-groups = ["web"]
[[target]]
name = "nginx-home"
url = "{nginx.url("/")}"
group = "web"
labels = {{ env = "prod" }}
[[target]]
name = "tcp-peer"
url = "tcp://127.0.0.1:{listener.port}"
group = "backend"
labels = {{ env = "stage" }}
[[target]]
name = "{EVIL}"
url = "tcp://127.0.0.1:{listener.port}"
group = "web"
'''
    monitor = Monitor(monitor_config(tmp_path, body))
    with dashboard(monitor) as base:
        yield base, listener


def rows(browser):
    return {r.get_attribute("data-id"): r for r in browser.find_elements(By.CSS_SELECTOR, "div.r[data-id]")}


def state_of(browser, tid):
    return browser.find_element(By.CSS_SELECTOR, f'div.r[data-id="{tid}"] .st').text


def csp_violations(browser):
    return [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def test_overview_filter_target_and_a_live_failure(browser, site, screenshots):
    base, listener = site
    wait = WebDriverWait(browser, WAIT, poll_frequency=0.2)

    def loaded_ok(driver):
        driver.get(base + "/")
        found = rows(driver)
        return len(found) == 3 and all(state_of(driver, t) == "OK" for t in ("nginx-home", "tcp-peer"))

    wait.until(loaded_ok)
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    # The hostile name is text: a link whose words are the markup, no script ran.
    link = browser.find_element(By.CSS_SELECTOR, f'div.r[data-id="{EVIL}"] a')
    assert link.text == EVIL
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0
    save_screenshot(browser, screenshots, "overview")

    # Instant filtering, client-side: the URL follows, the page is not reloaded.
    browser.execute_script("window.notReloaded = true")
    search = browser.find_element(By.NAME, "q")
    search.send_keys("nginx")
    wait.until(lambda d: [t for t, r in rows(d).items() if r.is_displayed()] == ["nginx-home"])
    assert browser.find_element(By.ID, "shown").text == "1" and "q=nginx" in browser.current_url
    search.clear()
    search.send_keys("x")
    search.clear()
    browser.find_element(By.NAME, "group").send_keys("backend")
    wait.until(lambda d: [t for t, r in rows(d).items() if r.is_displayed()] == ["tcp-peer"])
    assert browser.execute_script("return window.notReloaded") is True

    # The same filter without script: the server filters the query string.
    browser.get(base + "/?group=backend")
    assert list(rows(browser)) == ["tcp-peer"]

    # A target's page.
    browser.get(base + "/")
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    browser.find_element(By.LINK_TEXT, "nginx-home").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "h1 .badge"))
    assert browser.find_element(By.CSS_SELECTOR, "h1 .tname").text == "nginx-home"
    assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "OK"
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart") and browser.find_elements(By.CSS_SELECTOR, "svg.timeline")
    assert browser.find_elements(By.CSS_SELECTOR, "table.results tr.s0")
    save_screenshot(browser, screenshots, "target")

    # The peer stops: its failure appears on the open overview, without a reload.
    browser.get(base + "/")
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    browser.execute_script("window.notReloaded = true")
    listener.close()
    wait.until(lambda d: state_of(d, "tcp-peer") == "CRITICAL")
    assert browser.execute_script("return window.notReloaded") is True
    row = rows(browser)["tcp-peer"]
    assert "s2" in row.get_attribute("class") and row.find_element(By.CSS_SELECTOR, ".m").text
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-count="CRITICAL"]').text == "2")
    save_screenshot(browser, screenshots, "overview-failure")

    # The failed target's page: the state, the failed run's summary.
    browser.get(base + "/target/" + quote("tcp-peer", safe=""))
    assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "CRITICAL"
    assert browser.find_elements(By.CSS_SELECTOR, "table.results tr.s2")
    save_screenshot(browser, screenshots, "target-failure")

    # The public status page: the chosen group only, no internals.
    browser.get(base + "/status")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "nginx-home" in text and EVIL in text and "tcp-peer" not in text
    assert "127.0.0.1" not in browser.page_source and "env=prod" not in browser.page_source
    assert "Some systems have problems" in text
    save_screenshot(browser, screenshots, "status")
    assert csp_violations(browser) == []
    assert {p.name for p in screenshots.iterdir()} >= {"overview-failure.png", "overview.png", "status.png",
                                                       "target-failure.png", "target.png"}


def test_the_evil_name_on_its_own_page(browser, site):
    base, _ = site
    url = base + "/target/" + quote(EVIL, safe="")
    WebDriverWait(browser, WAIT, poll_frequency=0.2).until(
        lambda d: d.get(url) or d.find_elements(By.CSS_SELECTOR, "h1 .tname"))   # 503 until the store opens
    assert browser.find_element(By.CSS_SELECTOR, "h1 .tname").text == EVIL
    assert EVIL in browser.title
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    time.sleep(0.5)
    assert csp_violations(browser) == []
