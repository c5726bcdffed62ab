"""Session fixture ``postgres``: a real PostgreSQL 15 (Debian's), initdb'd into a temp dir;
function fixture ``postgres_url``: a fresh, empty database in it for one test, dropped after.

The fixture value (:class:`Postgres`):

``url(database)``      ``postgresql://netkit@127.0.0.1:PORT/DATABASE`` (TCP on loopback)
``socket_url(database)``  the same over the unix socket in the temp dir
``new_database()``     creates an empty database (a new name each call), returns its ``url``
``drop_database(name)``  drops it, ending its sessions first
``execute(sql, database="postgres")``  runs one statement as the superuser, returns the rows
``host``, ``port``, ``socket_dir``, ``directory`` (data dir: ``directory / "data"``), ``user``

Authentication is ``trust`` for the superuser ``netkit`` (no password), from loopback and the
socket only (``listen_addresses = 127.0.0.1``; the socket lies in a 0700 directory).

How it runs: PostgreSQL refuses to run as root, so ``initdb`` and ``postgres`` run as
``nobody`` (the harness runs as root) in a directory under /tmp that ``nobody`` owns (pytest's
temp dirs are 0700 root, which ``nobody`` could not enter). ``fsync = off``: the data of a
test server need not survive a power loss, and the tests kill clients, not the server.
Stopped with SIGINT (PostgreSQL's "fast" shutdown: it ends open sessions instead of waiting
for them), then SIGKILL if it lingers; the directory is removed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers._base import STOP_TIMEOUT, ServerProcess, free_port, need_binary

BIN = "/usr/lib/postgresql/15/bin"
DEBIAN_PACKAGE = "postgresql-15"
HOST = "127.0.0.1"
SUPERUSER = "netkit"
# The unprivileged user the server runs as (postgres will not run as root).
RUN_AS = "nobody"
# initdb of an empty cluster takes ~2 s here; a loaded 2-core machine may need more.
INITDB_TIMEOUT = 120.0
# Databases made per session: a name counter, not a bound.
_names = itertools.count(1)


@dataclass
class Postgres:
    """A running PostgreSQL; see the module docstring."""

    host: str
    port: int
    socket_dir: Path
    directory: Path
    user: str = SUPERUSER
    process: ServerProcess | None = field(default=None, repr=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def socket_url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"

    def execute(self, sql: str, params=(), database: str = "postgres") -> list:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        name = f"test_{os.getpid()}_{next(_names)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_user(user: pwd.struct_passwd) -> dict:
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """initdb a cluster in a new temp dir and run it until the block ends."""
    initdb = need_binary(f"{BIN}/initdb", DEBIAN_PACKAGE)
    binary = need_binary(f"{BIN}/postgres", DEBIAN_PACKAGE)
    if os.geteuid() != 0:
        pytest.fail("the postgres peer runs as root (the server itself runs as nobody)", pytrace=False)
    user = pwd.getpwnam(RUN_AS)
    directory = Path(tempfile.mkdtemp(prefix="netkit-postgres-"))
    try:
        os.chown(directory, user.pw_uid, user.pw_gid)
        data, sockets = directory / "data", directory / "run"
        sockets.mkdir(mode=0o700)
        os.chown(sockets, user.pw_uid, user.pw_gid)
        done = subprocess.run(
            [initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            cwd=directory, capture_output=True, text=True, timeout=INITDB_TIMEOUT, **_as_user(user))
        if done.returncode:
            pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
        chosen = {}
        # setpriv execs postgres in place, as nobody: the ServerProcess's pid is the postmaster's.
        as_nobody = [need_binary("setpriv", "util-linux"), f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                     "--clear-groups"]

        def factory(attempt: int) -> ServerProcess:
            chosen["port"] = free_port(HOST)
            command = [*as_nobody, binary, "-D", str(data), "-p", str(chosen["port"]), "-k", str(sockets),
                       "-c", f"listen_addresses={HOST}", "-c", "fsync=off", "-c", "full_page_writes=off",
                       "-c", "max_connections=200", "-c", "log_min_messages=warning"]
            return ServerProcess("postgres", command, log_file=directory / "postgres.log",
                                 ready=lambda: _accepts(HOST, chosen["port"]), cwd=directory)

        process = ServerProcess.start_with_retries(factory)
        try:
            yield Postgres(host=HOST, port=chosen["port"], socket_dir=sockets, directory=directory, process=process)
        finally:
            _stop(process)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _accepts(host: str, port: int) -> bool:
    """True once the server answers a query (a TCP accept comes before it is ready)."""
    import psycopg

    try:
        with psycopg.connect(host=host, port=port, user=SUPERUSER, dbname="postgres", connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _stop(process: ServerProcess) -> None:
    if process.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)   # fast shutdown
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.proc.wait(timeout=STOP_TIMEOUT)
    process.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres) -> Iterator[str]:
    url = postgres.new_database()
    yield url
    postgres.drop_database(url.rsplit("/", 1)[1])
