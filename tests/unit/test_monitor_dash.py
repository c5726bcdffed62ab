"""The dashboard's pages over a real SQLite store (history, rollups, incidents, the outbox)
and the web side's monitor protocol, through aiohttp's test client: the overview worst
first, filtered by the query string, hostile names escaped; a target's page with its
chart, the dialogue of a failed run, incidents and alerts; the public status page showing
no internals; the live stream and its bounded queues; the [web] table of the config."""

from __future__ import annotations

import asyncio
import re
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from netkit.core.errors import UsageError
from netkit.monitor import _dash, _live
from netkit.monitor._config import Web, parse_config
from netkit.monitor._records import Alert, Sample, TargetInfo, Verdict
from netkit.monitor._state import TargetState
from netkit.monitor._store import open_store
from netkit.monitor._web import make_app

NOW = time.time()
EVIL = "<script>alert(1)</script>"
DIALOGUE = ("> GET / HTTP/1.1", "< HTTP/1.1 500 <b>Internal</b>", "< x-secret: ****")


class DashMonitor:
    """The web side's monitor protocol over a real store and plain dicts."""

    location = "fra"

    def __init__(self, store, infos, states, samples, verdicts=None, status_groups=()):
        targets = tuple(SimpleNamespace(id=i.id, info=i) for i in infos)
        self.config = SimpleNamespace(targets=targets, by_id={t.id: t for t in targets}, modules={},
                                      settings=SimpleNamespace(api_token=None), web=Web(status_groups))
        self.store = store
        self._states, self._samples, self._verdicts = states, samples, verdicts or {}
        self.subscribers = []

    def states(self):
        return self._states

    def last_samples(self):
        return self._samples

    def verdicts(self):
        return self._verdicts

    def stats(self):
        return {}

    def subscribe(self, callback):
        self.subscribers.append(callback)


def state(tid, status, hard=None, at=NOW):
    hard = status if hard is None else hard
    return TargetState(tid, status=status, hard_status=hard, since=at - 600, last_result=at,
                       attempt=1 if status != hard else 0)


@pytest.fixture
def monitor(tmp_path):
    """Five targets: web (CRITICAL, a failed run with a dialogue, an open incident, an alert),
    an URL-named one, the hostile name, db (OK, two days of history rolled up), one not yet
    checked."""
    store = open_store(str(tmp_path / "monitor.db"), "fra")
    infos = [TargetInfo("web", "https://web.example/", "front", (("env", "prod"),)),
             TargetInfo("https://shop.example/a/b", "https://shop.example/a/b", "front", (("env", "prod"),)),
             TargetInfo(EVIL, "tcp://evil:1", "front", (("team", EVIL),)),
             TargetInfo("db", "tcp://db:5432", "back", (("env", "stage"),)),
             TargetInfo("new", "tcp://new:1", "back")]
    store.sync_targets(infos)
    samples = [Sample("db", "fra", NOW - 2 * 86400 + i * 600, 0.010 + (i % 5) / 1000, 0, "up") for i in range(288)]
    failed = Sample("web", "fra", NOW - 30, 0.5, 2, "HTTP 500 <b>", {"status_code": 500}, DIALOGUE, NOW + 2 * 86400)
    samples += [Sample("web", "fra", NOW - 300, 0.2, 0, "ok"), failed]
    states = {"web": state("web", 2), "https://shop.example/a/b": state("https://shop.example/a/b", 0),
              EVIL: state(EVIL, 1), "db": state("db", 0)}
    store.commit(samples, states.values(), [])
    store.rollup(NOW)
    verdict = Verdict("web", 2, NOW - 600, (("fra", 2),))
    alert = Alert("web|1|ops|problem", "ops", "web", "problem", {"summary": "down"}, NOW - 590, NOW - 590)
    store.commit_verdicts([verdict], [], [alert])
    store.alert_delivered(alert.key, NOW - 589)
    last = {s.target: s for s in samples}
    yield DashMonitor(store, infos, states, last, {"web": verdict}, status_groups=("front",))
    store.close()


def get(monitor, *paths, before=None):
    """GET each path from one app (its background cache filled first): [(status, text)]."""

    async def go():
        app = make_app(monitor)
        async with TestClient(TestServer(app)) as client:
            await app[_dash.CACHE].refresh(time.time())
            if before:
                before(app)
            out = []
            for path in paths:
                response = await client.get(path)
                out.append((response.status, await response.text()))
            return out

    return asyncio.run(go())


def row_ids(html: str) -> list[str]:
    return re.findall(r'<div class="r s-?\d" data-id="([^"]*)"', html)


# -- the overview -----------------------------------------------------------------------------

def test_overview_worst_first_grouped_with_counts(monitor):
    [(status, html)] = get(monitor, "/")
    assert status == 200
    assert row_ids(html) == ["web", "&lt;script&gt;alert(1)&lt;/script&gt;", "https://shop.example/a/b", "new", "db"]
    assert '<b data-count="CRITICAL">1</b>' in html and '<b data-count="OK">2</b>' in html
    assert '<b data-count="PENDING">1</b>' in html and '<b data-count="WARNING">1</b>' in html
    web = html[html.index('data-id="web"'):].split("</div>")[0]
    assert "CRITICAL" in web and "HTTP 500 &lt;b&gt;" in web and '<i class="c crit">2d</i>' in web
    db = html[html.index('data-id="db"'):].split("</div>")[0]
    spark = re.search(r"<i class=sp>([^<]*)</i>", db)[1]
    assert len(spark) == _dash.SPARK_HOURS and set(spark) <= set(" \u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588") \
        and spark.strip(), "db's hourly rollups draw its sparkline"
    assert "<i class=u>  100%   100%   100%</i>" in db, "24 h, 7 d and 30 d uptime"


def test_overview_escapes_hostile_names_and_labels(monitor):
    [(_, html)] = get(monitor, "/")
    assert EVIL not in html and "<script>alert" not in html
    assert 'data-l="team=&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert f'href="/target/{quote(EVIL, safe="")}"' in html


@pytest.mark.parametrize("query, expected", [
    ("state=critical", ["web"]),
    ("state=PENDING", ["new"]),
    ("group=back", ["new", "db"]),
    ("label=env%3Dprod", ["web", "https://shop.example/a/b"]),
    ("label=team", ["&lt;script&gt;alert(1)&lt;/script&gt;"]),
    ("q=SHOP", ["https://shop.example/a/b"]),
    ("q=stage", ["db"]),
    ("location=fra", ["web", "&lt;script&gt;alert(1)&lt;/script&gt;", "https://shop.example/a/b", "new", "db"]),
    ("location=nyc", []),
])
def test_overview_filters_from_the_query_string(monitor, query, expected):
    [(_, html)] = get(monitor, "/?" + query)
    assert row_ids(html) == expected
    assert 'data-filtered="1"' in html and f'<b id="shown">{len(expected)}</b>' in html


def test_overview_streams_many_rows(monitor):
    infos = [TargetInfo(f"t{i:05d}", f"tcp://h{i}:1", f"g{i % 7}") for i in range(3000)]
    monitor.config.targets = tuple(SimpleNamespace(id=i.id, info=i) for i in infos)
    monitor._states = {i.id: state(i.id, 2 if i.id.endswith("7") else 0) for i in infos}
    [(status, html)] = get(monitor, "/")
    ids = row_ids(html)
    assert status == 200 and len(ids) == 3000 and html.rstrip().endswith("</html>")
    assert all(i.endswith("7") for i in ids[:43]), "each group worst first"


# -- a target's page ------------------------------------------------------------------------------

def test_target_page_shows_the_failed_dialogue_escaped(monitor):
    [(status, html)] = get(monitor, "/target/web")
    assert status == 200
    assert "&lt; HTTP/1.1 500 &lt;b&gt;Internal&lt;/b&gt;" in html and "<b>Internal" not in html
    assert "&lt; x-secret: ****" in html
    assert '<svg class="chart"' in html and "<polyline" in html and '<svg class="timeline"' in html
    assert "ongoing" in html, "the open incident"
    assert "<td>ops</td><td>problem</td>" in html, "the alert sent"
    assert 'action="/actions/ack"' in html and 'name="csrf_token"' in html


@pytest.mark.parametrize("chosen", list(_dash.RANGES))
def test_target_page_every_range_from_rollups(monitor, chosen):
    [(status, html)] = get(monitor, f"/target/db?range={chosen}")
    assert status == 200 and f'class="on" aria-current="page">{chosen}<' in html
    points = re.search(r'<polyline class="avg" points="([^"]*)"', html)
    assert points is not None, "db ran every 10 minutes for two days: every range has points"


def test_target_ids_percent_encoded_and_unknown(monitor):
    shop, evil, missing = get(monitor, "/target/" + quote("https://shop.example/a/b", safe=""),
                              "/target/" + quote(EVIL, safe=""), "/target/nope")
    assert shop[0] == 200 and "https://shop.example/a/b</span>" in shop[1]
    assert evil[0] == 200 and EVIL not in evil[1] and "&lt;script&gt;alert(1)&lt;/script&gt;" in evil[1]
    assert missing[0] == 404


# -- the public status page --------------------------------------------------------------------------

def test_status_page_shows_no_internals(monitor):
    (status, html), (one, _), (other, _) = get(monitor, "/status", "/status/front", "/status/back")
    assert status == 200 and one == 200 and other == 404
    assert "Down" in html and "Some systems have problems" in html
    for secret in ("https://", "shop.example", "env=prod", "HTTP 500", "Internal", "x-secret", "tcp://", EVIL):
        assert secret not in html
    assert "front service 2" in html, "an URL-named target gets a public name"
    assert '<svg class="bars"' in html and "ongoing" in html
    assert "/static/dash.js" not in html, "the public page runs no script"


def test_no_status_page_without_status_groups(monitor):
    monitor.config.web = Web()
    [(status, text)] = get(monitor, "/status")
    assert status == 404 and "status-groups" in text


def test_web_table_in_the_config(tmp_path):
    base = '[group.web]\n[[target]]\nurl = "tcp://h:1"\ngroup = "web"\n'
    assert parse_config(base + '[web]\nstatus-groups = ["web"]\n', str(tmp_path / "m.toml"), {}).web == Web(("web",))
    assert parse_config(base, str(tmp_path / "m.toml"), {}).web == Web()
    with pytest.raises(UsageError, match=r"status-groups names 'webb', which is not defined; did you mean 'web'"):
        parse_config(base + '[web]\nstatus-groups = ["webb"]\n', "m.toml", {})
    with pytest.raises(UsageError, match=r"\[web\]: unknown setting 'status-group'"):
        parse_config(base + '[web]\nstatus-group = ["web"]\n', "m.toml", {})
    with pytest.raises(UsageError, match=r'status-groups expects a list of group names.*e.g. status-groups = \["web"\]'):
        parse_config(base + '[web]\nstatus-groups = "web"\n', "m.toml", {})


# -- live --------------------------------------------------------------------------------------------

def test_live_stream_sends_a_changed_row(monitor):
    async def go():
        app = make_app(monitor)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/events")
            assert response.headers["Content-Type"] == "text/event-stream"
            assert await response.content.readuntil(b"\n\n") == b"retry: 3000\n\n"
            while not app[_dash.LIVE].clients:
                await asyncio.sleep(0.01)
            monitor._states["db"] = state("db", 2, hard=0)
            monitor._samples["db"] = Sample("db", "fra", time.time(), 1.5, 2, "refused </script>")
            for callback in monitor.subscribers:
                callback("db", ["SoftChange"])
            return (await response.content.readuntil(b"\n\n")).decode()

    message = asyncio.run(go())
    assert message.startswith("event: row\ndata: ")
    assert '"id":"db"' in message and '"soft":true' in message and '"last":"CRITICAL"' in message
    assert '"sum":"refused </script>"' in message, "JSON text; the page inserts it with textContent"


def test_a_slow_live_client_is_dropped_not_waited_for(monitor, monkeypatch):
    monkeypatch.setattr(_live, "SSE_QUEUE", 5)

    async def go():
        app = make_app(monitor)
        async with TestClient(TestServer(app)) as client:
            await client.get("/events")        # opened, never read
            live = app[_dash.LIVE]
            while not live.clients:
                await asyncio.sleep(0.01)
            for n in range(50):                 # far more than the queue holds
                live.publish("row", {"n": n, "pad": "x" * 1000})
            await asyncio.sleep(0.05)
            return len(live.clients), live.dropped

    assert asyncio.run(go()) == (0, 1)


def test_live_clients_bounded(monitor, monkeypatch):
    monkeypatch.setattr(_live, "MAX_SSE_CLIENTS", 2)

    async def go():
        app = make_app(monitor)
        async with TestClient(TestServer(app)) as client:
            first, second = await client.get("/events"), await client.get("/events")
            third = await client.get("/events")
            return first.status, second.status, third.status

    assert asyncio.run(go()) == (200, 200, 503)


def test_live_sends_state_changes_only(monitor):
    async def go():
        app = make_app(monitor)
        async with TestClient(TestServer(app)) as client:
            await client.get("/events")
            live = app[_dash.LIVE]
            while not live.clients:
                await asyncio.sleep(0.01)
            (queue,) = [c.queue for c in live.clients]
            live.sweep()                        # the page has every row as it is now
            sizes = [queue.qsize()]
            monitor._samples["db"] = Sample("db", "fra", time.time(), 0.9, 0, "up, slower")
            live.sweep()                        # a new run, same state: nothing to send
            sizes.append(queue.qsize())
            monitor._verdicts["db"] = Verdict("db", 2, time.time(), (("fra", 2),))
            live.sweep()                        # the decider's verdict: the row and the counts
            sizes.append(queue.qsize())
            return sizes, [queue.get_nowait().decode() for _ in range(queue.qsize())]

    sizes, messages = asyncio.run(go())
    assert sizes == [1, 1, 3], "the first sweep sends the counts only"
    assert messages[1].startswith("event: row\n") and '"id":"db","s":2' in messages[1]
    assert messages[2].startswith("event: counts\n") and '"CRITICAL":2' in messages[2]


def test_past_the_page_bound_ok_rows_are_left_out_never_problems(monitor, monkeypatch):
    monkeypatch.setattr(_dash, "MAX_PAGE_ROWS", 100)
    infos = [TargetInfo(f"t{i:04d}", f"tcp://h{i}:1", f"g{i % 3}") for i in range(300)]
    monitor.config.targets = tuple(SimpleNamespace(id=i.id, info=i) for i in infos)
    monitor._states = {i.id: state(i.id, 2 if i.id.endswith("7") else 0) for i in infos}
    monitor._verdicts = {}
    (_, page), (_, whole), (_, group) = get(monitor, "/", "/?all=1", "/?group=g1")
    ids = row_ids(page)
    assert len(ids) == 100 and {i for i in ids if i.endswith("7")} == {i.id for i in infos if i.id.endswith("7")}
    assert "200 OK targets are not" in page and 'href="?all=1"' in page and 'data-filtered="1"' in page
    assert len(row_ids(whole)) == 300 and "are not" not in whole and 'name="all" value="1"' in whole
    assert len(row_ids(group)) == 100 and "are not" not in group, "a filter narrow enough lists every row"


def test_status_page_rendered_once_per_interval(monitor, monkeypatch):
    def change(app):
        monitor._verdicts["web"] = Verdict("web", 0, NOW, (("fra", 0),))

    async def go(seconds):
        monkeypatch.setattr(_dash, "STATUS_CACHE_SECONDS", seconds)
        app = make_app(monitor)
        async with TestClient(TestServer(app)) as client:
            await app[_dash.CACHE].refresh(time.time())
            first = await (await client.get("/status")).text()
            change(app)
            response = await client.get("/status")
            monitor._verdicts["web"] = Verdict("web", 2, NOW, (("fra", 2),))
            return first, await response.text()

    down, up = '<span class="name">web</span> <b class="s2">Down', '<span class="name">web</span> <b class="s0">Operational'
    first, second = asyncio.run(go(60))
    assert first == second and down in second
    first, second = asyncio.run(go(0))
    assert down in first and up in second
