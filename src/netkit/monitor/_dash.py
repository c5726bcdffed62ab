"""The dashboard's pages: the overview ``/``, a target's page ``/target/{id}``, the live
stream ``/events`` (server-sent events) and the public status page ``/status[/{group}]``.

Fast at any size, by never doing per request what can be done once a minute:

* The overview reads the runner's memory (states, verdicts, last samples: no store call)
  and streams: the page's head goes out before anything is computed, then the counts,
  then the rows in chunks, worst first. A row is one small ``<div>`` written by
  :func:`_row` (plain Python, each value escaped by markupsafe), kept while what it shows
  is the same objects; the page around it is a jinja2 template with autoescape on. Past
  :data:`MAX_PAGE_ROWS` rows, OK rows are left out (problems never are) unless asked for.
* The public status page is rendered at most once in :data:`STATUS_CACHE_SECONDS`.
* Uptime (24 h, 7 d, 30 d of every target), sparklines (24 hourly averages) and the status
  page's day bars come from :class:`_Cache`, refreshed in the background on its own store
  thread (a minute for uptime, ten for rollups) from the first page asked for on, never on
  a request's path (the first page shows dashes until the first round is in).
* A target's page reads rollups (minutes for 1 h and 24 h, hours for 7 d and 30 d), so 30
  days is 720 rows, as fast as one hour; only the not yet folded tail comes from raw rows.

Live: ``/events``, server-sent events of rows whose state changed (``_live``).

Nothing here writes: actions (acknowledge, maintenance, pause) are plain forms POSTing to
``/actions/...`` with the ``csrf_token`` the auth layer puts in ``request["csrf_token"]``.
The status page shows no URLs, labels, summaries or dialogues: a target's public name is
its id unless the id is its URL (then "GROUP service N").
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp import web
from markupsafe import Markup, escape

from netkit.monitor import _svg
from netkit.monitor._live import PENDING, STATUS_TEXT, Live, display_status
from netkit.monitor._metrics import controls

__all__ = ["CACHE", "LIVE", "add_dash_routes"]

log = logging.getLogger("netkit.monitor.web")

HERE = Path(__file__).parent
# Worst first: CRITICAL, UNKNOWN, WARNING, not yet checked, OK.
_RANK = {2: 0, 3: 1, 1: 2, PENDING: 3, 0: 4}
PUBLIC_TEXT = {0: "Operational", 1: "Degraded", 2: "Down", 3: "Unknown", PENDING: "Unknown"}

# Uptime of every target is read this often (a 30-day all-target query takes ~1 s at
# 10,000 targets: once a minute in the background, never per request).
UPTIME_REFRESH = 60.0
# Hour and day rollups change once an hour: their all-target read (sparklines, status
# bars) every ten minutes is fresh enough and costs a few seconds an hour at 10,000.
SERIES_REFRESH = 600.0
SPARK_HOURS = 24
STATUS_DAYS = 30
# The ranges of a target's page: seconds and the rollup step read.
RANGES = {"1h": (3600.0, "minute"), "24h": (86400.0, "minute"), "7d": (7 * 86400.0, "hour"),
          "30d": (30 * 86400.0, "hour")}
STEP_SECONDS = {"minute": 60.0, "hour": 3600.0}
# Raw rows read past the last folded bucket (a tail of minutes, or a young store's whole
# range): bounded, so a target checked every second never makes a 30-day page slow.
MAX_TAIL_SAMPLES = 5000
RECENT_RESULTS = 50
# The target page's events and alerts lists (the newest; the API pages through the rest).
MAX_EVENTS = 200
MAX_ALERTS = 100
# The public status page is rendered at most once in this many seconds (and then served
# from memory): anyone may ask for it, as often as they like.
STATUS_CACHE_SECONDS = 10.0
# Streamed pages are written in chunks of about this size.
CHUNK = 64 * 1024
# A search or filter value longer than this is cut (a query string is not a document).
MAX_FILTER = 200
# Rows on one overview page: 10,000 complete in chromium in ~0.5 s, 50,000 in ~5 s. Past
# this, OK rows are left out (problems never are) until asked for with ?all=1 or a filter.
MAX_PAGE_ROWS = 10_000
# Choices offered in the label filter at most (every value of every label could be 10,000).
MAX_LABEL_CHOICES = 300


# The app's dashboard state, for tests and benchmarks: the background cache, the live clients.
CACHE = web.AppKey("dash_cache", object)
LIVE = web.AppKey("dash_live", object)


# -- what a row shows ----------------------------------------------------------------------

def _fraction(value) -> str:
    if value is None:
        return "\u2013"
    if value >= 1:
        return "100%"
    return f"{min(value * 100, 99.99):.2f}%"


def _age(seconds: float) -> str:
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}" if unit != "d" else f"{seconds / size:.1f}d"
    return f"{seconds:.0f}s"


def _ms(seconds) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def target_href(tid: str) -> str:
    return "/target/" + quote(tid, safe="")


def _labels_text(info) -> str:
    return " ".join(f"{k}={v}" for k, v in info.labels)


def _locations(info, verdict, here: str) -> tuple:
    if verdict is not None and verdict.locations:
        return tuple(loc for loc, _ in verdict.locations)
    return tuple(info.locations) or (here,)


class _Filter:
    """The overview's filters from the query string (the same names the form's inputs
    have, so the page filters without JS)."""

    def __init__(self, query):
        def get(name):
            return query.get(name, "")[:MAX_FILTER].strip()

        self.q, self.state, self.group = get("q"), get("state").upper(), get("group")
        self.label, self.location = get("label"), get("location")
        self.all = query.get("all") == "1"
        self.active = any((self.q, self.state, self.group, self.label, self.location))

    def query(self, **more) -> str:
        """These filters (and ``more``) as a query string."""
        pairs = {"q": self.q, "state": self.state, "group": self.group, "label": self.label,
                 "location": self.location, **more}
        return urlencode({k: v for k, v in pairs.items() if v})

    def keep(self, tid, info, status, locations) -> bool:
        if self.state and (STATUS_TEXT[status] if status != PENDING else "PENDING") != self.state:
            return False
        if self.group and info.group != self.group:
            return False
        if self.label:
            name, eq, value = self.label.partition("=")
            if not any(k == name and (not eq or v == value) for k, v in info.labels):
                return False
        if self.location and self.location not in locations:
            return False
        if self.q:
            q = self.q.lower()
            if q not in tid.lower() and q not in info.group.lower() and q not in _labels_text(info).lower():
                return False
        return True


def _row(r: tuple, cache, now: float, paused=(), maintenance=(), here: str = "") -> str:
    """One overview row: ``r`` is (rank, id, info, status, state, sample, verdict, locations);
    ``paused`` and ``maintenance`` hold the ids paused and in a runtime window now; a target
    checked only ``here`` (this monitor's location) needs no data-loc.

    Small, because 10,000 of them are parsed at every load: short tags, constant classes
    unquoted, empty cells left out (the stylesheet places each cell in its column), the
    three uptimes in one cell: ~6 elements and ~260 bytes for an OK row."""
    _, tid, info, status, state, sample, verdict, locs = r
    e = escape
    text = STATUS_TEXT[status] if status != PENDING else "PENDING"
    flags = []
    if state is not None and state.last_result is not None and state.status != state.hard_status:
        flags.append(f'<i class="soft">last {STATUS_TEXT[state.status]} {state.attempt}x</i>')
    if (verdict is not None and verdict.flapping) or (state is not None and state.flapping):
        flags.append('<i class="flap">flapping</i>')
    if (verdict is not None and verdict.acked) or (state is not None and state.ack is not None):
        flags.append('<i class="ack">acknowledged</i>')
    if tid in paused:
        flags.append('<i class="paused">paused</i>')
    if tid in maintenance:
        flags.append('<i class="maint">maintenance</i>')
    up = cache.uptime_text.get(tid, ("\u2013", "\u2013", "\u2013"))
    parts = [f'<div class="r s{status}" data-id="{e(tid)}"']
    if info.labels:
        parts.append(f' data-l="{e(_labels_text(info))}"')
    if locs != (here,):
        parts.append(f' data-loc="{e(" ".join(locs))}"')
    parts.append(f'><b class=st>{text}</b><a href="{e(target_href(tid))}">{e(tid)}</a>')
    if flags:
        parts.append(f"<i class=fl>{' '.join(flags)}</i>")
    if sample is not None:
        parts.append(f"<i class=d>{_ms(sample.duration)}</i>")
    spark = cache.sparks.get(tid)
    if spark:
        parts.append(f"<i class=sp>{spark}</i>")
    parts.append(f"<i class=u>{up[0]:>6} {up[1]:>6} {up[2]:>6}</i>")
    if sample is not None and sample.cert_expiry is not None:
        days = (sample.cert_expiry - now) / 86400
        parts.append(f'<i class="c {"crit" if days < 3 else "warn" if days < 14 else "ok"}">{days:.0f}d</i>')
    if sample is not None and sample.status != 0 and sample.summary:
        parts.append(f"<i class=m>{e(sample.summary)}</i>")
    parts.append("</div>\n")
    return "".join(parts)


class _Overview:
    """The overview's data, computed when the template first asks (after the page's head
    is on its way): counts, filter choices, and the rows grouped, worst first."""

    def __init__(self, monitor, filt, cache, row_cache, now):
        self.monitor, self.filt, self.cache, self.row_cache, self.now = monitor, filt, cache, row_cache, now
        self.paused, self.maintenance = controls(monitor, now)

    @cached_property
    def _data(self):
        monitor, filt = self.monitor, self.filt
        states, samples, verdicts = monitor.states(), monitor.last_samples(), monitor.verdicts()
        counts = dict.fromkeys((2, 3, 1, PENDING, 0), 0)
        groups: dict[str, list] = {}
        labels, locations = set(), set()
        for target in monitor.config.targets:
            tid, info = target.id, target.info
            status = display_status(tid, verdicts, states)
            counts[status] += 1
            verdict = verdicts.get(tid)
            locs = _locations(info, verdict, monitor.location)
            locations.update(locs)
            if len(labels) < MAX_LABEL_CHOICES:
                labels.update(f"{k}={v}" for k, v in info.labels)
            if filt.active and not filt.keep(tid, info, status, locs):
                continue
            groups.setdefault(info.group, []).append(
                (_RANK[status], tid, info, status, states.get(tid), samples.get(tid), verdict, locs))
        ordered = []
        for name, rows in groups.items():
            rows.sort(key=lambda r: (r[0], r[1]))
            ordered.append((rows[0][0], name == "", name, rows))
        ordered.sort(key=lambda g: g[:3])
        return counts, ordered, sorted(labels), sorted(locations), self._fold(ordered)

    def _fold(self, ordered) -> int:
        """Past :data:`MAX_PAGE_ROWS` rows (and without ``all=1``), OK rows are left out
        from there on (every problem is listed, worst first): the OK targets left out."""
        if self.filt.all or sum(len(g[3]) for g in ordered) <= MAX_PAGE_ROWS:
            return 0
        budget = MAX_PAGE_ROWS - sum(1 for g in ordered for r in g[3] if r[0] != _RANK[0])
        folded = 0
        for group in ordered:
            rows = group[3]
            problems = sum(1 for r in rows if r[0] != _RANK[0])   # sorted: problems first
            keep = problems + max(min(budget, len(rows) - problems), 0)
            budget -= keep - problems
            folded += len(rows) - keep
            del rows[keep:]
        return folded

    @property
    def folded(self) -> int:
        return self._data[4]

    @property
    def all_query(self) -> str:
        return self.filt.query(all="1")

    @property
    def counts(self):
        return [(_status_text(s), n, s) for s, n in self._data[0].items()]

    @property
    def total(self):
        return sum(self._data[0].values())

    @property
    def shown(self):
        return sum(len(g[3]) for g in self._data[1])

    @property
    def labels(self):
        return self._data[2]

    @property
    def locations(self):
        return self._data[3]

    @property
    def groups(self):
        return sorted({t.info.group for t in self.monitor.config.targets if t.info.group})

    def sections(self):
        for _, _, name, rows in self._data[1]:
            if rows:
                yield name, len(rows), self._chunks(rows)

    def _chunks(self, rows):
        for start in range(0, len(rows), 200):
            yield Markup("".join(self._row(r) for r in rows[start:start + 200]))

    def _row(self, r) -> str:
        """A row from the cache while what it shows is the same objects (the runner replaces
        a target's state and sample at each run; the cache its uptime each minute)."""
        _, tid, info, status, state, sample, verdict, _ = r
        up, spark = self.cache.uptime_text.get(tid), self.cache.sparks.get(tid)
        days = None if sample is None or sample.cert_expiry is None else int((sample.cert_expiry - self.now) // 86400)
        marks = (tid in self.paused, tid in self.maintenance)
        hit = self.row_cache.get(tid)
        if hit is not None and hit[0] is state and hit[1] is sample and hit[2] is verdict and hit[3] is info \
                and hit[4] == up and hit[5] is spark and hit[6] == days and hit[7] == marks:
            return hit[8]
        html = _row(r, self.cache, self.now, self.paused, self.maintenance, self.monitor.location)
        self.row_cache[tid] = (state, sample, verdict, info, up, spark, days, marks, html)
        return html


# -- the background cache ------------------------------------------------------------------

class _Cache:
    """Every target's uptime, sparkline and day bars, read from the store in the background
    on a thread of its own (the API's store thread stays free for requests)."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.uptime_text: dict[str, tuple] = {}
        self.uptime30: dict[str, float] = {}
        self.sparks: dict[str, Markup] = {}
        self.days: dict[str, list] = {}
        self.today: dict[str, float] = {}
        self.incidents: list[dict] = []
        self.uptime_at = self.series_at = 0.0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="netkit-web-cache")
        self._complained = False
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        """Begin refreshing (at the first page asked for: a monitor whose dashboard nobody
        opens never pays for the all-target queries)."""
        if self.task is None:
            self.task = asyncio.create_task(self.run(), name="dash-cache")

    async def run(self) -> None:
        while True:
            try:
                await self.refresh(time.time())
            except asyncio.CancelledError:
                raise
            except Exception:   # a store error (disk, network) waits for the next round
                if not self._complained:
                    log.exception("dashboard: reading uptime and rollups failed; retrying every minute")
                    self._complained = True
            await asyncio.sleep(UPTIME_REFRESH)

    async def refresh(self, now: float) -> None:
        store = self.monitor.store
        if store is None:
            return
        call = asyncio.get_running_loop().run_in_executor
        windows = [await call(self._executor, store.uptime, now - span, now) for span in (86400, 7 * 86400, 30 * 86400)]
        self.uptime_text = {tid: tuple(_fraction(w.get(tid)) for w in windows) for tid in windows[2]}
        self.uptime30 = windows[2]
        self.today = await call(self._executor, store.uptime, now // 86400 * 86400, now)
        self.incidents = await call(self._executor, store.incidents, None, now - STATUS_DAYS * 86400)
        self.uptime_at = now
        if now - self.series_at >= SERIES_REFRESH:
            await self.refresh_series(store, now)

    async def refresh_series(self, store, now: float) -> None:
        call = asyncio.get_running_loop().run_in_executor
        hour = now // 3600 * 3600
        hours = await call(self._executor, store.series_all, hour - SPARK_HOURS * 3600, hour, "hour")
        first = hour - SPARK_HOURS * 3600
        sparks = {}
        for tid, rows in hours.items():
            values = [None] * SPARK_HOURS
            for at, count, failures, avg in rows:
                values[min(int((at - first) // 3600), SPARK_HOURS - 1)] = avg
            sparks[tid] = _svg.sparkline(values)
        self.sparks = sparks
        day = now // 86400 * 86400
        self.days = await call(self._executor, store.series_all, day - STATUS_DAYS * 86400, day, "day")
        self.series_at = now

    def close(self) -> None:
        """Wait for a read in progress: the store may be closed right after (a SQLite
        connection closed under a running query crashes the process)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


# -- the pages -------------------------------------------------------------------------------

def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = lambda at: "" if at is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    env.filters["age"] = _age
    env.filters["ms"] = _ms
    env.filters["href"] = target_href
    env.globals["STATUS_TEXT"] = STATUS_TEXT
    env.globals["inf"] = float("inf")
    return env


def _status_text(status) -> str:
    return "PENDING" if status is None or status == PENDING else STATUS_TEXT[int(status)]


def add_dash_routes(app: web.Application, monitor, store_call) -> None:
    """Add the dashboard's routes; ``store_call(method, *args)`` runs a store read on the
    app's store thread (see ``_web.make_app``)."""
    env = _environment()
    cache = _Cache(monitor)
    live = Live(monitor)

    async def background(app):
        live.loop = asyncio.get_running_loop()
        if hasattr(monitor, "subscribe"):
            monitor.subscribe(live.on_events)
        sweep = asyncio.create_task(live.sweep_loop(), name="dash-sweep")
        yield
        live.closed = True
        for client in list(live.clients):
            live.drop(client)
        tasks = [sweep, *([cache.task] if cache.task is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        cache.close()

    async def shutdown(app):    # before the server waits for handlers: open streams end now
        live.closed = True
        for client in list(live.clients):
            live.drop(client)

    app.cleanup_ctx.append(background)
    app.on_shutdown.append(shutdown)
    app[CACHE], app[LIVE] = cache, live

    def context(request, **more) -> dict:
        from netkit.monitor._auth import csrf_token, current_user

        return {"csrf_token": csrf_token(request), "user": current_user(request), "location": monitor.location,
                "now": time.time(),
                **more}

    async def stream(request, template: str, ctx: dict) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"})
        await response.prepare(request)
        buffer, size, head = [], 0, True
        for part in env.get_template(template).generate(ctx):
            buffer.append(part)
            size += len(part)
            if size >= CHUNK or (head and "<main>" in part):   # the head at once: CSS and JS load meanwhile
                head = False
                await response.write("".join(buffer).encode())
                await asyncio.sleep(0)   # other requests and the runner between chunks
                buffer, size = [], 0
        await response.write("".join(buffer).encode())
        await response.write_eof()
        return response

    row_cache: dict[str, tuple] = {}

    async def overview(request):
        cache.start()
        if len(row_cache) > 2 * len(monitor.config.targets):   # removed targets' rows
            row_cache.clear()
        ov = _Overview(monitor, _Filter(request.query), cache, row_cache, time.time())
        ctx = context(request, ov=ov, states=["CRITICAL", "UNKNOWN", "WARNING", "PENDING", "OK"],
                      uptime_ready=bool(cache.uptime_at), status_page=bool(_status_groups(monitor)))
        return await stream(request, "overview.html", ctx)

    async def target_page(request):
        cache.start()
        tid = request.match_info["id"]
        target = _find(monitor, tid)
        if target is None:
            raise web.HTTPNotFound(text=f"no target {tid[:200]!r} in the config\n")
        chosen = request.query.get("range", "24h")
        if chosen not in RANGES:
            chosen = "24h"
        span, step = RANGES[chosen]
        now = time.time()
        since = now - span
        series = await store_call("series", tid, since, now, step)
        step_s = STEP_SECONDS[step]
        tail_from = series[-1]["at"] + step_s if series else since
        tail = await store_call("history", tid, tail_from, now, MAX_TAIL_SAMPLES) if tail_from < now else []
        points = [(r["at"], r["avg"], r["p95"], r["max"]) for r in series]
        buckets = [(r["at"], r["count"], r["failures"]) for r in series]
        for at, durations, failures in _bin(tail, step_s):
            points.append((at, sum(durations) / len(durations), max(durations), max(durations)))
            buckets.append((at, len(durations), failures))
        interval = target.info.interval
        recent_span = max(interval * RECENT_RESULTS * max(len(target.info.locations), 1) * 1.5, 600.0)
        recent = await store_call("history", tid, now - recent_span, now, 1000)
        recent = list(reversed(recent[-RECENT_RESULTS:]))
        incidents = await store_call("incidents", tid, since)
        events = await store_call("events", tid, since, MAX_EVENTS)
        alerts = await store_call("alerts", tid, since, MAX_ALERTS)
        states, samples, verdicts = monitor.states(), monitor.last_samples(), monitor.verdicts()
        status = display_status(tid, verdicts, states)
        acks = await store_call("acks")
        from netkit.core.text import for_terminal

        ctx = context(request, target=target, info=target.info, tid=tid, status=_status_text(status), status_n=status,
                      state=states.get(tid), verdict=verdicts.get(tid), sample=samples.get(tid),
                      ranges=list(RANGES), chosen=chosen,
                      chart=_svg.chart(points, since, now), timeline=_svg.timeline(buckets, since, now, step_s),
                      recent=[(s, _status_text(s.status), [for_terminal(line) for line in s.dialogue or ()])
                              for s in recent],
                      incidents=list(reversed(incidents)), events=list(reversed(events)), alerts=alerts,
                      uptime=cache.uptime_text.get(tid), ack=acks.get(tid),
                      paused=(monitor.paused() if hasattr(monitor, "paused") else {}).get(tid),
                      windows=[w for w in (monitor.windows() if hasattr(monitor, "windows") else ())
                               if w["target"] == tid],
                      range_href=lambda r: f"{target_href(tid)}?"
                      + urlencode({"range": r}))
        return await stream(request, "target.html", ctx)

    status_cache: dict[tuple, tuple] = {}

    async def status_page(request):
        cache.start()
        chosen = _status_groups(monitor)
        group = request.match_info.get("group")
        if not chosen:
            raise web.HTTPNotFound(text="no public status page: the config's [web] table has no status-groups\n")
        if group is not None and group not in chosen:
            raise web.HTTPNotFound(text="no such status page\n")
        wanted = (group,) if group is not None else chosen
        key = (group, id(monitor.config))
        now = time.time()
        hit = status_cache.get(key)
        if hit is None or now - hit[0] >= STATUS_CACHE_SECONDS:
            if len(status_cache) > 2 * len(chosen) + 2:    # entries of a config reloaded away
                status_cache.clear()
            body = await asyncio.to_thread(env.get_template("status.html").render, _status_context(wanted, now))
            hit = status_cache[key] = (now, body.encode())
        return web.Response(body=hit[1], content_type="text/html", charset="utf-8")

    def _status_context(wanted, now: float) -> dict:
        states, verdicts = monitor.states(), monitor.verdicts()
        public, sections = {}, []
        day = now // 86400 * 86400
        first = day - (STATUS_DAYS - 1) * 86400     # 29 whole days and today
        for name in wanted:
            rows = []
            members = [t for t in monitor.config.targets if t.info.group == name]
            for n, t in enumerate(members, 1):
                label = t.id if "://" not in t.id and t.id != t.info.url else f"{name} service {n}"
                public[t.id] = label
                status = display_status(t.id, verdicts, states)
                by_day = {int(at): (count - failures) / count for at, count, failures, _ in cache.days.get(t.id, ())
                          if count}
                days: list[tuple[float, float | None]] = [(at, by_day.get(at))
                                                          for at in range(int(first), int(day), 86400)]
                days.append((day, cache.today.get(t.id)))
                rows.append((label, PUBLIC_TEXT[status], status, _fraction(cache.uptime30.get(t.id)),
                             _BarsOf(days)))
            worst = min((r[2] for r in rows), key=lambda s: _RANK[s], default=0)
            sections.append((name, rows, PUBLIC_TEXT[worst], worst))
        incidents = [{**i, "name": public[i["target"]], "what": PUBLIC_TEXT.get(i["status"], "Unknown")}
                     for i in reversed(cache.incidents) if i["target"] in public]
        overall = min((s[3] for s in sections), key=lambda s: _RANK[s], default=0)
        return {"sections": sections, "incidents": incidents, "overall": overall, "now": now,
                "overall_text": "All systems operational" if overall in (0, PENDING) else "Some systems have problems",
                "days": STATUS_DAYS}

    app.router.add_get("/", overview)
    app.router.add_get("/target/{id:[^/]+}", target_page)     # any name but "/" (the default refuses braces)
    app.router.add_get("/events", live.handler)
    app.router.add_get("/status", status_page)
    app.router.add_get("/status/{group:[^/]+}", status_page)
    app.router.add_static("/static/", HERE / "static", name="static")


class _BarsOf:
    """A status row's day bars, drawn when the template (on a thread) writes them."""

    __slots__ = ("days",)

    def __init__(self, days):
        self.days = days

    def __html__(self) -> str:
        return str(_svg.uptime_bars(self.days))


def _status_groups(monitor) -> tuple:
    web_settings = getattr(monitor.config, "web", None)
    return tuple(getattr(web_settings, "status_groups", ()) or ())


def _find(monitor, tid: str):
    by_id = getattr(monitor.config, "by_id", None)
    if isinstance(by_id, dict):
        return by_id.get(tid)
    return next((t for t in monitor.config.targets if t.id == tid), None)


def _bin(samples, step: float):
    """Raw samples into step buckets: (bucket start, durations, failures), oldest first."""
    out: dict[float, list] = {}
    for sample in samples:
        bucket = out.setdefault(sample.at // step * step, [[], 0])
        bucket[0].append(sample.duration)
        bucket[1] += sample.status != 0
    return [(at, durations, failures) for at, (durations, failures) in sorted(out.items())]
