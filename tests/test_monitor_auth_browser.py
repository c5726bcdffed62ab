"""Logging in to the dashboard in a real browser (Debian's chromium through selenium) against
``netkit monitor run`` bound to 0.0.0.0: refused without login, a wrong password, the right
one, an acknowledgement from the target's page written as the logged-in user, a forged form
on another site's page refused, log out. Screenshots of the login page go with the others."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.peers.browser import save_screenshot
from tests.test_monitor_auth import HASH, PASSWORD, Client, free_port, monitor, poll, write_config

WAIT = 30
TOKEN = {"Authorization": "Bearer t0ken"}


@contextlib.contextmanager
def evil_site(action: str):
    """Another origin (127.0.0.1, another port: same site, so the cookie goes along; only the
    CSRF token and the Origin check stand in the way) serving a form that posts to ``action``."""
    page = (f'<!doctype html><form method="post" action="{action}"><input type="hidden" name="target" value="down">'
            f'<button id="go" type="submit">win a prize</button></form>').encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def csp_violations(browser):
    return [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def test_log_in_act_and_be_refused_without_login(browser, screenshots, tmp_path, closed_port):
    port = free_port()
    body = (f'[[target]]\nname = "down"\nurl = "tcp://127.0.0.1:{closed_port.port}"\ninterval = "1s"\n'
            'failure-threshold = 1\n')
    cfg = write_config(tmp_path, f"0.0.0.0:{port}", body, f'users = [{{ name = "alice", password-hash = "{HASH}" }}]\n')
    base = f"http://127.0.0.1:{port}"
    wait = WebDriverWait(browser, WAIT, poll_frequency=0.2)
    api = Client(port)
    with monitor(cfg, port):
        poll(lambda: api.get("/api/targets/down", headers=TOKEN), lambda a: '"hard_status":2' in a[2])
        # Not logged in: every page is the login page.
        for path in ("/", "/target/down"):
            browser.get(base + path)
            wait.until(ec.presence_of_element_located((By.ID, "login")))
            assert "/login" in browser.current_url
        save_screenshot(browser, screenshots, "login")
        browser.find_element(By.ID, "user").send_keys("alice")
        browser.find_element(By.ID, "password").send_keys("not it")
        browser.find_element(By.ID, "login-submit").click()
        assert wait.until(ec.presence_of_element_located((By.ID, "login-error"))).text == "Wrong user name or password."
        browser.find_element(By.ID, "user").send_keys("alice")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login-submit").click()
        wait.until(ec.presence_of_element_located((By.ID, "logout")))
        assert browser.current_url == base + "/target/down"       # back where the login began
        # Acknowledge from the target's page: written as alice.
        form = browser.find_element(By.CSS_SELECTOR, 'form[action="/actions/ack"]')
        form.find_element(By.NAME, "comment").send_keys("looking")
        form.find_element(By.CSS_SELECTOR, "button").click()
        wait.until(lambda b: b.current_url == base + "/target/down")
        assert "by alice" in wait.until(ec.presence_of_element_located((By.ID, "acked"))).text
        ack = _ack(tmp_path)
        assert ack["author"] == "alice" and ack["comment"] == "looking"
        # Pause: shown on the page and in the overview; resume.
        browser.find_element(By.ID, "pause").click()
        assert "by alice" in wait.until(ec.presence_of_element_located((By.ID, "paused"))).text
        browser.get(base + "/")
        assert "paused" in wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, 'div.r[data-id="down"] .fl'))).text
        browser.get(base + "/target/down")
        wait.until(ec.element_to_be_clickable((By.ID, "resume"))).click()
        wait.until(ec.presence_of_element_located((By.ID, "pause")))
        assert json.loads(api.get("/api/paused", headers=TOKEN)[2]) == {}
        # A maintenance window for an hour, then ended by hand.
        browser.find_element(By.CSS_SELECTOR, 'form[action="/actions/maintenance"] button').click()
        window = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "dd.window")))
        assert "by alice" in window.text
        save_screenshot(browser, screenshots, "target-actions")
        window.find_element(By.CSS_SELECTOR, "button").click()
        wait.until(lambda b: not b.find_elements(By.CSS_SELECTOR, "dd.window"))
        browser.find_element(By.ID, "unack").click()
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'form[action="/actions/ack"]')))
        assert _ack(tmp_path) is None
        assert csp_violations(browser) == []
        # A form on another site's page posting here: refused, nothing paused.
        with evil_site(base + "/actions/pause") as evil:
            browser.get(evil)
            browser.find_element(By.ID, "go").click()
            wait.until(lambda b: "/actions/pause" in b.current_url)
            assert "refused" in browser.page_source or "CSRF" in browser.page_source
        assert json.loads(api.get("/api/paused", headers=TOKEN)[2]) == {}
        # Log out: the dashboard asks again.
        browser.get(base + "/")
        wait.until(ec.element_to_be_clickable((By.ID, "logout"))).click()
        wait.until(ec.presence_of_element_located((By.ID, "login")))
        browser.get(base + "/")
        wait.until(ec.presence_of_element_located((By.ID, "login")))


def _ack(tmp_path):
    from netkit.monitor._store import open_store

    store = open_store(str(tmp_path / "m.db"))
    try:
        return store.acks().get("down")
    finally:
        store.close()
