"""The SQLite store (the default): one file, WAL, one connection per thread.

Durability: WAL with ``synchronous=NORMAL``. A transaction is in the WAL file when COMMIT
returns, so a ``kill -9`` of the process (or a crash of it) at any moment loses no committed
transaction: the operating system still holds the written pages, and the next open replays
the WAL (tests/test_monitor_store_kill.py kills a writer mid-batch to show it). What NORMAL
gives up is a power loss or kernel crash: the last transactions before the WAL's next sync
(at a checkpoint) may then be lost, the file still consistent. ``synchronous=FULL`` would
fsync every commit; at one batch a second that is affordable, but the runner's results are
a minute old at most, so we choose the faster one and say so.

Threads: the runner writes from one thread, the web side reads from others. Each thread
gets its own connection (``threading.local``) on first use; WAL lets readers read while the
writer writes, and ``busy_timeout`` makes two writers (runner and an API acknowledgement)
wait for each other instead of failing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import threading
import time

from netkit.core.errors import UsageError
from netkit.monitor import _schema as s
from netkit.monitor._sql import SqlStore
from netkit.monitor._store import StoreError

__all__ = ["SqliteStore", "sqlite_path"]

# How long a writer waits for another's transaction (a 10k-sample batch or a pruning slice
# takes well under a second; a backup holding the file may take longer).
BUSY_TIMEOUT = 30.0
# The WAL file is cut back to this after a checkpoint, so one burst does not keep a big file.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# Rows ANALYZE reads per index when PRAGMA optimize refreshes the statistics (SQLite's advice).
ANALYSIS_LIMIT = 1000
# A new store file is readable by its owner only: results carry (masked) dialogues.
FILE_MODE = 0o600

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_FORMS = "a path, sqlite:///ABSOLUTE/PATH.db or postgresql://USER@HOST/DB"


def sqlite_path(url: str) -> str:
    """The file a SQLite store URL names; UsageError naming the right form otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise UsageError(f"store must be {_FORMS}, got {url!r}")
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if not path.startswith("/"):
            raise UsageError(f"a SQLite store URL has an absolute path (sqlite:///var/lib/netkit/monitor.db), "
                             f"got {url!r}")
    elif _SCHEME.match(url):
        raise UsageError(f"store must be {_FORMS}, got {url.split('://')[0]}://...")
    else:
        path = url
    if path in (":memory:", "") or path.startswith("file:"):
        raise UsageError(f"a SQLite store is a file that outlives the process, got {url!r}")
    if "\x00" in path:
        raise UsageError("a store path cannot hold a NUL byte")
    return os.path.abspath(path)


class SqliteStore(SqlStore):
    types = s.SQLITE_TYPES
    shared = False   # one monitor's: several monitors meet in PostgreSQL

    def __init__(self, url: str, location: str = "default") -> None:
        self.path = sqlite_path(url)
        self.location = location
        self.name = f"store {self.path}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False
        self._create()
        self._conn()   # fail now, with one line, if it cannot be opened

    def _create(self) -> None:
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE))
        except OSError as exc:
            folder = os.path.dirname(self.path)
            why = {errno.ENOENT: f"the directory {folder} does not exist",
                   errno.EISDIR: "it is a directory, not a file",
                   errno.ENOTDIR: "a part of its path is not a directory",
                   errno.EACCES: f"permission denied (this user must be able to write it and {folder})",
                   errno.EPERM: f"permission denied (this user must be able to write it and {folder})",
                   errno.EROFS: "the file system is read-only"}.get(exc.errno or 0) or exc.strerror
            raise UsageError(f"cannot open {self.name}: {why}") from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError(f"{self.name} is closed")
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot open") from None
        if mode.lower() != "wal":
            conn.close()
            raise UsageError(f"cannot open {self.name} in WAL mode (journal mode {mode}): put it on a local disk")
        with self._guard:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _error(self, exc: sqlite3.Error, doing: str = "failed") -> Exception:
        text = str(exc)
        if "not a database" in text:
            return UsageError(f"{self.name} is not a netkit monitor store ({text})")
        if "malformed" in text:
            return StoreError(f"{self.name} is damaged ({text}): restore it from a backup, or start a new one")
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
            return UsageError(f"cannot open {self.name}: {text} (is its directory writable?)")
        return StoreError(f"{self.name} {doing}: {text}")

    @contextlib.contextmanager
    def _transaction(self, begin: str):
        conn = self._conn()
        try:
            conn.execute(begin)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield conn.cursor()
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise

    def _write(self):
        # IMMEDIATE: take the write lock at BEGIN, so busy_timeout applies there and a
        # transaction never fails half-way on a lock upgrade.
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self):
        return self._transaction("BEGIN")

    def _now(self, cur) -> float:
        return time.time()

    def _bucket(self, step: int) -> str:
        return f"(CAST(at / {int(step)} AS INTEGER) * {int(step)})"

    # No LATERAL in SQLite: CROSS JOIN, its documented join-order hint, keeps states outside.
    _last_samples = ("states st CROSS JOIN samples x ON x.target = st.target AND x.location = st.location "
                     "AND x.at = (SELECT m.at FROM samples m WHERE m.target = st.target "
                     "AND m.location = st.location ORDER BY m.at DESC LIMIT 1)")

    # A planner whose statistics come from a sample may scan the primary key of a step
    # instead (all of its rows, 200 M minute rows at 10,000 targets): name the index.
    _rollups_by_time = "rollups INDEXED BY rollups_at"

    def _unindexed(self, column: str) -> str:
        return f"+{column}"   # SQLite's documented way to keep a term off the indexes

    def _tables(self, cur) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'")
        return {row[0] for row in cur.fetchall()}

    def rollup(self, now: float, budget: float | None = None) -> bool:
        done = super().rollup(now, budget)
        # Keep the planner's statistics fresh (cheap: it analyzes only tables that changed
        # much, each from a sample of ANALYSIS_LIMIT rows).
        with contextlib.suppress(sqlite3.Error):
            conn = self._conn()
            conn.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
            conn.execute("PRAGMA optimize")
        return done

    def integrity_check(self) -> str:
        """SQLite's own check of the file: "ok" when sound."""
        with self._read() as cur:
            cur.execute("PRAGMA integrity_check")
            return "; ".join(row[0] for row in cur.fetchall())

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
