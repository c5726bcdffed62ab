"""Fixtures ``prometheus`` and ``blackbox_exporter``: the Debian packages' real servers.

``prometheus`` is a factory: ``prometheus(scrape_configs)`` starts
/usr/bin/prometheus (package prometheus, 2.42) on a free 127.0.0.1 port with a temporary
storage dir and a generated prometheus.yml (written as JSON, which is YAML) whose global
``scrape_interval`` is :data:`SCRAPE_INTERVAL`; ``scrape_configs`` is the list of scrape
config mappings exactly as prometheus.yml has them. The returned :class:`Prometheus` has
``url``, ``query(expr)`` (the instant query's result list) and ``wait_for(expr, done)``
(poll until ``done(result)`` or fail quoting the targets' scrape errors). Every server
started is stopped at the test's end.

``blackbox_exporter`` is a factory too: ``blackbox_exporter(modules)`` starts
/usr/bin/prometheus-blackbox-exporter (package prometheus-blackbox-exporter, 0.23) with
``{"modules": modules}`` as its config; the value has ``url`` and ``probe(target, module)``
(the /probe answer's text).
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers._base import ServerProcess, free_port, need_binary

PROMETHEUS = "/usr/bin/prometheus"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
HOST = "127.0.0.1"
# Small, so a test sees a scrape within a second or two.
SCRAPE_INTERVAL = "1s"
# How long wait_for polls: several scrape intervals, plus Prometheus' start-up.
WAIT_TIMEOUT = 30.0
WAIT_POLL = 0.25
# One HTTP request to a peer's API.
REQUEST_TIMEOUT = 10.0


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
        return response.read()


def _ready(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            _get(url)
        except OSError:
            return False
        return True

    return ready


@dataclass
class Prometheus:
    url: str
    server: ServerProcess

    def api(self, path: str, **params: str) -> dict:
        query = urllib.parse.urlencode(params)
        body = json.loads(_get(f"{self.url}/api/v1/{path}?{query}"))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list:
        """The instant query's vector: [{"metric": {...}, "value": [ts, "text"]}, ...]."""
        return self.api("query", query=expr)["result"]

    def wait_for(self, expr: str, done: Callable[[list], bool]) -> list:
        """Poll ``expr`` until ``done(result)``; fail with the scrape targets' state."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            result = self.query(expr)
            if done(result):
                return result
            if time.monotonic() > deadline:
                targets = [(t["scrapeUrl"], t["health"], t["lastError"])
                           for t in self.api("targets")["activeTargets"]]
                raise AssertionError(f"{expr}: not done after {WAIT_TIMEOUT:g} s; last {result}; "
                                     f"targets {targets}; log:\n{self.server.logs()}")
            time.sleep(WAIT_POLL)


@dataclass
class Blackbox:
    url: str

    def probe(self, target: str, module: str) -> str:
        query = urllib.parse.urlencode({"target": target, "module": module})
        return _get(f"{self.url}/probe?{query}").decode()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[list], Prometheus]]:
    """A factory of running Prometheus servers (see the module docstring)."""
    binary = need_binary(PROMETHEUS, "prometheus")
    numbers = itertools.count()
    with ExitStack() as stack:
        def start(scrape_configs: list) -> Prometheus:
            directory = tmp_path / f"prometheus-{next(numbers)}"
            directory.mkdir()
            config = directory / "prometheus.yml"
            config.write_text(json.dumps({"global": {"scrape_interval": SCRAPE_INTERVAL,
                                                     "evaluation_interval": SCRAPE_INTERVAL},
                                          "scrape_configs": scrape_configs}, indent=1))
            port = 0

            def factory(attempt: int) -> ServerProcess:
                nonlocal port
                port = free_port(HOST)
                return ServerProcess(
                    "prometheus",
                    [binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                     f"--web.listen-address={HOST}:{port}", "--log.level=warn"],
                    log_file=directory / "prometheus.log",
                    ready=lambda: _ready(f"http://{HOST}:{port}/-/ready")(),
                )

            server = stack.enter_context(ServerProcess.start_with_retries(factory))
            return Prometheus(f"http://{HOST}:{port}", server)

        yield start


@pytest.fixture
def blackbox_exporter(tmp_path: Path) -> Iterator[Callable[[dict], Blackbox]]:
    """A factory of running blackbox_exporters (see the module docstring)."""
    binary = need_binary(BLACKBOX, "prometheus-blackbox-exporter")
    numbers = itertools.count()
    with ExitStack() as stack:
        def start(modules: dict) -> Blackbox:
            directory = tmp_path / f"blackbox-{next(numbers)}"
            directory.mkdir()
            config = directory / "blackbox.yml"
            config.write_text(json.dumps({"modules": modules}, indent=1))
            port = 0

            def factory(attempt: int) -> ServerProcess:
                nonlocal port
                port = free_port(HOST)
                return ServerProcess(
                    "blackbox_exporter",
                    [binary, f"--config.file={config}", f"--web.listen-address={HOST}:{port}"],
                    log_file=directory / "blackbox.log",
                    ready=lambda: _ready(f"http://{HOST}:{port}/-/healthy")(),
                )

            stack.enter_context(ServerProcess.start_with_retries(factory))
            return Blackbox(f"http://{HOST}:{port}")

        yield start
