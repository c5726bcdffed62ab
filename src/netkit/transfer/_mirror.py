"""Mirror an FTP or SFTP directory to a local one, or a local one to FTP or SFTP.

Only new or changed files move (a file is unchanged when its size and its modification
time, to the second, are the same on both sides); every file moves the safe way (a
``.part`` locally, a temporary name remotely, renamed when complete) and gets the
source's modification time. ``include``/``exclude`` are shell globs matched against the
path relative to the top (``logs/*.gz``) and against the bare name (``*.log``).
Nothing is deleted.
"""

import os
from fnmatch import fnmatchcase

from netkit.core.errors import UsageError
from netkit.transfer._common import LocalError, Pacer, PartFile, is_transient, local_error

__all__ = ["MirrorResult", "mirror", "selected"]


class MirrorResult:
    __slots__ = ("copied", "dest", "failed", "source", "unchanged")

    def __init__(self, source, dest):
        self.source = source
        self.dest = dest
        self.copied = []  # (relative path, bytes)
        self.unchanged = []  # relative paths
        self.failed = []  # (relative path, error)

    @property
    def bytes(self):
        return sum(size for _, size in self.copied)

    def __repr__(self):
        return f"MirrorResult({len(self.copied)} copied, {len(self.unchanged)} unchanged, {len(self.failed)} failed)"


def selected(rel, include=(), exclude=()) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(".") and name.endswith(".part"):
        return False  # our own temporary files
    if include and not any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in exclude)


def _same(size, mtime, local_stat) -> bool:
    if local_stat is None or size is None or mtime is None:
        return False
    return local_stat.st_size == size and int(local_stat.st_mtime) == int(mtime)


def _local_stat(path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise local_error(exc, f"looking at {path}") from None


def _local_files(top):
    if not os.path.isdir(top):
        raise LocalError(f"{top} is not a directory" if os.path.exists(top) else f"{top}: no such directory")
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, top).replace(os.sep, "/")
            if name.endswith(".part"):
                continue
            st = os.stat(full)
            yield rel, st.st_size, st.st_mtime


def _join(top, rel):
    if not top:
        return rel
    return f"{top.rstrip('/')}/{rel}" if top != "/" else f"/{rel}"


def mirror(source, dest, options, include=(), exclude=(), progress_for=None, on_file=None):
    """``mirror("sftp://h/var/log/", "logs")`` or ``mirror("logs", "ftp://h/backup/")``."""
    from netkit.transfer._api import parse_url

    src_remote = "://" in str(source)
    dst_remote = "://" in str(dest)
    if src_remote == dst_remote:
        raise UsageError("mirror copies between a URL and a local directory: netkit mirror URL DIR (download) or "
                         "netkit mirror DIR URL (upload)")
    url = parse_url(source if src_remote else dest, ("ftp", "ftps", "sftp"))
    result = MirrorResult(str(source), str(dest))
    local = os.fspath(dest if src_remote else source)
    if url.scheme == "sftp":
        from netkit.transfer import _sftp

        _sftp.run(_sftp_mirror(url, local, src_remote, options, include, exclude, progress_for, on_file, result))
    else:
        _ftp_mirror(url, local, src_remote, options, include, exclude, progress_for, on_file, result)
    return result


def _backoff(options, attempt):
    from netkit.transfer._common import MAX_BACKOFF

    return min(options.retry_delay * 2 ** (attempt - 1), MAX_BACKOFF)


def _pacer(options, progress_for, rel, size):
    return Pacer(progress_for(rel, size) if progress_for else None, options.limit_rate, options.cancel)


def _record(result, on_file, rel, outcome):
    if isinstance(outcome, BaseException):
        result.failed.append((rel, outcome))
    else:
        result.copied.append((rel, outcome))
    if on_file is not None:
        on_file(rel, outcome)


def _ftp_mirror(url, local, download, options, include, exclude, progress_for, on_file, result):
    from netkit.transfer._ftp import FtpSession, remote_path

    top = remote_path(url.path)
    session = FtpSession(url, options).open()
    remote = {}  # uploading: what the server has, {rel: (size, mtime)}
    try:
        if download:
            os.makedirs(local, exist_ok=True)
            entries = [e for e in session.walk(top) if selected(e[0], include, exclude)]
        else:
            entries = [e for e in _local_files(local) if selected(e[0], include, exclude)]
            try:
                remote = {rel: (size, mtime) for rel, size, mtime in session.walk(top)}
            except Exception:  # noqa: BLE001 - no such directory yet: everything is new
                if top:
                    session.mkdirs(top)
        for rel, size, mtime in entries:
            path = os.path.join(local, *rel.split("/"))
            if _unchanged(download, path, rel, size, mtime, remote):
                result.unchanged.append(rel)
                continue
            attempt = 0
            while True:
                attempt += 1
                try:
                    pacer = _pacer(options, progress_for, rel, size)
                    if download:
                        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                        # A .part from an earlier run may hold another version: only -c trusts it;
                        # a retry within this run continues what this run wrote.
                        part = PartFile(path, resume=options.resume or attempt > 1)
                        try:
                            got_mtime = session.retrieve(_join(top, rel), part, pacer)
                            part.commit(got_mtime if got_mtime is not None else mtime)
                        finally:
                            part.close()
                        outcome = part.offset
                    else:
                        parent = rel.rpartition("/")[0]
                        if parent:
                            session.mkdirs(_join(top, parent))
                        outcome = session.store(os.path.join(local, *rel.split("/")), _join(top, rel), pacer, mtime)
                    pacer.finish()
                except (UsageError, KeyboardInterrupt):
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded per file
                    if is_transient(exc) and attempt <= options.retries:
                        import time

                        session.ftp.close()
                        time.sleep(_backoff(options, attempt))
                        session = FtpSession(url, options).open()
                        continue
                    outcome = exc
                break
            _record(result, on_file, rel, outcome)
    finally:
        session.close()


def _unchanged(download, path, rel, size, mtime, remote) -> bool:
    """Whether the copy on the receiving side has this size and modification time (to the
    second) already: the local file at ``path``, or ``remote[rel]`` when uploading."""
    if download:
        return _same(size, mtime, _local_stat(path))
    rsize, rmtime = remote.get(rel, (None, None))
    return rsize == size and rmtime is not None and int(rmtime) == int(mtime)


async def _sftp_mirror(url, local, download, options, include, exclude, progress_for, on_file, result):
    from netkit.transfer._sftp import Session, remote_path

    top = remote_path(url.path)
    session = await Session(url, options).__aenter__()
    remote = {}  # uploading: what the server has, {rel: (size, mtime)}
    try:
        if download:
            os.makedirs(local, exist_ok=True)
            entries = [e async for e in session.walk(top) if selected(e[0], include, exclude)]
            entries.sort()
        else:
            entries = [e for e in _local_files(local) if selected(e[0], include, exclude)]
            try:
                remote = {rel: (size, mtime) async for rel, size, mtime in session.walk(top)}
            except Exception:  # noqa: BLE001 - not there yet: everything is new
                await session.mkdirs(top)
        for rel, size, mtime in entries:
            path = os.path.join(local, *rel.split("/"))
            if _unchanged(download, path, rel, size, mtime, remote):
                result.unchanged.append(rel)
                continue
            attempt = 0
            while True:
                attempt += 1
                try:
                    pacer = _pacer(options, progress_for, rel, size)
                    if download:
                        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                        part = PartFile(path, resume=options.resume or attempt > 1)
                        try:
                            got = await session.retrieve(_join(top, rel), part, pacer)
                            part.commit(got if got is not None else mtime)
                        finally:
                            part.close()
                        outcome = part.offset
                    else:
                        parent = rel.rpartition("/")[0]
                        if parent:
                            await session.mkdirs(_join(top, parent))
                        outcome = await session.store(os.path.join(local, *rel.split("/")), _join(top, rel), pacer,
                                                      mtime)
                    pacer.finish()
                except UsageError:
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded per file
                    if is_transient(exc) and attempt <= options.retries:
                        import asyncio

                        await session.__aexit__(None, None, None)
                        await asyncio.sleep(_backoff(options, attempt))
                        session = await Session(url, options).__aenter__()
                        continue
                    outcome = exc
                break
            _record(result, on_file, rel, outcome)
    finally:
        await session.__aexit__(None, None, None)
