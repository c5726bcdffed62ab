"""The monitor's web side against real peers: a real Prometheus 2.42 scrapes ``/probe``
(blackbox-style relabelling) and ``/metrics`` of the app, and its query API answers what it
scraped; the real blackbox_exporter 0.23 and ``/probe`` probe the same nginx and dnsmasq and
answer the same metric names, and the same values where they are deterministic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from netkit.check.run import run_one, run_one_async
from netkit.monitor._config import load_config
from netkit.monitor._records import Sample
from netkit.monitor._runner import Monitor
from netkit.monitor._state import Result, TargetState, advance
from netkit.monitor._store import open_store
from netkit.monitor._web import make_app, serve

# Seconds a test waits for the app's thread to start or stop.
THREAD_WAIT = 10.0


class LiveMonitor:
    """The web side's monitor protocol over a real config: each target checked once (a
    stand-in for the runner), probes run for real."""

    location = "default"

    def __init__(self, config):
        self.config = config
        self.store = None
        self._samples, self._states = {}, {}
        for target in config.targets:
            result = run_one(target.spec)
            now = time.time()
            self._samples[target.id] = Sample(target.id, self.location, now, result.timings.get("total") or 0.0,
                                              int(result.status), result.summary)
            state = advance(TargetState(target.id), Result(target.id, result.status, now), target.policy).state
            self._states[target.id] = state

    def states(self):
        return self._states

    def last_samples(self):
        return self._samples

    def verdicts(self):
        return {}

    def stats(self):
        return {"checks_total": len(self._samples)}

    async def probe(self, spec, verbose=False):
        return await run_one_async(spec, verbose)


@contextlib.contextmanager
def serving(monitor):
    """The app on a free 127.0.0.1 port, its event loop in a thread; yields the port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="web-under-test", daemon=True)
    thread.start()
    try:
        with serving_on(loop, monitor) as port:
            yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(THREAD_WAIT)
        loop.close()


def monitor_config(tmp_path, body: str, settings: str = "", env=None):
    path = tmp_path / "monitor.toml"
    path.write_text(f'[monitor]\nstate-dir = "{tmp_path}"\n{settings}\n{body}')
    return load_config(path, env=env or {})


@contextlib.contextmanager
def running(monitor):
    """The real runner's ``monitor.run()`` and the app over it, on one event loop in a
    thread (as ``netkit monitor run`` has them); yields the app's port."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="monitor-under-test", daemon=True)
    thread.start()
    task = asyncio.run_coroutine_threadsafe(monitor.run(), loop)
    try:
        with serving_on(loop, monitor) as port:
            yield port
    finally:
        loop.call_soon_threadsafe(monitor.stop)
        task.result(THREAD_WAIT * 3)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(THREAD_WAIT)
        loop.close()


@contextlib.contextmanager
def serving_on(loop, monitor):
    served = asyncio.run_coroutine_threadsafe(serve(make_app(monitor), port=0), loop).result(THREAD_WAIT)
    try:
        yield served.port
    finally:
        asyncio.run_coroutine_threadsafe(served.close(), loop).result(THREAD_WAIT)


def http(port: int, path: str, method: str = "GET", body=None, token=None):
    """(status, parsed JSON or text) of one request to the app."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text, kind = response.status, response.read().decode(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        status, text, kind = exc.code, exc.read().decode(), exc.headers["Content-Type"]
    return status, json.loads(text) if kind.startswith("application/json") else text


def poll(what, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"gave up waiting; last {value}"
        time.sleep(0.2)


def probe_job(name: str, module: str, targets: list, app_port: int) -> dict:
    """A scrape config as blackbox_exporter's README writes it."""
    return {"job_name": name, "metrics_path": "/probe", "params": {"module": [module]},
            "static_configs": [{"targets": targets}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": f"127.0.0.1:{app_port}"}]}


def by_label(result: list, label: str) -> dict:
    return {r["metric"][label]: float(r["value"][1]) for r in result}


def test_prometheus_scrapes_probe_and_metrics(prometheus, nginx, pki, closed_port, tmp_path):
    closed = closed_port.port
    config = monitor_config(tmp_path, f"""
[defaults]
failure-threshold = 1

[group.front]

[[target]]
name = "web"
url = "{nginx.url('/')}"
group = "front"
labels = {{ env = "prod", team = "a\\"b" }}

[[target]]
name = "closed"
url = "tcp://127.0.0.1:{closed}"

[module.http_2xx]
prober = "http"
status = "200-299"

[module.tcp_connect]
prober = "tcp"

[module.https_ca]
prober = "http"
cacert = "{pki.ca_file}"
""")
    with serving(LiveMonitor(config)) as port:
        server = prometheus([
            probe_job("http", "http_2xx", [nginx.url("/"), nginx.url("/status/404")], port),
            probe_job("tcp", "tcp_connect", [f"127.0.0.1:{nginx.http_port}", f"127.0.0.1:{closed}"], port),
            probe_job("https", "https_ca", [nginx.url("/", "https")], port),
            {"job_name": "netkit", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
        ])
        success = server.wait_for("probe_success", lambda r: len(r) == 5)
        up = server.wait_for("netkit_target_up", lambda r: len(r) == 2)
        codes = by_label(server.query('probe_http_status_code{job="http"}'), "instance")
        expiry = server.query("probe_ssl_earliest_cert_expiry")
        state = by_label(server.query("netkit_target_state"), "target")
        web = server.query('netkit_target_up{target="web"}')[0]["metric"]
    ok = {(r["metric"]["job"], r["metric"]["instance"]): float(r["value"][1]) for r in success}
    assert ok == {("http", nginx.url("/")): 1, ("http", nginx.url("/status/404")): 0,
                  ("tcp", f"127.0.0.1:{nginx.http_port}"): 1, ("tcp", f"127.0.0.1:{closed}"): 0,
                  ("https", nginx.url("/", "https")): 1}
    assert codes == {nginx.url("/"): 200, nginx.url("/status/404"): 404}
    assert float(expiry[0]["value"][1]) == pki.good.not_after.timestamp()
    assert by_label(up, "target") == {"web": 1, "closed": 0}
    assert state == {"web": 0, "closed": 2}
    assert (web["group"], web["location"], web["env"], web["team"]) == ("front", "default", "prod", 'a"b')


# -- beside the real blackbox_exporter ------------------------------------------------------

# Deterministic for the same peer: compared value for value (timings and hashes of time
# are not; probe_ip_addr_hash is of the address, so it is).
SAME_VALUES = ("probe_success", "probe_http_status_code", "probe_http_content_length", "probe_http_version",
               "probe_http_ssl", "probe_http_redirects", "probe_ip_protocol", "probe_ip_addr_hash",
               "probe_failed_due_to_regex", "probe_ssl_earliest_cert_expiry", "probe_tls_version_info",
               "probe_http_uncompressed_body_length", "probe_dns_answer_rrs", "probe_dns_query_succeeded",
               "probe_http_last_modified_timestamp_seconds", "probe_dns_authority_rrs", "probe_dns_additional_rrs")
# Ours alone: the check's 0-3 status (blackbox has no WARNING).
OURS_ONLY = {"netkit_probe_status"}


def exposition(text: str) -> dict:
    """{name: {labels: value}} of an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_probe_answers_as_blackbox_exporter_does(blackbox_exporter, nginx, dnsmasq, pki, closed_port, tmp_path):
    closed = closed_port.port
    tls = {"ca_file": str(pki.ca_file)}
    box = blackbox_exporter({
        "http_2xx": {"prober": "http", "http": {"preferred_ip_protocol": "ip4", "tls_config": tls}},
        "http_body": {"prober": "http", "http": {"preferred_ip_protocol": "ip4",
                                                 "fail_if_body_not_matches_regexp": ["not there"]}},
        "tcp_connect": {"prober": "tcp", "tcp": {"preferred_ip_protocol": "ip4"}},
        "tls_connect": {"prober": "tcp", "tcp": {"preferred_ip_protocol": "ip4", "tls": True, "tls_config": tls}},
        "dns_a": {"prober": "dns", "dns": {"preferred_ip_protocol": "ip4", "query_name": "www.netkit.test",
                                           "query_type": "A", "transport_protocol": "udp"}},
        "dns_nx": {"prober": "dns", "dns": {"preferred_ip_protocol": "ip4", "query_name": "nx.netkit.test",
                                            "query_type": "A", "transport_protocol": "udp"}},
    })
    config = monitor_config(tmp_path, f"""
[module.http_2xx]
prober = "http"
status = "200-299"
follow = true
cacert = "{pki.ca_file}"

[module.http_body]
prober = "http"
status = "200-299"
follow = true
body = "not there"

[module.tcp_connect]
prober = "tcp"

[module.tls_connect]
prober = "tls"
cacert = "{pki.ca_file}"

[module.dns_a]
prober = "dns"
query-name = "www.netkit.test"
type = "A"

[module.dns_nx]
prober = "dns"
query-name = "nx.netkit.test"
type = "A"
""")
    cases = [("http_2xx", nginx.url("/")), ("http_2xx", nginx.url("/status/404")),
             ("http_2xx", nginx.url("/redirect")), ("http_2xx", nginx.url("/", "https")),
             ("http_body", nginx.url("/")),
             ("tcp_connect", f"127.0.0.1:{nginx.http_port}"), ("tcp_connect", f"127.0.0.1:{closed}"),
             ("tls_connect", f"127.0.0.1:{nginx.https_port}"), ("dns_a", f"127.0.0.1:{dnsmasq.port}"), ("dns_nx", f"127.0.0.1:{dnsmasq.port}"),
             ("http_2xx", nginx.url("/", "https", port=nginx.expired_port)),
             ("tls_connect", f"127.0.0.1:{nginx.expired_port}"), ("http_2xx", nginx.url("/headers")),
             ("http_2xx", nginx.url("/chunked"))]
    differences = []
    with serving(LiveMonitor(config)) as port:
        for module, target in cases:
            theirs = exposition(box.probe(target, module))
            query = urllib.parse.urlencode({"target": target, "module": module})
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/probe?{query}", timeout=30) as response:
                ours = exposition(response.read().decode())
            case = f"{module} {target}"
            if set(ours) - OURS_ONLY != set(theirs):
                differences.append((case, "names", sorted(set(ours) - OURS_ONLY ^ set(theirs))))
            for name in SAME_VALUES:
                if name in theirs and ours.get(name) != theirs[name]:
                    differences.append((case, name, ours.get(name), theirs[name]))
    assert differences == []


def test_probe_of_a_black_hole_ends_within_the_scrape_timeout(nginx, tmp_path):
    """A /stall body never ends: the probe is given Prometheus' scrape timeout less
    blackbox's offset (not the check's 10 s default) and answers probe_success 0."""
    config = monitor_config(tmp_path, '[module.http_2xx]\nprober = "http"\n')
    with serving(LiveMonitor(config)) as port:
        query = urllib.parse.urlencode({"target": nginx.url("/stall"), "module": "http_2xx", "debug": "true"})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/probe?{query}",
                                         headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = response.read().decode()
    logs, _, metrics = page.partition("Metrics that would have been returned:")
    assert "with module http_2xx, timeout 1 s" in logs
    assert exposition(metrics.partition("Module configuration:")[0])["probe_success"][()] == 0


# -- over the real runner --------------------------------------------------------------------

def test_the_running_monitor_through_its_web_side(nginx, closed_port, tmp_path):
    """The runner checks nginx and a closed port every second into SQLite; the app shows
    it: /metrics, the API's reads from memory and from the store, and an acknowledgement
    written with the token."""
    db = tmp_path / "m.db"
    config = monitor_config(tmp_path, f"""
[defaults]
interval = "1s"
failure-threshold = 1

[[target]]
name = "web"
url = "{nginx.url('/')}"

[[target]]
name = "down"
url = "tcp://127.0.0.1:{closed_port.port}"
""", settings=f'store = "{db}"\nlisten = ""\napi-token-env = "TEST_TOKEN"', env={"TEST_TOKEN": "s3cret"})
    with running(Monitor(config)) as port:
        def seen():
            return {d["id"]: d for d in http(port, "/api/targets")[1]}

        targets = poll(seen, lambda t: t["web"]["last"] and (t["down"]["verdict"] or {}).get("status") == 2)
        metrics = exposition(http(port, "/metrics")[1])
        history = poll(lambda: http(port, "/api/targets/web/history?since=1h")[1], lambda h: len(h) >= 1)
        incidents = poll(lambda: http(port, "/api/incidents?since=1h")[1], lambda i: len(i) >= 1)
        uptime = http(port, "/api/uptime?since=1h")[1]
        refused = http(port, "/api/targets/down/ack", "POST", {"author": "alice"}, token="wrong")
        acked = http(port, "/api/targets/down/ack", "POST", {"author": "alice", "comment": "on it"}, token="s3cret")
    assert targets["web"]["state"]["hard_status"] == 0 and targets["down"]["state"]["hard_status"] == 2
    assert targets["down"]["last"]["status"] == 2 and "refused" in targets["down"]["last"]["summary"].lower()
    up = {dict(k)["target"]: v for k, v in metrics["netkit_target_up"].items()}
    assert up == {"web": 1, "down": 0}
    assert metrics["netkit_monitor_checks_total"][()] >= 2 and metrics["netkit_monitor_leader"][()] == 1
    assert all(s["status"] == 0 and s["location"] == "default" for s in history)
    assert [i["target"] for i in incidents] == ["down"] and incidents[0]["end"] is None
    assert uptime["web"] == 1.0 and uptime["down"] == 0.0
    assert refused[0] == 401 and acked == (200, {"target": "down", "acknowledged": True})
    store = open_store(str(db))
    try:
        assert store.acks()["down"]["author"] == "alice"
    finally:
        store.close()
