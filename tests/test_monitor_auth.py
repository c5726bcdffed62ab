"""The dashboard's safety against the real ``netkit monitor run`` process: bound to loopback
it needs no login but every write needs the session's CSRF token; bound to 0.0.0.0 (every
address: exposed) it refuses to start without a login, and with one it asks for it; a
reverse proxy's user header is believed from the configured proxy address only (127.0.0.2
here: a second loopback address, so the test touches no network of the host)."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from netkit.monitor._passwords import hash_password
from netkit.monitor._store import open_store
from tests.helpers import clean_env

WAIT = 30.0
PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, listen: str, body: str = "", web: str = "") -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f'[monitor]\nstore = "{tmp_path / "m.db"}"\nlisten = "{listen}"\nstate-dir = "{tmp_path}"\n'
                   f'api-token-env = "TEST_TOKEN"\n\n[web]\n{web}\n{body}')
    return cfg


class Client:
    """HTTP/1.1 to the monitor with a cookie jar of one cookie, from a chosen source address."""

    def __init__(self, port: int, source: str = "127.0.0.1"):
        self.port, self.source = port, source
        self.cookie = None

    def request(self, method: str, path: str, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT, source_address=(self.source, 0))
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookie:
            headers["Cookie"] = f"netkit_session={self.cookie}"
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        set_cookie = response.getheader("Set-Cookie") or ""
        match = re.match(r"netkit_session=([^;]*)", set_cookie)
        if match:
            self.cookie = match[1] or None
        return response.status, response, text

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def json(self, path):
        status, _, text = self.get(path)
        assert status == 200, (path, status, text)
        return json.loads(text)

    def csrf(self) -> str:
        return self.json("/api/session")["csrf_token"]


@contextlib.contextmanager
def monitor(cfg: Path, port: int, *args):
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "monitor", "run", str(cfg), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env({"TEST_TOKEN": "t0ken"}))
    try:
        deadline = time.monotonic() + WAIT
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "the monitor did not start listening"
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=WAIT)
        assert "Traceback" not in err, err


def poll(what, done, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last {value}"
        time.sleep(0.2)


def down_target(closed_port) -> str:
    return (f'[[target]]\nname = "down"\nurl = "tcp://127.0.0.1:{closed_port.port}"\ninterval = "1s"\n'
            'failure-threshold = 1\n')


def test_exposed_without_a_login_refuses_to_start(tmp_path):
    port = free_port()
    for cfg, args in ((write_config(tmp_path, f"0.0.0.0:{port}"), ()),
                      (write_config(tmp_path, f"127.0.0.1:{port}"), ("--listen", f"0.0.0.0:{port}")),
                      (write_config(tmp_path, f"[::]:{port}"), ())):
        proc = subprocess.run([sys.executable, "-m", "netkit", "monitor", "run", str(cfg), *args],
                              capture_output=True, text=True, timeout=WAIT, env=clean_env({"TEST_TOKEN": "t"}), check=False)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "password-hash" in lines[0] and "reachable from other machines" in lines[0], lines
    # `netkit monitor check` says the same of the file.
    proc = subprocess.run([sys.executable, "-m", "netkit", "monitor", "check", str(write_config(tmp_path, "0.0.0.0:1"))],
                          capture_output=True, text=True, timeout=WAIT, env=clean_env({"TEST_TOKEN": "t"}), check=False)
    assert proc.returncode == 2 and "password-hash" in proc.stderr


def test_loopback_needs_no_login_and_writes_need_the_csrf_token(tmp_path, closed_port):
    port = free_port()
    cfg = write_config(tmp_path, f"127.0.0.1:{port}", down_target(closed_port))
    with monitor(cfg, port):
        client = Client(port)
        status, response, _ = client.get("/")
        assert status == 200 and client.cookie
        cookie = response.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        assert response.getheader("Content-Security-Policy") == CSP
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert response.getheader("Referrer-Policy") == "no-referrer"
        assert response.getheader("Cache-Control") == "no-store"
        session = client.json("/api/session")
        assert session["user"] == "local" and session["login"] is False and len(session["csrf_token"]) >= 40
        poll(lambda: client.json("/api/targets/down")["verdict"], lambda v: v and v["status"] == 2)
        form = {"target": "down", "comment": "on it", "next": "/"}
        # No token, a wrong one, another session's: refused; nothing written.
        assert client.request("POST", "/actions/ack", form)[0] == 403
        assert client.request("POST", "/actions/ack", {**form, "csrf_token": "x" * 43})[0] == 403
        other = Client(port)
        assert client.request("POST", "/actions/ack", {**form, "csrf_token": other.csrf()})[0] == 403
        # A forged cross-site form: no cookie goes with it (SameSite=Strict), and even with
        # one and the right token, another Origin is refused.
        forged = Client(port)
        assert forged.request("POST", "/actions/ack", {**form, "csrf_token": session["csrf_token"]},
                              headers={"Origin": "http://evil.example"})[0] == 403
        assert client.request("POST", "/actions/ack", {**form, "csrf_token": session["csrf_token"]},
                              headers={"Origin": "http://evil.example"})[0] == 403
        assert client.request("POST", "/actions/ack", {**form, "csrf_token": session["csrf_token"]},
                              headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
        # A GET never writes.
        assert client.get("/actions/ack?target=down&csrf_token=" + session["csrf_token"])[0] in (404, 405)
        status, response, _ = client.request("POST", "/actions/ack", {**form, "csrf_token": session["csrf_token"]},
                                             headers={"Origin": f"http://127.0.0.1:{port}"})
        assert status == 303 and response.getheader("Location") == "/"
        # fetch() through the API: the header instead of the field.
        assert client.request("POST", "/api/targets/down/pause", "{}")[0] == 403
        status, _, text = client.request("POST", "/api/targets/down/pause", json.dumps({"comment": "noisy"}),
                                         headers={"X-CSRF-Token": session["csrf_token"],
                                                  "Content-Type": "application/json"})
        assert status == 200, text
        assert poll(lambda: client.json("/api/targets/down")["paused"], bool)["author"] == "local"
    store = open_store(str(tmp_path / "m.db"))
    try:
        ack = store.acks()["down"]
        assert ack["author"] == "local" and ack["comment"] == "on it"
        assert store.paused()["down"]["comment"] == "noisy"
    finally:
        store.close()


def test_exposed_asks_for_a_login(tmp_path, closed_port):
    port = free_port()
    cfg = write_config(tmp_path, f"0.0.0.0:{port}", down_target(closed_port),
                       f'users = [{{ name = "alice", password-hash = "{HASH}" }}]\n')
    with monitor(cfg, port):
        client = Client(port)
        status, response, _ = client.get("/")
        assert status == 303 and urllib.parse.unquote(response.getheader("Location")) == "/login?next=/"
        assert client.get("/api/targets")[0] == 401
        assert client.get("/api/targets/down/history")[0] == 401
        assert client.request("POST", "/actions/pause", {"target": "down"})[0] == 403
        # Prometheus and the public status page stay open; security headers everywhere.
        status, response, _ = client.get("/metrics")
        assert status == 200 and response.getheader("Content-Security-Policy") == CSP
        status, response, _ = client.get("/nowhere")
        assert status in (303, 404) and response.getheader("X-Content-Type-Options") == "nosniff"
        status, _, page = client.get("/login?next=%2Fapi%2Ftargets")
        assert status == 200 and 'name="csrf_token"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        # No user enumeration: an unknown user and a wrong password read the same.
        wrong = client.request("POST", "/login", {"csrf_token": token, "user": "alice", "password": "nope"})
        nobody = client.request("POST", "/login", {"csrf_token": token, "user": "mallory", "password": "nope"})
        assert wrong[0] == nobody[0] == 401
        assert re.search(r'id="login-error">([^<]*)<', wrong[2])[1] == re.search(r'id="login-error">([^<]*)<',
                                                                                 nobody[2])[1]
        # The login form needs its token too (no login CSRF).
        assert client.request("POST", "/login", {"user": "alice", "password": PASSWORD})[0] == 403
        visitor = client.cookie
        status, response, _ = client.request("POST", "/login", {"csrf_token": token, "user": "alice",
                                                                "password": PASSWORD, "next": "/api/targets"})
        assert status == 303 and response.getheader("Location") == "/api/targets"
        assert client.cookie != visitor      # a new session id at login
        cookie = response.getheader("Set-Cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert [t["id"] for t in client.json("/api/targets")] == ["down"]
        session = client.json("/api/session")
        assert session["user"] == "alice" and session["login"] is True
        poll(lambda: client.json("/api/targets/down")["state"], lambda s: s and s["hard_status"] == 2)
        status, _, text = client.request("POST", "/api/targets/down/ack", json.dumps({"author": "eve"}),
                                         headers={"X-CSRF-Token": session["csrf_token"],
                                                  "Content-Type": "application/json"})
        assert status == 200, text
        # The API's token works without a session; a wrong one does not.
        token_client = Client(port)
        assert token_client.get("/api/targets", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert token_client.get("/api/targets", headers={"Authorization": "Bearer t0ken"})[0] == 200
        # Logging out ends the session on the server: the old cookie is worth nothing.
        old = client.cookie
        assert client.request("POST", "/logout", {"csrf_token": session["csrf_token"]})[0] == 303
        replay = Client(port)
        replay.cookie = old
        assert replay.get("/api/targets")[0] == 401
    store = open_store(str(tmp_path / "m.db"))
    try:
        assert store.acks()["down"]["author"] == "alice"   # the session's user, not the body's
    finally:
        store.close()


def test_failed_logins_are_limited_per_address(tmp_path):
    from netkit.monitor._auth import LOGIN_FAILURES

    port = free_port()
    cfg = write_config(tmp_path, f"0.0.0.0:{port}", web=f'password-hash = "{HASH}"\n')
    with monitor(cfg, port):
        client = Client(port)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login")[2])[1]
        for _ in range(LOGIN_FAILURES):
            assert client.request("POST", "/login", {"csrf_token": token, "user": "admin", "password": "x"})[0] == 401
        # Now even the right password waits; another address is not held up.
        status, _, page = client.request("POST", "/login", {"csrf_token": token, "user": "admin",
                                                            "password": PASSWORD})
        assert status == 429 and "Too many failed logins" in page
        other = Client(port, source="127.0.0.3")
        token = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/login")[2])[1]
        assert other.request("POST", "/login", {"csrf_token": token, "user": "admin", "password": PASSWORD})[0] == 303


def test_a_proxy_header_is_believed_only_from_the_trusted_proxy(tmp_path, closed_port):
    port = free_port()
    cfg = write_config(tmp_path, f"0.0.0.0:{port}", down_target(closed_port),
                       'trusted-proxy-header = "X-Forwarded-User"\ntrusted-proxies = ["127.0.0.2/32"]\n')
    with monitor(cfg, port):
        spoofer = Client(port)   # 127.0.0.1: not the proxy
        status, response, _ = spoofer.get("/", headers={"X-Forwarded-User": "admin"})
        assert status == 303 and response.getheader("Location").startswith("/login")
        assert spoofer.get("/api/targets", headers={"X-Forwarded-User": "admin"})[0] == 401
        proxy = Client(port, source="127.0.0.2")
        status, response, _ = proxy.get("/", headers={"X-Forwarded-User": "bob", "X-Forwarded-Proto": "https"})
        assert status == 200 and "Secure" in response.getheader("Set-Cookie")
        session = proxy.json("/api/session")
        assert session["user"] == "bob"
        # Without the header, the proxy's own address is nobody.
        assert Client(port, source="127.0.0.2").get("/api/targets")[0] == 401
        poll(lambda: proxy.json("/api/targets/down")["state"], lambda s: s and s["hard_status"] == 2)
        status, _, text = proxy.request("POST", "/api/targets/down/maintenance", json.dumps({"minutes": 30}),
                                        headers={"X-CSRF-Token": session["csrf_token"],
                                                 "Content-Type": "application/json", "X-Forwarded-User": "bob"})
        assert status == 201, text
        assert json.loads(text)["author"] == "bob"


def test_passwd_reads_one_line_of_stdin():
    from netkit.monitor._passwords import verify_password

    env = clean_env()
    proc = subprocess.run([sys.executable, "-m", "netkit", "monitor", "passwd"], input="pässwörd 1\n",
                          capture_output=True, text=True, timeout=WAIT, env=env, check=False)
    assert proc.returncode == 0 and proc.stderr == ""
    line = proc.stdout.strip()
    assert line.startswith("scrypt$32768$8$1$") and verify_password("pässwörd 1", line)
    for argv, stdin, words in ((["hunter2"], "", "never from the command line"),
                               ([], "\n", "the password is empty"),
                               ([], "x" * 5000, "over 4096 characters")):
        proc = subprocess.run([sys.executable, "-m", "netkit", "monitor", "passwd", *argv], input=stdin,
                              capture_output=True, text=True, timeout=WAIT, env=env, check=False)
        assert proc.returncode == 2 and proc.stdout == "" and words in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1 and "hunter2" not in proc.stderr


def test_a_reload_that_drops_the_login_of_an_exposed_monitor_is_refused(tmp_path):
    import signal

    port = free_port()
    cfg = write_config(tmp_path, f"0.0.0.0:{port}", web=f'password-hash = "{HASH}"\n')
    with monitor(cfg, port) as proc:
        client = Client(port)
        assert client.get("/api/targets")[0] == 401
        write_config(tmp_path, f"0.0.0.0:{port}")            # the same, without the login
        proc.send_signal(signal.SIGHUP)
        line = proc.stderr.readline()
        while line and not line.startswith(("netkit monitor: reload", "netkit monitor: reloaded")):
            line = proc.stderr.readline()
        assert "reload refused" in line and "password-hash" in line
        assert client.get("/api/targets")[0] == 401           # still asks


def test_passwd_asks_twice_on_a_terminal_without_echo():
    from netkit.monitor._passwords import verify_password

    argv = [sys.executable, "-m", "netkit", "monitor", "passwd"]
    code, shown = _on_a_terminal(argv, ["s3cret", "s3cret"], clean_env())
    assert code == 0, shown
    assert shown.startswith("Password for the dashboard:") and "The same again:" in shown
    assert "s3cret" not in shown                                   # never echoed
    assert verify_password("s3cret", re.search(r"scrypt\$\S+", shown)[0])
    code, shown = _on_a_terminal(argv, ["s3cret", "other"], clean_env())
    assert code == 2 and "the two passwords differ" in shown and "scrypt$" not in shown


def _on_a_terminal(argv, answers, env) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal, typing each answer after its prompt (text ending in
    a colon since the last answer); (exit code, what the terminal showed)."""
    import os
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:   # the child: the command on the terminal
        os.execve(argv[0], argv, env)
    shown, since_answer, pending = b"", b"", list(answers)
    deadline = time.monotonic() + WAIT
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:   # EIO: the child has gone
                break
            if not chunk:
                break
            shown += chunk
            since_answer += chunk
            if pending and since_answer.rstrip().endswith(b":"):
                os.write(fd, pending.pop(0).encode() + b"\n")
                since_answer = b""
    finally:
        os.close(fd)
        done, status = os.waitpid(pid, os.WNOHANG)
        while not done and time.monotonic() < deadline:
            time.sleep(0.1)
            done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            os.kill(pid, 9)   # never a hung test: what it showed says why
            _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")
