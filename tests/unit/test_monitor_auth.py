"""The dashboard's safety without a running monitor: password hash lines, what counts as
exposed, the [web] table's mistakes, and the gate over the app (aiohttp's test client, a
fake clock for session expiry): logins, CSRF, the bearer token, protect-metrics, the login
limit, the trusted proxy, the security headers."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from netkit.core.errors import UsageError
from netkit.monitor._auth import AUTH, CSP, LOGIN_FAILURES, LoginLimiter, exposed
from netkit.monitor._config import parse_config
from netkit.monitor._passwords import hash_password, parse_hash, verify_password
from netkit.monitor._records import TargetInfo
from netkit.monitor._settings import Web
from netkit.monitor._web import make_app

# Cheap parameters for the tests' hashes (the real default costs ~0.1 s each).
FAST = {"n": 1 << 4, "r": 1, "p": 1}
HASH = hash_password("s3cret pass", **FAST)


def test_hash_lines_verify_in_constant_time_and_carry_their_parameters():
    line = hash_password("pässwörd", **FAST)
    assert line.startswith("scrypt$16$1$1$") and line != hash_password("pässwörd", **FAST)   # a random salt
    assert verify_password("pässwörd", line) and not verify_password("passwörd", line)
    assert parse_hash(hash_password("x"))[:3] == (1 << 15, 8, 1)


@pytest.mark.parametrize("line", ["", "bcrypt$2$1$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "scrypt$16$1$1$AAAA",
                                  "scrypt$15$1$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",       # N not a power of 2
                                  "scrypt$4194304$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",   # N too big: 4 GiB
                                  "scrypt$16$1$1$A$AAAAAAAAAAAAAAAAAAAAAA", 5])
def test_bad_hash_lines(line):
    with pytest.raises(ValueError, match="netkit monitor passwd"):
        parse_hash(line)


@pytest.mark.parametrize(("listen", "outside"), [
    ("127.0.0.1:9115", False), ("127.0.0.2:80", False), ("[::1]:9115", False), ("localhost:1", False),
    ("", False), ("0.0.0.0:9115", True), ("[::]:9115", True), ("192.0.2.7:80", True), ("monitor.example:80", True),
    ("[::ffff:10.0.0.1]:80", True)])
def test_what_is_exposed(listen, outside):
    assert exposed(listen) is outside


def config(tmp_path, web: str, listen: str = "127.0.0.1:9115"):
    text = f'[monitor]\nlisten = "{listen}"\nstate-dir = "{tmp_path}"\n[group.front]\n[[target]]\nurl = "tcp://h:1"\n' \
           f'group = "front"\n[web]\n{web}'
    return parse_config(text, str(tmp_path / "m.toml"), {})


def test_web_table(tmp_path):
    web = config(tmp_path, f'status-groups = ["front"]\npassword-hash = "{HASH}"\n'
                           f'users = [{{ name = "bob", password-hash = "{HASH}" }}]\nsession-lifetime = "1h"\n'
                           'protect-metrics = true\n', "0.0.0.0:9115").web
    assert web.status_groups == ("front",) and [u for u, _ in web.users] == ["admin", "bob"]
    assert web.session_lifetime == 3600 and web.protect_metrics and web.login
    proxied = config(tmp_path, 'trusted-proxy-header = "X-Remote-User"\ntrusted-proxies = ["10.0.0.0/8", "::1"]\n',
                     "[::]:80").web
    assert proxied.login and proxied.proxy_header == "X-Remote-User" and len(proxied.trusted_proxies) == 2
    assert config(tmp_path, "").web == Web()
    assert "HASH" not in repr(web) and HASH not in repr(web)   # no hash in a log line


@pytest.mark.parametrize(("web", "listen", "words"), [
    ("", "0.0.0.0:9115", ("reachable from other machines, and the dashboard would have no login: add [web] "
                          "password-hash")),
    ("passwd = 1", "127.0.0.1:1", "unknown setting 'passwd'"),
    ('password-hash = "hunter2"', "127.0.0.1:1", "password-hash expects a line `netkit monitor passwd` prints"),
    (f'password-hash = "{HASH}"\nusers = [{{ name = "admin", password-hash = "{HASH}" }}]', "127.0.0.1:1",
     "users names admin too"),
    (f'users = [{{ name = "a", password-hash = "{HASH}" }}, {{ name = "a", password-hash = "{HASH}" }}]',
     "127.0.0.1:1", "names the user 'a' twice"),
    ('users = [{ name = "a" }]', "127.0.0.1:1", "users expects a list of"),
    ('trusted-proxy-header = "X-Forwarded-User"', "127.0.0.1:1", "go together"),
    ('trusted-proxies = ["10.0.0.1"]', "127.0.0.1:1", "go together"),
    ('trusted-proxy-header = "X User"\ntrusted-proxies = ["10.0.0.1"]', "127.0.0.1:1", "an HTTP header name"),
    ('trusted-proxy-header = "X-U"\ntrusted-proxies = ["10.0.0.300"]', "127.0.0.1:1", "'10.0.0.300' is not one"),
    ('session-lifetime = "1s"', "127.0.0.1:1", "session-lifetime expects"),
    ('protect-metrics = "yes"', "127.0.0.1:1", "protect-metrics expects true or false"),
])
def test_web_table_mistakes_are_one_line(tmp_path, web, listen, words):
    with pytest.raises(UsageError) as refused:
        config(tmp_path, web, listen)
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_login_limiter_window():
    limiter = LoginLimiter()
    for i in range(LOGIN_FAILURES):
        assert limiter.wait("a", 100.0 + i) == 0
        limiter.failed("a", 100.0 + i)
    assert limiter.wait("a", 110.0) > 0 and limiter.wait("b", 110.0) == 0
    assert limiter.wait("a", 100.0 + 300.0 + 0.5) == 0     # the oldest failure left the window
    limiter.succeeded("a")
    assert limiter.wait("a", 110.0) == 0


# -- the gate over the app ----------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def monitor(web=None, token="t0ken"):
    info = TargetInfo("web", "http://web/")
    target = SimpleNamespace(id="web", info=info)
    return SimpleNamespace(location="here", store=None, config=SimpleNamespace(
        targets=(target,), modules={}, settings=SimpleNamespace(api_token=token), web=web or Web()),
        states=dict, last_samples=dict, verdicts=dict, stats=dict)


def run(mon, steps, clock=None):
    """``steps(client, app)`` with the app over ``mon`` (and ``clock`` for its sessions)."""
    async def main():
        app = make_app(mon)
        if clock is not None:
            app[AUTH]._clock = clock
        async with TestClient(TestServer(app)) as client:
            return await steps(client, app)

    return asyncio.run(main())


async def login(client, user="admin", password="s3cret pass", **extra):
    page = await (await client.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    return await client.post("/login", data={"csrf_token": token, "user": user, "password": password, **extra},
                             allow_redirects=False)


def test_sessions_expire_and_logins_need_the_password():
    clock = Clock()
    web = Web(users=(("admin", HASH),), session_lifetime=600.0)

    async def steps(client, app):
        answer = await login(client, password="wrong")
        assert answer.status == 401 and "Wrong user name or password." in await answer.text()
        answer = await login(client)
        assert answer.status == 303
        assert (await client.get("/api/targets")).status == 200
        clock.now += 599
        assert (await client.get("/api/targets")).status == 200
        clock.now += 2                                     # past the session's lifetime
        assert (await client.get("/api/targets")).status == 401
        answer = await client.get("/", allow_redirects=False)
        assert answer.status == 303 and answer.headers["Location"].startswith("/login")
        return True

    assert run(monitor(web), steps, clock)


def test_loopback_login_when_configured_and_the_token_and_protect_metrics():
    web = Web(users=(("admin", HASH),), protect_metrics=True)

    async def steps(client, app):
        assert (await client.get("/api/targets")).status == 401            # login configured: asked for
        assert (await client.get("/metrics")).status == 401                # protect-metrics
        bearer = {"Authorization": "Bearer t0ken"}
        assert (await client.get("/metrics", headers=bearer)).status == 200
        assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
        assert (await client.get("/api/targets", headers=bearer)).status == 200
        answer = await client.get("/status")                              # public, even with no status groups
        assert answer.status in (200, 404)
        answer = await client.get("/static/dash.css")
        assert answer.status == 200 and "no-store" not in answer.headers.get("Cache-Control", "")
        assert answer.headers["Content-Security-Policy"] == CSP
        await login(client)
        assert (await client.get("/metrics")).status == 200                 # a logged-in session reads it too
        return True

    assert run(monitor(web), steps)


def test_metrics_open_by_default_and_writes_refused_without_session_or_token():
    async def steps(client, app):
        answer = await client.get("/metrics")
        assert answer.status == 200 and answer.headers["X-Frame-Options"] == "DENY"
        answer = await client.post("/api/targets/web/pause", json={})
        assert answer.status == 401 and "X-CSRF-Token" not in await answer.text()
        answer = await client.post("/actions/pause", data={"target": "web"})
        assert answer.status == 403 and answer.headers["Content-Security-Policy"] == CSP
        return True

    assert run(monitor(Web(users=(("admin", HASH),))), steps)


def test_a_token_of_bytes_that_are_not_utf8_is_wrong_not_an_error():
    # aiohttp hands such header bytes over as surrogates: once a 500 and a traceback logged
    # for anyone who sent "Authorization: Bearer \xff".
    async def raw(client, header: bytes, cookie: str = "") -> bytes:
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(b"POST /api/targets/web/pause HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nConnection: close\r\n" + cookie.encode() + header + b"\r\n{}")
        answer = await reader.read()
        writer.close()
        return answer.split(b"\r\n", 1)[0]

    async def steps(client, app):
        assert await raw(client, b"Authorization: Bearer \xff\xfe\r\n") == b"HTTP/1.1 401 Unauthorized"
        assert (await login(client)).status == 303
        [morsel] = client.session.cookie_jar
        cookie = f"Cookie: {morsel.key}={morsel.value}\r\n"
        assert await raw(client, b"X-CSRF-Token: \xff\r\n", cookie) == b"HTTP/1.1 403 Forbidden"
        return True

    assert run(monitor(Web(users=(("admin", HASH),))), steps)


def test_a_proxy_header_from_an_untrusted_address_is_ignored():
    import ipaddress

    trusted = Web(proxy_header="X-Forwarded-User", trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    elsewhere = Web(proxy_header="X-Forwarded-User", trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))

    async def steps(client, app):
        answer = await client.get("/api/session", headers={"X-Forwarded-User": "carol", "X-Forwarded-Proto": "https"})
        return answer.status, (await answer.json()).get("user") if answer.status == 200 else None, \
            answer.headers.get("Set-Cookie", "")

    status, user, cookie = run(monitor(trusted), steps)
    assert status == 200 and user == "carol" and "Secure" in cookie and "SameSite=Strict" in cookie
    status, user, _ = run(monitor(elsewhere), steps)
    assert status == 401 and user is None


def test_a_session_of_one_user_is_not_taken_over_by_a_proxy_header_change():
    import ipaddress

    web = Web(proxy_header="X-Forwarded-User", trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))

    async def steps(client, app):
        first = await (await client.get("/api/session", headers={"X-Forwarded-User": "carol"})).json()
        second = await (await client.get("/api/session", headers={"X-Forwarded-User": "dave"})).json()
        return first, second

    first, second = run(monitor(web), steps)
    assert first["user"] == "carol" and second["user"] == "dave" and first["csrf_token"] != second["csrf_token"]


@pytest.mark.parametrize("nxt", ["//evil.example/", "https://evil.example/", "/\\evil", "javascript:alert(1)"])
def test_login_goes_back_only_to_a_path_of_this_site(nxt):
    async def steps(client, app):
        return (await login(client, next=nxt)).headers["Location"]

    assert run(monitor(Web(users=(("admin", HASH),))), steps) == "/"


def test_an_overlong_password_is_wrong_and_a_login_flood_is_told_to_wait():
    from netkit.monitor._auth import MAX_LOGINS_WAITING
    from netkit.monitor._passwords import MAX_PASSWORD

    long_hash = hash_password("y" * MAX_PASSWORD, **FAST)
    web = Web(users=(("admin", HASH), ("long", long_hash)))

    async def steps(client, app):
        assert (await login(client, "long", "y" * MAX_PASSWORD)).status == 303
        assert (await login(client, "long", "y" * (MAX_PASSWORD + 1))).status == 401
        app[AUTH]._logins = MAX_LOGINS_WAITING          # as if that many were hashing
        answer = await login(client)
        assert answer.status == 503 and "too many logins at once" in await answer.text()
        return True

    assert run(monitor(web), steps)


def test_a_login_counts_before_its_hash_is_checked_and_busy_ones_are_taken_back():
    """Parallel guesses from one address are each counted as they start, so no more than
    LOGIN_FAILURES can be in flight; one refused as busy (never checked) is taken back."""
    limiter = LoginLimiter()
    for i in range(LOGIN_FAILURES):
        assert limiter.wait("10.0.0.9", 100.0 + i) == 0
        limiter.failed("10.0.0.9", 100.0 + i)          # started, not yet answered
    assert limiter.wait("10.0.0.9", 110.0) > 0
    limiter.forget("10.0.0.9", 109.0)
    assert limiter.wait("10.0.0.9", 110.0) == 0
