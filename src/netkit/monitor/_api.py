"""The JSON API: targets, their state and history, incidents, events, uptime; acknowledgements.

Reads of the running monitor (``/api/targets``, ``/api/targets/{id}``) come from its memory;
reads of history go to the store on the app's one store thread (the store is blocking;
the event loop never waits on a disk). Every answer is JSON (``application/json``), errors
too: ``{"error": "one line"}``.

Writes need ``Authorization: Bearer <token>`` with the token the config names
(``api-token-env``; the body's ``author`` is the author), or a dashboard session and its
CSRF token in ``X-CSRF-Token`` (the logged-in user is the author; see ``_auth``):

``POST   /api/targets/{id}/ack``          ``{"author", "comment", "sticky"}``: acknowledge a problem
``DELETE /api/targets/{id}/ack``          clear it
``POST   /api/targets/{id}/maintenance``  ``{"minutes": 30}`` or ``{"until": "2026-12-24T18:00"}``
                                        (epoch seconds or ISO 8601), ``"comment"``: a window
                                        from now (201, the window with its ``id``)
``GET    /api/maintenance``               the runtime windows open or to come
``DELETE /api/maintenance/{window id}``   remove one
``POST   /api/targets/{id}/pause``        ``{"comment"}``: not checked, no alerts, until
``DELETE /api/targets/{id}/pause``        resumed
``GET    /api/paused``                    the paused targets

A target's document says ``"paused"`` (null or who and when) and ``"maintenance"`` (its
runtime windows).

A target's id goes in the path percent-encoded (ids are often URLs:
``/api/targets/https%3A%2F%2Fshop.example%2F/history``). Times in queries: epoch seconds (``since=1764800000``) or an age (``since=24h``: 24 hours
ago; units s, m, h, d).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time

from aiohttp import web

from netkit.core.errors import UsageError
from netkit.core.text import is_digits
from netkit.monitor import _actions as actions
from netkit.monitor._actions import ActionError

__all__ = ["add_routes"]

# Rows one history/events answer holds at most: a month of one-minute samples is 43,200;
# an answer past this asks for paging (until=) rather than a response of hundreds of MiB.
MAX_ROWS = 10_000
DEFAULT_ROWS = 1_000
# History asked for without since= covers this much (a day).
DEFAULT_SPAN = 86_400.0
# A target id in a path: any text but "/" (aiohttp's default, [^{}/]+, made a target whose
# name holds a brace unreachable: the config allows any printable name).
_TARGET = "/api/targets/{id:[^/]+}"
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def json_response(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, default=str, separators=(",", ":")), status=status,
                        content_type="application/json")


def json_error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


def _time(query, name: str, default: float, now: float) -> float:
    text = query.get(name)
    if text is None or text == "":
        return default
    age = _AGE.fullmatch(text)
    if age:
        return now - float(age[1]) * _UNITS[age[2]]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1e11:
        raise UsageError(f"{name} must be epoch seconds or an age like 24h (s, m, h, d), got {text[:40]!r}")
    return value


def _limit(query) -> int:
    text = query.get("limit")
    if text is None:
        return DEFAULT_ROWS
    if not (is_digits(text) and len(text) <= 6) or not 1 <= int(text) <= MAX_ROWS:
        raise UsageError(f"limit must be a whole number from 1 to {MAX_ROWS}, got {text[:40]!r}")
    return int(text)


def _plain(record):
    """A record as JSON-able data (None stays None)."""
    if record is None:
        return None
    if hasattr(record, "to_dict"):
        return record.to_dict()
    return dataclasses.asdict(record)


def _target_doc(monitor, target, states, samples, verdicts, windows, *, dialogue: bool = True) -> dict:
    """A target's document (``windows``: :func:`_windows_by_target`'s); the list leaves each
    last run's dialogue out (up to 64 KiB each: 10,000 failing targets would make an answer
    of hundreds of MiB)."""
    info = target.info
    verdict = _plain(verdicts.get(target.id))
    if verdict is not None:
        verdict["locations"] = dict(verdict["locations"])
    return {"id": target.id, "url": info.url, "group": info.group, "labels": dict(info.labels),
            "interval": info.interval, "location": monitor.location,
            "state": _plain(states.get(target.id)), "verdict": verdict, "last": _last(samples.get(target.id), dialogue),
            "paused": _paused(monitor).get(target.id),
            "maintenance": windows.get(target.id, [])}


def _last(sample, dialogue: bool):
    last = _plain(sample)
    if last is not None and not dialogue:
        last.pop("dialogue", None)
    return last


def _paused(monitor) -> dict:
    return monitor.paused() if hasattr(monitor, "paused") else {}


def _windows(monitor) -> list:
    return monitor.windows() if hasattr(monitor, "windows") else []


def _windows_by_target(monitor) -> dict[str, list]:
    """The runtime windows by target, grouped once per answer (the list of 10,000 targets
    does not scan 10,000 windows for each)."""
    by_target: dict[str, list] = {}
    for window in _windows(monitor):
        by_target.setdefault(window["target"], []).append(window)
    return by_target


def _find(monitor, tid: str):
    for target in monitor.config.targets:
        if target.id == tid:
            return target
    raise web.HTTPNotFound(text=json.dumps({"error": f"no target {tid!r} in the config"}),
                           content_type="application/json")


def add_routes(app: web.Application, monitor, store_call) -> None:
    """Add the API's routes. ``store_call(method name, *args)`` runs a store method on the
    store thread. Who may write is decided before a handler runs (``_auth``'s gate sets
    ``_auth.VIA``: "token", "session" or "proxy", and ``_auth.USER``)."""
    from netkit.monitor._auth import USER, VIA


    async def targets(request):
        states, samples, verdicts = monitor.states(), monitor.last_samples(), monitor.verdicts()
        windows = _windows_by_target(monitor)
        return json_response([_target_doc(monitor, t, states, samples, verdicts, windows, dialogue=False)
                              for t in monitor.config.targets])

    async def target(request):
        t = _find(monitor, request.match_info["id"])
        return json_response(_target_doc(monitor, t, monitor.states(), monitor.last_samples(), monitor.verdicts(),
                                         _windows_by_target(monitor)))

    async def history(request):
        t = _find(monitor, request.match_info["id"])
        now = time.time()
        until = _time(request.query, "until", now, now)
        since = _time(request.query, "since", until - DEFAULT_SPAN, now)
        rows = await store_call("history", t.id, since, until, _limit(request.query))
        return json_response([_plain(s) for s in rows])

    def _target_filter(request):
        tid = request.query.get("target")
        return None if tid is None else _find(monitor, tid).id

    async def incidents(request):
        now = time.time()
        since = _time(request.query, "since", now - DEFAULT_SPAN, now)
        return json_response(await store_call("incidents", _target_filter(request), since))

    async def events(request):
        now = time.time()
        since = _time(request.query, "since", now - DEFAULT_SPAN, now)
        rows = await store_call("events", _target_filter(request), since, _limit(request.query))
        return json_response([_plain(e) for e in rows])

    async def uptime(request):
        now = time.time()
        until = _time(request.query, "until", now, now)
        since = _time(request.query, "since", until - DEFAULT_SPAN, now)
        return json_response(await store_call("uptime", since, until, _target_filter(request)))

    def author(request, body) -> str | None:
        """The logged-in user; through the token, the body's author."""
        return body.get("author") if request.get(VIA) == "token" else request.get(USER)

    def write(action):
        async def answer(request):
            body = await _json_body(request) if request.method == "POST" else {}
            try:
                result = await action(request, body)
            except ActionError as exc:
                return json_error(exc.status, str(exc))
            return json_response(result, 201 if request.method == "POST" and "id" in result else 200)

        return answer

    async def ack(request, body):
        return await actions.acknowledge(monitor, store_call, request.match_info["id"], author(request, body),
                                         body.get("comment", ""), body.get("sticky", False))

    async def unack(request, body):
        return await actions.unacknowledge(monitor, store_call, request.match_info["id"])

    async def maintenance(request, body):
        return await actions.add_window(monitor, store_call, request.match_info["id"], author(request, body),
                                        body.get("comment", ""), body.get("minutes"), body.get("until"))

    async def unmaintenance(request, body):
        return await actions.remove_window(monitor, store_call, request.match_info["wid"])

    async def pause(request, body):
        return await actions.pause(monitor, store_call, request.match_info["id"], author(request, body),
                                   body.get("comment", ""))

    async def resume(request, body):
        return await actions.resume(monitor, store_call, request.match_info["id"])

    async def windows(request):
        return json_response(_windows(monitor))

    async def paused(request):
        return json_response(_paused(monitor))

    app.router.add_post(_TARGET + "/ack", write(ack))
    app.router.add_delete(_TARGET + "/ack", write(unack))
    app.router.add_post(_TARGET + "/maintenance", write(maintenance))
    app.router.add_post(_TARGET + "/pause", write(pause))
    app.router.add_delete(_TARGET + "/pause", write(resume))
    app.router.add_get("/api/maintenance", windows)
    app.router.add_delete("/api/maintenance/{wid}", write(unmaintenance))
    app.router.add_get("/api/paused", paused)
    app.router.add_get("/api/targets", targets)
    app.router.add_get(_TARGET, target)
    app.router.add_get(_TARGET + "/history", history)
    app.router.add_get("/api/incidents", incidents)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/uptime", uptime)


async def _json_body(request) -> dict:
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge as exc:    # aiohttp's answer is text; ours is JSON
        raise web.HTTPRequestEntityTooLarge(0, text=json.dumps({"error": f"the body is too large: {exc.text}"}),
                                            content_type="application/json") from None
    except (ValueError, UnicodeDecodeError, RecursionError):    # RecursionError: [[[[... nested deep
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": 'the body must be a JSON object, e.g. '
                                                           '{"author": "alice", "comment": "on it"}'}),
                                 content_type="application/json")
    return body
