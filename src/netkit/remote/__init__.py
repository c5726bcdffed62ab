"""Run commands and move files on many hosts at once over SSH (asyncssh).

::

    from netkit.core.timeout import Timeout
    from netkit.remote import Credentials, Fleet, connect

    async with Fleet(["web1", "root@web2:2222"], credentials=Credentials(["~/.ssh/id_ed25519"]),
                     timeout=Timeout(60, connect=5)) as fleet:   # connections kept until the end
        for r in await fleet.run("uptime"):
            print(r.host, r.returncode, r.stdout, r.error)
        await fleet.get("/var/log/syslog", "logs")             # logs/web1/syslog, ...

    async with connect("db1") as db:                            # one host
        print((await db.run("pg_isready", check=True)).stdout)

    results = await run(["web1", "web2"], "uptime")             # one-shot

A :class:`Fleet` owns its connections, the jump host's included: each opened on first use,
shared by concurrent calls, closed when the ``async with`` ends. Each call returns one
result per host, in the order given (:class:`RunResult` like ``subprocess.CompletedProcess``:
``returncode`` ``-N`` for signal N, ``check_returncode()`` raising
:class:`~netkit.core.errors.CommandError`; :class:`TransferResult` for SFTP); a host that
failed has ``error`` set (the exception) and never stops the others. Output is streamed: ``on_output`` sees each line as
it arrives, ``outdir`` gets every byte, and a result keeps the last ``keep_output`` bytes.
"""

from netkit.remote._auth import Credentials
from netkit.remote._connect import DEFAULT_CONNECT_TIMEOUT, Settings
from netkit.remote._errors import (
    AuthError,
    ChangedHostKey,
    CommandTimeout,
    HostKeyError,
    UnknownHostKey,
)
from netkit.remote._fleet import DEFAULT_PARALLEL, Fleet, Session, connect
from netkit.remote._hosts import Host, parse_host, read_hosts_file
from netkit.remote._run import DEFAULT_KEEP_OUTPUT, RunResult, run
from netkit.remote._sftp import TransferResult, get, put
from netkit.remote._trust import HostKeyPolicy

__all__ = [
    "AuthError",
    "ChangedHostKey",
    "CommandTimeout",
    "Credentials",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_KEEP_OUTPUT",
    "DEFAULT_PARALLEL",
    "Fleet",
    "Host",
    "HostKeyError",
    "HostKeyPolicy",
    "RunResult",
    "Session",
    "Settings",
    "TransferResult",
    "UnknownHostKey",
    "connect",
    "get",
    "parse_host",
    "put",
    "read_hosts_file",
    "run",
]
