"""File transfer: download, upload and mirror over http(s), ftp(s), sftp and file URLs.

::

    from netkit.transfer import Options, download, upload, mirror
    download("https://example.com/file.iso", "file.iso",
             Options(checksum="sha256=...", retries=5, resume=True, timeout=Timeout(600, connect=5)))
    download("https://example.com/small.json", "small.json", timeout=30)   # 30 s in all
    upload("report.csv", "sftp://me@host/srv/in/", Options(identity="~/.ssh/id_ed25519"))
    mirror("ftp://host/pub/logs/", "logs", Options(), include=["*.log"], workers=4, delete=True)
    download_many([(url, dest, Options()), ...], workers=4)   # several at once
    await adownload(...)   # the same from asyncio (in a worker thread)

Schemes: http, https (proxies, redirects, Range resume), ftp and ftps (explicit TLS, REST
resume; stdlib ftplib for the control dialogue), sftp (asyncssh, offsets), file.

The destination appears only complete and verified (a ``.part`` renamed at the end); a
failure leaves an existing destination untouched and at most a ``.part`` to resume from.
Errors are :mod:`netkit.core.errors` plus those of :mod:`netkit.transfer._common`.
Names load lazily: ``import netkit.transfer`` costs nothing until one is used.
"""

from netkit.core.lazy import lazy_names

TYPE_CHECKING = False

_MODULES = {
    "netkit.transfer._common": ("Cancelled", "CutError", "HTTPStatusError", "IntegrityError", "LocalError",
                                "RemoteError", "Result", "parse_checksum"),
    "netkit.transfer._options": ("Options",),
    "netkit.transfer._mirror": ("MirrorResult", "mirror"),
    "netkit.transfer._api": ("download", "download_many", "head", "remote_name", "upload"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    import os
    from collections.abc import Callable, Iterable

    from netkit.core.target import Target
    from netkit.core.timeout import Timeout
    from netkit.transfer._api import download as download
    from netkit.transfer._api import download_many as download_many
    from netkit.transfer._api import head as head
    from netkit.transfer._api import remote_name as remote_name
    from netkit.transfer._api import upload as upload
    from netkit.transfer._common import Cancelled as Cancelled
    from netkit.transfer._common import CutError as CutError
    from netkit.transfer._common import HTTPStatusError as HTTPStatusError
    from netkit.transfer._common import IntegrityError as IntegrityError
    from netkit.transfer._common import LocalError as LocalError
    from netkit.transfer._common import RemoteError as RemoteError
    from netkit.transfer._common import Result as Result
    from netkit.transfer._common import parse_checksum as parse_checksum
    from netkit.transfer._mirror import MirrorResult as MirrorResult
    from netkit.transfer._mirror import mirror as mirror
    from netkit.transfer._options import Options as Options
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES, own=("adownload", "amirror", "aupload"))


async def adownload(url: "str | Target", dest: "str | os.PathLike[str]", options: "Options | None" = None,
                    progress: "Callable[..., object] | None" = None, *,
                    timeout: "float | Timeout | None" = None) -> "Result":
    """:func:`download` from a coroutine (runs in a worker thread; cancel with the
    options' ``cancel`` event)."""
    import asyncio
    import functools

    from netkit.transfer._api import download

    return await asyncio.to_thread(functools.partial(download, url, dest, options, progress, timeout=timeout))


async def aupload(path: "str | os.PathLike[str]", url: "str | Target", options: "Options | None" = None,
                  progress: "Callable[..., object] | None" = None, method: str = "PUT", *,
                  timeout: "float | Timeout | None" = None) -> "Result":
    """:func:`upload` from a coroutine (in a worker thread)."""
    import asyncio
    import functools

    from netkit.transfer._api import upload

    return await asyncio.to_thread(functools.partial(upload, path, url, options, progress, None, method,
                                                     timeout=timeout))


async def amirror(source: str, dest: str, options: "Options | None", include: "Iterable[str]" = (),
                  exclude: "Iterable[str]" = (), *, delete: bool = False, dry_run: bool = False,
                  workers: int = 1) -> "MirrorResult":
    """:func:`mirror` from a coroutine (in a worker thread)."""
    import asyncio
    import functools

    from netkit.transfer._mirror import mirror

    return await asyncio.to_thread(functools.partial(mirror, source, dest, options, include, exclude, delete=delete,
                                                     dry_run=dry_run, workers=workers))
