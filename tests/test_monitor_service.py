"""`netkit monitor run` as systemd runs it: READY/RELOADING/STOPPING, SIGHUP and a changed file
reload (a bad config is refused with one line and the old one keeps running), SIGTERM drains."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from netkit.monitor._store import open_store
from tests.helpers import clean_env
from tests.test_monitor_runner import WAIT, target, write_config

# -- the command, as systemd runs it ------------------------------------------------------------

def start(cfg: Path, notify: str | None = None):
    env = clean_env({"NOTIFY_SOCKET": notify} if notify else {})
    return subprocess.Popen([sys.executable, "-m", "netkit", "monitor", "run", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for(predicate, what: str):
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def targets_in(db: Path) -> set:
    store = open_store(str(db))
    try:
        return {t.id for t in store.targets() if store.history(t.id, 0, time.time() + 1)}
    finally:
        store.close()


def results(db: Path, target_id: str) -> int:
    store = open_store(str(db))
    try:
        return len(store.history(target_id, 0, time.time() + 1))
    finally:
        store.close()


def test_reload_good_and_bad_configs_and_drain_on_sigterm(tmp_path, nginx):
    db = tmp_path / "m.db"
    url = f"http://127.0.0.1:{nginx.http_port}/"
    cfg = write_config(tmp_path / "m.toml", "[defaults]\ninterval = \"1s\"\n" + target("one", url), store=db)
    notify_path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        notify.settimeout(WAIT)
        proc = start(cfg, notify_path)
        try:
            assert notify.recv(4096) == b"READY=1"
            wait_for(lambda: "one" in targets_in(db), "the first target's results")
            # A good new config: a second target appears without a restart (SIGHUP).
            write_config(cfg, "[defaults]\ninterval = \"1s\"\n" + target("one", url) + target("two", url), store=db)
            proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "two" in targets_in(db), "the reloaded target's results")
            # A bad one is refused with one line; the running one keeps going.
            cfg.write_text(cfg.read_text() + "\n[[target]]\nurl = \"gopher://x\"\n")
            proc.send_signal(signal.SIGHUP)
            before = results(db, "two")
            wait_for(lambda: results(db, "two") > before + 1, "results after a refused reload")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=WAIT)
        messages = []
        with contextlib.suppress(OSError):
            while True:
                notify.settimeout(0.2)
                messages.append(notify.recv(4096))
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    refused = [line for line in err.splitlines() if "reload refused" in line]
    assert len(refused) == 1 and "gopher" in refused[0], err
    assert b"RELOADING=1" in messages and b"STOPPING=1" in messages


def test_a_bad_config_at_start_is_one_line_and_exit_2(tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[[target]]\nurl = "tcp://127.0.0.1:1"\ninterval = "fast"\n')
    proc = subprocess.run([sys.executable, "-m", "netkit", "monitor", "run", str(cfg)], capture_output=True,
                          check=False, text=True, env=clean_env(), timeout=WAIT)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "interval" in proc.stderr, proc.stderr


def test_a_state_directory_others_may_write_is_refused(tmp_path):
    """Another user who may write into the state directory could plant the store (or a symlink
    in its place): one line, exit 2, nothing created."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'[monitor]\nstate-dir = "{state}"\nlisten = ""\n[[target]]\nurl = "tcp://127.0.0.1:1"\n')
    proc = subprocess.run([sys.executable, "-m", "netkit", "monitor", "run", str(cfg)], capture_output=True,
                          check=False, text=True, env=clean_env(), timeout=WAIT)
    assert proc.returncode == 2 and "chmod 700" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and list(state.iterdir()) == []
