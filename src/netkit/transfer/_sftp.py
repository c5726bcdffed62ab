"""SFTP transfers over asyncssh.

Reads are pipelined: up to :data:`MAX_REQUESTS` requests of the server's largest read
(``limits@openssh.com``, 255 KiB for OpenSSH) are in flight, and blocks are written in
order as they arrive -- what OpenSSH's ``sftp`` does with ``-R``. Compression is off
(it only slows a fast link) and AES-GCM comes first (the fastest cipher of the
``cryptography`` package). Host keys are checked against known_hosts (``~/.ssh/known_hosts``
or ``--known-hosts``): an unknown or changed key is refused.

Uploads are written to ``.NAME.part`` and renamed (``posix-rename@openssh.com``, which
replaces atomically) when complete; modification times are kept with SETSTAT.
"""

import asyncio
import contextlib
import os

from netkit.core.errors import AuthError, NetError, UnknownHostKey
from netkit.core.target import percent_decode
from netkit.transfer._common import BUFFER_SIZE, CutError, RemoteError, limits, local_error

__all__ = ["Session", "fetch", "regular_size", "remote_path", "upload"]

# Read requests in flight. 32 of 255 KiB: 8 MiB on the way, four times OpenSSH sftp's
# 64 x 32 KiB (what keeps a long fat link busy), while the peak memory of a download stays
# near 68 MiB (64 requests and a 16 MiB window: 82 MiB, and no faster on loopback).
MAX_REQUESTS = 32
ENCRYPTION = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
              "aes128-ctr", "aes256-ctr")
# asyncssh's channel window (the data the server may send ahead) and packet size: the
# window matches the requests in flight.
WINDOW = 8 * 1024 * 1024
MAX_PACKET = 256 * 1024


def remote_path(url_path: str) -> str:
    """sftp://host/path is the absolute /path; sftp://host/~/path is relative to home."""
    path = percent_decode(url_path or "/")
    if path.startswith("/~/"):
        return path[3:] or "."
    if path == "/~":
        return "."
    return path


async def replace(sftp, temp, path):
    """Rename ``temp`` onto ``path``, replacing it: OpenSSH's posix-rename extension does
    it at once; plain SFTP v3 renames only onto a free name, so remove first."""
    import asyncssh

    try:
        await sftp.posix_rename(temp, path)
    except asyncssh.SFTPOpUnsupported:
        try:
            await sftp.remove(path)
        except asyncssh.SFTPNoSuchFile:
            pass
        await sftp.rename(temp, path)


def regular_size(attrs, path, peer):
    """The size of a remote file from its (stat) attributes: None when unknown; a
    directory, device, pipe or socket is refused -- reading ``/dev/zero`` never ends and
    a pipe's size says nothing, so neither may become an empty "success"."""
    import stat

    mode = attrs.permissions
    kind = attrs.type
    if kind == 2 or (mode is not None and stat.S_ISDIR(mode)):  # FILEXFER_TYPE_DIRECTORY
        from netkit.core.errors import UsageError

        raise UsageError(f"{path} on {peer} is a directory; use netkit mirror for directories")
    if (mode is not None and stat.S_IFMT(mode) and not stat.S_ISREG(mode)) or kind in (4, 6, 7, 8, 9):  # special, socket, devices, fifo
        what = ("a character device" if mode is not None and stat.S_ISCHR(mode) else
                "a block device" if mode is not None and stat.S_ISBLK(mode) else
                "a pipe" if mode is not None and stat.S_ISFIFO(mode) else
                "a socket" if mode is not None and stat.S_ISSOCK(mode) else "not a regular file")
        raise RemoteError(f"{peer}: {path} is {what}, not a regular file: not copied")
    return attrs.size


def _map(exc, peer, what, phase="read"):
    """``exc`` on netkit's tree (:func:`netkit.core.errmap.from_asyncssh`), with what to do
    about a host key or a login that were refused. A bug, not the network, stays what it is
    (and is not retried)."""
    from netkit.core.errmap import hinted, map_error

    error = map_error(exc, peer, phase, doing=what)
    if error is exc:
        return error
    if isinstance(error, UnknownHostKey):
        return hinted(error, "; add it to known_hosts (or give --known-hosts FILE)")
    if isinstance(error, AuthError):
        return hinted(error, "; give --identity KEY or check the user")
    return error


class Session:
    """A connection and its SFTP client, as an async context manager. ``watchdog``
    (--max-time, --speed-limit: :mod:`netkit.transfer._watchdog`) may :meth:`cut` it
    from its thread: the connection is aborted on its loop (the task is cancelled while
    it is still connecting), and what was waiting on it fails at once."""

    def __init__(self, url, options, watchdog=None):
        self.url = url
        self.options = options
        self.watchdog = watchdog
        self.peer = url.netloc
        self.conn = None
        self.sftp = None
        self.closing = set()  # read handles being closed, not waited for (see retrieve)
        self._loop = None
        self._connecting = None

    def cut(self):
        """Abort the connection; called from the watchdog's thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._abort)

    def _abort(self):
        if self.conn is not None:
            self.conn.abort()
        elif self._connecting is not None:
            self._connecting.cancel()

    async def __aenter__(self):
        import asyncssh

        url, options = self.url, self.options
        user = options.user if options.user is not None else url.user
        timeout = options.connect_timeout if self.watchdog is None else self.watchdog.remaining(options.connect_timeout)
        kw = {"port": url.port, "compression_algs": None, "encryption_algs": list(ENCRYPTION),
              "connect_timeout": timeout, "login_timeout": timeout,
              "window": WINDOW, "max_pktsize": MAX_PACKET}
        if user is not None:
            kw["username"] = user
        if options.known_hosts is not None:
            kw["known_hosts"] = options.known_hosts
        if options.identity is not None:
            kw["client_keys"] = [options.identity]
            kw["agent_path"] = None
        password = options.password if options.user is not None else url.password
        if password is not None:
            kw["password"] = password
        from netkit.core.fs import check_owned

        # asyncssh reads ~/.ssh/config (its Host blocks name users and ports) and runs its
        # ProxyCommand: not when someone else can write it.
        check_owned(os.path.expanduser("~/.ssh/config"), "ssh config", "its ProxyCommand would run as you")
        if self.watchdog is not None:
            self._loop, self._connecting = asyncio.get_running_loop(), asyncio.current_task()
            self.watchdog.watch(self)
        try:
            self.conn = await asyncssh.connect(url.host, **kw)
            # A name that is not UTF-8 is kept byte for byte (as os.fsdecode does), not an error.
            self.sftp = await self.conn.start_sftp_client(path_errors="surrogateescape")
        except BaseException as exc:
            self._stop_watch()
            if self.conn is not None:
                self.conn.abort()
            if isinstance(exc, Exception):
                raise _map(exc, self.peer, f"connecting to {self.peer}", "connect") from None
            raise
        finally:
            self._connecting = None
        return self

    def _stop_watch(self):
        if self.watchdog is not None:
            self.watchdog.unwatch(self)
        self._loop = None

    async def __aexit__(self, *exc):
        self._stop_watch()
        if exc[0] is not None and self.conn is not None:
            self.conn.abort()  # after a failure (a cut, a limit): no goodbye to wait for
        if self.closing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*self.closing, return_exceptions=True), 5)
        if self.conn is not None:
            if self.sftp is not None:
                self.sftp.exit()
            self.conn.close()
            try:
                await asyncio.wait_for(self.conn.wait_closed(), 5)
            except (TimeoutError, OSError):
                pass

    async def call(self, what, coro):
        try:
            return await coro
        except Exception as exc:  # noqa: BLE001 - mapped onto netkit's tree
            raise _map(exc, self.peer, what) from None

    async def retrieve(self, path, part, pacer, known=None):
        """Read ``path`` into ``part`` from ``part.offset``; returns the remote mtime.
        ``known``: (size, mtime) of a regular file from a listing, which saves a stat."""
        if known is not None and known[0] is not None:
            size, mtime = known
        else:
            attrs = await self.call(f"reading {path}", self.sftp.stat(path))
            size, mtime = regular_size(attrs, path, self.peer), attrs.mtime
        offset = part.offset
        if size is not None and offset > size:
            part.restart()
            offset = 0
        pacer.begin(offset, size)
        limits = getattr(self.sftp, "limits", None)
        block = min(getattr(limits, "max_read_len", 0) or 32768, pacer.block_size(BUFFER_SIZE))
        # With --limit-rate, at most about a second of data is asked for ahead of the pace.
        most = MAX_REQUESTS if not pacer.rate else max(1, min(MAX_REQUESTS, pacer.rate // block))
        # A file that fits one read (most of a mirror's) is one plain request: block_size 0
        # turns off asyncssh's parallel reader, whose tasks cost more CPU than the file.
        # Size 0 (or none said) is read to the end, whatever it holds: files of /proc say 0
        # and hold more. (Devices and pipes were refused by regular_size.)
        unknown = not size
        small = not unknown and 0 < size - offset <= block
        f = await self.call(f"opening {path}", self.sftp.open(path, "rb", block_size=0 if small or unknown else block,
                                                              max_requests=most))
        try:
            if unknown or small:
                await self._read_serial(f, path, offset, None if unknown else size, block, part, pacer)
            elif offset < size:
                await self._pipeline(f, path, offset, size, part, pacer)
        except BaseException:
            with contextlib.suppress(Exception):  # closing a read handle on a failed connection
                await f.close()
            raise
        # The answer to closing a read handle says nothing we need: the next file need not
        # wait for it (a round trip per file of a mirror). The session waits for them all.
        task = asyncio.ensure_future(f.close())
        self.closing.add(task)
        task.add_done_callback(self._closed)
        return mtime

    def _closed(self, task):
        self.closing.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a failed close of a read handle changes nothing

    async def _read_serial(self, f, path, at, end, block, part, pacer):
        """One request at a time from ``at``: to the end of the file (``end`` None), or to
        ``end`` -- CutError when the file ends before it."""
        while end is None or at < end:
            try:
                data = await f.read(block if end is None else min(block, end - at), at)
            except Exception as exc:  # noqa: BLE001 - mapped onto netkit's tree
                raise _map(exc, self.peer, f"reading {path}") from None
            if not data:
                break
            part.write(data)
            pacer(len(data))
            at += len(data)
        if end is not None and at < end:
            raise CutError(f"{self.peer}: {path} ended at byte {at} of {end} (it shrank while read)")

    async def _pipeline(self, f, path, offset, size, part, pacer):
        """asyncssh's parallel reads (``read_parallel``: up to ``max_requests`` in flight,
        short reads re-asked) arrive in any order; they are written in file order, the
        early ones held meanwhile (at most the requests in flight)."""
        held = {}
        at = offset
        try:
            async for off, data in await f.read_parallel(-1 if size is None else size - offset, offset):
                if off != at:
                    held[off] = data
                    continue
                part.write(data)
                pacer(len(data))
                at += len(data)
                while at in held:
                    data = held.pop(at)
                    part.write(data)
                    pacer(len(data))
                    at += len(data)
        except Exception as exc:  # noqa: BLE001 - mapped onto netkit's tree
            raise _map(exc, self.peer, f"reading {path}") from None
        if held or (size is not None and at < size):
            raise CutError(f"{self.peer}: {path} ended at byte {at} of {size} (it shrank while read)")

    async def store(self, local, path, pacer, mtime=None):
        """Upload ``local`` as ``path`` through ``.NAME.part``, made new on the server
        (exclusive create: a link planted under that name is removed, never written
        through) and given its time through the open handle (fsetstat), never by a name
        that could have been swapped since."""
        import asyncssh

        directory, _, base = path.rpartition("/")
        temp = f"{directory}/.{base}.part" if directory else f".{base}.part"
        try:
            src = open(local, "rb")  # noqa: ASYNC230, SIM115 - closed by the with below
        except OSError as exc:
            raise local_error(exc, f"opening {local}") from None
        with src:
            size = os.fstat(src.fileno()).st_size
            pacer.begin(0, size)
            try:  # a leftover (or a link someone put there): the upload starts over anyway
                await self.sftp.remove(temp)
            except asyncssh.SFTPNoSuchFile:
                pass
            except Exception as exc:  # noqa: BLE001 - mapped onto netkit's tree
                raise _map(exc, self.peer, f"removing the leftover {temp}") from None
            f = await self.call(f"creating {temp}", self.sftp.open(temp, "xb", block_size=-1))
            try:
                block = pacer.block_size(4 * 1024 * 1024)
                offset = 0
                while True:
                    data = src.read(block)
                    if not data:
                        break
                    await self.call(f"writing {temp}", f.write(data, offset))
                    offset += len(data)
                    pacer(len(data))
                if mtime is not None:
                    await self.call(f"setting the time of {temp}",
                                    f.setstat(asyncssh.SFTPAttrs(atime=int(mtime), mtime=int(mtime))))
            finally:
                await self.call(f"closing {temp}", f.close())
        await self.call(f"renaming {temp} to {path}", replace(self.sftp, temp, path))
        return size

    async def walk(self, top, refused):
        """(relative path, size, mtime) of every file under ``top``. Entries that are no
        plain name (``../x``, ``a/b``), or deeper than MAX_DEPTH (a loop of links the server
        calls directories), go to ``refused`` as (path, UnsafeName); ``.``/``..`` are skipped.
        (readdir's attributes are lstat's: a link is not followed, nor copied.)"""
        import stat

        from netkit.core.fs import MAX_DEPTH, count_entries, not_followed, refused_name

        stack = [("", 0)]
        counted = 0
        while stack:
            rel, depth = stack.pop()
            where = f"{top.rstrip('/')}/{rel}" if rel else top
            try:
                async for entry in self.sftp.scandir(where):
                    counted = count_entries(counted, 1, where)
                    name = entry.filename
                    if name in (".", ".."):
                        continue
                    path = f"{rel}/{name}" if rel else name
                    bad = refused_name(path, name)
                    if bad:
                        refused.append((path, bad))
                        continue
                    mode = entry.attrs.permissions or 0
                    if stat.S_ISDIR(mode):
                        if depth >= MAX_DEPTH:
                            refused.append((path, not_followed(path, f"deeper than {MAX_DEPTH} levels: a loop on the server?")))
                        else:
                            stack.append((path, depth + 1))
                    elif stat.S_ISREG(mode):
                        yield path, entry.attrs.size, entry.attrs.mtime
            except NetError:
                raise
            except Exception as exc:  # noqa: BLE001 - mapped onto netkit's tree
                raise _map(exc, self.peer, f"listing {where}") from None

    async def remove(self, path):
        await self.call(f"removing {path}", self.sftp.remove(path))

    async def mkdirs(self, path):
        try:
            await self.sftp.makedirs(path, exist_ok=True)
        except Exception as exc:  # noqa: BLE001
            raise _map(exc, self.peer, f"making {path}") from None


def run(coro):
    """Run a coroutine to its end on a fresh loop (uvloop when present)."""
    from netkit.drivers.aio import runner

    with runner() as r:
        return r.run(coro)


async def afetch(url, part, options, pacer, watchdog=None):
    async with Session(url, options, watchdog) as s:
        return {"mtime": await s.retrieve(remote_path(url.path), part, pacer)}


def fetch(url, part, options, pacer, state):
    with limits(options, pacer, state) as watchdog:
        return run(afetch(url, part, options, pacer, watchdog))


async def aupload(local, url, options, pacer, watchdog=None):
    path = remote_path(url.path)
    if path.endswith("/"):
        path += os.path.basename(local)
    mtime = os.stat(local).st_mtime if options.keep_mtime else None
    async with Session(url, options, watchdog) as s:
        return await s.store(local, path, pacer, mtime)


def upload(local, url, options, pacer, state):
    with limits(options, pacer, state) as watchdog:
        return run(aupload(local, url, options, pacer, watchdog))

