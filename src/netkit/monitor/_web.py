"""The monitor's HTTP side: ``/metrics``, a blackbox-compatible ``/probe``, the JSON ``/api``,
and the dashboard's pages (``_dash``).

``make_app(monitor)`` builds an :mod:`aiohttp.web` application; ``serve(app)`` runs it on
127.0.0.1 (safe by default: exposing it is a choice, ``host="0.0.0.0"``).

The monitor protocol -- what the app reads from the object the runner hands it; nothing
else is touched, so a test's FakeMonitor is a few lines:

``monitor.location``      this monitor's location (str)
``monitor.config``        the ``_config.Config``: ``.targets`` (each with ``.id`` and ``.info``
                          a TargetInfo), ``.modules`` ({name: Module}, ``[module.NAME]``),
                          ``.settings.api_token`` (str or None: the value of the variable
                          ``api-token-env`` names). Read at every request, so a reloaded
                          config takes effect at once.
``monitor.states()``      {target id: TargetState} of this location
``monitor.last_samples()`` {target id: Sample}: each target's newest run here
``monitor.verdicts()``    {target id: Verdict} (empty on a monitor that is not the leader)
``monitor.stats()``       {key: number}, each optional: ``checks_total``, ``missed_total``,
                          ``expired_total``, ``in_flight``, ``queue``, ``checks_per_second``,
                          ``lateness_p50``/``_p99``/``_max``/``_sum``/``_count`` (seconds),
                          ``store_commit_p50``/``_p99``/``_max``/``_sum``/``_count`` (seconds)
``monitor.store``         the Store (None until open: API reads answer 503); called only
                          on the app's one store thread
``monitor.probe(spec, verbose)`` awaitable CheckResult: runs one check now (the runner's
                          resolver and limits); the app bounds its time and concurrency

Why aiohttp: the monitor needs an async HTTP *client* too (webhooks, Alertmanager), and
aiohttp is both, in one dependency, on the runner's own event loop (no second server
thread). Measured on this 2-core machine (shared with other work, so noisy): /metrics of
10,000 targets x 5 series (5.5 MB), 20 sequential scrapes over loopback, two rounds each:
aiohttp.web 3.14 median 52 / 77 ms (best 45 ms); Starlette 1.10 on uvicorn 0.55 median
78 / 53 ms (best 46 ms). The same within noise: the time is the rendering (~45 ms,
``_metrics``; prometheus_client's registry took ~500 ms for the same series). So the
framework is chosen for its client, not for speed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from netkit.core.errors import UsageError
from netkit.core.text import for_terminal
from netkit.monitor._api import add_routes, json_error
from netkit.monitor._auth import Busy
from netkit.monitor._config import DEFAULT_LISTEN
from netkit.monitor._metrics import CONTENT_TYPE, _LabelCache, render_metrics
from netkit.monitor._probe import probe_metrics, probe_spec, probe_timeout

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "MAX_PROBES_IN_FLIGHT", "Served", "make_app", "serve"]

log = logging.getLogger("netkit.monitor.web")


class _NotPeerErrors(logging.Filter):
    """Drops aiohttp's record of a malformed request (answered 400, the peer's fault): as
    aiohttp logs it, a traceback of many lines per request, which any peer could send by
    the thousand into the monitor's journal. aiohttp's other errors pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HttpProcessingError)


# The logger the HTTP protocol of serve() writes to (aiohttp's "aiohttp.server" otherwise).
_http_log = logging.getLogger("netkit.monitor.web.http")
_http_log.addFilter(_NotPeerErrors())

# The config's default address (loopback, blackbox_exporter's port): one default, not two.
DEFAULT_HOST, _, _PORT = DEFAULT_LISTEN.rpartition(":")
DEFAULT_PORT = int(_PORT)
# Probes run at once: Prometheus scraping 10,000 targets a minute asks ~170 a second, each
# taking milliseconds; a few hundred slow (timing-out) ones must not take every descriptor.
MAX_PROBES_IN_FLIGHT = 200
# Probes and store reads queued behind those: past this the answer is 503 at once, not a
# pile of waiting requests (each holds a connection and memory).
MAX_WAITING = 1000
# Store reads at once: one thread (SQLite connections belong to one thread; reads are short).
STORE_THREADS = 1
# The largest request body: an acknowledgement is a few hundred bytes of JSON.
MAX_REQUEST_BODY = 64 * 1024
# Past the probe's own timeout, the hard deadline (the check's driver enforces the timeout;
# this catches a check that does not return).
PROBE_GRACE = 1.0
# /metrics is gzipped when the scraper accepts it (Prometheus does) and it is this big:
# 10,000 targets' 5.5 MB become 160 KB at level 1 in ~50 ms on a thread (level 6: 149 KB
# in ~85 ms), which matters when Prometheus scrapes monitors in other locations.
GZIP_FROM = 64 * 1024
GZIP_LEVEL = 1
# A connection idle this long is closed, and so is one whose request head has not come
# whole by then (aiohttp's keep-alive timer runs from the connection's start; its default,
# an hour, let a slowloris client hold a descriptor per connection for that long). A
# Prometheus scraping every 15 s or more reconnects at worst: one handshake on loopback or LAN.
IDLE_TIMEOUT = 15.0
# How long serve()'s shutdown waits for requests in progress.
SHUTDOWN_TIMEOUT = 5.0


class _Limiter:
    """A semaphore with a bounded queue."""

    def __init__(self, slots: int, waiting: int):
        self._sem = asyncio.Semaphore(slots)
        self._waiting = 0
        self._max_waiting = waiting

    async def __aenter__(self):
        if self._sem.locked() and self._waiting >= self._max_waiting:
            raise Busy("too many requests waiting; try again")
        self._waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self._waiting -= 1

    async def __aexit__(self, *exc):
        self._sem.release()


@web.middleware
async def _guard(request, handler):
    """One line, never a traceback, for every error; nosniff on every answer."""
    api = request.path.startswith("/api/")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Content-Type-Options"] = "nosniff"
        raise
    except UsageError as exc:
        response = json_error(400, str(exc)) if api else web.Response(status=400, text=f"{exc}\n")
    except Busy as exc:
        response = (json_error if api else _text_error)(503, str(exc))
    except Exception:
        log.exception("internal error answering %s %s", for_terminal(request.method), for_terminal(request.path))
        response = (json_error if api else _text_error)(500, "internal error; the monitor's log has the details")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _text_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def make_app(monitor) -> web.Application:
    """The web application over ``monitor`` (see the module docstring for its protocol)."""
    from netkit.monitor._actions import add_action_routes
    from netkit.monitor._auth import Auth, add_login_routes, add_security_headers
    from netkit.monitor._dash import add_dash_routes

    app = web.Application(middlewares=[_guard], client_max_size=MAX_REQUEST_BODY)
    auth = Auth(monitor)
    auth.install(app)                       # login, sessions, CSRF: after _guard (inside it)
    app.on_response_prepare.append(add_security_headers)
    labels = _LabelCache()
    probes = _Limiter(MAX_PROBES_IN_FLIGHT, MAX_WAITING)
    reads = _Limiter(STORE_THREADS, MAX_WAITING)
    executor = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="netkit-web-store")

    async def store_call(method: str, *args):
        store = monitor.store
        if store is None:       # the runner opens it as it starts
            raise Busy("the store is not open yet; try again")
        async with reads:
            return await asyncio.get_running_loop().run_in_executor(executor, getattr(store, method), *args)

    async def metrics(request):
        body = render_metrics(monitor, labels).encode("utf-8", "replace")
        headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("Accept-Encoding", "").lower() and len(body) >= GZIP_FROM:
            import gzip

            body = await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def probe(request):
        query = request.query
        target = query.get("target")
        if not target:
            return _text_error(400, "Target parameter is missing")
        name = query.get("module", "http_2xx")
        module = monitor.config.modules.get(name)
        if module is None:
            return _text_error(400, f"Unknown module {name[:100]!r}")
        timeout = probe_timeout(module, request.headers.get("X-Prometheus-Scrape-Timeout-Seconds"))
        debug = query.get("debug", "").lower() == "true"
        started = time.perf_counter()
        spec = result = None
        try:
            spec = probe_spec(module, target, timeout)
        except UsageError as exc:
            why = f"bad target: {exc}"
        else:
            try:
                async with asyncio.timeout(timeout + PROBE_GRACE), probes:
                    result = await monitor.probe(spec, debug)
                why = result.summary
            except TimeoutError:
                why = f"no answer within {timeout:g} s"
            except Exception:   # a bug met by one probe fails that probe (as blackbox), not the scrape
                log.exception("internal error probing %s with module %s", for_terminal(spec.target.text),
                              for_terminal(module.name))
                why = "internal error; the monitor's log has the details"
        text = probe_metrics(module, spec, result, time.perf_counter() - started)
        if debug:
            text = _debug_page(module, spec, result, why, text)
        return web.Response(body=text.encode("utf-8", "replace"), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/probe", probe)
    add_routes(app, monitor, store_call)
    add_login_routes(app, auth, render)
    add_action_routes(app, monitor, store_call)
    add_dash_routes(app, monitor, store_call)   # the dashboard's pages: /, /target, /events, /status

    async def stop_executor(app):
        executor.shutdown(wait=True, cancel_futures=True)

    app.on_cleanup.append(stop_executor)
    return app


def render(name: str, **values) -> str:
    """The template ``templates/NAME`` rendered with ``values`` (autoescaped: a name from the
    config or a peer is text, never markup)."""
    return _templates().get_template(name).render(**values)


def _templates():
    global _ENV
    if _ENV is None:
        import os

        import jinja2

        here = os.path.join(os.path.dirname(__file__), "templates")
        _ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(here), autoescape=True,
                                  undefined=jinja2.StrictUndefined)
    return _ENV


_ENV = None


def _debug_page(module, spec, result, why: str, metrics: str) -> str:
    """blackbox's ``debug=true`` page: the dialogue (masked), the metrics, the module."""
    from netkit.core.secrets import mask_url

    lines = ["Logs for the probe:"]
    if spec is not None:
        lines.append(f"* probing {for_terminal(mask_url(spec.target.text))} with module {module.name}, "
                     f"timeout {spec.get('timeout'):g} s")
    lines.extend(for_terminal(line) for line in (result.dialogue or () if result is not None else ()))
    lines.append(f"* {for_terminal(why)}")
    options = ", ".join(sorted(module.opts)) or "(none)"
    return ("\n".join(lines) + "\n\n\n\nMetrics that would have been returned:\n" + metrics +
            f"\n\n\nModule configuration:\nprober: {module.prober}\noptions: {options}\n")


@dataclass
class Served:
    """A running server: ``port`` is the bound port (useful with port 0)."""

    runner: web.AppRunner
    host: str
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                access_log: logging.Logger | None = None) -> Served:
    """Start serving ``app`` on ``host:port`` in the running loop; ``await served.close()``
    stops it. No access log by default (a probe a target a minute is 10,000 lines a minute)."""
    runner = web.AppRunner(app, access_log=access_log, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT,
                           keepalive_timeout=IDLE_TIMEOUT, logger=_http_log)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another "
                         f"address or port") from None
    return Served(runner, host, runner.addresses[0][1])
