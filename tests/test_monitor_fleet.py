"""Several monitors, one PostgreSQL: every result carries its location, a quorum decides the
verdict, one monitor at a time decides and alerts, and another takes over when it dies."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from netkit.monitor._store import open_store
from tests.helpers import clean_env

WAIT = 60.0
LOCATIONS = ("fra", "nyc", "sfo")


def config(path: Path, store: str, location: str, port: int, web_port: int) -> Path:
    path.write_text(f"""
[monitor]
store = "{store}"
location = "{location}"
listen = ""
state-dir = "{path.parent}"

[defaults]
interval = "1s"
failure-threshold = 1
success-threshold = 1

[[target]]
name = "svc"
url = "tcp://127.0.0.1:{port}"
quorum = 2

[[target]]
name = "web"
url = "http://127.0.0.1:{web_port}/"
""")
    return path


class Fleet:
    def __init__(self, tmp_path: Path, url: str, port: int, web_port: int):
        self.procs, self.logs = {}, {}
        for loc in LOCATIONS:
            cfg = config(tmp_path / f"{loc}.toml", url, loc, port, web_port)
            self.logs[loc] = tmp_path / f"{loc}.log"
            self.procs[loc] = subprocess.Popen(
                [sys.executable, "-m", "netkit", "monitor", "run", str(cfg)], stdout=subprocess.DEVNULL,
                stderr=self.logs[loc].open("w"), env=clean_env())

    def log(self, loc: str) -> str:
        return self.logs[loc].read_text()

    def leaders(self) -> list[str]:
        return [loc for loc in LOCATIONS if self.procs[loc].poll() is None and "leading:" in self.log(loc)
                and "no longer leading" not in self.log(loc)]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            proc.wait(timeout=WAIT)


def wait_for(predicate, what: str, fleet: Fleet):
    deadline = time.monotonic() + WAIT
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; logs: " + "\n".join(
                f"--- {loc}\n{fleet.log(loc)}" for loc in LOCATIONS))
        time.sleep(0.2)
    return value


def verdict_changes(url: str, target: str) -> list[tuple[int, int]]:
    store = open_store(url, "reader")
    try:
        return [(e.data["old"], e.data["new"]) for e in store.events(target, 0) if e.kind == "VerdictChange"]
    finally:
        store.close()


def test_three_monitors_one_leader_quorum_and_takeover(tmp_path, postgres_url, nginx):
    # A port bound but not listening refuses connections; listen() later brings the service up.
    service = socket.socket()
    service.bind(("127.0.0.1", 0))
    port = service.getsockname()[1]
    fleet = Fleet(tmp_path, postgres_url, port, nginx.http_port)
    try:
        # Every location reports; exactly one monitor leads.
        def all_report():
            store = open_store(postgres_url, "reader")
            try:
                return {s.location for s in store.history("svc", 0, time.time() + 1)} == set(LOCATIONS)
            finally:
                store.close()

        wait_for(all_report, "results from every location", fleet)
        leader = wait_for(lambda: fleet.leaders() and fleet.leaders()[0], "a leader", fleet)
        assert len(fleet.leaders()) == 1
        # The service is down everywhere: one verdict change, decided once for three monitors.
        wait_for(lambda: (0, 2) in verdict_changes(postgres_url, "svc"), "the CRITICAL verdict", fleet)
        assert verdict_changes(postgres_url, "svc") == [(0, 2)]
        assert verdict_changes(postgres_url, "web") == []

        # The leader dies without a word; another takes over (the advisory lock is released
        # with its connection) and decides the recovery.
        fleet.procs[leader].kill()
        fleet.procs[leader].wait()
        successor = wait_for(lambda: [loc for loc in fleet.leaders() if loc != leader], "a new leader", fleet)
        assert len(successor) == 1
        service.listen()
        wait_for(lambda: (2, 0) in verdict_changes(postgres_url, "svc"), "the recovery verdict", fleet)
        assert verdict_changes(postgres_url, "svc") == [(0, 2), (2, 0)]
    finally:
        fleet.stop()
        service.close()
    for loc in LOCATIONS:
        assert "Traceback" not in fleet.log(loc)
