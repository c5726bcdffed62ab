"""Session fixture ``alertmanager``: the Debian package's Alertmanager (0.25) on loopback.

Started with a minimal config (every alert routed to a receiver that sends nothing), a tmp
storage dir, and gossip off (``--cluster.listen-address=`` empty), on a free port.
Attributes: ``url`` (base URL, e.g. ``http://127.0.0.1:PORT``), ``alerts(**filters)``: GET
``/api/v2/alerts`` (active ones; Alertmanager leaves resolved alerts out) as parsed JSON.
Alerts persist for the session: give each test's targets unique names.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers._base import ServerProcess, free_port, need_binary

HOST = "127.0.0.1"
BINARY = "/usr/bin/prometheus-alertmanager"
# Alertmanager's own start is well under a second; its first start on a slow, shared box
# (reading templates, opening storage) has taken several.
READY_TIMEOUT = 30.0
# One API request to the local Alertmanager.
REQUEST_TIMEOUT = 5.0
CONFIG = """\
route:
  receiver: nowhere
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nowhere
"""


@dataclass(frozen=True)
class Alertmanager:
    url: str
    log_file: Path

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=REQUEST_TIMEOUT) as reply:
            return json.loads(reply.read())

    def alerts(self, **filters) -> list[dict]:
        """Active alerts; ``filters`` as label=value matchers (``target="web1"``)."""
        query = urllib.parse.urlencode([("filter", f'{k}="{v}"') for k, v in filters.items()])
        return self.get("/api/v2/alerts" + (f"?{query}" if query else ""))


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=REQUEST_TIMEOUT) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory):
    binary = need_binary(BINARY, "prometheus-alertmanager")
    directory = tmp_path_factory.mktemp("alertmanager")
    (directory / "alertmanager.yml").write_text(CONFIG)
    log_file = directory / "alertmanager.log"

    def factory(attempt: int) -> ServerProcess:
        port = free_port(HOST)
        url = f"http://{HOST}:{port}"
        storage = directory / f"data{attempt}"
        storage.mkdir()
        server = ServerProcess(
            "alertmanager",
            [binary, f"--config.file={directory / 'alertmanager.yml'}", f"--storage.path={storage}",
             f"--web.listen-address={HOST}:{port}", "--cluster.listen-address=", "--log.level=warn"],
            log_file=log_file, ready=lambda: _ready(url), ready_timeout=READY_TIMEOUT)
        server.url = url  # type: ignore[attr-defined]
        return server

    with ServerProcess.start_with_retries(factory) as server:
        yield Alertmanager(server.url, log_file)  # type: ignore[attr-defined]
