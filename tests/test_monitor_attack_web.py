"""The red team's attacks on the monitor's web side, against ``netkit monitor run`` as a
process: /probe as an SSRF (credentials of the config lent to a caller's host, ~/.netrc,
file://, oversized queries, a flood of probes), slowloris on the web port, API writes
without or with a wrong token and with hostile JSON bodies, ids with ``..`` and ``%2F``,
and the config's names and labels (quotes, backslashes, ``{}``, ``<script>``, unicode, long)
through /metrics (parsed by prometheus_client) and /api (parsed as JSON)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.parse

from prometheus_client.parser import text_string_to_metric_families

from netkit.monitor._probe import DEFAULT_PROBE_TIMEOUT, MAX_SCRAPE_TIMEOUT
from netkit.monitor._web import MAX_PROBES_IN_FLIGHT
from tests.helpers import run_netkit
from tests.peers._base import free_port
from tests.peers.monitor_hostile import MONITOR_WAIT, MonitorProcess


def probe(mon: MonitorProcess, target: str, module: str, **extra) -> tuple[int, str]:
    query = urllib.parse.urlencode({"target": target, "module": module, **extra})
    status, _, body = mon.get(f"/probe?{query}")
    return status, body.decode("utf-8", "replace")


def metric(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


# -- /probe: the config's credentials stay with the config's targets -----------------------------


def test_a_module_with_credentials_is_refused_at_load(tmp_path):
    """A module's options go to whatever host a /probe caller names: a password, a private key
    or an Authorization header in one would be sent to a host of the caller's choosing."""
    cases = {
        "password-env": 'user = "admin"\npassword-env = "PROBE_PASSWORD"\n',
        "user": 'user = "admin"\n',
        "header": 'header = ["Authorization: Bearer s3cret-token"]\n',
        "header X-Api-Key": 'header = ["X-Api-Key: s3cret-token"]\n',
    }
    for what, options in cases.items():
        cfg = tmp_path / f"{what.replace(' ', '_')}.toml"
        cfg.write_text(f'[monitor]\nstore = "{tmp_path}/m.db"\nlisten = ""\n[module.web_auth]\nprober = "http"\n'
                       + options)
        code, out, err = run_netkit("monitor", "check", cfg, env={"PROBE_PASSWORD": "s3cret-password"})
        assert code == 2, (what, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "module.web_auth" in lines[0] and "/probe" in lines[0], (what, err)
        assert "s3cret" not in err
    # the same options on a [[target]] are fine: they go to that target's own URL only
    cfg = tmp_path / "target.toml"
    cfg.write_text(f'[monitor]\nstore = "{tmp_path}/m.db"\nlisten = ""\n[[target]]\nurl = "http://127.0.0.1:1/"\n'
                   'user = "admin"\npassword-env = "PROBE_PASSWORD"\nheader = ["X-Api-Key: s3cret-token"]\n')
    assert run_netkit("monitor", "check", cfg, env={"PROBE_PASSWORD": "s3cret-password"})[0] == 0


def test_probe_never_lends_the_monitors_netrc_to_a_callers_host(tmp_path, webhook):
    """~/.netrc's ``default`` entry holds a password for any host: a /probe target naming
    that login at the caller's host must not make the monitor send it there."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text("default login admin password s3cret-netrc\n")
    netrc.chmod(0o600)
    body = '[module.http_2xx]\nprober = "http"\n'
    with MonitorProcess(tmp_path, body, env={"HOME": str(home), "NETRC": str(netrc)}) as mon:
        target = webhook.url("/ok/netrc").replace("http://", "http://admin@")
        status, text = probe(mon, target, "http_2xx", debug="true")
        assert status == 200
        seen = webhook.requests("/ok/netrc")
        for request in seen:
            auth = request.header("Authorization") or ""
            assert "s3cret-netrc" not in base64.b64decode(auth.partition(" ")[2] or "").decode("latin-1")
        assert "s3cret-netrc" not in text
        # and a target of the caller's own with its own password still works
        own = webhook.url("/ok/own").replace("http://", "http://me:mine@")
        status, text = probe(mon, own, "http_2xx")
        assert status == 200 and metric(text, "probe_success") == 1.0, text
        assert webhook.requests("/ok/own")[0].header("Authorization") == "Basic " + base64.b64encode(
            b"me:mine").decode()
    assert "s3cret-netrc" not in mon.stderr()


def test_probe_reads_no_local_files_and_takes_no_oversized_queries(tmp_path, webhook):
    body = '[module.http_2xx]\nprober = "http"\n[module.tcp_connect]\nprober = "tcp"\n'
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:TOP-SECRET-LINE\n")
    with MonitorProcess(tmp_path, body) as mon:
        for target in (f"file://{secret}", f"file:///{secret}", f"{secret}", "unix:///run/docker.sock",
                       "gopher://127.0.0.1:25/_HELO", "http://[::1", "\r\nHost: evil"):
            for module in ("http_2xx", "tcp_connect"):
                status, text = probe(mon, target, module, debug="true")
                assert "TOP-SECRET-LINE" not in text
                assert status == 400 or metric(text.split("\n\n\n\nMetrics that would have been returned:\n")[-1]
                                               .split("\n\n\n")[0], "probe_success") == 0.0, (target, text)
        # a query far past any target: refused, and the server goes on
        status, _, _ = mon.get("/probe?module=http_2xx&target=http://x/" + "a" * 200_000)
        assert status in (400, 414, 431)
        status, _, _ = mon.get("/probe?module=http_2xx&target=http://x/" + "%41" * 1000)
        assert status == 200
        assert mon.get("/metrics")[0] == 200
    assert "Traceback" not in mon.stderr()


# Connections the silent peer may still count open after their probe timed out and closed.
CLOSE_LAG = 20


def test_a_flood_of_probes_to_a_silent_host_is_bounded(tmp_path, monitor_hostile):
    """Many callers probing a host that never answers: at most MAX_PROBES_IN_FLIGHT
    connections reach it, the others wait or get 503, and /metrics still answers."""
    body = '[module.tcp_connect]\nprober = "tcp"\nexpect = "never"\ntimeout = 3\n'
    callers = MAX_PROBES_IN_FLIGHT + 100
    with MonitorProcess(tmp_path, body) as mon:
        statuses = []
        lock = threading.Lock()

        def call(n):
            try:
                status, _ = probe(mon, f"127.0.0.1:{monitor_hostile.silent}", "tcp_connect", n=n)
            except OSError as exc:
                status = repr(exc)
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=call, args=(n,)) for n in range(callers)]
        for thread in threads:
            thread.start()
        mon.wait_for(lambda: monitor_hostile.accepted["silent"] >= 10, "probes reaching the silent host")
        status, _, text = mon.get("/metrics")
        assert status == 200 and metric(text.decode(), "netkit_monitor_targets") == 0.0
        for thread in threads:
            thread.join(MONITOR_WAIT * 2)
        assert sorted(set(statuses), key=str) in ([200], [200, 503]), statuses
        assert len(statuses) == callers
        assert monitor_hostile.accepted["silent"] >= MAX_PROBES_IN_FLIGHT // 2
        # The peer counts a connection open until its thread sees the close, a moment after a
        # timed-out probe frees its slot and the next one connects: a few over the bound are
        # that lag; unbounded, all 300 callers would be open at once.
        assert monitor_hostile.most_open["silent"] <= MAX_PROBES_IN_FLIGHT + CLOSE_LAG


def test_a_callers_scrape_timeout_header_cannot_hold_a_probe_for_long(tmp_path):
    """X-Prometheus-Scrape-Timeout-Seconds is anyone's to set: a probe (of a silent host,
    holding one of the probe slots) lasts MAX_SCRAPE_TIMEOUT at most, whatever it says."""
    body = '[module.tcp_connect]\nprober = "tcp"\n'
    closed = free_port()
    with MonitorProcess(tmp_path, body) as mon:
        for header, most in (("1e308", MAX_SCRAPE_TIMEOUT), ("86400", MAX_SCRAPE_TIMEOUT), ("inf", DEFAULT_PROBE_TIMEOUT),
                             ("nan", DEFAULT_PROBE_TIMEOUT), ("-5", DEFAULT_PROBE_TIMEOUT), ("3", 3.0)):
            query = urllib.parse.urlencode({"target": f"127.0.0.1:{closed}", "module": "tcp_connect", "debug": "true"})
            status, _, page = mon.get(f"/probe?{query}", headers={"X-Prometheus-Scrape-Timeout-Seconds": header})
            assert status == 200
            [line] = [ln for ln in page.decode().splitlines() if ln.startswith("* probing")]
            timeout = float(line.rpartition("timeout ")[2].split()[0])
            assert 0 < timeout <= most, (header, line)


# -- the web port itself ----------------------------------------------------------------------------


def test_slowloris_connections_are_closed_and_do_not_block_scrapes(tmp_path):
    """Connections that send a request head a byte at a time, never finishing it, are
    closed by the server (aiohttp's idle timeout); scrapes go on meanwhile."""
    with MonitorProcess(tmp_path, "") as mon:
        slow = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", mon.port))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        assert mon.get("/metrics")[0] == 200
        closed = set()
        deadline = time.monotonic() + 120
        while len(closed) < len(slow):
            assert time.monotonic() < deadline, f"{len(slow) - len(closed)} slow connections are still open"
            for n, sock in enumerate(slow):
                if n in closed:
                    continue
                try:
                    sock.sendall(b"X")
                    sock.settimeout(0.01)
                    if sock.recv(1) == b"":
                        closed.add(n)
                except TimeoutError:
                    pass
                except OSError:
                    closed.add(n)
            time.sleep(1)
        assert mon.get("/metrics")[0] == 200
        for sock in slow:
            sock.close()


# -- the API ------------------------------------------------------------------------------------------


def test_api_writes_refuse_bad_tokens_and_hostile_bodies(tmp_path, monitor_hostile):
    body = (f'[[target]]\nname = "down"\nurl = "tcp://127.0.0.1:{monitor_hostile.reset}"\nexpect = "x"\n'
            'interval = "1s"\nfailure-threshold = 1\n')
    with MonitorProcess(tmp_path, body, env={"NETKIT_API_TOKEN": "t0ken"}) as mon:
        mon.wait_for(lambda: (json.loads(mon.get("/api/targets/down")[2])["state"] or {}).get("hard_status", 0) >= 1,
                     "the target to be down")
        ack = "/api/targets/down/ack"
        good = json.dumps({"author": "alice"}).encode()
        json_type = {"Content-Type": "application/json"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dDBrZW4="},
                        {"Authorization": "Bearer t0ke"}, {"Authorization": "Bearer t0ken2"}, {"Authorization": "bearer"}):
            status, _, answer = mon.get(ack, "POST", good, {**json_type, **headers})
            assert status == 401, (headers, status, answer)
            assert "error" in json.loads(answer)
        auth = {**json_type, "Authorization": "Bearer t0ken"}
        hostile = {
            "huge": b'{"author": "' + b"a" * (2 << 20) + b'"}',
            "deep": b"[" * 100_000 + b"]" * 100_000,
            "deep object": b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
            "not json": b"\xff\xfe\x00garbage",
            "a list": b'["alice"]',
            "author a number": b'{"author": 5}',
            "author with a newline": b'{"author": "alice\\r\\nBcc: x"}',
            "sticky a string": b'{"author": "alice", "sticky": "yes"}',
            "nan": b'{"author": NaN}',
        }
        for what, data in hostile.items():
            status, headers, answer = mon.get(ack, "POST", data, auth)
            assert status in (400, 413), (what, status, answer[:200])
            assert headers.get("Content-Type", "").startswith("application/json"), what
            assert "error" in json.loads(answer), what
        for path in ("/api/targets/..%2F..%2Fetc%2Fpasswd", "/api/targets/%2E%2E/history", "/api/targets/../targets",
                     "/api/targets/down%2F..%2Fdown/history", "/api/targets/%00/history",
                     "/api/targets/%1b%5b2J/history"):
            status, _, answer = mon.get(path)
            assert status == 404, (path, status, answer[:200])
        assert mon.get(ack, "POST", good, auth)[0] == 200
    err = mon.stderr()
    assert "Traceback" not in err and "\x1b" not in err, err


# -- names and labels from the config --------------------------------------------------------------

HOSTILE_NAMES = ['quote " in it', "back\\slash \\n", "{braces} }{", "<script>alert(1)</script>",
                 "unicode ☃ Ωμέγα 日本", "x" * 200]


def test_hostile_names_and_labels_keep_metrics_and_api_valid(tmp_path, monitor_hostile):
    body = ""
    for n, name in enumerate(HOSTILE_NAMES):
        body += f'[group.{json.dumps(name)}]\n'
    for n, name in enumerate(HOSTILE_NAMES):
        labels = {"env": name, "team": "a\\\"b{c}=d,e", "long": "v" * 256}
        body += (f'[[target]]\nname = {json.dumps(name)}\ngroup = {json.dumps(name)}\n'
                 f'url = "http://127.0.0.1:{monitor_hostile.http_ok}/?n={n}"\ninterval = "1s"\n'
                 f'labels = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in labels.items())} }}\n')
    with MonitorProcess(tmp_path, body) as mon:
        def all_up():
            text = mon.get("/metrics")[2].decode()
            return sum(1 for f in text_string_to_metric_families(text) if f.name == "netkit_target_up"
                       for _ in f.samples) == len(HOSTILE_NAMES)

        mon.wait_for(all_up, "every target's netkit_target_up")
        text = mon.get("/metrics")[2].decode()
        ups = {s.labels["target"]: s for f in text_string_to_metric_families(text) if f.name == "netkit_target_up"
               for s in f.samples}
        assert set(ups) == set(HOSTILE_NAMES)
        for name, sample in ups.items():
            assert sample.labels["group"] == name and sample.labels["env"] == name
            assert sample.labels["team"] == "a\\\"b{c}=d,e" and sample.value == 1.0
        docs = json.loads(mon.get("/api/targets")[2])
        assert {d["id"] for d in docs} == set(HOSTILE_NAMES)
        for name in HOSTILE_NAMES:
            status, _, answer = mon.get("/api/targets/" + urllib.parse.quote(name, safe=""))
            assert status == 200 and json.loads(answer)["id"] == name
            status, _, answer = mon.get("/api/targets/" + urllib.parse.quote(name, safe="") + "/history")
            assert status == 200 and all(row["target"] == name for row in json.loads(answer))
