"""The monitor's web app against a FakeMonitor, through aiohttp's test client: /metrics'
exposition (parsed back by prometheus_client's parser), /probe's blackbox behaviour with
canned check results, the JSON API's reads and its token-guarded writes, and the safe
defaults (404, 413, one-line 500s, 127.0.0.1)."""

import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from netkit.check.result import CheckResult
from netkit.core.errors import UsageError
from netkit.core.status import CRITICAL, OK
from netkit.monitor._config import load_config
from netkit.monitor._metrics import label_name, label_value, number
from netkit.monitor._probe import (
    DEFAULT_PROBE_TIMEOUT,
    MIN_PROBE_TIMEOUT,
    TIMEOUT_OFFSET,
    fnv32a,
    probe_spec,
    probe_timeout,
)
from netkit.monitor._records import Sample, StoredEvent, TargetInfo, Verdict
from netkit.monitor._state import TargetState
from netkit.monitor._web import DEFAULT_HOST, Busy, _Limiter, make_app, serve

NOW = time.time()


class FakeStore:
    """Records each call and the thread it came on."""

    def __init__(self):
        self.calls = []
        self.threads = set()

    def _note(self, *call):
        self.calls.append(call)
        self.threads.add(threading.current_thread().name)

    def history(self, target, since, until, limit=1000):
        self._note("history", target, since, until, limit)
        return [Sample(target, "here", since + 1, 0.5, 0, "ok", {"status_code": 200})]

    def events(self, target, since, limit=1000):
        self._note("events", target, since, limit)
        return [StoredEvent("web", "here", since + 2, "HardChange", {"old": 0, "new": 2})]

    def incidents(self, target, since):
        self._note("incidents", target, since)
        return [{"target": "web", "start": since + 3, "end": None, "status": 2, "duration": 5.0}]

    def uptime(self, since, until, target=None):
        self._note("uptime", since, until, target)
        return {"web": 0.99}

    def acknowledge(self, target, at, author, comment, sticky=False):
        self._note("acknowledge", target, author, comment, sticky)

    def unacknowledge(self, target, at):
        self._note("unacknowledge", target)


def config(targets, modules=None, token=None):
    """What _web reads of a Config: targets (id, info), modules, settings.api_token."""
    return SimpleNamespace(targets=[SimpleNamespace(id=t.id, info=t) for t in targets], modules=modules or {},
                           settings=SimpleNamespace(api_token=token))


def modules(toml: str) -> dict:
    """The /probe modules of a config made of ``toml`` (the config helper's parser)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "monitor.toml")
        path.write_text(toml)
        return load_config(path, env={}).modules


HTTP_2XX = '[module.http_2xx]\nprober = "http"\n'


class FakeMonitor:
    """The protocol _web's docstring names, over plain dicts."""

    def __init__(self, targets=None, modules=None, token=None, probe_result=None):
        targets = targets or [TargetInfo("web", "https://web.example/", "front", (("env", "prod"),)),
                              TargetInfo("db", "tcp://db:5432", "back")]
        self.location = "here"
        self.config = config(targets, modules, token)
        self._states = {"web": TargetState("web", status=CRITICAL, hard_status=CRITICAL, since=NOW - 60,
                                           last_result=NOW),
                        "db": TargetState("db", last_result=NOW)}
        self._samples = {"web": Sample("web", "here", NOW, 0.25, 2, "down", dialogue=("< HTTP/1.1 500",),
                                       cert_expiry=NOW + 86400),
                         "db": Sample("db", "here", NOW, 0.01, 0, "up")}
        self._verdicts = {"web": Verdict("web", 2, NOW - 60, (("here", 2),))}
        self._stats = {"checks_total": 42, "in_flight": 3, "lateness_p50": 0.01, "lateness_p99": 0.5,
                       "lateness_sum": 1.5, "lateness_count": 42}
        self.store = FakeStore()
        self.probe_result = probe_result
        self.probed = []

    def states(self):
        return self._states

    def last_samples(self):
        return self._samples

    def verdicts(self):
        return self._verdicts

    def stats(self):
        return self._stats

    async def probe(self, spec, verbose=False):
        self.probed.append((spec, verbose))
        if self.probe_result == "hang":
            await asyncio.sleep(3600)
        if self.probe_result == "bug":
            raise RuntimeError("a bug")
        return self.probe_result


def call(monitor, method, path, **kw):
    """One request to a fresh app over ``monitor``: (status, headers, body text)."""

    async def go():
        async with TestClient(TestServer(make_app(monitor))) as client:
            response = await client.request(method, path, **kw)
            return response.status, response.headers, await response.text()

    return asyncio.run(go())


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def values(text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


# -- exposition primitives ----------------------------------------------------------------

@pytest.mark.parametrize("name, clean", [
    ("env", "env"), ("team-name", "team_name"), ("1st", "label_1st"), ("__meta", "label___meta"),
    ("target", "label_target"), ("location", "label_location"), ("dc.zone", "dc_zone"), ("ünï", "_n_"),
    ("", "_"),
])
def test_label_names_follow_prometheus_grammar(name, clean):
    assert label_name(name) == clean


def test_label_values_escape_backslash_quote_newline():
    assert label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_numbers_as_go_writes_them():
    assert [number(v) for v in (True, 3, 0.5, float("inf"), float("-inf"))] == ["1", "3", "0.5", "+Inf", "-Inf"]
    assert number(float("nan")) == "NaN"


# -- /metrics ---------------------------------------------------------------------------------

def test_metrics_per_target_and_own():
    status, headers, text = call(FakeMonitor(), "GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    v = values(text)
    web = (("env", "prod"), ("group", "front"), ("location", "here"), ("target", "web"))
    db = (("group", "back"), ("location", "here"), ("target", "db"))
    assert v[("netkit_target_up", web)] == 0 and v[("netkit_target_up", db)] == 1
    assert v[("netkit_target_state", web)] == 2 and v[("netkit_target_state", db)] == 0
    assert v[("netkit_target_duration_seconds", web)] == 0.25
    assert v[("netkit_target_cert_expiry_timestamp_seconds", web)] == pytest.approx(NOW + 86400)
    assert ("netkit_target_cert_expiry_timestamp_seconds", db) not in v      # no certificate
    assert v[("netkit_target_last_change_timestamp_seconds", web)] == pytest.approx(NOW - 60)
    assert v[("netkit_monitor_targets", ())] == 2
    assert v[("netkit_monitor_checks_total", ())] == 42
    assert v[("netkit_monitor_lateness_seconds", (("quantile", "0.99"),))] == 0.5
    assert v[("netkit_monitor_lateness_seconds_count", ())] == 42
    assert "netkit_monitor_queue_length" not in text          # not in stats(): left out


def test_metrics_hostile_labels_stay_one_valid_series_each():
    evil = TargetInfo('a"b\\c\nd', "http://x/", 'g"\n', (("target", "spoof"), ("bad-name", 'v"\n}x 1'),
                                                           ("bad_name", "second")))
    monitor = FakeMonitor(targets=[evil])
    monitor._states = {evil.id: TargetState(evil.id)}
    text = call(monitor, "GET", "/metrics")[2]
    up = [s for f in text_string_to_metric_families(text) if f.name == "netkit_target_state" for s in f.samples]
    assert len(up) == 1
    assert up[0].labels == {"target": 'a"b\\c\nd', "group": 'g"\n', "location": "here",
                            "label_target": "spoof", "bad_name": 'v"\n}x 1'}


def test_metrics_gzipped_for_a_scraper_that_asks():
    many = [TargetInfo(f"t{i}", f"http://h{i}/", "g") for i in range(2000)]
    monitor = FakeMonitor(targets=many)
    monitor._states = {t.id: TargetState(t.id) for t in many}
    plain = call(monitor, "GET", "/metrics", headers={"Accept-Encoding": "identity"})
    zipped = call(monitor, "GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain[1] and zipped[1]["Content-Encoding"] == "gzip"
    assert zipped[2] == plain[2] and len(values(plain[2])) > 2000     # the client unzipped it


def test_metrics_label_cache_follows_a_reloaded_config():
    monitor = FakeMonitor()

    async def go():
        async with TestClient(TestServer(make_app(monitor))) as client:
            first = await (await client.get("/metrics")).text()
            monitor.config = config([TargetInfo("web", "x", "moved")])
            return first, await (await client.get("/metrics")).text()

    first, second = asyncio.run(go())
    assert 'group="front"' in first and 'group="moved"' in second and 'target="db"' not in second


# -- /probe -----------------------------------------------------------------------------------

def http_module(extra=""):
    return modules(HTTP_2XX + extra)["http_2xx"]


def http_result(status=OK, code=200, tls=None):
    details = {"peer": "127.0.0.1:8080", "url": "http://127.0.0.1:8080/", "http_version": "HTTP/1.1",
               "status_code": code, "headers": [["Content-Length", "39"]], "size": 39, "redirects": []}
    if tls:
        details["tls"] = tls
    return CheckResult(name=None, label="HTTP", target="http://127.0.0.1:8080/", status=status, summary="s",
                       timings={"dns": 0.001, "connect": 0.002, "tls": None, "firstbyte": 0.003, "total": 0.007},
                       details=details, dialogue=["> GET / HTTP/1.1", "< HTTP/1.1 200 OK", "> Authorization: ***"])


def test_probe_http_metrics_as_blackbox_names_them():
    monitor = FakeMonitor(modules={"http_2xx": http_module()}, probe_result=http_result())
    status, _, text = call(monitor, "GET", "/probe?target=127.0.0.1:8080&module=http_2xx")
    assert status == 200
    v = values(text)
    assert v[("probe_success", ())] == 1
    assert v[("probe_http_status_code", ())] == 200
    assert v[("probe_http_content_length", ())] == 39
    assert v[("probe_http_version", ())] == 1.1
    assert v[("probe_ip_protocol", ())] == 4
    assert v[("probe_ip_addr_hash", ())] == fnv32a("127.0.0.1") == 3668918509  # blackbox's figure
    assert v[("probe_http_duration_seconds", (("phase", "connect"),))] == 0.002
    spec, verbose = monitor.probed[0]
    assert spec.target.url() == "http://127.0.0.1:8080" and verbose is False


def test_probe_failure_and_tls_metrics():
    tls = {"version": "TLSv1.3", "chain": [{"subject": "CN=localhost", "issuer": "CN=ca", "sans": ["localhost"],
                                            "not_after": "2030-01-01T00:00:00Z"}]}
    monitor = FakeMonitor(modules={"http_2xx": http_module('body = "hello"\n')},
                          probe_result=http_result(CRITICAL, 200, tls))
    v = values(call(monitor, "GET", "/probe?target=https://h/&module=http_2xx")[2])
    assert v[("probe_success", ())] == 0
    assert v[("probe_failed_due_to_regex", ())] == 1
    assert v[("probe_ssl_earliest_cert_expiry", ())] == 1893456000
    assert v[("probe_tls_version_info", (("version", "TLS 1.3"),))] == 1


def test_probe_over_ipv6():
    result = http_result()
    result.details["peer"] = "[::1]:8080"
    v = values(call(FakeMonitor(modules={"http_2xx": http_module()}, probe_result=result), "GET",
                    "/probe?target=http://[::1]:8080/&module=http_2xx")[2])
    assert v[("probe_ip_protocol", ())] == 6 and v[("probe_ip_addr_hash", ())] == fnv32a("::1")


def test_probes_past_the_queue_bound_are_refused_at_once():
    async def go():
        limiter = _Limiter(1, 1)
        async with limiter:
            waiter = asyncio.create_task(limiter.__aenter__())     # the one allowed to wait
            await asyncio.sleep(0)
            with pytest.raises(Busy):
                await limiter.__aenter__()
        await waiter
        await limiter.__aexit__(None, None, None)

    asyncio.run(go())


def test_probe_missing_target_and_unknown_module_are_400_one_line():
    monitor = FakeMonitor(modules={"http_2xx": http_module()})
    status, _, text = call(monitor, "GET", "/probe?module=http_2xx")
    assert (status, text) == (400, "Target parameter is missing\n")
    status, _, text = call(monitor, "GET", "/probe?target=x:1&module=nope")
    assert (status, text) == (400, "Unknown module 'nope'\n")
    assert monitor.probed == []


def test_probe_bad_target_fails_the_probe_not_the_scrape():
    monitor = FakeMonitor(modules=modules('[module.tcp]\nprober = "tcp"\n'))
    status, _, text = call(monitor, "GET", "/probe?target=http://host/&module=tcp&debug=true")
    assert status == 200 and "probe_success 0" in text
    assert "bad target: module tcp probes tcp, not http:// targets" in text
    assert monitor.probed == []


def test_probe_hanging_check_is_cut_by_the_scrape_timeout():
    monitor = FakeMonitor(modules={"http_2xx": http_module()}, probe_result="hang")
    started = time.monotonic()
    status, _, text = call(monitor, "GET", "/probe?target=h:1&module=http_2xx",
                           headers={"X-Prometheus-Scrape-Timeout-Seconds": "0.7"})
    assert status == 200 and values(text)[("probe_success", ())] == 0
    assert monitor.probed[0][0].get("timeout") == pytest.approx(0.7 - TIMEOUT_OFFSET)
    assert time.monotonic() - started < 30          # bounded, not the fake's hour


def test_a_bug_in_one_probe_fails_that_probe_not_the_scrape():
    monitor = FakeMonitor(modules={"http_2xx": http_module()}, probe_result="bug")
    status, _, text = call(monitor, "GET", "/probe?target=h:1&module=http_2xx&debug=true")
    assert status == 200 and "probe_success 0" in text and "* internal error;" in text
    assert "RuntimeError" not in text


def test_probe_debug_shows_the_masked_dialogue_and_metrics():
    monitor = FakeMonitor(modules={"http_2xx": http_module()}, probe_result=http_result())
    text = call(monitor, "GET", "/probe?target=http://u:hunter2@h/&module=http_2xx&debug=true")[2]
    assert text.startswith("Logs for the probe:\n")
    assert "> GET / HTTP/1.1" in text and "Metrics that would have been returned:" in text
    assert "hunter2" not in text
    assert monitor.probed[0][1] is True


def test_probe_timeout_rules():
    plain, capped = http_module(), http_module("timeout = 2\n")
    assert probe_timeout(plain, None) == DEFAULT_PROBE_TIMEOUT
    assert probe_timeout(plain, "15") == 15 - TIMEOUT_OFFSET
    assert probe_timeout(capped, "15") == 2
    assert probe_timeout(capped, "1") == 1 - TIMEOUT_OFFSET
    assert probe_timeout(plain, "0.2") == MIN_PROBE_TIMEOUT
    assert probe_timeout(plain, "nan") == probe_timeout(plain, "junk") == DEFAULT_PROBE_TIMEOUT


def test_probe_spec_takes_the_scrape_timeout():
    dns = modules('[module.dns_a]\nprober = "dns"\nquery-name = "example.com"\n')["dns_a"]
    spec = probe_spec(dns, "127.0.0.1:5353", 3.0)
    assert spec.target.url() == "dns://127.0.0.1:5353/example.com" and spec.get("timeout") == 3.0


@pytest.mark.parametrize("target", ["ftp://h/", "a" * 5000, ""])
def test_probe_targets_refused(target):
    with pytest.raises(UsageError):
        probe_spec(http_module(), target, None)


# -- the JSON API -----------------------------------------------------------------------------

def test_api_targets_and_one_target():
    status, headers, text = call(FakeMonitor(), "GET", "/api/targets")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    docs = {d["id"]: d for d in json.loads(text)}
    assert docs["web"]["state"]["hard_status"] == 2 and docs["web"]["verdict"]["locations"] == {"here": 2}
    assert docs["web"]["labels"] == {"env": "prod"} and docs["db"]["verdict"] is None
    assert docs["db"]["last"]["summary"] == "up"
    assert "dialogue" not in docs["web"]["last"]   # the list leaves transcripts out: one target shows it
    one = json.loads(call(FakeMonitor(), "GET", "/api/targets/web")[2])
    assert one["last"]["cert_expiry"] == pytest.approx(NOW + 86400)
    assert one["last"]["dialogue"] == ["< HTTP/1.1 500"]
    status, _, text = call(FakeMonitor(), "GET", "/api/targets/nope")
    assert status == 404 and json.loads(text) == {"error": "no target 'nope' in the config"}


def test_api_ids_with_slashes_are_percent_encoded():
    monitor = FakeMonitor(targets=[TargetInfo("https://shop.example/a b", "https://shop.example/")])
    status = call(monitor, "GET", "/api/targets/https%3A%2F%2Fshop.example%2Fa%20b/history")[0]
    assert status == 200 and monitor.store.calls[0][:2] == ("history", "https://shop.example/a b")


def test_api_history_reads_the_store_on_its_thread():
    monitor = FakeMonitor()
    status, _, text = call(monitor, "GET", "/api/targets/web/history?since=1000&until=2000&limit=5")
    assert status == 200 and json.loads(text)[0]["details"] == {"status_code": 200}
    assert monitor.store.calls == [("history", "web", 1000.0, 2000.0, 5)]
    assert all(name.startswith("netkit-web-store") for name in monitor.store.threads)


def test_api_ages_and_store_reads():
    monitor = FakeMonitor()
    before = time.time()
    assert json.loads(call(monitor, "GET", "/api/uptime?since=2h")[2]) == {"web": 0.99}
    _, since, _until, target = monitor.store.calls[-1]
    assert before - 7200 - 5 < since < time.time() - 7200 + 5 and target is None
    assert json.loads(call(monitor, "GET", "/api/incidents?target=web")[2])[0]["end"] is None
    assert json.loads(call(monitor, "GET", "/api/events?since=10")[2])[0]["kind"] == "HardChange"
    assert call(monitor, "GET", "/api/events?target=ghost")[0] == 404


@pytest.mark.parametrize("query", ["since=yesterday", "since=-5", "until=1e300", "limit=0", "limit=99999999",
                                   "limit=abc", "limit=%C2%B2", "limit=" + "9" * 5000])
def test_api_bad_query_is_400_one_line(query):
    status, _, text = call(FakeMonitor(), "GET", f"/api/targets/web/history?{query}")
    error = json.loads(text)["error"]
    assert status == 400 and "\n" not in error and ("since" in error or "until" in error or "limit" in error)


BODY = {"author": "alice", "comment": "on it", "sticky": True}


def test_api_writes_refused_without_a_configured_token():
    monitor = FakeMonitor(token=None)
    status, _, text = call(monitor, "POST", "/api/targets/web/ack", json=BODY,
                           headers={"Authorization": "Bearer anything"})
    assert status == 403 and "api-token-env" in json.loads(text)["error"]
    assert monitor.store.calls == []


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic s3cret", "Bearer "])
def test_api_writes_need_the_token(auth):
    monitor = FakeMonitor(token="s3cret")
    headers = {"Authorization": auth} if auth else {}
    status, headers_back, _ = call(monitor, "POST", "/api/targets/web/ack", json=BODY, headers=headers)
    assert status == 401 and headers_back["WWW-Authenticate"] == "Bearer"
    assert monitor.store.calls == []


def test_api_ack_and_unack_with_the_token():
    monitor = FakeMonitor(token="s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    status, _, text = call(monitor, "POST", "/api/targets/web/ack", json=BODY, headers=auth)
    assert status == 200 and json.loads(text) == {"target": "web", "acknowledged": True}
    assert call(monitor, "DELETE", "/api/targets/web/ack", headers=auth)[0] == 200
    assert monitor.store.calls == [("acknowledge", "web", "alice", "on it", True), ("unacknowledge", "web")]
    status, _, text = call(monitor, "POST", "/api/targets/db/ack", json=BODY, headers=auth)
    assert status == 409 and "db is OK" in json.loads(text)["error"]


@pytest.mark.parametrize("body, words", [
    ("not json", "JSON object"), ([1], "JSON object"), ({"comment": "x"}, "author"),
    ({"author": "a\r\nb"}, "author"), ({"author": "a", "comment": "x" * 5000}, "comment"),
    ({"author": "a", "sticky": "yes"}, "sticky"),
])
def test_api_ack_bad_bodies(body, words):
    monitor = FakeMonitor(token="t")
    kw = {"data": body} if isinstance(body, str) else {"json": body}
    status, _, text = call(monitor, "POST", "/api/targets/web/ack", headers={"Authorization": "Bearer t"}, **kw)
    assert status == 400 and words in json.loads(text)["error"]
    assert monitor.store.calls == []


# -- safe by default ----------------------------------------------------------------------

def test_unknown_path_404_and_oversized_body_413():
    assert call(FakeMonitor(), "GET", "/nope")[0] == 404
    assert call(FakeMonitor(), "GET", "/api/targets/web/history/extra")[0] == 404
    status = call(FakeMonitor(token="t"), "POST", "/api/targets/web/ack", data=b"x" * (200 * 1024),
                  headers={"Authorization": "Bearer t"})[0]
    assert status == 413


def test_store_reads_before_the_store_opens_are_503():
    monitor = FakeMonitor()
    monitor.store = None
    status, _, text = call(monitor, "GET", "/api/incidents")
    assert status == 503 and json.loads(text)["error"] == "the store is not open yet; try again"
    assert call(monitor, "GET", "/api/targets")[0] == 200      # memory, not the store


def test_a_bug_is_a_one_line_500_without_traceback():
    monitor = FakeMonitor()
    monitor.stats = lambda: 1 / 0
    status, headers, text = call(monitor, "GET", "/metrics")
    assert status == 500 and text == "internal error; the monitor's log has the details\n"
    assert headers["X-Content-Type-Options"] == "nosniff"
    monitor.store.history = lambda *a: 1 / 0
    status, _, text = call(monitor, "GET", "/api/targets/web/history")
    assert status == 500 and "Traceback" not in text and "ZeroDivision" not in text


def test_serve_binds_loopback_by_default():
    async def go():
        served = await serve(make_app(FakeMonitor()), port=0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(b"GET /api/targets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = await reader.readline()
            writer.close()
            return served.host, head
        finally:
            await served.close()

    host, head = asyncio.run(go())
    assert host == DEFAULT_HOST == "127.0.0.1" and head.startswith(b"HTTP/1.1 200")
