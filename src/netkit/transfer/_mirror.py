"""Mirror an FTP or SFTP directory to a local one, or a local one to FTP or SFTP.

Only new or changed files move (a file is unchanged when its size and its modification
time, to the second, are the same on both sides); every file moves the safe way (a
``.part`` locally, a temporary name remotely, renamed when complete) and gets the
source's modification time. ``include``/``exclude`` are shell globs matched against the
path relative to the top (``logs/*.gz``) and against the bare name (``*.log``).

``delete=True`` then removes the destination's files that the source does not have, as
``rsync --delete``: only files the globs select (an excluded file is protected), never a
``.part``, and nothing at all when a copy failed. ``dry_run=True`` lists what would be
copied and deleted and changes nothing.

``workers`` files move at once, each worker on its own connection (an FTP login, an SSH
connection) in its own thread; a worker whose connection the server refuses (a limit of
connections per client) leaves its share to the others.

``options.max_time`` bounds the whole run (listing, every file, retries: the budget of a
cron job, which is what a mirror's caller has), not each file: when it passes, every
connection is cut, the files on the way fail, and those not begun fail unstarted (so
``delete`` deletes nothing). ``options.speed_limit`` holds per file, and a file slower
than it is retried on a new connection, as get retries it. Each connection has its own
watchdog (:mod:`netkit.transfer._watchdog`), all on the run's one deadline.
"""

import os
import stat
import threading
from fnmatch import fnmatchcase
from time import monotonic

from netkit.core.errors import ConnectError, NetError, UsageError
from netkit.core.fs import inside
from netkit.transfer._common import (
    LocalError,
    Pacer,
    SharedRate,
    TooLargeError,
    is_transient,
    local_error,
    retry_delay,
    run_workers,
)
from netkit.transfer._part import PartFile

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable, Iterable

    from netkit.transfer._options import Options

__all__ = ["MirrorResult", "mirror", "plan", "selected"]


class MirrorResult:
    __slots__ = ("copied", "deleted", "dest", "dry_run", "failed", "kept", "planned", "source", "unchanged")

    def __init__(self, source: str, dest: str, dry_run: bool = False) -> None:
        self.source = source
        self.dest = dest
        self.dry_run = dry_run
        self.copied: list[tuple[str, int]] = []  # (relative path, bytes)
        self.unchanged: list[str] = []  # relative paths
        self.failed: list[tuple[str, BaseException]] = []  # (relative path, error)
        self.deleted: list[str] = []  # relative paths
        self.planned: list[tuple[str, int]] = []  # dry run: (relative path, bytes) that would be copied
        self.kept: list[str] = []  # with delete, after a failure: paths that were not deleted

    @property
    def bytes(self):
        return sum(size for _, size in self.copied)

    def __repr__(self):
        return (f"MirrorResult({len(self.copied)} copied, {len(self.unchanged)} unchanged, "
                f"{len(self.deleted)} deleted, {len(self.failed)} failed)")


def selected(rel, include=(), exclude=()) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if name.endswith(".part"):
        return False  # our own temporary files (NAME.part locally, .NAME.part remotely)
    if include and not any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in exclude)


def same_file(a, b) -> bool:
    """Two (size, mtime) are the same file: equal sizes, times equal to the second."""
    return None not in (a[0], a[1], b[0], b[1]) and a[0] == b[0] and int(a[1]) == int(b[1])


def plan(source, dest, include=(), exclude=()):
    """(to copy [(rel, size, mtime)], unchanged [rel], extra [rel]) from two listings
    ``{rel: (size, mtime)}``; extra: selected files only the destination has."""
    copy, unchanged = [], []
    for rel in sorted(source):
        if not selected(rel, include, exclude):
            continue
        size, mtime = source[rel]
        if rel in dest and same_file(source[rel], dest[rel]):
            unchanged.append(rel)
        else:
            copy.append((rel, size, mtime))
    extra = sorted(rel for rel in dest if rel not in source and selected(rel, include, exclude))
    return copy, unchanged, extra


def _local_files(top, missing_ok=False):
    """{rel: (size, mtime)} of the regular files under ``top``."""
    if not os.path.isdir(top):
        if missing_ok and not os.path.exists(top):
            return {}
        raise LocalError(f"{top} is not a directory" if os.path.exists(top) else f"{top}: no such directory")
    found = {}
    try:
        for root, _dirs, files in os.walk(top):
            for name in files:
                full = os.path.join(root, name)
                try:
                    st = os.stat(full)
                except FileNotFoundError:
                    continue  # a dangling link, or gone since the listing
                if stat.S_ISREG(st.st_mode):  # a link to a file counts as the file
                    found[os.path.relpath(full, top).replace(os.sep, "/")] = (st.st_size, st.st_mtime)
    except OSError as exc:
        raise local_error(exc, f"reading {top}") from None
    return found


def _join(top, rel):
    if not top:
        return rel
    return f"{top.rstrip('/')}/{rel}" if top != "/" else f"/{rel}"


# --- the remote side, the same few calls for FTP and SFTP -------------------------------------

class _Side:
    """One connection to the remote tree, with blocking calls; ``_do`` turns what the
    session returns into the result (the value itself for FTP, a coroutine run on this
    thread's loop for SFTP). ``watchdog`` (or None) cuts the connection when --max-time
    or --speed-limit passes; every call then raises its error (:func:`guard`)."""

    def __init__(self, top, watchdog):
        self.top = top
        self.watchdog = watchdog
        self.made = set()  # directories made (or found) by this connection
        self.refused = []  # (rel, UnsafeName) of the listing: names that are no plain name

    def _do(self, value):
        return value

    def _call(self, make, pacer=None):
        """``self._do(make())`` under the watchdog, which measures ``pacer``'s speed meanwhile."""
        watchdog = self.watchdog
        if watchdog is None:
            return self._do(make())
        from netkit.transfer._watchdog import guard

        watchdog.follow(pacer)
        try:
            with guard(watchdog):
                return self._do(make())
        finally:
            watchdog.follow(None)

    def _walk(self):
        return {rel: (size, mtime) for rel, size, mtime in self.session.walk(self.top, self.refused)}

    def files(self, missing_ok=False):
        """{rel: (size, mtime)}; None when ``missing_ok`` and the directory is not there."""
        try:
            return self._call(self._walk)
        except Exception:
            if missing_ok and (self.watchdog is None or self.watchdog.error is None):
                return None
            raise

    def fetch(self, rel, part, pacer, known):
        return self._call(lambda: self.session.retrieve(_join(self.top, rel), part, pacer, known), pacer)

    def mkdirs(self, rel):
        if rel not in self.made:
            self._call(lambda: self.session.mkdirs(_join(self.top, rel) if rel else self.top))
            self.made.add(rel)

    def send(self, local, rel, pacer, mtime):
        parent = rel.rpartition("/")[0]
        if parent:
            self.mkdirs(parent)
        return self._call(lambda: self.session.store(local, _join(self.top, rel), pacer, mtime), pacer)

    def remove(self, rel):
        self._call(lambda: self.session.remove(_join(self.top, rel)))

    def _stop(self):
        if self.watchdog is not None:
            self.watchdog.stop()


class _FtpSide(_Side):
    def __init__(self, url, options, watchdog):
        from netkit.transfer._ftp import FtpSession, remote_path

        super().__init__(remote_path(url.path), watchdog)
        session = FtpSession(url, options, watchdog)
        try:
            self.session = session.open()
        except BaseException:
            session.abort()
            raise

    def close(self, abort=False):
        try:
            if abort:
                self.session.abort()
            else:
                self.session.close()
        finally:
            self._stop()


class _SftpSide(_Side):
    """The async SFTP session behind the same blocking calls, on this thread's own loop."""

    def __init__(self, url, options, watchdog):
        from netkit.drivers.aio import runner
        from netkit.transfer._sftp import Session, remote_path

        super().__init__(remote_path(url.path), watchdog)
        self.runner = runner()
        try:
            self.session = self.runner.run(Session(url, options, watchdog).__aenter__())
        except BaseException:
            self.runner.close()
            raise

    def _do(self, coro):
        return self.runner.run(coro)

    async def _walk(self):
        return {rel: (size, mtime) async for rel, size, mtime in self.session.walk(self.top, self.refused)}

    def close(self, abort=False):
        try:
            if abort:
                if self.session.conn is not None:
                    self.session.conn.abort()
            else:
                self.runner.run(self.session.__aexit__(None, None, None))
        finally:
            self.runner.close()
            self._stop()


def _side(url, options, state):
    """A new connection, with its watchdog when --max-time or --speed-limit is set (on the
    run's deadline, kept in ``state``: DeadlineError at once when it has passed)."""
    watchdog = None
    if options.max_time is not None or options.speed_limit is not None:
        from netkit.transfer._watchdog import watchdog_for

        watchdog = watchdog_for(options, None, state)
    kind = _SftpSide if url.scheme == "sftp" else _FtpSide
    if watchdog is None:
        return kind(url, options, None)
    from netkit.transfer._watchdog import guard

    try:
        with guard(watchdog):
            return kind(url, options, watchdog)
    except BaseException:
        watchdog.stop()
        raise


def _expired(state) -> bool:
    """The run's --max-time has passed."""
    deadline = state.get("deadline")
    return deadline is not None and monotonic() >= deadline


# --- the copy ------------------------------------------------------------------------------------

def mirror(source: "str | os.PathLike[str]", dest: "str | os.PathLike[str]", options: "Options | None" = None,
           include: "Iterable[str]" = (), exclude: "Iterable[str]" = (),
           progress_for: "Callable[[str, int | None], Callable[..., object] | None] | None" = None,
           on_file: "Callable[[str, int | BaseException], object] | None" = None, *, delete: bool = False,
           dry_run: bool = False, workers: int = 1, on_delete: "Callable[[str], object] | None" = None
           ) -> "MirrorResult":
    """``mirror("sftp://h/var/log/", "logs")`` or ``mirror("logs", "ftp://h/backup/")``.

    ``progress_for(rel, size)`` gives each file's progress callback; ``on_file(rel, bytes or
    exception)`` hears of each file copied or failed, ``on_delete(rel)`` of each deleted
    (from any worker thread, one call at a time)."""
    from netkit.transfer._api import transfer_target, with_login
    from netkit.transfer._options import Options

    options = options or Options()
    download = "://" in str(source)
    if download == ("://" in str(dest)):
        raise UsageError("mirror copies between a URL and a local directory: netkit mirror URL DIR (download) or "
                         "netkit mirror DIR URL (upload)")
    url = with_login(transfer_target(os.fspath(source if download else dest), ("ftp", "ftps", "sftp")), options)
    local = os.fspath(dest if download else source)
    if not local:
        raise UsageError("mirror: the local directory is an empty name; give a directory, as in netkit mirror "
                         "URL DIR")
    result = MirrorResult(str(source), str(dest), dry_run)
    if not download:
        local_files = _local_files(local)  # before connecting: a wrong directory is a usage error
    state: dict[str, object] = {}  # the run's deadline (--max-time), fixed by the first connection
    box = [_side(url, options, state)]  # this thread's connection (a retry may replace it)
    try:
        if download:
            copy, result.unchanged, extra = plan(box[0].files(), _local_files(local, missing_ok=True), include,
                                                 exclude)
        else:
            remote = box[0].files(missing_ok=True)
            if remote is None and not dry_run:
                box[0].mkdirs("")
            copy, result.unchanged, extra = plan(local_files, remote or {}, include, exclude)
        for rel, exc in box[0].refused:  # one line each; the others go on (and --delete stays off)
            result.failed.append((rel, exc))
            if on_file is not None:
                on_file(rel, exc)
        if dry_run:
            result.planned = [(rel, size) for rel, size, _ in copy]
            result.deleted = extra if delete else []
        else:
            if download:
                os.makedirs(local, exist_ok=True)
            _copy_all(box, url, options, copy, download, local, progress_for, on_file, result, workers, state)
            if delete and extra:
                if result.failed:
                    result.kept = extra  # as rsync: a failed copy turns deletions off
                else:
                    _delete_all(box[0], download, local, extra, on_delete, result)
    except BaseException:
        if box[0] is not None:
            box[0].close(abort=True)
        raise
    if box[0] is not None:
        box[0].close()
    return result


def _copy_all(box, url, options, jobs, download, local, progress_for, on_file, result, workers, state):
    """Copy ``jobs`` with up to ``workers`` connections: ``box[0]`` (this thread's) and
    more opened in threads. Ctrl-C stops them all through the options' cancel event."""
    lock = threading.Lock()
    pending = list(reversed(jobs))
    # --limit-rate is the mirror's, not each connection's: the workers share it.
    shared = SharedRate(options.limit_rate) if options.limit_rate else None
    if options.cancel is None:
        options = options.replace(cancel=threading.Event())
    cancel = options.cancel

    def record(rel, outcome):
        with lock:
            if isinstance(outcome, BaseException):
                result.failed.append((rel, outcome))
            else:
                result.copied.append((rel, outcome))
            if on_file is not None:
                on_file(rel, outcome)

    def work(mine):
        while mine[0] is not None and not cancel.is_set() and not _expired(state):
            with lock:
                if not pending:
                    return
                rel, size, mtime = pending.pop()
            _copy_one(mine, url, options, rel, size, mtime, download, local, progress_for, record, shared, state)

    def extra_worker():
        try:
            mine = [_side(url, options, state)]
        except Exception:  # noqa: BLE001 - the server refuses another connection: the others carry on
            return
        try:
            work(mine)
        finally:
            if mine[0] is not None:
                mine[0].close(abort=cancel.is_set())

    run_workers(min(workers, len(jobs)) - 1, extra_worker, cancel, lambda: work(box))
    for rel, _size, _mtime in reversed(pending):  # the time ran out, or every connection was lost, before these
        if _expired(state):
            from netkit.transfer._watchdog import DeadlineError

            record(rel, DeadlineError(f"not copied: --max-time {options.max_time:g} s passed before it began"))
        else:
            record(rel, ConnectError(f"not copied: no connection to {url.netloc} left"))


def _copy_one(box, url, options, rel, size, mtime, download, local, progress_for, record, shared=None, state=None):
    """Copy one file, retrying transient failures on a new connection, which replaces
    ``box[0]`` (None: this worker could not reconnect)."""
    attempt = 0
    while True:
        attempt += 1
        pacer = Pacer(progress_for(rel, size) if progress_for else None, options.limit_rate, options.cancel, shared,
                      options.max_filesize)
        try:
            if download:
                # The remote name becomes a path only inside the destination (core.fs).
                path = inside(local, rel)
                # A .part from an earlier run may hold another version: only -c trusts it; a
                # retry within this run continues what this run wrote. The listing's size and
                # time save asking again, on the first try (a retry asks: the file may grow).
                part = PartFile(path, resume=options.resume or attempt > 1, named_by_peer=True)
                try:
                    got = box[0].fetch(rel, part, pacer, (size, mtime) if attempt == 1 else None)
                    part.commit(got if got is not None else mtime)
                except TooLargeError:
                    part.discard()
                    raise
                finally:
                    part.close()
                outcome = part.offset
            else:
                outcome = box[0].send(os.path.join(local, *rel.split("/")), rel, pacer, mtime)
            pacer.finish()
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded per file
            if is_transient(exc) and attempt <= options.retries and not options.cancel.is_set():
                box[0].close(abort=True)
                box[0] = None
                state = state if state is not None else {}
                try:
                    delay = retry_delay(options, attempt, exc, state)
                except NetError as late:  # the wait would pass --max-time: this file fails now
                    record(rel, late)
                    try:  # the next file may still fit before the deadline
                        box[0] = _side(url, options, state)
                    except Exception:  # noqa: BLE001 - this worker stops; its files go to the others
                        pass
                    return
                if options.cancel.wait(delay):
                    record(rel, exc)
                    return
                try:
                    box[0] = _side(url, options, state)
                except Exception as again:  # noqa: BLE001 - recorded; this worker stops
                    record(rel, again)
                    return
                continue
            outcome = exc
        break
    record(rel, outcome)


def _delete_all(side, download, local, extra, on_delete, result):
    """Remove ``extra`` from the destination; local directories left empty go too."""
    emptied = set()
    for rel in extra:
        try:
            if download:
                path = os.path.join(local, *rel.split("/"))
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise local_error(exc, f"removing {path}") from None
                emptied.add(os.path.dirname(path))
            else:
                side.remove(rel)
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded per file
            result.failed.append((rel, exc))
            continue
        result.deleted.append(rel)
        if on_delete is not None:
            on_delete(rel)
    top = os.path.abspath(local)
    for directory in sorted(emptied, key=len, reverse=True):
        directory = os.path.abspath(directory)
        while directory != top and directory.startswith(top + os.sep):
            try:
                os.rmdir(directory)  # only when empty
            except OSError:
                break
            directory = os.path.dirname(directory)
