"""Run commands and move files on many hosts at once over SSH (asyncssh).

::

    from netkit.remote import Credentials, HostKeyPolicy, Settings, run

    settings = Settings(Credentials(["~/.ssh/id_ed25519"]), HostKeyPolicy())
    results = await run(["web1", "root@web2:2222"], "uptime", settings, timeout=30)
    for r in results:
        print(r.host, r.returncode, r.stdout, r.error)

Each call returns one result per host, in the order given (:class:`RunResult` like
``subprocess.CompletedProcess``; :class:`TransferResult` for SFTP); a host that failed has
``error`` set and never stops the others. Output is streamed: ``on_output`` sees each line as
it arrives, ``outdir`` gets every byte, and a result keeps the last ``keep_output`` bytes.
"""

from netkit.remote._auth import Credentials
from netkit.remote._connect import DEFAULT_CONNECT_TIMEOUT, Settings, connect
from netkit.remote._errors import (
    AuthError,
    ChangedHostKey,
    CommandTimeout,
    HostKeyError,
    UnknownHostKey,
)
from netkit.remote._hosts import Host, parse_host, read_hosts_file
from netkit.remote._run import DEFAULT_KEEP_OUTPUT, DEFAULT_PARALLEL, RunResult, run
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
    "Host",
    "HostKeyError",
    "HostKeyPolicy",
    "RunResult",
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
