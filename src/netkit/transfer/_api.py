"""The transfer library's entry points: download, upload, head, download_many.

Each takes a URL (text or :class:`~netkit.core.target.Target`), an :class:`Options`, and
optionally ``progress(done, total, final=False)``; each returns a :class:`Result` or
raises one of netkit's errors. Nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from time import monotonic
from typing import TYPE_CHECKING

from netkit.core.errors import UsageError
from netkit.core.target import Target, parse_target, percent_decode
from netkit.transfer._common import (
    LocalError,
    Options,
    Pacer,
    Result,
    TooLargeError,
    local_error,
    retrying,
    run_workers,
)
from netkit.transfer._part import PartFile

if TYPE_CHECKING:
    from typing import Any

    from netkit.core.timeout import Timeout

    Url = str | Target
    Progress = Callable[..., object]  # progress(done, total, final=False)
    OnRetry = Callable[[BaseException, int, float], object]  # on_retry(error, attempt, delay)

__all__ = ["SCHEMES", "check_destinations", "download", "download_many", "head", "remote_name", "transfer_target", "upload"]

SCHEMES = {"http": 80, "https": 443, "ftp": 21, "ftps": 21, "sftp": 22}
GET_SCHEMES = (*SCHEMES, "file")


def transfer_target(text: Url, schemes: Sequence[str] = GET_SCHEMES) -> Target:
    """``text`` (or a :class:`Target`, as it is) as a URL netkit can transfer: core's
    :func:`~netkit.core.target.parse_target` with the transfer schemes and ports, file://
    naming this machine only, an ftp:// path fit for a command line. UsageError names the
    mistake and the right form."""
    if isinstance(text, Target):
        return text
    hostless = frozenset(("file",))
    try:
        target = parse_target(text, {s: SCHEMES.get(s, 0) for s in schemes}, hostless=hostless)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if target.scheme == "file":
        if target.host not in ("", "localhost") or target.port or target.user is not None:
            from netkit.core.secrets import mask_url

            raise UsageError(f"{mask_url(str(text).strip())!r}: file URLs name this machine only: "
                             f"file:///path/to/file")
        return Target("file", "", 0, target.path or "/", text=str(text).strip())
    if target.scheme in ("ftp", "ftps"):
        _check_ftp_fields(target)
    return target


def with_login(target, options):
    """``target`` with the user and password to log in with, when ``options`` names no
    user: the URL's, completed from ~/.netrc (:func:`netkit.core.credentials.resolve`, as
    curl --netrc and requests read it; ``Options(netrc=False)`` turns that off). sftp://
    without a user stays as it is: ~/.ssh/config and the local user name decide. A
    redirect to another origin drops what this gives (:func:`netkit.proto.http.next_request`)."""
    if options.user is not None or not options.netrc or target.scheme == "file":
        return target
    if target.scheme == "sftp" and target.user is None:
        return target
    from netkit.core.credentials import resolve

    user, password = resolve(target, env=options.env)
    if (user, password) == (target.user, target.password):
        return target
    return Target(target.scheme, target.host, target.port, target.path, user, password, target.text)


def _check_ftp_fields(target):
    """The first wall against command injection for the path, which goes into RETR/STOR/
    MLSD lines decoded (parse_target already refuses CR, LF and NUL in a user or password)."""
    from netkit.core.text import check_line_field

    try:
        check_line_field(percent_decode(target.path), "the path of an ftp:// URL (%0D, %0A, %00)")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def remote_name(url: Target) -> str:
    """The file name a URL's path ends with (``-O``), safe to create here."""
    path = url.path.split("?", 1)[0]
    name = percent_decode(path.rsplit("/", 1)[-1]).strip()
    if name in ("", ".", "..") or "\0" in name:
        if url.scheme in ("http", "https"):
            return "index.html"
        raise UsageError(f"{url.url()} does not end in a file name; give one with -o FILE")
    return name.replace(os.sep, "_")


def _backend(scheme):
    if scheme in ("http", "https"):
        from netkit.transfer import _http as mod
    elif scheme in ("ftp", "ftps"):
        from netkit.transfer import _ftp as mod
    elif scheme == "sftp":
        from netkit.transfer import _sftp as mod
    else:
        from netkit.transfer import _local as mod
    return mod


def _options(options: Options | None, timeout: float | Timeout | None) -> Options:
    """``options`` (default: Options()), with ``timeout`` when given (as Options' own)."""
    options = options or Options()
    return options if timeout is None else options.replace(timeout=timeout)


def head(url: Url, options: Options | None = None, *,
         timeout: float | Timeout | None = None) -> tuple[int, str, str, list[tuple[str, str]]]:
    """(status, reason, version, headers) of an HTTP(S) URL, redirects followed."""
    from netkit.transfer import _http

    options = _options(options, timeout)
    target = with_login(transfer_target(url, ("http", "https")), options)
    return _http.head(target, options, options.method or "HEAD")


def download(url: Url, dest: str | os.PathLike[str], options: Options | None = None,
             progress: Progress | None = None, on_retry: OnRetry | None = None, *,
             timeout: float | Timeout | None = None) -> Result:
    """Fetch ``url`` into the file ``dest`` ("-" is standard output). The destination
    appears only complete and verified; on failure at most ``dest.part`` remains.
    ``timeout`` (seconds: the whole transfer; or a Timeout) replaces the options'."""
    options = _options(options, timeout)
    target = with_login(transfer_target(url), options)
    mod = _backend(target.scheme)
    if dest == "-":
        part = PartFile("-", checksum=options.checksum, fd=1)
    else:
        part = PartFile(os.fspath(dest), resume=options.resume, checksum=options.checksum)
    pacer = Pacer(progress, options.limit_rate, options.cancel, max_size=options.max_filesize)
    state: dict[str, Any] = {}
    start = monotonic()
    resumed_from = part.offset
    attempts = [0]

    def once(attempt):
        attempts[0] = attempt
        return mod.fetch(target, part, options, pacer, state)

    try:
        facts = retrying(once, options, on_retry, state)
        part.commit(facts.get("mtime") if options.keep_mtime else None)
    except BaseException as exc:
        if isinstance(exc, TooLargeError):
            part.discard()
        else:
            part.discard_if_empty()
        part.close()
        raise
    pacer.finish()
    size = part.offset
    return Result(target.url(), dest, size=size, received=pacer.done - resumed_from, resumed_from=resumed_from,
                  restarted=bool(facts.get("restarted")), seconds=monotonic() - start, attempts=attempts[0],
                  status=facts.get("status"), headers=facts.get("headers"))


def upload(path: str | os.PathLike[str], url: Url, options: Options | None = None, progress: Progress | None = None,
           on_retry: OnRetry | None = None, method: str = "PUT", *, timeout: float | Timeout | None = None) -> Result:
    """Send the local file ``path`` to ``url`` (ftp, ftps, sftp: to a temporary name,
    renamed when complete; http(s): the body of a PUT or POST). ``timeout`` as download's."""
    options = _options(options, timeout)
    target = with_login(transfer_target(url, ("http", "https", "ftp", "ftps", "sftp")), options)
    path = os.fspath(path)
    try:
        if not os.path.isfile(path):
            raise LocalError(f"{path} is not a file" if os.path.exists(path) else f"{path}: no such file")
    except OSError as exc:
        raise local_error(exc, f"looking at {path}") from None
    pacer = Pacer(progress, options.limit_rate, options.cancel)
    start = monotonic()
    attempts = [0]
    status = None
    body = b""
    state: dict[str, Any] = {}  # outlives the retries: --max-time's deadline

    def once(attempt):
        nonlocal status, body
        attempts[0] = attempt
        if target.scheme in ("http", "https"):
            from netkit.transfer import _http

            status, _reason, _headers, body = _http.send(path, target, options, method, pacer, state)
            return os.path.getsize(path)
        return _backend(target.scheme).upload(path, target, options, pacer, state)

    size = retrying(once, options, on_retry, state)
    pacer.finish()
    result = Result(target.url(), path, size=size, received=size, seconds=monotonic() - start,
                    attempts=attempts[0], status=status)
    result.body = body
    return result


def check_destinations(pairs):
    """UsageError, before any transfer, when two downloads of ``[(url, dest), ...]`` would
    write one file: they would share one ``.part`` and mix both files' bytes. Names are
    compared resolved (``x``, ``./x`` and a link to it are one file); "-" and ``None``
    (no file) are not files."""
    seen = {}
    for url, dest in pairs:
        if dest in (None, "-"):
            continue
        key = os.path.realpath(os.fspath(dest))
        if key in seen:
            first, name = seen[key]
            raise UsageError(f"{_text(first)} and {_text(url)} would both be written to {dest}"
                             f"{'' if name == dest else f' (as {name})'}; give each URL its own file "
                             f"(-o FILE once per URL, or --output-dir)")
        seen[key] = (url, dest)


def _text(url):
    return url.text if isinstance(url, Target) else str(url)


def download_many(jobs: Sequence[tuple[Url, str | os.PathLike[str], Options | None]],
                  progress_for: Callable[[int], Progress | None] | None = None, workers: int = 4,
                  on_retry_for: Callable[[int], OnRetry | None] | None = None) -> list[Result | Exception]:
    """Run ``[(url, dest, Options), ...]`` with up to ``workers`` at once (threads: the
    transfers block in the kernel, not in Python). Returns one Result or exception per
    job, in order. ``progress_for(index)`` and ``on_retry_for(index)`` give each job its
    callbacks. Ctrl-C (KeyboardInterrupt in the calling thread) stops every transfer
    through the options' shared ``cancel`` event, leaving their .part files, and re-raises."""
    import threading

    check_destinations([(url, dest) for url, dest, _options in jobs])
    cancel = threading.Event()
    jobs = [(url, dest, (options or Options()).replace(cancel=cancel)) for url, dest, options in jobs]
    results: list = [None] * len(jobs)
    pending = list(range(len(jobs)))
    lock = threading.Lock()

    def worker():
        while not cancel.is_set():
            with lock:
                if not pending:
                    return
                index = pending.pop(0)
            url, dest, options = jobs[index]
            try:
                results[index] = download(url, dest, options, progress_for(index) if progress_for else None,
                                          on_retry_for(index) if on_retry_for else None)
            except Exception as exc:  # noqa: BLE001 - handed back per job
                results[index] = exc

    run_workers(max(1, min(workers, len(jobs))), worker, cancel)
    return results
