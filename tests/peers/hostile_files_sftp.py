"""Fixture ``hostile_sftp``: an asyncssh SFTP server on loopback whose listings lie the way an
attacker's would (no real files behind them). No login is asked; the host key is new per
fixture and written to ``known_hosts``.

Virtual tree (any user):

``/trav/``   besides ``good.txt`` and ``sub/inner.txt``: ``.`` and ``..`` (as directories),
             ``../evil``, ``../../evil``, ``sub/../../../evil``, the absolute ``outside``,
             an empty name, ``a/b``, ``nul\\0name``, and a directory ``../up``
``/loop/``   every directory holds ``again/`` (a link to itself, as the listing says) and
             ``f.txt``: an endless tree
``/lie/x``   a glob match or a path whose base name is ``..`` (``/lie/..``): the client
             asked for ``/lie/*`` and the server answered ``..``

Every file reads ``content of NAME``.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import stat
from pathlib import Path

import pytest

from tests.peers._asyncssh import running_asyncssh

HOST = "127.0.0.1"
MTIME = 1_600_000_000


def content(name: str) -> bytes:
    return b"content of " + posixpath.basename(name).encode("utf-8", "surrogateescape")


def _attrs(kind, size=0):
    import asyncssh

    mode = (stat.S_IFDIR | 0o755) if kind == "dir" else (stat.S_IFREG | 0o644)
    return asyncssh.SFTPAttrs(type=2 if kind == "dir" else 1, permissions=mode, size=size, mtime=MTIME,
                              atime=MTIME, uid=0, gid=0)


class HostileSftp:
    def __init__(self, outside):
        self.outside = str(outside)
        self.port = None
        self.known_hosts = None
        self.host = HOST

    def url(self, path):
        return f"sftp://tester@{self.host}:{self.port}{path}"

    def entries(self, path: str):
        """[(name, kind)] of a directory of the virtual tree."""
        if path.startswith("/loop"):
            return [(".", "dir"), ("..", "dir"), ("again", "dir"), ("f.txt", "file")]
        if path.rstrip("/").endswith("/sub"):
            return [(".", "dir"), ("..", "dir"), ("inner.txt", "file")]
        if path == "/up":  # where ../up leads
            return [("up.txt", "file")]
        if path.startswith("/trav"):
            return [(".", "dir"), ("..", "dir"), ("good.txt", "file"), ("sub", "dir"), ("../evil", "file"),
                    ("../../evil", "file"), ("sub/../../../evil", "file"), (self.outside, "file"), ("", "file"),
                    ("a/b", "file"), ("nul\0name", "file"), ("../up", "dir")]
        return None

    def kind(self, path: str):
        if path in ("/", "/trav", "/loop", "/lie", "/up") or path.startswith("/loop") and path.endswith("again"):
            return "dir"
        if path.rstrip("/").endswith("/sub") or path.endswith("/.."):
            return "dir"
        return "file"


def _server_class(state):
    import asyncssh

    class Server(asyncssh.SFTPServer):
        def _path(self, raw: bytes) -> str:
            return posixpath.normpath(raw.decode("utf-8", "surrogateescape")) if raw else "/"

        async def scandir(self, path):
            listing = state.entries(self._path(path))
            if listing is None:
                raise asyncssh.SFTPNoSuchFile("no such directory")
            for name, kind in listing:
                size = len(content(name)) if kind == "file" else 0
                yield asyncssh.SFTPName(name.encode("utf-8", "surrogateescape"), attrs=_attrs(kind, size))

        def stat(self, path):
            text = path.decode("utf-8", "surrogateescape")
            kind = "dir" if text.endswith("/..") else state.kind(self._path(path))
            return _attrs(kind, len(content(text)) if kind == "file" else 0)

        lstat = stat

        def realpath(self, path):
            return path or b"/"

        def open(self, path, pflags, attrs):
            return io.BytesIO(content(path.decode("utf-8", "surrogateescape")))

        def read(self, file_obj, offset, size):
            file_obj.seek(offset)
            return file_obj.read(size)

        def fstat(self, file_obj):
            return _attrs("file", len(file_obj.getvalue()))

        def close(self, file_obj):
            file_obj.close()

    return Server


@contextlib.contextmanager
def running_hostile_sftp(directory: Path, outside):
    state = HostileSftp(outside)
    with running_asyncssh("hostile-sftp", directory / "hostile_known_hosts", sftp_factory=_server_class(state),
                          allow_scp=False) as ssh:
        state.port, state.known_hosts = ssh
        yield state


@pytest.fixture
def hostile_sftp(tmp_path):
    """A running :class:`HostileSftp`; ``tmp_path / "outside"`` is its absolute hostile name."""
    with running_hostile_sftp(tmp_path, tmp_path / "outside") as state:
        yield state
