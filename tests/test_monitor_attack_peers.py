"""The red team's hostile peers (tests/peers/monitor_hostile.py) against ``netkit monitor run``:
an endless line, megabytes of garbage, banners and HTTP heads full of control characters,
ANSI escapes, CR, NUL and invalid UTF-8, a peer that never answers, one that trickles, one
that resets. Each fails only its own target; what is stored is bounded; the log on stderr
carries no raw control characters; /metrics stays valid Prometheus text and /api valid
JSON; the good neighbour's results keep coming while the hostile ones hang."""

from __future__ import annotations

import json
import time
import unicodedata

from prometheus_client.parser import text_string_to_metric_families

from netkit.monitor._schema import MAX_DETAILS, MAX_DIALOGUE, MAX_DIALOGUE_LINE, MAX_SUMMARY
from netkit.monitor._store import open_store
from tests.peers.monitor_hostile import BEHAVIOURS, MonitorProcess

SCHEMES = ("tcp", "ssh", "smtp", "http")
# How many results of the good neighbour prove its runs go on beside the hung ones.
GOOD_RUNS = 6


def hostile_config(peers) -> str:
    body = '[defaults]\ninterval = "2s"\ntimeout = 1.5\nfailure-threshold = 1\n'
    for kind in BEHAVIOURS:
        if kind.startswith("http_"):
            continue
        port = getattr(peers, kind)
        for scheme in SCHEMES:
            extra = 'expect = "SSH"\n' if scheme == "tcp" else ""
            url = f"{scheme}://127.0.0.1:{port}" + ("/" if scheme == "http" else "")
            body += f'[[target]]\nname = "{scheme}-{kind}"\nurl = "{url}"\n{extra}'
    body += f'[[target]]\nname = "http-evil"\nurl = "http://127.0.0.1:{peers.http_evil}/"\n'
    body += f'[[target]]\nname = "good"\nurl = "http://127.0.0.1:{peers.http_ok}/"\n'
    return body


def raw_controls(text: str) -> list:
    """Characters a terminal would act on: C0 (but newline), DEL, C1, bidi overrides."""
    return sorted({c for c in text if c != "\n" and (unicodedata.category(c) == "Cc" or c in "\u202a\u202b\u202c"
                                                   "\u202d\u202e\u2066\u2067\u2068\u2069")})


def test_hostile_peers_fail_only_themselves_and_stay_bounded(tmp_path, monitor_hostile):
    mon = MonitorProcess(tmp_path, hostile_config(monitor_hostile))
    ids = [f"{s}-{k}" for k in BEHAVIOURS if not k.startswith("http_") for s in SCHEMES] + ["http-evil"]
    with mon:
        def every_target_ran():
            docs = json.loads(mon.get("/api/targets")[2])
            return all(d["last"] is not None for d in docs)

        mon.wait_for(every_target_ran, "every target's first result")
        # the hostile ones hang and trickle while the good one goes on
        first = len(json.loads(mon.get("/api/targets/good/history")[2]))
        mon.wait_for(lambda: len(json.loads(mon.get("/api/targets/good/history")[2])) >= first + GOOD_RUNS,
                     f"{GOOD_RUNS} more results of the good target")
        for kind in ("silent", "trickle"):
            assert monitor_hostile.accepted[kind] >= 2 * len(SCHEMES), kind

        docs = {d["id"]: d for d in json.loads(mon.get("/api/targets")[2])}
        assert docs["good"]["last"]["status"] == 0 and docs["good"]["state"]["hard_status"] == 0
        for tid in ids:
            if tid != "tcp-controls":       # its banner does start with the SSH it expects
                assert docs[tid]["last"]["status"] != 0, (tid, docs[tid]["last"]["summary"])
        text = mon.get("/metrics")[2].decode("utf-8")
        ups = {s.labels["target"]: s.value for f in text_string_to_metric_families(text)
               if f.name == "netkit_target_up" for s in f.samples}
        assert ups["good"] == 1.0 and set(ups) == {*ids, "good"}
        for tid in ids:
            if not tid.startswith("tcp-"):      # a tcp check with a mismatching reply is a WARNING: "up"
                assert ups[tid] == 0.0, tid
        for path in ("/api/events?since=1h", "/api/incidents?since=1h", "/api/uptime?since=1h"):
            status, headers, body = mon.get(path)
            assert status == 200 and headers["Content-Type"].startswith("application/json")
            json.loads(body)
    assert mon.stop() == 0
    err = mon.stderr()
    assert raw_controls(err) == [], err[-2000:]
    assert "Traceback" not in err
    assert "CRITICAL (hard)" in err     # the hard changes were logged, escaped

    store = open_store(str(mon.db))
    try:
        for tid in [*ids, "good"]:
            rows = store.history(tid, 0, time.time() + 1, 10_000)
            assert rows, tid
            for sample in rows:
                assert len(sample.summary) <= MAX_SUMMARY, tid
                assert len(json.dumps(sample.details)) <= MAX_DETAILS + 64, tid
                if sample.dialogue:
                    assert sum(len(line) for line in sample.dialogue) <= MAX_DIALOGUE, tid
                    assert max(len(line) for line in sample.dialogue) <= MAX_DIALOGUE_LINE + 1, tid
        for event in store.events(None, 0, 10_000):
            assert len(json.dumps(event.data)) <= 16 * 1024
    finally:
        store.close()
