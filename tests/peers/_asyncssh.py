"""An asyncssh server of a test's own, on a loopback ephemeral port in a thread of its own:
what the hostile SSH and SFTP peers (hostile_*ssh*.py, hostile_*sftp.py) are made of.

:func:`running_asyncssh` starts it with a fresh ed25519 host key and writes a known_hosts
file that trusts that key alone, so netkit connects with its host-key checks on."""

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

HOST = "127.0.0.1"
# Starting or stopping takes milliseconds; this long means the server is broken.
START_TIMEOUT = 10.0


class RunningSsh(NamedTuple):
    port: int
    known_hosts: Path


@contextlib.contextmanager
def running_asyncssh(name: str, known_hosts: Path, **listen) -> Iterator[RunningSsh]:
    """``asyncssh.listen(HOST, 0, server_host_keys=[a new key], **listen)`` in a thread.
    Logins are not asked for unless ``listen`` names a ``server_factory`` that asks. At the
    end, the server closes and every task still running on its loop (a request that
    sleeps, a session that hangs) is cancelled."""
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    class NoLogin(asyncssh.SSHServer):
        def begin_auth(self, username):
            return False  # no login asked

    listen.setdefault("server_factory", NoLogin)

    async def start():
        holder["server"] = await asyncssh.listen(HOST, 0, server_host_keys=[key], **listen)
        ready.set()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        pytest.fail(f"the {name} server did not start", pytrace=False)
    port = holder["server"].sockets[0].getsockname()[1]
    public = key.export_public_key("openssh").decode().split()[:2]
    known_hosts.write_text(f"[{HOST}]:{port} {' '.join(public)}\n")
    try:
        yield RunningSsh(port, known_hosts)
    finally:
        async def stop():
            holder["server"].close()
            await holder["server"].wait_closed()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
