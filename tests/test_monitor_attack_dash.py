"""The red team's hostile names and peers against the dashboard of ``netkit monitor run``:
a target named ``<script>...`` in a group of the same, with labels of the same, whose peer
answers with ``<script>``, escapes, NUL and invalid UTF-8: the overview, the target's page
(its failed run's dialogue) and the status page show them as text, never as markup, and the
live stream's events stay one JSON line each (which dash.js puts in as text)."""

from __future__ import annotations

import json
import socket
import urllib.parse

from tests.peers.monitor_hostile import MonitorProcess

SCRIPT = "<script>alert(1)</script>"
NAME = f'{SCRIPT} "q" \'a\' & {{braces}} </div><img src=x onerror=alert(2)>'


def test_hostile_names_and_peers_are_text_on_every_page(tmp_path, monitor_hostile):
    body = (f'[group.{json.dumps(NAME)}]\n'
            f'[[target]]\nname = {json.dumps(NAME)}\ngroup = {json.dumps(NAME)}\n'
            f'url = "http://127.0.0.1:{monitor_hostile.garbage}/"\ninterval = "1s"\nfailure-threshold = 1\n'
            f'labels = {{ team = {json.dumps(NAME)} }}\n'
            f'[[target]]\nname = "peer-script"\nurl = "http://127.0.0.1:{monitor_hostile.controls}/"\n'
            'interval = "1s"\nfailure-threshold = 1\n'
            f'[web]\nstatus-groups = [{json.dumps(NAME)}]\n')
    with MonitorProcess(tmp_path, body) as mon:
        mon.wait_for(lambda: all(d["last"] for d in json.loads(mon.get("/api/targets")[2])), "every first result")
        pages = ["/", "/?q=" + urllib.parse.quote(NAME), "/target/" + urllib.parse.quote(NAME, safe=""),
                 "/target/peer-script", "/status", "/status/" + urllib.parse.quote(NAME, safe="")]
        for page in pages:
            status, headers, html = mon.get(page)
            text = html.decode("utf-8")
            assert status == 200, (page, status, text[:300])
            assert headers["Content-Type"].startswith("text/html"), page
            assert "<script>alert" not in text and "<img src=x" not in text, page
            assert not any(c in text for c in "\x00\x1b\x07\x9b"), page
        overview = mon.get("/")[2].decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in overview

        # the live stream: every event one "data:" line of JSON
        sock = socket.create_connection(("127.0.0.1", mon.port), timeout=15)
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        data = b""
        try:
            while data.count(b"\ndata:") < 3:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        finally:
            sock.close()
        head, _, stream = data.partition(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        assert b"text/event-stream" in head.lower()
        events = [json.loads(line[5:]) for line in stream.decode("utf-8").splitlines() if line.startswith("data:")]
        # (dash.js puts every value in as textContent: the JSON's text is text, whatever it holds)
        assert any(isinstance(e, dict) and e.get("id") == NAME for e in events), events
