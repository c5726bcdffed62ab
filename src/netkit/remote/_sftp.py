"""Copy files over SFTP from many hosts (:func:`get`) or to many hosts (:func:`put`).

Rules, the same both ways:

* only new or changed files move: a file whose destination has the same size and
  modification time (whole seconds, as SFTP carries them) is left alone (``force`` copies
  every file);
* modification times and permission bits are kept;
* atomic: a file is written as ``NAME.part`` and renamed over ``NAME`` when complete, so
  ``NAME`` is always either the old file or the whole new one;
* resumable: a copy that fails leaves its ``.part`` holding a prefix of the file and
  carrying the source's modification time; a later copy of the same source version (same
  mtime, ``.part`` no longer than the source) goes on from the ``.part``'s length.

``get`` writes into ``LOCAL_DIR/<host>/``: a file as its base name, a directory
recursively under its base name, each match of a glob likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netkit.core.errors import ConnectError, NetkitError
from netkit.remote._fleet import DEFAULT_PARALLEL
from netkit.transfer._mirror import same_file
from netkit.transfer._sftp import replace

if TYPE_CHECKING:
    from netkit.remote._connect import Settings
    from netkit.remote._fleet import HostSpec

__all__ = ["CHUNK", "FILES_AT_ONCE", "PART_SUFFIX", "TransferResult", "get", "get_on", "put", "put_on"]

# Bytes sent in one call (put); asyncssh splits it into parallel SFTP requests, so a chunk
# is many round trips in flight. Chunks land in order, so a remote .part is a prefix. (get
# reads the whole file through one parallel reader: 30-40 % less CPU than chunk by chunk,
# which copies every block once more to put it in order.)
CHUNK = 8 * 1024 * 1024
# Files of one host in flight at once: small files cost round trips, not bandwidth.
FILES_AT_ONCE = 8
PART_SUFFIX = ".part"
_GLOB_CHARS = frozenset("*?[")


def _lost_errors():
    import asyncssh

    return (asyncssh.ConnectionLost, asyncssh.DisconnectError, asyncssh.SFTPConnectionLost,
            asyncssh.SFTPNoConnection)


@dataclass
class TransferResult:
    """What one host's copy did: ``files`` copied, ``unchanged`` left alone, ``resumed``
    (of ``files``) continued from a ``.part``, ``bytes`` moved, ``paths`` written (local
    paths for get, remote for put), ``error`` (None when every file made it)."""

    host: str
    files: int = 0
    unchanged: int = 0
    resumed: int = 0
    bytes: int = 0
    duration: float = 0.0
    error: BaseException | None = None
    paths: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        text = f"{self.files} copied ({self.bytes / 1048576:.1f} MiB), {self.unchanged} unchanged"
        if self.resumed:
            text += f", {self.resumed} resumed"
        return text

    def as_dict(self) -> dict:
        return {"host": self.host, "files": self.files, "unchanged": self.unchanged, "resumed": self.resumed,
                "bytes": self.bytes, "duration": round(self.duration, 3),
                "error": None if self.error is None else str(self.error),
                "paths": list(self.paths)}


def host_dir(label: str) -> str:
    """A host's label as a file or directory name."""
    return label.replace("/", "_") or "_"


# --- get ------------------------------------------------------------------------------------


async def _remote_files(sftp, pattern, refused):
    """[(remote path, relative local path, attrs)] for a path, directory or glob; names
    that are no plain name (a glob match ``..``, a listing's ``../x`` or ``a/b``) go to
    ``refused`` as lines, never into the list."""
    import asyncssh

    from netkit.core.fs import refused_name
    from netkit.transfer._sftp import regular_size

    if _GLOB_CHARS & set(pattern):
        try:
            names = await sftp.glob(pattern)
        except RecursionError:  # asyncssh's '**' follows what the listing calls directories
            raise NetkitError(f"{pattern}: the match goes deeper than Python can follow (a directory loop on "
                              f"the server?); name a smaller tree") from None
        except asyncssh.SFTPBadMessage as exc:
            raise NetkitError(f"{pattern}: the server listed a name that is not one ({exc.reason}); "
                              f"nothing copied") from None
        matches = [name.filename if hasattr(name, "filename") else name for name in names]
        if not matches:
            raise NetkitError(f"nothing matches {pattern}")
    else:
        matches = [pattern]
    found = []
    for path in matches:
        try:
            attrs = await sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:
            raise NetkitError(f"{path}: no such file or directory") from None
        except asyncssh.SFTPPermissionDenied:
            raise NetkitError(f"{path}: permission denied") from None
        base = posixpath.basename(path.rstrip("/")) or "root"
        bad = refused_name(path, base)
        if bad:
            refused.append(str(bad))
            continue
        if stat.S_ISDIR(attrs.permissions or 0):
            await _walk(sftp, path, base, found, refused)
        else:
            regular_size(attrs, path, "the host")  # a device or a pipe is refused, not read as empty
            found.append((path, base, attrs))
    return found


async def _walk(sftp, top, relative, found, refused):
    """The regular files under ``top`` (readdir's attrs are lstat's: links, devices and
    sockets are not copied), at most MAX_DEPTH directories down and MAX_ENTRIES in all."""
    from netkit.core.fs import MAX_DEPTH, count_entries, not_followed, refused_name

    stack = [(top, relative, 0)]
    counted = 0
    while stack:
        directory, rel_dir, depth = stack.pop()
        entries = []
        async for entry in sftp.scandir(directory):
            entries.append(entry)
            counted = count_entries(counted, 1, top)
        for entry in sorted(entries, key=lambda e: e.filename, reverse=True):
            name = entry.filename
            if name in (".", ".."):
                continue
            path = posixpath.join(directory, name)
            rel = posixpath.join(rel_dir, name)
            bad = refused_name(path, name)
            if bad:
                refused.append(str(bad))
                continue
            mode = entry.attrs.permissions or 0
            if stat.S_ISDIR(mode):
                if depth >= MAX_DEPTH:
                    refused.append(str(not_followed(path, f"deeper than {MAX_DEPTH} levels: a loop on the server?")))
                else:
                    stack.append((path, rel, depth + 1))
            elif stat.S_ISREG(mode):
                found.append((path, rel, entry.attrs))


async def _get_file(sftp, remote, top, rel, attrs, result, force, on_bytes):
    from netkit.core.fs import inside, local_error, open_temp, rename_temp

    size, mtime = attrs.size or 0, attrs.mtime
    local = inside(top, rel)  # the directories on the way made, none a link out of ``top``
    try:
        st = os.stat(local)
        if not force and same_file((st.st_size, st.st_mtime), (size, mtime)):
            result.unchanged += 1
            return
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise local_error(exc, f"looking at {local}") from None
    part = local + PART_SUFFIX
    # Never through a link: a .part is created O_EXCL|O_NOFOLLOW, or taken back only when
    # it is this user's own regular file (core.fs.open_temp); anything else is refused.
    fd, kept = open_temp(part, keep=True, mode=0o600)
    offset = 0
    if kept and mtime is not None and kept <= size and int(os.fstat(fd).st_mtime) == int(mtime):
        offset = kept
    stamp = (mtime, mtime) if mtime is not None else None
    # Blocks arrive out of order (many reads in flight) and are written where they belong;
    # ``prefix`` is how far the file is complete without a hole. If the copy fails (a lost
    # connection, Ctrl-C), the .part is cut back to that prefix and stamped with the
    # source's mtime: the next run resumes there. A .part left any other way (the process
    # killed) carries the time of its last write, and is copied anew.
    prefix = offset
    try:
        os.ftruncate(fd, offset)
        if offset:
            result.resumed += 1
        ahead = {}  # start -> end of blocks written past the prefix
        async with sftp.open(remote, "rb", block_size=0 if not size else -1) as source:
            if not size:  # /proc files say 0 and hold more: read to the end
                while data := await source.read(CHUNK, prefix):
                    os.pwrite(fd, data, prefix)
                    prefix += len(data)
                    result.bytes += len(data)
                    if on_bytes is not None:
                        on_bytes(len(data))
                size = prefix
            else:
                async for at, data in await source.read_parallel(size - offset, offset):
                    os.pwrite(fd, data, at)
                    count = len(data)
                    result.bytes += count
                    if at == prefix:
                        prefix += count
                        while prefix in ahead:
                            prefix = ahead.pop(prefix)
                    else:
                        ahead[at] = at + count
                    if on_bytes is not None:
                        on_bytes(count)
        if prefix != size:
            raise NetkitError(f"{remote} changed while it was read ({prefix} of {size} bytes); run again")
        if attrs.permissions is not None:
            os.fchmod(fd, attrs.permissions & 0o777)
        if stamp is not None:
            os.utime(fd, stamp)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, prefix)
            if stamp is not None:
                os.utime(fd, stamp)
        os.close(fd)
        if isinstance(exc, OSError):  # asyncssh's errors are not OSErrors: this one is ours
            raise local_error(exc, f"writing {part}") from None
        raise
    try:  # renamed while open, and only while the name is still the file written (core.fs)
        rename_temp(fd, part, local)
    except OSError as exc:
        raise local_error(exc, f"renaming {part} to {local}") from None
    finally:
        os.close(fd)
    result.files += 1
    result.paths.append(local)


async def _each_file(conn, jobs, on_file, refused=()):
    """Await ``copy()`` for every ``(path, copy)`` of ``jobs``, FILES_AT_ONCE at a time. A
    lost connection ends them all as one ConnectError (the .part files stay to resume); other
    failures (and the names ``refused`` before) are gathered and raised together once the
    other files are done."""
    import asyncssh

    lost = _lost_errors()
    gate = asyncio.Semaphore(FILES_AT_ONCE)
    problems = list(refused)

    async def one(path, copy):
        async with gate:
            try:
                await copy()
            except (asyncssh.SFTPError, OSError, NetkitError) as exc:
                if isinstance(exc, lost) or conn.is_closed():
                    raise ConnectError(f"connection lost during the transfer of {path} "
                                       f"(a .part is kept; run again to resume)") from None
                problems.append(f"{path}: {getattr(exc, 'reason', None) or getattr(exc, 'strerror', None) or exc}")
                return
        if on_file is not None:
            on_file()

    async with asyncio.TaskGroup() as group:
        for path, copy in jobs:
            group.create_task(one(path, copy))
    if problems:
        raise NetkitError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))


async def _get_host(conn, result, source, destination, force, on_bytes, on_file):
    from functools import partial

    # A name that is not UTF-8 is kept byte for byte (as os.fsdecode does), not an error.
    async with conn.start_sftp_client(path_errors="surrogateescape") as sftp:
        refused = []
        files = await _remote_files(sftp, source, refused)
        root = os.path.join(destination, host_dir(result.host))
        jobs = [(remote, partial(_get_file, sftp, remote, root, rel, attrs, result, force, on_bytes))
                for remote, rel, attrs in files]
        await _each_file(conn, jobs, on_file, refused)


# --- put ------------------------------------------------------------------------------------


def _local_files(pattern):
    import glob

    matches = sorted(glob.glob(pattern)) if _GLOB_CHARS & set(pattern) else [pattern]
    if not matches:
        raise NetkitError(f"nothing matches {pattern}")
    found = []
    for path in matches:
        if not os.path.exists(path):
            raise NetkitError(f"{path}: no such file or directory")
        base = os.path.basename(path.rstrip("/")) or "root"
        if os.path.isdir(path):
            for top, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(top, name)
                    if os.path.isfile(full) and not os.path.islink(full):
                        rel = os.path.relpath(full, path).replace(os.sep, "/")
                        found.append((full, posixpath.join(base, rel), os.stat(full)))
        else:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):  # /dev/zero would be sent as an empty file, a pipe never end
                raise NetkitError(f"{path} is not a regular file (a device, pipe or socket); put copies files")
            found.append((path, base, st))
    return found


async def _put_file(sftp, local, remote, st, result, force, on_bytes):
    import asyncssh

    size, mtime = st.st_size, int(st.st_mtime)
    try:
        attrs = await sftp.stat(remote)
        if not force and same_file((attrs.size, attrs.mtime), (size, mtime)):
            result.unchanged += 1
            return
    except asyncssh.SFTPNoSuchFile:
        pass
    part = remote + PART_SUFFIX
    offset = 0
    try:
        pattrs = await sftp.stat(part)
        if pattrs.mtime == mtime and (pattrs.size or 0) <= size:
            offset = pattrs.size or 0
    except asyncssh.SFTPNoSuchFile:
        pass
    if offset:
        result.resumed += 1
    stamp = asyncssh.SFTPAttrs(atime=mtime, mtime=mtime)
    from netkit.core.fs import local_error

    try:
        source = open(local, "rb")  # noqa: ASYNC230, SIM115 -- local disk, chunk by chunk; closed below
    except OSError as exc:
        raise local_error(exc, f"opening {local}") from None
    unknown = not size  # files of /proc say 0 and hold more: sent to their end
    with source:
        async with sftp.open(part, "r+b" if offset else "wb") as out:
            if offset:
                await out.truncate(offset)
            while offset < size or unknown:
                try:
                    source.seek(offset)
                    data = source.read(CHUNK if unknown else min(CHUNK, size - offset))
                except OSError as exc:
                    raise local_error(exc, f"reading {local}") from None
                if not data:
                    break
                await out.write(data, offset)
                await out.setstat(stamp)
                offset += len(data)
                result.bytes += len(data)
                if on_bytes is not None:
                    on_bytes(len(data))
            await out.setstat(asyncssh.SFTPAttrs(permissions=st.st_mode & 0o777, atime=mtime, mtime=mtime))
    if offset != size and not unknown:
        raise NetkitError(f"{local} changed while it was sent; run again")
    await replace(sftp, part, remote)
    result.files += 1
    result.paths.append(remote)


async def _put_host(conn, result, source, destination, force, on_bytes, on_file):
    from functools import partial

    files = _local_files(source)
    async with conn.start_sftp_client() as sftp:
        made = set()
        for _local, rel, _st in files:
            parent = posixpath.dirname(posixpath.join(destination, rel))
            if parent not in made:
                await sftp.makedirs(parent, exist_ok=True)
                made.add(parent)
        jobs = []
        for local, rel, st in files:
            remote = posixpath.join(destination, rel)
            jobs.append((remote, partial(_put_file, sftp, local, remote, st, result, force, on_bytes)))
        await _each_file(conn, jobs, on_file)


# --- many hosts -----------------------------------------------------------------------------


async def _on(fleet, work, source, destination, *, force, on_bytes, on_file, on_result) -> list:
    async def one_host(conn, result):
        await work(conn, result, source, destination, force, on_bytes, on_file)

    return await fleet.each(TransferResult, one_host, phase="transfer", on_result=on_result)


async def get_on(fleet, remote_path, local_dir, *, force=False, on_bytes=None, on_file=None, on_result=None) -> list:
    """:meth:`Fleet.get`."""
    return await _on(fleet, _get_host, remote_path, local_dir, force=force, on_bytes=on_bytes, on_file=on_file,
                     on_result=on_result)


async def put_on(fleet, local_path, remote_dir, *, force=False, on_bytes=None, on_file=None, on_result=None) -> list:
    """:meth:`Fleet.put`."""
    return await _on(fleet, _put_host, local_path, remote_dir, force=force, on_bytes=on_bytes, on_file=on_file,
                     on_result=on_result)


async def get(hosts: Iterable[HostSpec] | HostSpec, remote_path: str, local_dir: str, settings: Settings | None = None,
              *, parallel: int = DEFAULT_PARALLEL, force: bool = False, on_bytes: Callable[[int], object] | None = None,
              on_file: Callable[[], object] | None = None,
              on_result: Callable[[TransferResult], object] | None = None) -> list[TransferResult]:
    """Copy ``remote_path`` (file, directory or glob) from every host into
    ``local_dir/<host>/``; a list of :class:`TransferResult` in the order of ``hosts``. The
    one-shot form of :meth:`Fleet.get` (each host's connection closed when its copy is done)."""
    from netkit.remote._fleet import Fleet

    async with Fleet(hosts, settings=settings, parallel=parallel, keep_connections=False) as fleet:
        return await fleet.get(remote_path, local_dir, force=force, on_bytes=on_bytes, on_file=on_file,
                               on_result=on_result)


async def put(hosts: Iterable[HostSpec] | HostSpec, local_path: str, remote_dir: str, settings: Settings | None = None,
              *, parallel: int = DEFAULT_PARALLEL, force: bool = False, on_bytes: Callable[[int], object] | None = None,
              on_file: Callable[[], object] | None = None,
              on_result: Callable[[TransferResult], object] | None = None) -> list[TransferResult]:
    """Copy ``local_path`` (file, directory or glob) into ``remote_dir`` on every host; the
    one-shot form of :meth:`Fleet.put`."""
    from netkit.remote._fleet import Fleet

    async with Fleet(hosts, settings=settings, parallel=parallel, keep_connections=False) as fleet:
        return await fleet.put(local_path, remote_dir, force=force, on_bytes=on_bytes, on_file=on_file,
                               on_result=on_result)
