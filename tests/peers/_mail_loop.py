"""What the aiosmtpd mail peers share: an asyncio server run on its own loop in a thread of
the test process (private: not a pytest plugin)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from tests.peers._base import STARTUP_TIMEOUT


@contextlib.contextmanager
def serving_in_thread(start, name: str) -> Iterator[None]:
    """Run ``await start(loop) -> [asyncio servers]`` on an event loop in a thread until the
    block ends; then close the servers and stop the loop."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    servers = []

    def run():
        asyncio.set_event_loop(loop)
        servers.extend(loop.run_until_complete(start(loop)))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    if not ready.wait(STARTUP_TIMEOUT):
        pytest.fail(f"the {name} peer did not start", pytrace=False)
    try:
        yield
    finally:
        for server in servers:
            loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STARTUP_TIMEOUT)
