"""Run one command on many hosts at once; one :class:`RunResult` per host, in the order
the hosts were given, whatever happened to each.

The hosts and their connections are a :class:`netkit.remote.Fleet`'s (:mod:`netkit.remote._fleet`):
:meth:`Fleet.run` comes here (:func:`run_on`), and :func:`run` is the one-shot form, a fleet
made for the one command. A host that fails (bad spelling, no answer, refused key, command
timed out) becomes a result with ``error`` set; it never stops the others.

Output is streamed (:mod:`netkit.remote._output`): lines are passed on as they end,
``outdir`` files written as data arrives, and only the last ``keep_output`` bytes of each
stream stay in memory for the result. A command past its ``timeout`` is stopped
(:mod:`netkit.remote._stop`), and the result says whether the host confirmed it. A command
ended by a signal has ``returncode`` ``-signal``, as :mod:`subprocess` has it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netkit.remote._fleet import DEFAULT_PARALLEL
from netkit.remote._output import DEFAULT_KEEP_OUTPUT, READ_SIZE, HostOutput

if TYPE_CHECKING:
    from netkit.core.timeout import Timeout
    from netkit.remote._connect import Settings
    from netkit.remote._fleet import Fleet, HostSpec

__all__ = ["DEFAULT_KEEP_OUTPUT", "DEFAULT_PARALLEL", "RunResult", "run", "run_on", "signal_number"]


@dataclass
class RunResult:
    """What happened on one host, like ``subprocess.CompletedProcess`` plus ``host``,
    ``duration`` (seconds) and ``error``: None when the command ran to its end, else the
    netkit error (:class:`~netkit.core.errors.NetkitError`) that stopped it, its message
    starting with the host. ``returncode`` is ``-N`` when signal N ended the command
    (``exit_signal`` names it, as the host said it).
    ``stdout``/``stderr`` hold the last ``keep_output`` bytes of each stream (as text);
    ``stdout_bytes``/``stderr_bytes`` count all that came, ``*_dropped`` what was not kept."""

    host: str
    args: str
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: BaseException | None = None
    exit_signal: str | None = None
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    stdout_dropped: int = 0
    stderr_dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    @property
    def truncated(self) -> bool:
        """Some output came that is no longer in ``stdout``/``stderr`` (see keep_output)."""
        return bool(self.stdout_dropped or self.stderr_dropped)

    def check_returncode(self) -> None:
        """Raise ``error`` if the host failed, else :class:`~netkit.core.errors.CommandError`
        (``returncode``, ``result``) if the command exited non-zero or was killed."""
        if self.error is not None:
            raise self.error
        if self.returncode:
            from netkit.core.errors import CommandError
            from netkit.core.text import for_terminal

            how = f"exit status {self.returncode}" if self.returncode > 0 or not self.exit_signal else \
                f"killed by signal {for_terminal(self.exit_signal)}"
            raise CommandError(f"{self.host}: the command {for_terminal(repr(self.args))} ended with {how}",
                               returncode=self.returncode, result=self)

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "command": self.args, "exit_status": self.returncode,
                "exit_signal": self.exit_signal, "duration": round(self.duration, 3),
                "error": None if self.error is None else str(self.error),
                "stdout": self.stdout, "stderr": self.stderr, "stdout_bytes": self.stdout_bytes,
                "stderr_bytes": self.stderr_bytes}


async def _pump(stream, name, output):
    while True:
        chunk = await stream.read(READ_SIZE)
        if not chunk:
            return
        output.add(name, chunk)


async def _command(conn, result, command, output, *, timeout, stdin, env, pty):
    import asyncssh

    from netkit.remote._stop import stop

    client = conn.get_owner()  # its connection_lost() keeps why the connection ended
    process = await conn.create_process(command, env=env or (), encoding=None,
                                        term_type="xterm" if pty else None,
                                        stderr=asyncssh.STDOUT if pty else asyncssh.PIPE)

    async def to_the_end():
        if stdin:
            process.stdin.write(stdin)
        process.stdin.write_eof()
        readers = [_pump(process.stdout, "stdout", output)]
        if not pty:
            readers.append(_pump(process.stderr, "stderr", output))
        await asyncio.gather(*readers)
        await process.wait_closed()

    # asyncio.wait, not a timeout scope: the readers go on draining while the command is
    # stopped, and they report its end. The task is this function's: cancelled and awaited here.
    task = asyncio.ensure_future(to_the_end())
    try:
        await asyncio.wait({task}, timeout=timeout)
        if task.done():
            task.result()  # a failure of a normal run (connection lost) is the host's error
        else:
            from netkit.core.errors import CommandTimeout

            said = await stop(conn, process, task, label=result.host, timeout=timeout, pty=pty,
                              alone=getattr(client, "users", 1) <= 1)
            result.error = CommandTimeout(said, phase="total")
    except asyncio.CancelledError:  # the call was cancelled: its command is not left running
        if not task.done():
            from netkit.remote._stop import abandon

            await abandon(conn, process, alone=getattr(client, "users", 1) <= 1)
        raise
    finally:
        if not task.done():
            task.cancel()
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: a failure while stopping is said by stop()
    if process.exit_signal:
        from netkit.remote._stop import signal_name

        result.exit_signal = signal_name(process)
    if result.error is not None:
        return
    if process.exit_status is None and not process.exit_signal:
        raise _no_exit_status(client, result.host)
    result.returncode = process.exit_status
    if result.exit_signal and (result.returncode is None or result.returncode < 0):
        number = signal_number(result.exit_signal)
        result.returncode = None if number is None else -number
        if number is None:  # no signal of this system: said as the host named it
            from netkit.core.errors import CommandError
            from netkit.core.text import for_terminal

            result.error = CommandError(f"{result.host}: the command was killed by signal "
                                        f"{for_terminal(result.exit_signal)}", result=result)


def signal_number(name: str) -> int | None:
    """The number of the signal an SSH server names (``TERM``, RFC 4254 6.10: the name
    without ``SIG``), or None when this system has no such signal."""
    import signal

    found = getattr(signal.Signals, f"SIG{name}", None) if name.isascii() and name.isalnum() and name.isupper() \
        else None
    return None if found is None else int(found)


def _no_exit_status(client, label):
    """The channel closed without saying how the command ended: the connection's end says why."""
    from netkit.core.errors import ConnectError
    from netkit.remote._errors import map_error

    lost = getattr(client, "lost", None)
    if lost is not None:
        return map_error(lost, label, phase="running the command")
    return ConnectError(f"{label}: the channel closed before the command reported how it ended")


def _check_env(env: dict[str, str] | None) -> None:
    from netkit.core.errors import UsageError
    from netkit.core.text import check_line_field

    for name, value in (env or {}).items():  # a second wall after the CLI's
        try:
            check_line_field(f"{name}={value}", f"environment variable {name}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None


async def run_on(fleet: Fleet, command: str, *, timeout: Timeout, stdin: bytes | str | None = None,
                 env: dict[str, str] | None = None, pty: bool = False,
                 on_output: Callable[[str, str, bytes], object] | None = None,
                 on_result: Callable[[RunResult], object] | None = None, keep_output: int | None = None,
                 outdir: str | None = None) -> list[RunResult]:
    """:meth:`Fleet.run`: ``command`` on every host of ``fleet``, ``timeout.total`` each."""
    _check_env(env)
    data = stdin.encode() if isinstance(stdin, str) else stdin
    keep = DEFAULT_KEEP_OUTPUT if keep_output is None else keep_output

    async def work(conn: Any, result: RunResult) -> None:
        from netkit.remote._sftp import host_dir

        output = HostOutput(result.host, keep, on_output, outdir, host_dir(result.host))
        try:
            await _command(conn, result, command, output, timeout=timeout.total, stdin=data, env=env, pty=pty)
        finally:
            output.finish(result)

    return await fleet.each(lambda label: RunResult(label, command), work, phase="running the command",
                            timeout=timeout, on_result=on_result)


async def run(hosts: Iterable[HostSpec] | HostSpec, command: str, settings: Settings | None = None, *,
              parallel: int = DEFAULT_PARALLEL, timeout: float | Timeout | None = None,
              stdin: bytes | str | None = None, env: dict[str, str] | None = None, pty: bool = False,
              on_output: Callable[[str, str, bytes], object] | None = None,
              on_result: Callable[[RunResult], object] | None = None, keep_output: int = DEFAULT_KEEP_OUTPUT,
              outdir: str | None = None) -> list[RunResult]:
    """Run ``command`` once on every host of ``hosts`` (``Host`` objects or
    ``[user@]host[:port]`` strings); a list of :class:`RunResult` in the same order. The
    one-shot form of ``async with Fleet(hosts, settings=settings) as f: await f.run(command)``
    (``settings`` None: the default keys, agent and known_hosts), each host's connection
    closed as soon as its command is done.

    ``timeout``: seconds for the command, or a ``Timeout`` (``total`` for the command,
    ``connect`` for each login). ``on_output(host, "stdout"|"stderr", line)`` gets each line
    (bytes, no newline; raw from the host: escape it before printing) as it arrives;
    ``on_result(result)`` each result as its host finishes. ``keep_output``: bytes of each
    stream kept in the result (the last ones). ``outdir``: an existing directory where each
    host's output is written, as it arrives, to ``HOST.stdout`` and ``HOST.stderr`` (exact bytes).
    """
    from netkit.remote._fleet import Fleet

    _check_env(env)  # before the fleet reads keys and known_hosts
    async with Fleet(hosts, settings=settings, parallel=parallel, timeout=timeout, keep_connections=False) as fleet:
        return await fleet.run(command, stdin=stdin, env=env, pty=pty, on_output=on_output, on_result=on_result,
                               keep_output=keep_output, outdir=outdir)
