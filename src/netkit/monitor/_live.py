"""The dashboard's live stream: ``/events``, server-sent events of the rows whose state
changed, so an open overview or target page follows without a reload.

The runner's ``subscribe(callback)`` hands over each result that changed a state: the row's
new state goes to every client's queue at once. A sweep every :data:`SWEEP_SECONDS` compares
every target's shown state with what was last sent, and catches what no state event
announces (the decider's verdicts, a reload), with the counts per state. A row is sent when
its state, last result, soft flag or problem summary changes, never for a new duration, so
10,000 targets checked every minute send nothing while nothing changes.

Queues are bounded: a client :data:`SSE_QUEUE` messages behind is dropped (its browser
reconnects and loads the page anew), never waited for; a write that does not finish in
:data:`SSE_WRITE_TIMEOUT` drops it too. Everything sent is JSON the page inserts as text.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web

__all__ = ["Live", "PENDING", "STATUS_TEXT", "display_status", "row_data"]

log = logging.getLogger("netkit.monitor.web")

STATUS_TEXT = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
PENDING = -1     # no result yet
# Live clients at once: each holds a connection and a queue; 50 dashboards is the bar.
MAX_SSE_CLIENTS = 500
# Messages a client may lag behind: a burst of 10,000 changes at once drops the slow
# client (its browser reconnects and reloads the page) instead of queueing megabytes.
SSE_QUEUE = 2000
SSE_HEARTBEAT = 15.0
# A write to a client that does not read for this long drops it.
SSE_WRITE_TIMEOUT = 10.0
SWEEP_SECONDS = 2.0


def display_status(tid, verdicts, states) -> int:
    """The verdict's status (what alerts are about), else this location's hard status,
    else PENDING."""
    verdict = verdicts.get(tid)
    if verdict is not None:
        return int(verdict.status)
    state = states.get(tid)
    if state is None or state.last_result is None:
        return PENDING
    return int(state.hard_status)


class _Client:
    __slots__ = ("queue", "task")

    def __init__(self, task):
        self.queue: asyncio.Queue = asyncio.Queue(SSE_QUEUE)
        self.task = task


class Live:
    """The ``/events`` clients and what is sent to them."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.clients: set[_Client] = set()
        self.shown: dict[str, tuple] = {}
        self.counts: dict = {}
        self.dropped = 0
        self.closed = False
        self.loop = None

    def message(self, tid: str) -> tuple:
        monitor = self.monitor
        states, samples, verdicts = monitor.states(), monitor.last_samples(), monitor.verdicts()
        status = display_status(tid, verdicts, states)
        state, sample = states.get(tid), samples.get(tid)
        last = STATUS_TEXT[state.status] if state is not None and state.last_result is not None else ""
        soft = bool(state is not None and state.last_result is not None and state.status != state.hard_status)
        # No duration: it changes at every run, and a row is sent only when its state does.
        return status, last, soft, sample.summary if sample is not None and sample.status != 0 else ""

    def publish(self, kind: str, data: dict) -> None:
        if not self.clients:
            return
        payload = f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        for client in list(self.clients):
            try:
                client.queue.put_nowait(payload)
            except asyncio.QueueFull:   # too slow: dropped, never waited for
                self.drop(client)

    def drop(self, client: _Client) -> None:
        self.dropped += 1
        self.clients.discard(client)
        client.task.cancel()

    def changed(self, tid: str) -> None:
        if self.closed or not self.clients:
            return
        shown = self.message(tid)
        if self.shown.get(tid) != shown:
            self.shown[tid] = shown
            self.publish("row", row_data(tid, shown))

    def on_events(self, tid, events) -> None:
        """The runner's subscriber: on the loop it runs on (a test may run the app's in
        another thread: then handed over)."""
        loop = self.loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.changed(tid)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self.changed, tid)

    def sweep(self) -> None:
        if not self.clients:
            self.shown.clear()
            return
        monitor = self.monitor
        counts: dict[int, int] = {}
        states, verdicts = monitor.states(), monitor.verdicts()
        for target in monitor.config.targets:
            status = display_status(target.id, verdicts, states)
            counts[status] = counts.get(status, 0) + 1
        for target in monitor.config.targets:
            if self.shown.get(target.id, "unseen") == "unseen":
                self.shown[target.id] = self.message(target.id)   # the page has it already
                continue
            self.changed(target.id)
        named = {("PENDING" if s == PENDING else STATUS_TEXT[s]): n for s, n in counts.items()}
        if named != self.counts:
            self.counts = named
            self.publish("counts", named)

    async def sweep_loop(self) -> None:
        self.loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                self.sweep()
            except Exception:   # noqa: BLE001 -- a reload mid-sweep: the next one sees it whole
                log.debug("dashboard sweep failed", exc_info=True)

    async def handler(self, request):
        """``GET /events``: the stream, until the client goes, falls behind or the app stops."""
        if len(self.clients) >= MAX_SSE_CLIENTS:
            raise web.HTTPServiceUnavailable(text="too many live dashboards open; try again later\n")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        client = _Client(asyncio.current_task())
        self.clients.add(client)
        try:
            await response.write(b"retry: 3000\n\n")
            while True:
                try:
                    async with asyncio.timeout(SSE_HEARTBEAT):
                        payload = await client.queue.get()
                except TimeoutError:
                    payload = b": keep-alive\n\n"
                async with asyncio.timeout(SSE_WRITE_TIMEOUT):
                    await response.write(payload)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self.clients.discard(client)
        return response


def row_data(tid: str, shown: tuple) -> dict:
    status, last, soft, summary = shown
    return {"id": tid, "s": status, "t": "PENDING" if status == PENDING else STATUS_TEXT[status],
            "last": last, "soft": soft, "sum": summary}
