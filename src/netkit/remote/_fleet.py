"""Hosts over SSH whose connections are owned by one object: :class:`Fleet` for many,
:class:`Session` (:func:`connect`) for one.

::

    async with Fleet(["web1", "root@web2:2222"], timeout=Timeout(600, connect=5)) as fleet:
        await fleet.put("app.tar", "/srv/in")
        for r in await fleet.run("tar -C /srv -xf /srv/in/app.tar && uptime"):
            print(r.host, r.returncode, r.stdout, r.error)

    async with connect("db1") as db:
        (await db.run("pg_isready", check=True)).stdout

A host's connection is opened on its first use and kept: every later call of the fleet uses
it (SSH carries many channels on one connection, so concurrent calls share it safely), and
the jump host's connection likewise carries every host behind it. They are all closed when
the ``async with`` ends -- never by a call, so two calls running at once never close each
other's connections. A connection found closed (the host rebooted) is opened again on the
next use. With ``keep_connections=False`` a host's connection is closed as soon as no call
uses it: the one-shot :func:`netkit.remote.run`, ``get`` and ``put`` work that way, so a
sweep of thousands of hosts holds only ``parallel`` connections at once.

A host that fails (bad spelling, no answer, refused key, the command timed out) is a result
with ``error`` set, the exception itself, its message starting with the host's label; it
never stops the others. While one call is opening a host's connection, another call wanting
the same host waits for it, and shares its failure instead of trying a second login.

Timeouts (``timeout: float | Timeout``): ``connect`` bounds each login (TCP, handshake and
authentication; default :data:`DEFAULT_CONNECT_TIMEOUT`), ``total`` each command (a number
is the total). ``read`` has no meaning here (a command may rightly be silent for hours).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, Self, TypeVar

from netkit.core.errors import NetkitError, UsageError
from netkit.core.timeout import Timeout
from netkit.remote._connect import Settings, open_connection
from netkit.remote._hosts import Host, parse_host

if TYPE_CHECKING:
    from netkit.remote._auth import Credentials
    from netkit.remote._run import RunResult
    from netkit.remote._sftp import TransferResult
    from netkit.remote._trust import HostKeyPolicy

__all__ = ["CLOSE_GRACE", "DEFAULT_PARALLEL", "Fleet", "Session", "connect", "host_error", "remote_timeout"]

# Hosts worked on at once. Hundreds of handshakes at the same moment only queue behind the
# CPU (and sshd's MaxStartups, 10 by default, drops the excess); 64 keeps both cores busy.
DEFAULT_PARALLEL = 64
# Seconds the connections have to close at the end: a disconnect is one packet; a peer
# that does not read it (a hung host) must not hold the end of the ``async with``.
CLOSE_GRACE = 5.0

R = TypeVar("R", bound="RunResult | TransferResult")
HostSpec = Host | str


def remote_timeout(value: float | Timeout | None) -> Timeout:
    """``value`` as a Timeout for remote work; ``UsageError`` for a ``read`` phase."""
    timeout = Timeout.of(value)
    if timeout.read is not None:
        raise UsageError(f"{timeout!r}: remote work takes Timeout(total, connect=...) -- total for each "
                         f"command, connect for each login; read does not apply (a command may be silent)")
    return timeout


def _with_message(exc: BaseException, text: str) -> BaseException:
    """A copy of ``exc`` (same class, same attributes) whose message is ``text``; ``exc``
    itself is left alone: one failure (a jump host's) may be the error of many hosts."""
    if str(exc) == text:
        return exc
    copy = type(exc).__new__(type(exc))
    copy.__dict__.update(getattr(exc, "__dict__", {}))
    copy.args = (text,)
    copy.__cause__ = exc.__cause__
    return copy


def host_error(exc: BaseException, label: str, *, phase: str, also: BaseException | None = None) -> BaseException:
    """The error of the host ``label`` for ``exc``: a netkit error (others mapped as happening
    in ``phase``) whose message names the label -- at its start, unless the mapped phrase
    names it already ("connection refused by HOST", not "HOST: connection refused by
    HOST"); ``also`` (an error the host's work already recorded, such as its output files
    failing) is added to its message."""
    from netkit.remote._errors import map_error

    while isinstance(exc, BaseExceptionGroup):  # from a host's own TaskGroup
        exc = exc.exceptions[0]
    if not isinstance(exc, NetkitError):
        exc = map_error(exc, label, phase=phase)
    text = str(exc)
    if not _names(text, label):  # "connection refused by HOST" names it already: not "HOST: ... by HOST"
        text = f"{label}: {text}"
    if also is not None:
        text += "; " + str(also).removeprefix(f"{label}: ")
    return _with_message(exc, text)


def _names(text: str, label: str) -> bool:
    """``label`` stands in ``text`` as a word of its own (not inside another name: host
    ``a`` is not named by "connection refused by a.example")."""
    at = text.find(label)
    while at != -1:
        end = at + len(label)
        if (at == 0 or text[at - 1] in " (") and (end == len(text) or text[end] in " :,;)"):
            return True
        at = text.find(label, at + 1)
    return False


class _Slot:
    """One connection of the fleet (a host's or the jump host's) and who is using it."""

    __slots__ = ("attempts", "conn", "error", "lock", "users")

    def __init__(self) -> None:
        self.conn: Any = None
        self.error: BaseException | None = None
        self.attempts = 0
        self.users = 0
        self.lock = asyncio.Lock()


class Fleet:
    """Many hosts over SSH, their connections opened once and owned here (see the module).

    ``hosts``: ``[user@]host[:port]`` strings or :class:`Host` objects (one string is one
    host). Login: ``credentials`` (default: the agent and ~/.ssh/id_*), ``host_keys`` (a
    :class:`HostKeyPolicy`; default: ~/.ssh/known_hosts, unknown keys refused), ``user`` and
    ``port`` where a host does not say, ``config`` (ssh config files; default ~/.ssh/config),
    ``jump`` (a host to go through), ``keepalive`` (seconds) -- or all of it as one
    ``settings``. ``parallel``: hosts worked on at once; ``timeout``: see the module."""

    def __init__(self, hosts: Iterable[HostSpec] | HostSpec, *, credentials: Credentials | None = None,
                 host_keys: HostKeyPolicy | None = None, user: str | None = None, port: int | None = None,
                 config: list[str] | None = None, jump: HostSpec | None = None, keepalive: float | None = None,
                 settings: Settings | None = None, parallel: int = DEFAULT_PARALLEL,
                 timeout: float | Timeout | None = None, keep_connections: bool = True) -> None:
        if isinstance(hosts, (str, Host)):
            hosts = [hosts]
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise UsageError(f"Fleet(parallel={parallel!r}): hosts at once, a whole number of 1 or more")
        self.timeout = remote_timeout(timeout)
        given = {"credentials": credentials, "host_keys": host_keys, "user": user, "port": port, "config": config,
                 "jump": jump, "keepalive": keepalive}
        if settings is None:
            from netkit.remote._auth import Credentials
            from netkit.remote._trust import HostKeyPolicy

            settings = Settings(Credentials() if credentials is None else credentials,
                                HostKeyPolicy() if host_keys is None else host_keys, user=user, port=port,
                                config=config, jump=jump, keepalive=keepalive)
        elif any(value is not None for value in given.values()):
            both = ", ".join(f"{name}=" for name, value in given.items() if value is not None)
            raise UsageError(f"Fleet: give settings= or {both}, not both (settings holds them all)")
        self.settings = settings
        self.parallel = parallel
        self.keep_connections = keep_connections
        # Each spec parsed once: a bad one is that host's error in every call, as its label.
        self._hosts: list[tuple[str, Host | UsageError]] = []
        for spec in hosts:
            if isinstance(spec, Host):
                self._hosts.append((spec.label, spec))
                continue
            try:
                self._hosts.append((str(spec), parse_host(spec)))
            except UsageError as exc:  # labelled here: "bad host" would pass for a label of "bad host syntax"
                self._hosts.append((str(spec), UsageError(f"{spec}: {exc}")))
        self._slots: dict[Host, _Slot] = {}
        self._jump = _Slot()
        self._gate = asyncio.Semaphore(parallel)
        self._closed = False

    @property
    def hosts(self) -> list[str]:
        """The hosts' labels, in order: results come in this order and carry these names."""
        return [label for label, _ in self._hosts]

    def __repr__(self) -> str:
        shown = ", ".join(self.hosts[:3]) + (", ..." if len(self._hosts) > 3 else "")
        return f"<Fleet of {len(self._hosts)} host{'s' if len(self._hosts) != 1 else ''}: {shown}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- the work ----------------------------------------------------------------------------

    async def run(self, command: str, *, timeout: float | Timeout | None = None, stdin: bytes | str | None = None,
                  env: dict[str, str] | None = None, pty: bool = False,
                  on_output: Callable[[str, str, bytes], object] | None = None,
                  on_result: Callable[[RunResult], object] | None = None, keep_output: int | None = None,
                  outdir: str | None = None) -> list[RunResult]:
        """Run ``command`` on every host; a :class:`RunResult` per host, in order. ``timeout``
        (this call's; default the fleet's): ``total`` stops the command (TERM, KILL, then the
        channel closed). The other arguments are :func:`netkit.remote.run`'s."""
        from netkit.remote._run import run_on

        return await run_on(self, command, timeout=self._merge(timeout), stdin=stdin, env=env, pty=pty,
                            on_output=on_output, on_result=on_result, keep_output=keep_output, outdir=outdir)

    async def get(self, remote_path: str, local_dir: str, *, force: bool = False,
                  on_bytes: Callable[[int], object] | None = None, on_file: Callable[[], object] | None = None,
                  on_result: Callable[[TransferResult], object] | None = None) -> list[TransferResult]:
        """Copy ``remote_path`` (a file, a directory, a glob) from every host into
        ``local_dir/<host>/``; a :class:`TransferResult` per host, in order."""
        from netkit.remote._sftp import get_on

        return await get_on(self, remote_path, local_dir, force=force, on_bytes=on_bytes, on_file=on_file,
                            on_result=on_result)

    async def put(self, local_path: str, remote_dir: str, *, force: bool = False,
                  on_bytes: Callable[[int], object] | None = None, on_file: Callable[[], object] | None = None,
                  on_result: Callable[[TransferResult], object] | None = None) -> list[TransferResult]:
        """Copy ``local_path`` (a file, a directory, a glob) into ``remote_dir`` on every host."""
        from netkit.remote._sftp import put_on

        return await put_on(self, local_path, remote_dir, force=force, on_bytes=on_bytes, on_file=on_file,
                            on_result=on_result)

    def _merge(self, timeout: float | Timeout | None) -> Timeout:
        """A call's timeout over the fleet's: each phase the call sets, the fleet's for the rest."""
        if timeout is None:
            return self.timeout
        own = remote_timeout(timeout)
        return Timeout(own.total if own.total is not None else self.timeout.total,
                       connect=own.connect if own.connect is not None else self.timeout.connect)

    def _login_seconds(self, timeout: Timeout) -> float:
        return timeout.connect if timeout.connect is not None else self.settings.connect_timeout

    async def each(self, new_result: Callable[[str], R], work: Callable[[Any, R], Awaitable[None]], *, phase: str,
                   timeout: Timeout | None = None, on_result: Callable[[R], object] | None = None) -> list[R]:
        """For every host, ``parallel`` at a time: its connection (opened or reused), then
        ``await work(conn, result)``. A failure is the host's own ``result.error`` (see
        :func:`host_error`) and never stops the others. The results (``new_result(label)``,
        ``duration`` set) in the order of the hosts; ``on_result(result)`` sees each as its
        host finishes (after its connection was released)."""
        import time

        if self._closed:
            raise UsageError("this Fleet is closed: use it inside its async with block, or make a new one")
        login = self._login_seconds(timeout or self.timeout)
        results: list[Any] = [None] * len(self._hosts)

        async def one(index: int, label: str, host: Host | UsageError) -> None:
            result = results[index] = new_result(label)
            start = time.monotonic()
            try:
                if not isinstance(host, Host):
                    raise host
                async with self._gate:
                    start = time.monotonic()
                    async with self._use(host, login) as conn:
                        await work(conn, result)
            except Exception as exc:  # noqa: BLE001 -- every failure is the host's result
                result.error = host_error(exc, label, phase=phase, also=result.error)
            result.duration = time.monotonic() - start
            if on_result is not None:
                on_result(result)

        async with asyncio.TaskGroup() as group:
            for index, (label, host) in enumerate(self._hosts):
                group.create_task(one(index, label, host))
        return results

    # --- the connections ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _use(self, host: Host, login: float) -> AsyncIterator[Any]:
        """The host's connection for the time of the block; with ``keep_connections``
        False it is closed when the last block using it ends."""
        slot = self._slots.setdefault(host, _Slot())
        slot.users += 1
        try:
            conn = await self._connection(slot, lambda: self._open(host, login))
            owner = conn.get_owner()  # its ``users``: whether a stop may signal every session
            owner.users += 1
            try:
                yield conn
            finally:
                owner.users -= 1
        finally:
            slot.users -= 1
            if not self.keep_connections and not slot.users and slot.conn is not None:
                slot.conn.close()
                slot.conn = None

    async def _open(self, host: Host, login: float) -> Any:
        tunnel = None
        if self.settings.jump is not None:
            jump = self.settings.jump
            tunnel = await self._connection(self._jump, lambda: open_connection(jump, self.settings, timeout=login))
        return await open_connection(host, self.settings, tunnel=tunnel, timeout=login)

    async def _connection(self, slot: _Slot, opener: Callable[[], Awaitable[Any]]) -> Any:
        """The open connection of ``slot``, opened by ``opener()`` when it has none (or a
        closed one). Callers that waited while another's attempt failed get that failure:
        one login attempt per host at a time, not one per call."""
        asked = slot.attempts
        async with slot.lock:
            if self._closed:
                raise UsageError("this Fleet is closed: use it inside its async with block, or make a new one")
            if slot.conn is not None and not slot.conn.is_closed():
                return slot.conn
            if slot.error is not None and slot.attempts != asked:
                raise slot.error
            slot.attempts += 1
            slot.conn, slot.error = None, None
            try:
                conn = await opener()
            except Exception as exc:
                slot.error = exc
                raise
            if self._closed:  # aclose() ran during the login: nobody would close this one
                conn.close()
                raise UsageError("this Fleet was closed while this host was logging in")
            slot.conn = conn
            return conn

    async def aclose(self) -> None:
        """Close every connection (the hosts', then the jump host's); the fleet cannot be
        used afterwards. Called by the end of ``async with``."""
        self._closed = True
        for slots in (list(self._slots.values()), [self._jump]):
            conns = [slot.conn for slot in slots if slot.conn is not None]
            for slot in slots:
                slot.conn = None
            for conn in conns:
                conn.close()
            if conns:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_GRACE):
                        await asyncio.gather(*(conn.wait_closed() for conn in conns), return_exceptions=True)


class Session:
    """One host over SSH (a :class:`Fleet` of one): its connection is opened on entering
    ``async with`` (a failure raises there: :class:`AuthError`, :class:`UnknownHostKey`, ...),
    used by every call, closed at the end. Calls return one result, not a list. Made by
    :func:`connect`, which takes the same arguments as :class:`Fleet`."""

    def __init__(self, host: HostSpec, **options: Any) -> None:
        if options.get("keep_connections") is False:
            raise UsageError("a Session keeps its connection until it is closed: keep_connections=False is Fleet's")
        self.fleet = Fleet([host], **options)
        self.host = self.fleet.hosts[0]

    def __repr__(self) -> str:
        return f"<Session {self.host}>"

    async def connection(self) -> Any:
        """The asyncssh connection (opened if needed): for what netkit does not wrap, such as
        port forwarding. The session owns it: do not close it."""
        fleet = self.fleet
        label, host = fleet._hosts[0]
        if not isinstance(host, Host):
            raise host
        try:
            async with fleet._use(host, fleet._login_seconds(fleet.timeout)) as conn:
                return conn
        except Exception as exc:  # noqa: BLE001 -- every failure said as the host's, as in a Fleet
            raise host_error(exc, label, phase="connect") from None

    async def open(self) -> Self:
        """Open the connection now (``async with`` does); raises the host's error."""
        try:
            await self.connection()
        except BaseException:
            await self.aclose()
            raise
        return self

    def __await__(self) -> Generator[Any, None, Self]:  # ``session = await connect(...)``; then aclose()
        return self.open().__await__()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.fleet.aclose()

    async def run(self, command: str, *, check: bool = False, **options: Any) -> RunResult:
        """:meth:`Fleet.run` on this host; ``check``: raise instead (as ``check_returncode``)."""
        result = (await self.fleet.run(command, **options))[0]
        if check:
            result.check_returncode()
        return result

    async def get(self, remote_path: str, local_dir: str, **options: Any) -> TransferResult:
        """:meth:`Fleet.get` from this host (into ``local_dir/<host>/``)."""
        return (await self.fleet.get(remote_path, local_dir, **options))[0]

    async def put(self, local_path: str, remote_dir: str, **options: Any) -> TransferResult:
        """:meth:`Fleet.put` to this host."""
        return (await self.fleet.put(local_path, remote_dir, **options))[0]


def connect(host: HostSpec, **options: Any) -> Session:
    """A :class:`Session` to ``host``: ``async with connect("web1") as s: await s.run("uptime")``
    (or ``s = await connect(...)`` and ``await s.aclose()``). ``options``: :class:`Fleet`'s."""
    return Session(host, **options)

