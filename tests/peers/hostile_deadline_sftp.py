"""Fixture ``trickling_sftp``: an asyncssh SFTP server on loopback that answers slowly the
way a hostile (or broken) one does, where no idle timeout ever fires. No login is asked;
the host key is new per fixture and written to ``known_hosts``.

Virtual tree (any user), every file TRICKLE_LENGTH bytes of ``t``:

``/top/``          ``a.txt`` (read at once), ``slow.txt`` (trickles), ``z.txt`` (at once)
``/slow.txt``      each read answers one byte after TRICKLE_PAUSE seconds
``/stall.txt``     a read is never answered (the request waits STALL_FOR seconds)
any write          is never answered either (an upload waits)
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import stat
from pathlib import Path

import pytest

from tests.peers._asyncssh import running_asyncssh

HOST = "127.0.0.1"
MTIME = 1_600_000_000
TRICKLE_PAUSE = 0.2
TRICKLE_LENGTH = 1000
# How long a stalled request waits at most (the test ends it far sooner).
STALL_FOR = 60
TOP = ("a.txt", "slow.txt", "z.txt")


def _attrs(kind):
    import asyncssh

    mode = (stat.S_IFDIR | 0o755) if kind == "dir" else (stat.S_IFREG | 0o644)
    return asyncssh.SFTPAttrs(type=2 if kind == "dir" else 1, permissions=mode,
                              size=0 if kind == "dir" else TRICKLE_LENGTH, mtime=MTIME, atime=MTIME, uid=0, gid=0)


class TricklingSftp:
    def __init__(self):
        self.port = None
        self.known_hosts = None
        self.host = HOST

    def url(self, path):
        return f"sftp://tester@{self.host}:{self.port}{path}"


def _server_class():
    import asyncssh

    class Server(asyncssh.SFTPServer):
        def _path(self, raw: bytes) -> str:
            return posixpath.normpath(raw.decode("utf-8", "surrogateescape")) if raw else "/"

        async def scandir(self, path):
            if self._path(path) != "/top":
                raise asyncssh.SFTPNoSuchFile("no such directory")
            for name in TOP:
                yield asyncssh.SFTPName(name.encode(), attrs=_attrs("file"))

        def stat(self, path):
            return _attrs("dir" if self._path(path) in ("/", "/top") else "file")

        lstat = stat

        def realpath(self, path):
            return path or b"/"

        def open(self, path, pflags, attrs):
            return self._path(path)

        async def read(self, file_obj, offset, size):
            if offset >= TRICKLE_LENGTH:
                return b""
            if file_obj.endswith("stall.txt"):
                await asyncio.sleep(STALL_FOR)
            elif file_obj.endswith("slow.txt"):
                await asyncio.sleep(TRICKLE_PAUSE)
                return b"t"
            return b"t" * min(size, TRICKLE_LENGTH - offset)

        async def write(self, file_obj, offset, data):
            await asyncio.sleep(STALL_FOR)

        def fstat(self, file_obj):
            return _attrs("file")

        def close(self, file_obj):
            pass

    return Server


@contextlib.contextmanager
def running_trickling_sftp(directory: Path):
    state = TricklingSftp()
    with running_asyncssh("trickling-sftp", directory / "trickling_known_hosts", sftp_factory=_server_class(),
                          allow_scp=False) as ssh:
        state.port, state.known_hosts = ssh
        yield state


@pytest.fixture
def trickling_sftp(tmp_path):
    """A running :class:`TricklingSftp`."""
    with running_trickling_sftp(tmp_path) as state:
        yield state
