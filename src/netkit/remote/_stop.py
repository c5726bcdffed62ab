"""Stopping a command that ran past its ``--timeout``, and saying honestly whether it stopped.

Closing the channel alone does not stop a command: sshd closes its pipes, and a command
that neither reads nor writes (``sleep 48``) runs on. So, each step only while the channel
has not reported the command's end:

1. TERM, twice over: the "signal" channel request (RFC 4254 6.9; sshd sends it to the
   session's process group), and a ``kill`` of that process group from a second session on
   the same connection -- sshd refuses the signal request for root logins ("session
   signalling requires privilege separation"), and that second session is the same user's,
   a sibling of the command under the same sshd process (:data:`KILL_SESSIONS`);
2. after :data:`STOP_GRACE`, the same with KILL;
3. after :data:`STOP_GRACE` more, close the channel: sshd closes the command's pipes and
   hangs up its pseudo-terminal if it has one (SIGHUP to the command).

The stop is *confirmed* when the host reports the command's end (an exit signal or status)
on the channel; otherwise the message says that it may still run there.
"""

import asyncio

__all__ = ["KILL_SESSIONS", "MAX_SIGNAL_NAME", "STOP_GRACE", "abandon", "signal_name", "stop"]

# Seconds the host has to report the command's end after each signal. sshd reports it as
# soon as the process is reaped: this covers a loaded host or a slow link, not the command.
STOP_GRACE = 2.0
# Run in a second session of the connection: every other session of this sshd process (its
# children other than this shell; sshd makes each a process group leader with setsid) gets
# the signal as a process group. pgrep, or procps' ps where there is no pgrep. A host
# without a POSIX shell fails it harmlessly: the signal request and the close remain.
KILL_SESSIONS = ("exec /bin/sh -c 'p=$PPID; for c in $(pgrep -P $p || ps -o pid= --ppid $p); do "
                 "[ $c = $$ ] || kill -s {signal} -- -$c || kill -s {signal} $c; done 2>/dev/null; :'")


async def _kill_sessions(conn, signal):
    """KILL_SESSIONS with ``signal``; any failure is ignored (the other steps remain)."""
    try:
        async with asyncio.timeout(STOP_GRACE):
            await conn.run(KILL_SESSIONS.format(signal=signal))
    except Exception:  # noqa: BLE001 -- a best effort beside the signal request
        pass


async def _send(conn, process, signal, task, alone):
    import asyncssh

    try:
        process.send_signal(signal)
    except (OSError, asyncssh.Error):
        pass
    if not alone:  # KILL_SESSIONS would signal the other calls' commands on this connection too
        await asyncio.wait({task}, timeout=STOP_GRACE)
        return
    helper = asyncio.ensure_future(_kill_sessions(conn, signal))
    try:
        await asyncio.wait({task}, timeout=STOP_GRACE)
    finally:
        if not helper.done():
            helper.cancel()
        await asyncio.wait({helper})


async def abandon(conn, process, *, alone=True) -> None:
    """The call running ``process`` was cancelled (Ctrl-C, a task cancelled): its command is
    stopped without waiting for the host to confirm it -- TERM by the signal request and,
    ``alone``, by the kill of the connection's sessions (at most :data:`STOP_GRACE`), then
    the channel closed. Shared with other calls and logged in as root (sshd refuses root's
    signal requests), the command may run on: only a timeout's stop says so."""
    import asyncssh

    try:
        process.send_signal("TERM")
    except (OSError, asyncssh.Error):
        pass
    if alone:
        await _kill_sessions(conn, "TERM")
    process.close()


# Characters of a signal name a host reports that netkit keeps: real ones are a few letters
# (TERM, KILL, SEGV); a hostile host's 100 KB name widened every row of the summary table.
MAX_SIGNAL_NAME = 32


def signal_name(process):
    """The name of the signal the host says ended the command (``exit-signal``), at most
    MAX_SIGNAL_NAME characters (more are cut and marked with "..."), or None."""
    if not process.exit_signal:
        return None
    name = str(process.exit_signal[0])
    return name if len(name) <= MAX_SIGNAL_NAME else name[: MAX_SIGNAL_NAME - 3] + "..."


def _ended(process, task):
    """How the command ended, as the host reported it, or None."""
    from netkit.core.text import for_terminal

    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    if process.exit_signal:
        return f"it ended by signal {for_terminal(signal_name(process))}"
    if process.exit_status is not None and process.exit_status >= 0:
        return f"it exited with status {process.exit_status}"
    return None


async def stop(conn, process, task, *, label, timeout, pty, alone=True) -> str:
    """Stop the command of ``process`` (whose output ``task`` drains to the channel's close);
    the error line for the result, saying whether the host confirmed the stop. ``alone``:
    no other call uses the connection now; when one does (a Fleet's calls share it), step 1's
    kill of every session is left out -- those sessions are the other calls' commands."""
    said = []
    for signal in ("TERM", "KILL"):
        said.append(signal)
        await _send(conn, process, signal, task, alone)
        how = _ended(process, task)
        if how is not None:
            return (f"{label}: the command ran longer than {timeout:g} s (--timeout) and was stopped with "
                    f"{said[-1]}: {how}")
        if task.done():  # the connection failed meanwhile: nothing more can be sent
            break
    process.close()
    hangup = ", which hangs up its terminal" if pty else ""
    return (f"{label}: the command ran longer than {timeout:g} s (--timeout); netkit sent it "
            f"{' and '.join(said)} and closed the channel{hangup}, but the host did not confirm that it "
            f"ended: it may still be running there")
