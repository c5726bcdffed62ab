"""The red team's attacks on the monitor's store: a store path that is a directory, a
symlink planted to another file, a file that is no database, a damaged database, a
read-only disk (one line and exit 2 at start, never a traceback, the planted file
untouched), and a disk that fills up while the monitor runs (small tmpfs): it keeps
running, says so once, keeps the results and commits them when there is room again."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sqlite3
import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import run_netkit
from tests.peers.monitor_hostile import MonitorProcess


@contextlib.contextmanager
def tmpfs(path, options: str):
    """A tmpfs mounted at ``path`` (``mount -t tmpfs -o OPTIONS``), unmounted at the end."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def config(tmp_path, store, body: str = "") -> str:
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'[monitor]\nstore = "{store}"\nlisten = ""\n[[target]]\nurl = "tcp://127.0.0.1:1"\n' + body)
    return str(cfg)


def refused_in_one_line(tmp_path, store) -> str:
    code, out, err = run_netkit("monitor", "run", config(tmp_path, store), timeout=60)
    assert code == 2, (code, out, err)
    assert len(err.strip().splitlines()) == 1 and "internal error" not in err, err
    return err


def test_bad_store_paths_are_one_line_and_exit_2(tmp_path):
    folder = tmp_path / "a-directory.db"
    folder.mkdir()
    assert "not a file" in refused_in_one_line(tmp_path, folder)

    precious = tmp_path / "precious.conf"
    precious.write_text("do not touch\n" * 100)
    before = hashlib.sha256(precious.read_bytes()).hexdigest()
    planted = tmp_path / "planted.db"
    planted.symlink_to(precious)
    assert "not a netkit monitor store" in refused_in_one_line(tmp_path, planted)
    assert hashlib.sha256(precious.read_bytes()).hexdigest() == before
    assert not (tmp_path / "planted.db-wal").exists() or (tmp_path / "planted.db-wal").stat().st_size == 0

    noise = tmp_path / "noise.db"
    noise.write_bytes(os.urandom(100_000))
    assert "not a netkit monitor store" in refused_in_one_line(tmp_path, noise)

    foreign = tmp_path / "foreign.db"
    with contextlib.closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE accounts (name TEXT)")
        conn.commit()
    assert "other tables" in refused_in_one_line(tmp_path, foreign)

    assert "does not exist" in refused_in_one_line(tmp_path, tmp_path / "no" / "such" / "dir" / "m.db")


def _damage(db, table: str | None) -> None:
    """Overwrite with noise the root page of ``table`` (None: every page after the first)."""
    from netkit.monitor._store import open_store

    open_store(str(db)).close()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'"))
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    size = db.stat().st_size
    with open(db, "r+b") as f:
        if table is None:
            f.seek(page)
            f.write(os.urandom(size - page))
        else:
            f.seek((roots[table] - 1) * page)
            f.write(b"\xde\xad" * (page // 2))


def test_a_damaged_store_is_one_line_and_exit_2(tmp_path):
    """Damage met by the migration (the schema's pages) or by the start's first reads (the
    targets table): either way the last line says so, exit 2, no internal error."""
    for table in (None, "targets", "states"):
        db = tmp_path / f"damaged-{table}.db"
        _damage(db, table)
        code, _, err = run_netkit("monitor", "run", config(tmp_path, db), timeout=60)
        assert code == 2, (table, code, err)
        last = err.strip().splitlines()[-1]
        assert "internal error" not in err and ("damaged" in last or "not a netkit monitor store" in last), err


def test_a_read_only_disk_at_start_is_one_line_and_exit_2(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as disk:
        err = refused_in_one_line(tmp_path, disk / "m.db")
        assert "m.db" in err


def _metric(mon, name):
    text = mon.get("/metrics")[2].decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


def _fill(path) -> None:
    """Append to ``path`` until its disk is full."""
    try:
        with open(path, "ab") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc


# The disk's size, and the room left beside the filler: the failed runs' dialogues (~20 KiB
# each) and SQLite's WAL fill that room within seconds of the start.
DISK = 16 << 20
ROOM = 1 << 20


def test_a_full_disk_at_runtime_keeps_the_monitor_running_and_retrying(tmp_path, monitor_hostile):
    body = "".join(f'[[target]]\nname = "evil{n}"\nurl = "http://127.0.0.1:{monitor_hostile.http_evil}/?n={n}"\n'
                   f'interval = "1s"\ntimeout = 0.9\n' for n in range(4))
    body += f'[[target]]\nname = "good"\nurl = "http://127.0.0.1:{monitor_hostile.http_ok}/"\ninterval = "1s"\n'
    with tmpfs(tmp_path / "disk", f"size={DISK}") as disk:
        with open(disk / "filler", "wb") as f:
            f.write(b"\0" * (DISK - ROOM))
        (disk / "more").touch()
        mon = MonitorProcess(tmp_path, body, store=disk / "m.db")
        with mon:
            mon.wait_for(lambda: (_metric(mon, "netkit_monitor_store_errors_total") or 0) >= 1,
                         "commits failing on the full disk")
            _fill(disk / "more")      # what SQLite freed meanwhile: the disk stays full now
            full_at = time.time()
            errors = _metric(mon, "netkit_monitor_store_errors_total")
            mon.wait_for(lambda: _metric(mon, "netkit_monitor_store_errors_total") >= errors + 3,
                         "commits failing on the full disk, again")
            assert _metric(mon, "netkit_monitor_pending_results") >= 3
            assert mon.proc.poll() is None
            assert mon.get("/metrics")[0] == 200 and mon.get("/api/targets")[0] == 200
            os.unlink(disk / "filler")
            os.unlink(disk / "more")
            freed_at = time.time()
            mon.wait_for(lambda: any(full_at < row["at"] < freed_at for row in json.loads(
                mon.get("/api/targets/good/history?limit=10000")[2])), "the results of the outage, committed")
        assert mon.stop() == 0
        err = mon.stderr()
        assert err.count("commit failed") <= 3, err       # said once (and then every COMPLAIN_EVERY times)
        assert "Traceback" not in err
