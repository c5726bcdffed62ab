"""Run one command on many hosts at once; one :class:`RunResult` per host, in the order
the hosts were given, whatever happened to each.

Every host is a task of one ``TaskGroup``; a semaphore keeps ``parallel`` of them
connected at once. A host that fails (bad spelling, no answer, refused key, command timed
out) becomes a result with ``error`` set; it never stops the others.

Output is streamed (:mod:`netkit.remote._output`): lines are passed on as they end,
``outdir`` files written as data arrives, and only the last ``keep_output`` bytes of each
stream stay in memory for the result. A command past its ``timeout`` is stopped
(:mod:`netkit.remote._stop`), and the result says whether the host confirmed it.
"""

import asyncio
from dataclasses import dataclass

from netkit.remote._connect import each_host
from netkit.remote._output import DEFAULT_KEEP_OUTPUT, READ_SIZE, HostOutput

__all__ = ["DEFAULT_KEEP_OUTPUT", "DEFAULT_PARALLEL", "RunResult", "run"]

# Hosts connected at once. Hundreds of handshakes at the same moment only queue behind the
# CPU (and sshd's MaxStartups, 10 by default, drops the excess); 64 keeps both cores busy.
DEFAULT_PARALLEL = 64


@dataclass
class RunResult:
    """What happened on one host, like ``subprocess.CompletedProcess`` plus ``host``,
    ``duration`` (seconds) and ``error`` (None when the command ran to its end).
    ``stdout``/``stderr`` hold the last ``keep_output`` bytes of each stream (as text);
    ``stdout_bytes``/``stderr_bytes`` count all that came, ``*_dropped`` what was not kept."""

    host: str
    args: str
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: str | None = None
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

    def check_returncode(self):
        from subprocess import CalledProcessError

        if self.error is not None:
            raise RuntimeError(self.error)
        if self.returncode:
            raise CalledProcessError(self.returncode, self.args, self.stdout, self.stderr)

    def as_dict(self) -> dict:
        return {"host": self.host, "command": self.args, "exit_status": self.returncode,
                "exit_signal": self.exit_signal, "duration": round(self.duration, 3), "error": self.error,
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
            result.error = await stop(conn, process, task, label=result.host, timeout=timeout, pty=pty)
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
        from netkit.core.text import for_terminal

        result.returncode = None
        result.error = f"{result.host}: the command was killed by signal {for_terminal(result.exit_signal)}"


def _no_exit_status(client, label):
    """The channel closed without saying how the command ended: the connection's end says why."""
    from netkit.core.errors import ConnectError
    from netkit.remote._errors import map_error

    lost = getattr(client, "lost", None)
    if lost is not None:
        return map_error(lost, label, phase="running the command")
    return ConnectError(f"{label}: the channel closed before the command reported how it ended")


async def run(hosts, command, settings, *, parallel=DEFAULT_PARALLEL, timeout=None, stdin=None, env=None,
              pty=False, on_output=None, on_result=None, keep_output=DEFAULT_KEEP_OUTPUT, outdir=None) -> list:
    """Run ``command`` on every host of ``hosts`` (``Host`` objects or ``[user@]host[:port]``
    strings); a list of :class:`RunResult` in the same order.

    ``on_output(host, "stdout"|"stderr", line)`` gets each line (bytes, no newline; raw
    from the host: escape it before printing) as it arrives; ``on_result(result)`` each
    result as its host finishes. ``keep_output``: bytes of each stream kept in the result
    (the last ones). ``outdir``: an existing directory where each host's output is written,
    as it arrives, to ``HOST.stdout`` and ``HOST.stderr`` (exact bytes).
    """
    from netkit.core.errors import UsageError
    from netkit.core.text import check_line_field

    for name, value in (env or {}).items():  # a second wall after the CLI's
        try:
            check_line_field(f"{name}={value}", f"environment variable {name}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    data = stdin.encode() if isinstance(stdin, str) else stdin

    async def work(conn, result):
        from netkit.remote._sftp import host_dir

        output = HostOutput(result.host, keep_output, on_output, outdir, host_dir(result.host))
        try:
            await _command(conn, result, command, output, timeout=timeout, stdin=data, env=env, pty=pty)
        finally:
            output.finish(result)

    return await each_host(hosts, settings, parallel, lambda label: RunResult(label, command), work,
                           phase="running the command", on_result=on_result)
