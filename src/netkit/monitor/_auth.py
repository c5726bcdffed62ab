"""Who may read and write the dashboard: passwords, sessions, CSRF, trusted proxies, headers.

Safe by default, in four rules:

- **Bound to loopback** (127.0.0.0/8, ::1) with no ``[web]`` login configured: no login (as
  before: only this machine's users reach it). A browser still gets a session (user
  :data:`LOCAL_USER`) so that its writes carry a CSRF token: a web page in the same browser
  cannot post to 127.0.0.1 behind its back.
- **Bound anywhere else**: the monitor refuses to start (:func:`check_exposure`, one line)
  unless ``[web]`` has a password hash (``password-hash`` or ``users``) or trusted proxy
  headers (``trusted-proxy-header`` + ``trusted-proxies``). With either configured, login is
  required wherever it is bound.
- **Every write** (any method but GET/HEAD/OPTIONS) needs a session and the CSRF token bound
  to it (form field ``csrf_token`` or header ``X-CSRF-Token``), or the API's bearer token.
  GETs never change state. A request whose ``Origin`` is another site, or that a browser
  marks ``Sec-Fetch-Site: cross-site``, is refused before that.
- **Reads** of the dashboard and the API need a session (or the bearer token) when login is
  required; the public ``/status`` page, ``/static/`` and ``/login`` never do. ``/metrics``
  and ``/probe`` stay open for Prometheus (it cannot log in with a form; blackbox_exporter is
  open the same way) unless ``[web] protect-metrics = true``, which asks for the API's bearer
  token there (Prometheus' ``authorization: {credentials: ...}``).

A trusted reverse proxy: the header (``X-Forwarded-User``) names the user ONLY when the
connection comes from an address in ``trusted-proxies``; from anyone else it is ignored, so
a client that sends it itself gets the login page. ``X-Forwarded-Proto: https`` from such a
proxy marks the session cookie Secure.

Sessions live in memory (a restart logs everyone out): a random 256-bit id in a cookie
(HttpOnly, SameSite=Strict, Path=/, Secure over TLS), an absolute lifetime
(``session-lifetime``), a CSRF token of their own. Passwords are hashed with scrypt
(``netkit monitor passwd`` prints a hash line), compared in constant time; a wrong user and a
wrong password get the same words and take the same time.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from netkit.monitor._passwords import DUMMY_HASH, MAX_PASSWORD, verify_password

__all__ = ["CSRF_TOKEN", "LOCAL_USER", "SESSION", "USER", "VIA", "Auth", "add_login_routes", "add_security_headers",
           "check_exposure", "csrf_token", "current_user", "exposed"]

# Password hashes computed at once: each takes a core and 32 MiB; more wait, and past
# MAX_LOGINS_WAITING a login is told to come back (a flood from many addresses, each under
# its own limit, must not pile up connections and memory behind the hashing).
MAX_HASHING = 2
MAX_LOGINS_WAITING = 32
# The session id and CSRF token: 256 random bits each.
TOKEN_BYTES = 32
COOKIE = "netkit_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
DEFAULT_SESSION_LIFETIME = 12 * 3600.0
# Logged-in sessions held at once (a team is a few dozen); past it the oldest goes.
MAX_SESSIONS = 10_000
# Sessions of visitors not logged in (the login form's CSRF token, loopback browsers): anyone
# can make these, so they are kept apart and bounded, and never evict a logged-in session.
MAX_VISITORS = 10_000
# A visitor's session (the login form) lasts this long.
VISITOR_LIFETIME = 3600.0
# Failed logins per client address in LOGIN_WINDOW before that address is refused (429)
# until the window has passed: ten typos are generous; a guesser gets 10 guesses in 5 minutes.
LOGIN_FAILURES = 10
LOGIN_WINDOW = 300.0
# Addresses whose failures are remembered (a spray from many addresses evicts the oldest).
MAX_TRACKED_CLIENTS = 10_000
# The user the loopback dashboard without login writes as (acks' author).
LOCAL_USER = "local"
# A user name from the config or a proxy header: one printable line.
MAX_USER = 200

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_PUBLIC_PREFIXES = ("/status/", "/static/")
_PUBLIC_PATHS = frozenset(("/login", "/favicon.ico", "/status"))
_PROMETHEUS_PATHS = frozenset(("/metrics", "/probe"))


# -- where it listens ----------------------------------------------------------------------------

def exposed(listen: str) -> bool:
    """Whether ``host:port`` is reachable from other machines: anything but 127.0.0.0/8,
    ::1 and the name ``localhost`` (0.0.0.0 and :: are every address: exposed)."""
    if not listen:
        return False
    host = listen.rpartition(":")[0].strip("[]")
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:   # a host name: it may resolve anywhere
        return True


def check_exposure(listen: str, web) -> None:
    """UsageError (one line naming the key to add) when ``listen`` is exposed and ``web``
    configures no login."""
    from netkit.core.errors import UsageError

    if exposed(listen) and not web_login(web):
        raise UsageError(f"listen {listen} is reachable from other machines, and the dashboard would have no "
                         f"login: add [web] password-hash = \"...\" (the line `netkit monitor passwd` prints), "
                         f"or trusted-proxy-header and trusted-proxies for a reverse proxy's login; or listen on "
                         f"127.0.0.1")


def web_login(web) -> bool:
    """Whether ``web`` (a ``_settings.Web``, or None: no [web] table) configures a login."""
    return web is not None and web.login


# What the gate leaves on each request for the handlers and templates (read them with
# request.get(KEY), or through current_user()/csrf_token()).
SESSION = web.RequestKey("session", object)
USER = web.RequestKey("user", object)            # str or None
VIA = web.RequestKey("via", object)              # "session", "proxy", "token" or None
CSRF_TOKEN = web.RequestKey("csrf_token", str)   # "" without a session
_FRESH = web.RequestKey("fresh_session", object)
_NEXT = web.RequestKey("next", object)


def current_user(request) -> str | None:
    """Who is logged in (``local`` on a loopback dashboard without login), or None."""
    return request.get(USER)


def csrf_token(request) -> str:
    """The CSRF token of the request's session, for a form's hidden ``csrf_token`` field
    (or a fetch's ``X-CSRF-Token`` header); "" without a session."""
    return request.get(CSRF_TOKEN, "")


# -- sessions -------------------------------------------------------------------------------------

@dataclass
class Session:
    id: str
    user: str | None        # None: a visitor (the login form), not logged in
    csrf: str
    expires: float


class Sessions:
    """Sessions in memory, bounded: logged-in ones and visitors' apart."""

    def __init__(self):
        self._users: OrderedDict[str, Session] = OrderedDict()
        self._visitors: OrderedDict[str, Session] = OrderedDict()

    def new(self, user: str | None, now: float, lifetime: float) -> Session:
        table, bound = (self._visitors, MAX_VISITORS) if user is None else (self._users, MAX_SESSIONS)
        self._purge(table, now)
        while len(table) >= bound:
            table.popitem(last=False)
        session = Session(secrets.token_urlsafe(TOKEN_BYTES), user, secrets.token_urlsafe(TOKEN_BYTES),
                          now + lifetime)
        table[session.id] = session
        return session

    def get(self, sid: str | None, now: float) -> Session | None:
        if not sid:
            return None
        session = self._users.get(sid) or self._visitors.get(sid)
        if session is None or session.expires <= now:
            if session is not None:
                self.drop(sid)
            return None
        return session

    def drop(self, sid: str) -> None:
        self._users.pop(sid, None)
        self._visitors.pop(sid, None)

    @staticmethod
    def _purge(table: OrderedDict, now: float) -> None:
        # Oldest first: with one lifetime, creation order is expiry order (a reload that
        # changes the lifetime leaves a few to go at the next purge or lookup).
        while table:
            first = next(iter(table.values()))
            if first.expires > now:
                break
            table.popitem(last=False)


class LoginLimiter:
    """Failed logins per client address in a sliding window."""

    def __init__(self):
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def wait(self, client: str, now: float) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        times = [t for t in self._failures.get(client, ()) if t > now - LOGIN_WINDOW]
        if len(times) < LOGIN_FAILURES:
            return 0.0
        return times[-LOGIN_FAILURES] + LOGIN_WINDOW - now

    def failed(self, client: str, now: float) -> None:
        times = [t for t in self._failures.pop(client, ()) if t > now - LOGIN_WINDOW][-LOGIN_FAILURES:]
        times.append(now)
        self._failures[client] = times
        while len(self._failures) > MAX_TRACKED_CLIENTS:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def forget(self, client: str, at: float) -> None:
        """Take back the failure counted at ``at`` (the login was never checked)."""
        times = self._failures.get(client)
        if times and at in times:
            times.remove(at)


# -- the middleware ----------------------------------------------------------------------------------

def _kind(path: str) -> str:
    if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
        return "public"
    if path in _PROMETHEUS_PATHS:
        return "prometheus"
    if path.startswith("/api/"):
        return "api"
    return "page"


def _json_refusal(status: int, message: str, bearer: bool = False):
    import json

    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 429: web.HTTPTooManyRequests}[status]
    return cls(text=json.dumps({"error": message}), content_type="application/json",
               headers={"WWW-Authenticate": "Bearer"} if bearer else None)


def _text_refusal(status: int, message: str):
    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden}[status]
    return cls(text=message + "\n")


def _same_secret(given: str, secret: str) -> bool:
    """Whether a header's ``given`` is ``secret``, in constant time. A header's bytes that
    are not UTF-8 come as surrogates (aiohttp's surrogateescape): encoded as they came, so a
    byte 0xff is a wrong token, not an exception (a 500 and a traceback in the log, for anyone)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass"))


class Busy(Exception):
    """Not now (503): too many logins at once, more requests waiting than _web's
    MAX_WAITING, or the store not open yet; the message says which."""


class Auth:
    """The login state of one app: sessions, the login limiter, and the middleware that
    sets ``request[USER]`` (None: nobody), ``request[VIA]`` ("session", "token",
    "proxy" or None), ``request[SESSION]`` and ``request[CSRF_TOKEN]`` ("" without a
    session) for the handlers and templates."""

    def __init__(self, monitor, *, clock=time.time):
        self.monitor = monitor
        self.sessions = Sessions()
        self.limiter = LoginLimiter()
        self._hashing = asyncio.Semaphore(MAX_HASHING)
        self._logins = 0      # logins hashing or waiting to
        self._clock = clock

    # -- the config, read at every request (a reload applies at once) --
    @property
    def web(self):
        return getattr(self.monitor.config, "web", None)

    @property
    def login_required(self) -> bool:
        return web_login(self.web)

    def lifetime(self) -> float:
        return float(getattr(self.web, "session_lifetime", DEFAULT_SESSION_LIFETIME) or DEFAULT_SESSION_LIFETIME)

    def token(self) -> str | None:
        return getattr(self.monitor.config.settings, "api_token", None)

    # -- who is asking --
    def _from_proxy(self, request) -> bool:
        networks = getattr(self.web, "trusted_proxies", ()) or ()
        remote = request.remote
        if not networks or not remote:
            return False
        try:
            address = ipaddress.ip_address(remote.split("%")[0])
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in networks)

    def proxy_user(self, request) -> str | None:
        """The user the trusted proxy names; None when the header is missing, malformed, or
        not from a trusted proxy (then it is ignored as if never sent)."""
        header = getattr(self.web, "proxy_header", None)
        if not header or not self._from_proxy(request):
            return None
        value = request.headers.get(header, "").strip()
        if not value or len(value) > MAX_USER or not value.isprintable():
            return None
        return value

    def secure(self, request) -> bool:
        """Served over TLS, or behind a trusted proxy that says it was."""
        if request.secure:
            return True
        return self._from_proxy(request) and request.headers.get("X-Forwarded-Proto", "").lower() == "https"

    def start_session(self, request, response, user: str | None) -> Session:
        session = self.sessions.new(user, self._clock(), VISITOR_LIFETIME if user is None else self.lifetime())
        self.set_cookie(request, response, session)
        return session

    def set_cookie(self, request, response, session: Session | None) -> None:
        """The session's cookie on ``response`` (None: the cookie removed). Written as a
        header, since the prepare signal comes after aiohttp turned its cookies into headers."""
        from http.cookies import SimpleCookie

        jar = SimpleCookie()
        jar[COOKIE] = session.id if session is not None else ""
        morsel = jar[COOKIE]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        morsel["max-age"] = max(1, int(session.expires - self._clock())) if session is not None else 0
        if self.secure(request):
            morsel["secure"] = True
        response.headers.add("Set-Cookie", morsel.OutputString())

    # -- the gate --
    def install(self, app) -> None:
        """Add the gate (after the app's other middlewares: inside them) and the cookie of a
        session a request started (set as the answer is prepared, so streams get it too)."""

        @web.middleware
        async def gate(request, handler):
            await self._gate(request)
            return await handler(request)

        async def cookie(request, response):
            fresh = request.get(_FRESH)
            if fresh is not None:
                self.set_cookie(request, response, fresh)

        app.middlewares.append(gate)
        app.on_response_prepare.append(cookie)
        app[AUTH] = self

    async def _gate(self, request) -> None:
        now = self._clock()
        kind = _kind(request.path)
        session = self.sessions.get(request.cookies.get(COOKIE), now)
        proxied = self.proxy_user(request)
        if proxied is not None and (session is None or session.user != proxied):
            if session is not None:
                self.sessions.drop(session.id)
            session = request[_FRESH] = self.sessions.new(proxied, now, self.lifetime())
        login = self.login_required
        if session is None and not login and request.method in ("GET", "HEAD") and \
                (kind == "page" or request.path == "/api/session"):
            session = request[_FRESH] = self.sessions.new(LOCAL_USER, now, self.lifetime())
        user = session.user if session is not None else None
        if user == LOCAL_USER and login:
            user = None   # a loopback session from before login was configured
        elif user is not None and user != LOCAL_USER and not login:
            user = None   # a login session of a config since reloaded without logins
        request[SESSION] = session
        request[USER] = user
        request[VIA] = ("proxy" if proxied is not None else "session") if user is not None else None
        request[CSRF_TOKEN] = session.csrf if session is not None else ""
        await self._check(request, kind, session, user, login)

    async def _check(self, request, kind: str, session, user, login: bool) -> None:
        authorization = request.headers.get("Authorization")
        api = kind == "api"
        if request.method not in _SAFE_METHODS:
            if authorization is not None and api:
                self._bearer(authorization)
                request[VIA], request[USER] = "token", None
                return
            if request.path == "/login":   # the login form: a visitor's session and its token
                await self._csrf(request, session, api)
                return
            if session is None or user is None:
                if api:
                    token = self.token()
                    raise _json_refusal(401 if token else 403,
                                        "a write needs a session and its CSRF token (log in), or "
                                        "Authorization: Bearer TOKEN (the token api-token-env names)", bool(token))
                raise _text_refusal(403, "log in first: a write needs a session and its CSRF token")
            await self._csrf(request, session, api)
            return
        if kind == "public" or (kind == "prometheus" and not getattr(self.web, "protect_metrics", False)):
            return
        if user is not None:
            return
        if kind == "prometheus" or (api and authorization is not None):
            if authorization is None:
                raise _text_refusal(401, "protect-metrics is on: give Authorization: Bearer TOKEN")
            self._bearer(authorization, api)
            request[VIA] = "token"
            return
        if not login:
            return
        if api:
            raise _json_refusal(401, "log in first (a session cookie), or give Authorization: Bearer TOKEN", True)
        if request.method in ("GET", "HEAD"):
            from urllib.parse import quote

            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
        raise _text_refusal(401, "log in first")

    def _bearer(self, authorization: str, api: bool = True) -> None:
        token = self.token()
        refuse = _json_refusal if api else (lambda status, message, bearer=False: _text_refusal(status, message))
        if not token:
            raise refuse(403, "writes with a token are disabled: set api-token-env in the monitor's config")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not _same_secret(value.strip(), token):
            raise refuse(401, "give the API token as Authorization: Bearer TOKEN", True)

    async def _csrf(self, request, session, api: bool) -> None:
        refuse = (lambda m: _json_refusal(403, m)) if api else (lambda m: _text_refusal(403, m))
        # Another site's page (a sibling port on this host is "same-site") never posts here.
        # Origin is "null" for our own forms under Referrer-Policy: no-referrer; then the
        # browser's Sec-Fetch-Site and the token decide.
        origin = request.headers.get("Origin")
        if request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site") or \
                (origin not in (None, "null") and origin != f"{request.scheme}://{request.host}" and
                 not self._proxied_origin(request, origin)):
            raise refuse("cross-site request refused")
        if session is None:
            raise refuse("no session: load the page again (cookies must be on)")
        given = request.headers.get(CSRF_HEADER)
        if given is None and not api and request.content_type in ("application/x-www-form-urlencoded",
                                                                  "multipart/form-data"):
            given = (await request.post()).get(CSRF_FIELD)
        if not isinstance(given, str) or not _same_secret(given, session.csrf):
            raise refuse("missing or wrong CSRF token: load the page again and resubmit")

    def _proxied_origin(self, request, origin: str) -> bool:
        """Behind a trusted proxy the browser's origin is the proxy's public one."""
        if not self._from_proxy(request):
            return False
        host = request.headers.get("X-Forwarded-Host") or request.host
        proto = request.headers.get("X-Forwarded-Proto") or request.scheme
        return origin == f"{proto}://{host}"

    # -- logging in --
    async def check_login(self, request, name: str, password: str) -> str | None:
        """The user ``name`` when ``password`` is theirs; None otherwise (same time either way)."""
        users = dict(getattr(self.web, "users", ()) or ())
        encoded = users.get(name, DUMMY_HASH)
        if len(password) > MAX_PASSWORD:   # no such password (passwd refuses them): wrong, at the same cost
            encoded, password = DUMMY_HASH, ""
        if self._logins >= MAX_LOGINS_WAITING:
            raise Busy("too many logins at once; try again in a few seconds")
        self._logins += 1
        try:
            async with self._hashing:
                ok = await asyncio.to_thread(verify_password, password, encoded)
        finally:
            self._logins -= 1
        return name if ok and encoded is not DUMMY_HASH else None


# -- security headers ------------------------------------------------------------------------

AUTH = web.AppKey("auth", Auth)   # the app's Auth (tests set its clock)


async def add_security_headers(request, response) -> None:
    """An ``on_response_prepare`` signal: the CSP, nosniff, no-referrer and frame refusal on
    every answer (errors and streams too), ``Cache-Control: no-store`` on all but ``/static/``."""
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"


# -- the login page ------------------------------------------------------------------------------

def _next_path(value) -> str:
    """Where to go after logging in: a path of this site only (never ``//host`` or a URL)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value \
            or not value.isprintable() or len(value) > 2000:
        return "/"
    return value


def add_login_routes(app, auth: Auth, render) -> None:
    """``GET/POST /login`` and ``POST /logout``. ``render(name, **values)`` is the app's
    template renderer (autoescaped): ``login.html`` gets ``csrf_token``, ``next``, ``error``,
    ``user``."""
    def page(request, session, error: str = "", status: int = 200):
        body = render("login.html", csrf_token=session.csrf if session else "", error=error,
                      next=_next_path(request.query.get("next") or request.get(_NEXT)),
                      user=request.get(USER), proxy=bool(getattr(auth.web, "proxy_header", None)))
        return web.Response(text=body, status=status, content_type="text/html")

    async def login_form(request):
        session = request.get(SESSION)
        if session is None:
            session = request[_FRESH] = auth.sessions.new(None, auth._clock(), VISITOR_LIFETIME)
            request[SESSION] = session
        if request.get(USER) is not None and auth.login_required:
            raise web.HTTPSeeOther(_next_path(request.query.get("next")))
        return page(request, session)

    async def login(request):
        form = await request.post()
        name, password = form.get("user"), form.get("password")
        request[_NEXT] = form.get("next")
        session = request[SESSION]
        client = request.remote or "?"
        now = auth._clock()
        wait = auth.limiter.wait(client, now)
        if wait > 0:
            return page(request, session, f"Too many failed logins from your address; try again in "
                                          f"{int(wait) + 1} s.", 429)
        if not isinstance(name, str) or not isinstance(password, str) or not auth.login_required:
            return page(request, session, "Give a user name and a password.", 400)
        # Counted as a failure before the hash is checked, so parallel guesses from one address
        # cannot all start before the first of them counts; a success clears the count.
        auth.limiter.failed(client, now)
        try:
            user = await auth.check_login(request, name.strip(), password)
        except Busy as exc:
            auth.limiter.forget(client, now)   # never checked: not a failure
            return page(request, session, str(exc), 503)
        if user is None:
            return page(request, session, "Wrong user name or password.", 401)
        auth.limiter.succeeded(client)
        auth.sessions.drop(session.id)        # a new id at login: no fixation
        fresh = request[_FRESH] = auth.sessions.new(user, auth._clock(), auth.lifetime())
        request[SESSION], request[USER] = fresh, user
        return web.Response(status=303, headers={"Location": _next_path(form.get("next"))})

    async def logout(request):
        session = request.get(SESSION)
        if session is not None:
            auth.sessions.drop(session.id)
        response = web.Response(status=303, headers={"Location": "/login"})
        auth.set_cookie(request, response, None)
        return response

    async def whoami(request):
        """``GET /api/session``: who is logged in and the session's CSRF token, for a page's
        fetch() writes (``X-CSRF-Token``); other sites cannot read it (no CORS)."""
        import json

        return web.Response(text=json.dumps({"user": current_user(request), "csrf_token": csrf_token(request),
                                              "login": auth.login_required}),
                            content_type="application/json")

    app.router.add_get("/api/session", whoami)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
