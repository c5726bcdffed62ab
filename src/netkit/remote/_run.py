"""Run one command on many hosts at once; one :class:`RunResult` per host, in the order
the hosts were given, whatever happened to each.

Every host is a task of one ``TaskGroup``; a semaphore keeps ``parallel`` of them
connected at once. A host that fails (bad spelling, no answer, refused key, command timed
out) becomes a result with ``error`` set; it never stops the others.
"""

import asyncio
from dataclasses import dataclass

from netkit.remote._connect import each_host
from netkit.remote._errors import CommandTimeout

__all__ = ["DEFAULT_PARALLEL", "RunResult", "run"]

# Hosts connected at once. Hundreds of handshakes at the same moment only queue behind the
# CPU (and sshd's MaxStartups, 10 by default, drops the excess); 64 keeps both cores busy.
DEFAULT_PARALLEL = 64
# Bytes of a partial line kept before it is passed on as a line of its own.
MAX_LINE = 64 * 1024


@dataclass
class RunResult:
    """What happened on one host, like ``subprocess.CompletedProcess`` plus ``host``,
    ``duration`` (seconds) and ``error`` (None when the command ran to its end)."""

    host: str
    args: str
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    error: str | None = None
    exit_signal: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0

    def check_returncode(self):
        from subprocess import CalledProcessError

        if self.error is not None:
            raise RuntimeError(self.error)
        if self.returncode:
            raise CalledProcessError(self.returncode, self.args, self.stdout, self.stderr)

    def as_dict(self) -> dict:
        return {"host": self.host, "command": self.args, "exit_status": self.returncode,
                "exit_signal": self.exit_signal, "duration": round(self.duration, 3), "error": self.error,
                "stdout": self.stdout, "stderr": self.stderr}


async def _lines(stream, name, label, on_output, sink):
    """Read ``stream`` to its end, keeping all of it in ``sink`` and passing complete lines
    to ``on_output(host, name, line)``."""
    pending = b""
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            break
        sink.append(chunk)
        if on_output is None:
            continue
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            on_output(label, name, line.decode("utf-8", "replace"))
        if len(pending) > MAX_LINE:
            on_output(label, name, pending.decode("utf-8", "replace"))
            pending = b""
    if pending and on_output is not None:
        on_output(label, name, pending.decode("utf-8", "replace"))


async def _on_host(conn, result, command, *, timeout, stdin, env, pty, on_output):
    import asyncssh

    process = await conn.create_process(command, env=env or (), encoding=None,
                                        term_type="xterm" if pty else None,
                                        stderr=asyncssh.STDOUT if pty else asyncssh.PIPE)
    out, err = [], []
    try:
        async with asyncio.timeout(timeout):
            if stdin:
                process.stdin.write(stdin)
            process.stdin.write_eof()
            readers = [_lines(process.stdout, "stdout", result.host, on_output, out)]
            if not pty:
                readers.append(_lines(process.stderr, "stderr", result.host, on_output, err))
            await asyncio.gather(*readers)
            completed = await process.wait()
    except TimeoutError:
        # Ask sshd to end the command (the "signal" channel request), then close the
        # channel: sshd hangs up on the command's pipes.
        try:
            process.send_signal("KILL")
        except (OSError, asyncssh.Error):
            pass
        process.close()
        result.stdout = b"".join(out).decode("utf-8", "replace")
        result.stderr = b"".join(err).decode("utf-8", "replace")
        raise CommandTimeout(f"{result.host}: the command ran longer than {timeout:g} s (--timeout) and was "
                             f"stopped") from None
    result.stdout = b"".join(out).decode("utf-8", "replace")
    result.stderr = b"".join(err).decode("utf-8", "replace")
    result.returncode = completed.exit_status
    if completed.exit_signal:
        result.exit_signal = completed.exit_signal[0]
        if result.returncode is None or result.returncode < 0:
            result.returncode = None
            result.error = f"{result.host}: the command was killed by signal {result.exit_signal}"


async def run(hosts, command, settings, *, parallel=DEFAULT_PARALLEL, timeout=None, stdin=None, env=None,
              pty=False, on_output=None, on_result=None) -> list:
    """Run ``command`` on every host of ``hosts`` (``Host`` objects or ``[user@]host[:port]``
    strings); a list of :class:`RunResult` in the same order.

    ``on_output(host, "stdout"|"stderr", line)`` gets each line as it arrives;
    ``on_result(result)`` each result as its host finishes.
    """
    data = stdin.encode() if isinstance(stdin, str) else stdin

    async def work(conn, result):
        await _on_host(conn, result, command, timeout=timeout, stdin=data, env=env, pty=pty, on_output=on_output)

    return await each_host(hosts, settings, parallel, lambda label: RunResult(label, command), work,
                           phase="running the command", on_result=on_result)
