"""The dashboard's writes: acknowledge and unacknowledge a problem, add and remove a
maintenance window at runtime, pause and resume a target.

Each action is one function here, used by both fronts: the HTML forms (``POST /actions/...``,
form-encoded, answered with a redirect back) and the JSON API (``_api``). Who may call them
is decided before they run (``_auth``: a session and its CSRF token, or the API's token);
the author of an acknowledgement, window or pause is the logged-in user (``local`` on a
loopback dashboard without login), or, through the API's token, the body's ``author``.

Forms (every one takes ``csrf_token`` and an optional ``next``, a path to go back to):

``/actions/ack``                 ``target``, ``comment``, ``sticky`` (checkbox: lasts until recovery)
``/actions/unack``               ``target``
``/actions/maintenance``         ``target``, ``minutes`` or ``duration`` ("30m", "4h": from
                                 now) or ``until`` (a time: ISO 8601, the monitor's local time
                                 without an offset, or epoch seconds), ``comment``
``/actions/maintenance/remove``  ``id``
``/actions/pause``               ``target``, ``comment``
``/actions/resume``              ``target``

A runtime window suppresses alerts as a config window does, is stored (every monitor sharing
the store sees it) and is gone once it ends. A paused target is not checked and alerts
nothing until resumed.
"""

from __future__ import annotations

import secrets
import time

from netkit.core.errors import UsageError
from netkit.monitor._state import (
    MAX_ACK_TEXT,  # comments and authors: as acknowledgements keep them
)

__all__ = ["ActionError", "acknowledge", "add_action_routes", "add_window", "pause", "remove_window", "resume",
           "unacknowledge", "window_span"]

# A runtime window lasts at most this long: a month of silence is a decision for the config
# (or a pause), not a click.
MAX_WINDOW = 31 * 86400.0
# Runtime windows at once, over all targets: each is checked at every result of its target.
MAX_WINDOWS = 10_000


class ActionError(UsageError):
    """An action refused: ``status`` is the HTTP status (400 a mistake, 404 no such target
    or window, 409 nothing to do), the message one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def find_target(monitor, tid) -> str:
    if isinstance(tid, str):
        for target in monitor.config.targets:
            if target.id == tid:
                return target.id
    raise ActionError(404, f"no target {str(tid)[:200]!r} in the config")


def _text(value, name: str, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > MAX_ACK_TEXT:
        raise ActionError(400, f"{name} must be text of at most {MAX_ACK_TEXT} characters")
    if required and (not value.strip() or any(c in value for c in "\r\n\0")):
        raise ActionError(400, f"{name} must be one non-empty line, e.g. {{\"{name}\": \"alice\"}}")
    return value


async def _changed(monitor) -> None:
    refresh = getattr(monitor, "refresh_controls", None)
    if refresh is not None:
        await refresh()


async def acknowledge(monitor, store_call, tid, author, comment="", sticky=False) -> dict:
    tid = find_target(monitor, tid)
    author, comment = _text(author, "author", True), _text(comment, "comment")
    if not isinstance(sticky, bool):
        raise ActionError(400, "sticky must be true or false")
    verdict, state = monitor.verdicts().get(tid), monitor.states().get(tid)
    if (verdict.status if verdict is not None else state.hard_status if state is not None else 0) == 0:
        raise ActionError(409, f"{tid} is OK: there is no problem to acknowledge")
    await store_call("acknowledge", tid, time.time(), author, comment, sticky)
    return {"target": tid, "acknowledged": True}


async def unacknowledge(monitor, store_call, tid) -> dict:
    tid = find_target(monitor, tid)
    await store_call("unacknowledge", tid, time.time())
    return {"target": tid, "acknowledged": False}


def window_span(minutes=None, until=None, now: float | None = None) -> tuple[float, float]:
    """(start, end) of a window from now: ``minutes`` (a number) or ``until`` (epoch seconds,
    or ISO 8601; without an offset, the monitor's local time)."""
    now = time.time() if now is None else now
    if (minutes in (None, "")) == (until in (None, "")):
        raise ActionError(400, "give minutes (e.g. 30) or until (e.g. 2026-12-24T18:00), one of them")
    if minutes not in (None, ""):
        try:
            value = float(minutes) if not isinstance(minutes, bool) else float("nan")
        except (TypeError, ValueError):
            value = float("nan")
        if not 1 <= value <= MAX_WINDOW / 60:
            raise ActionError(400, f"minutes must be a number from 1 to {MAX_WINDOW / 60:g}, got {str(minutes)[:40]!r}")
        return now, now + value * 60
    end = _instant(until)
    if not now < end <= now + MAX_WINDOW:
        raise ActionError(400, f"until must be a time in the next {MAX_WINDOW / 86400:g} days, got {str(until)[:40]!r}")
    return now, end


def _instant(value) -> float:
    from datetime import datetime

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(text).timestamp()   # naive: local time
        except ValueError:
            pass
    raise ActionError(400, f"until must be ISO 8601 (2026-12-24T18:00, +01:00 or Z for a zone) or epoch seconds, "
                           f"got {str(value)[:40]!r}")


async def add_window(monitor, store_call, tid, author, comment="", minutes=None, until=None) -> dict:
    tid = find_target(monitor, tid)
    author, comment = _text(author, "author", True), _text(comment, "comment")
    start, end = window_span(minutes, until)
    windows = monitor.windows() if hasattr(monitor, "windows") else []
    if len(windows) >= MAX_WINDOWS:
        raise ActionError(409, f"{MAX_WINDOWS} maintenance windows are open or coming; remove some first")
    window = {"id": secrets.token_hex(8), "target": tid, "start": start, "end": end, "author": author,
              "comment": comment, "created": start}
    await store_call("add_window", window["id"], tid, start, end, author, comment, start)
    await _changed(monitor)
    return window


async def remove_window(monitor, store_call, wid) -> dict:
    if not isinstance(wid, str) or not wid or len(wid) > 64 or not wid.isalnum():
        raise ActionError(404, "no such maintenance window")
    if not await store_call("remove_window", wid):
        raise ActionError(404, "no such maintenance window (it may have ended)")
    await _changed(monitor)
    return {"id": wid, "removed": True}


async def pause(monitor, store_call, tid, author, comment="") -> dict:
    tid = find_target(monitor, tid)
    author, comment = _text(author, "author", True), _text(comment, "comment")
    await store_call("pause", tid, time.time(), author, comment)
    await _changed(monitor)
    return {"target": tid, "paused": True}


async def resume(monitor, store_call, tid) -> dict:
    tid = find_target(monitor, tid)
    await store_call("resume", tid)
    await _changed(monitor)
    return {"target": tid, "paused": False}


# -- the forms -------------------------------------------------------------------------------

def add_action_routes(app, monitor, store_call) -> None:
    """``POST /actions/...`` (see the module docstring): each answers 303 to ``next`` (a
    path of this site; default the target's page or ``/``), or a one-line error page."""
    from aiohttp import web

    from netkit.monitor._auth import USER, _next_path

    def back(form, tid=None):
        default = f"/target/{_quote(tid)}" if tid else "/"
        nxt = form.get("next")
        return web.Response(status=303, headers={"Location": _next_path(nxt) if nxt else default})

    def handler(action):
        async def answer(request):
            form = await request.post()
            user = request.get(USER)
            if not user:   # the gate lets a form through with a session only; belt and braces
                raise web.HTTPForbidden(text="log in first\n")
            try:
                await action(form, user)
            except ActionError as exc:
                return web.Response(status=exc.status, text=f"{exc}\n")
            return back(form, form.get("target"))

        return answer

    async def do_ack(form, user):
        await acknowledge(monitor, store_call, form.get("target"), user, form.get("comment", ""),
                          form.get("sticky") in ("on", "true", "1"))

    async def do_unack(form, user):
        await unacknowledge(monitor, store_call, form.get("target"))

    async def do_window(form, user):
        minutes = form.get("minutes") or None
        if form.get("duration"):
            minutes = _minutes(form.get("duration"))
        await add_window(monitor, store_call, form.get("target"), user, form.get("comment", ""),
                         minutes, form.get("until") or None)

    async def do_remove(form, user):
        await remove_window(monitor, store_call, form.get("id"))

    async def do_pause(form, user):
        await pause(monitor, store_call, form.get("target"), user, form.get("comment", ""))

    async def do_resume(form, user):
        await resume(monitor, store_call, form.get("target"))

    for path, action in (("ack", do_ack), ("unack", do_unack), ("maintenance", do_window),
                         ("maintenance/remove", do_remove), ("pause", do_pause), ("resume", do_resume)):
        app.router.add_post(f"/actions/{path}", handler(action))


def _minutes(text) -> float:
    from netkit.monitor._fields import duration

    try:
        return duration(60.0, MAX_WINDOW)(text) / 60
    except ValueError as exc:
        raise ActionError(400, f"duration {exc}, e.g. 30m or 4h") from None


def _quote(tid) -> str:
    from urllib.parse import quote

    return quote(str(tid), safe="")
