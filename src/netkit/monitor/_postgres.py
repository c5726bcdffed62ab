"""The PostgreSQL store (psycopg 3, sync API): where several monitors meet.

The same SQL as SQLite (``_sql``), with ``%s`` for ``?``, ``COPY`` for a batch's samples,
and the store's clock taken from the server, so monitors on several machines agree on
``updated``. Each thread gets its own connection (autocommit outside the store's own
transactions, so no session idles inside one); reads run in one REPEATABLE READ snapshot.

Leadership (``try_lead``): a session-level advisory lock held by a dedicated connection.
When the holder's process dies its connection closes and PostgreSQL releases the lock at
once; when its machine or network dies, TCP keepalives (set on that session) end it within
about :data:`KEEPALIVE_IDLE` + :data:`KEEPALIVE_INTERVAL` * :data:`KEEPALIVE_COUNT` seconds.
Another monitor's next ``try_lead`` then takes it.
"""

from __future__ import annotations

import contextlib
import functools
import threading

from netkit.core.errors import NetError, UsageError
from netkit.core.secrets import mask_url
from netkit.core.text import is_digits
from netkit.monitor import _schema as s
from netkit.monitor._sql import SqlStore
from netkit.monitor._store import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresStore"]

# A server that does not answer a connect in this long is down for the monitor's purposes.
CONNECT_TIMEOUT = 10
# The advisory lock keys (64-bit, any value; these spell "nkmonld" / "nkmonmg" in ASCII):
# one for the leader, one to serialize migrations of monitors starting together, one for
# the monitor folding rollups and pruning ("nkmonhk").
LEAD_LOCK = 0x6E6B6D6F6E6C64
MIGRATE_LOCK = 0x6E6B6D6F6E6D67
HOUSEKEEPING_LOCK = 0x6E6B6D6F6E686B
# The lead session's TCP keepalives: a holder whose machine vanished loses the lock after
# ~20 s (10 + 3 * 3), instead of the kernel's two hours.
KEEPALIVE_IDLE = 10
KEEPALIVE_INTERVAL = 3
KEEPALIVE_COUNT = 3
APPLICATION_NAME = "netkit monitor"
# The samples are analyzed before folding when never analyzed, or when more than this
# many rows and this fraction of the table changed since (autovacuum waits for 10 %).
STALE_ROWS = 100_000
STALE_FRACTION = 0.05


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    # The store's SQL is constant text without "?" or "%" of its own; values are parameters.
    return sql.replace("?", "%s")


class _Cursor:
    """A psycopg cursor that takes the shared SQL's ``?`` placeholders."""

    def __init__(self, cur):
        self.raw = cur

    def execute(self, sql: str, params=()):
        self.raw.execute(_pg(sql), params)

    def executemany(self, sql: str, rows):
        self.raw.executemany(_pg(sql), rows)

    def fetchone(self):
        return self.raw.fetchone()

    def fetchall(self):
        return self.raw.fetchall()

    @property
    def rowcount(self) -> int:
        return self.raw.rowcount


def check_url(url: str) -> dict:
    """The connection parameters of a postgresql:// URL; UsageError naming the right form."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        raise UsageError(f"a PostgreSQL store is postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE "
                         f"({_line(exc)})") from None
    ports = str(params.get("port", "5432")).split(",")
    if not all(is_digits(p) and 0 < int(p) < 65536 for p in ports):
        raise UsageError(f"a PostgreSQL store is postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE "
                         f"with PORT 1-65535, got port {params.get('port')!r}")
    return params


class PostgresStore(SqlStore):
    types = s.POSTGRES_TYPES

    def __init__(self, url: str, location: str = "default") -> None:
        check_url(url)
        self.url = url
        self.location = location
        self.name = f"store {mask_url(url)}"
        self._local = threading.local()
        self._connections: list = []
        self._guard = threading.Lock()
        self._lead: psycopg.Connection | None = None           # the connection holding (or trying) the leader lock
        self._leading = False
        self._closed = False
        self._conn()   # fail now, with one line, if the server cannot be reached

    # -- connections ---------------------------------------------------------------------------
    def _connect(self):
        import psycopg

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                   application_name=APPLICATION_NAME)
        except psycopg.ProgrammingError as exc:
            raise UsageError(f"{self.name}: {_line(exc)}") from None
        except psycopg.Error as exc:
            raise NetError(f"cannot reach PostgreSQL at {mask_url(self.url)}: {_line(exc)}") from None
        with self._guard:
            self._connections.append(conn)
        return conn

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        if self._closed:
            raise StoreError(f"{self.name} is closed")
        self._local.conn = conn = self._connect()
        return conn

    def _error(self, exc) -> Exception:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.broken:   # the next call reconnects
            with contextlib.suppress(Exception):
                conn.close()
            self._local.conn = None
        return StoreError(f"{self.name}: {_line(exc)}")

    @contextlib.contextmanager
    def _transaction(self, read_only: bool):
        import psycopg

        conn = self._conn()
        try:
            with conn.transaction():
                cur = conn.cursor()
                if read_only:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield _Cursor(cur)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _write(self):
        return self._transaction(read_only=False)

    def _read(self):
        return self._transaction(read_only=True)

    # -- the dialect ---------------------------------------------------------------------------
    def _now(self, cur) -> float:
        cur.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")
        return cur.fetchone()[0]

    def _bucket(self, step: int) -> str:
        return f"(floor(at / {int(step)}) * {int(step)})"

    def _tables(self, cur) -> set[str]:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {row[0] for row in cur.fetchall()}

    def _lock_schema(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_LOCK,))

    @contextlib.contextmanager
    def _housekeeping(self):
        # A session lock on this thread's connection, held for the whole rollup or prune
        # (outside any transaction): one monitor folds while the others skip.
        import psycopg

        conn = self._conn()
        try:
            ours = conn.execute("SELECT pg_try_advisory_lock(%s)", (HOUSEKEEPING_LOCK,)).fetchone()[0]
        except psycopg.Error as exc:
            raise self._error(exc) from None
        try:
            yield ours
        finally:
            if ours and not conn.closed:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (HOUSEKEEPING_LOCK,))

    def _window_samples(self, targets: list[str], start: float, end: float) -> tuple[str, list]:
        # One index search per target (target = id AND at in range): the plan does not hang
        # on statistics, which a planner without them got wrong (every target's samples of
        # the window read by time, for each chunk: minutes for an hour of 10,000 targets).
        # OFFSET 0 keeps the planner from flattening the LATERAL subquery into a join.
        return ("(SELECT w.* FROM unnest(?::text[]) AS t(id) CROSS JOIN LATERAL (SELECT target, location, at, "
                "duration, status FROM samples WHERE target = t.id AND at >= ? AND at < ? OFFSET 0) AS w) AS x",
                [list(targets), start, end])

    def _fresh_statistics(self) -> None:
        # Without statistics (autovacuum has not analyzed the samples yet, or they grew
        # much since) the planner guesses a window holds a few hundred samples and reads
        # them by time, every target's, for each chunk: at 10,000 targets a fold of one
        # hour took minutes instead of seconds. ANALYZE reads a 30,000-row sample: ~0.1 s.
        import psycopg

        conn = self._conn()
        try:
            row = conn.execute("SELECT n_live_tup, n_mod_since_analyze, COALESCE(last_analyze, last_autoanalyze) "
                               "FROM pg_stat_user_tables WHERE relid = 'samples'::regclass").fetchone()
            if row is not None and (row[2] is None or row[1] > max(STALE_ROWS, STALE_FRACTION * row[0])):
                conn.execute("ANALYZE samples")
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _insert_samples(self, cur, rows: list[tuple]) -> None:
        # COPY: a 10k-sample batch in one round trip, several times faster than INSERTs.
        with cur.raw.copy(f"COPY samples ({s.SAMPLE_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    # -- leadership ----------------------------------------------------------------------------
    def try_lead(self) -> bool:
        import psycopg

        try:
            if self._lead is None or self._lead.closed or self._lead.broken:
                self._leading = False
                self._lead = self._connect()
                self._lead.execute(f"SET tcp_keepalives_idle = {KEEPALIVE_IDLE}; "
                                   f"SET tcp_keepalives_interval = {KEEPALIVE_INTERVAL}; "
                                   f"SET tcp_keepalives_count = {KEEPALIVE_COUNT}")
            if self._leading:   # held: make sure the session that holds it still lives
                self._lead.execute("SELECT 1")
            else:
                row = self._lead.execute("SELECT pg_try_advisory_lock(%s)", (LEAD_LOCK,)).fetchone()
                self._leading = bool(row and row[0])
        except (psycopg.Error, NetError):
            self._leading = False
            if self._lead is not None:
                with contextlib.suppress(Exception):
                    self._lead.close()
            self._lead = None
        return self._leading

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()
        self._lead = None
        self._leading = False
        self._local = threading.local()


def _line(exc) -> str:
    """A psycopg error's first line, with any URL in it masked."""
    text = str(exc).strip().splitlines()
    return mask_url(text[0]) if text else type(exc).__name__
