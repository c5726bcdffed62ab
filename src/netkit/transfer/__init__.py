"""File transfer: download, upload and mirror over http(s), ftp(s), sftp and file URLs.

::

    from netkit.transfer import Options, download, upload, mirror
    download("https://example.com/file.iso", "file.iso",
             Options(checksum=("sha256", "..."), retries=5, resume=True))
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

__all__ = [
    "Cancelled", "CutError", "HTTPStatusError", "IntegrityError", "LocalError", "MirrorResult", "Options",
    "RemoteError", "Result", "adownload", "amirror", "aupload", "download", "download_many", "head", "mirror",
    "parse_checksum", "parse_url", "remote_name", "upload",
]

_WHERE = {
    "Cancelled": "_common", "CutError": "_common", "HTTPStatusError": "_common", "IntegrityError": "_common",
    "LocalError": "_common", "Options": "_common", "RemoteError": "_common", "Result": "_common",
    "parse_checksum": "_common", "MirrorResult": "_mirror", "mirror": "_mirror", "download": "_api",
    "download_many": "_api", "head": "_api", "parse_url": "_api", "remote_name": "_api", "upload": "_api",
}


def __getattr__(name):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"netkit.transfer.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'netkit.transfer' has no attribute {name!r}")


async def adownload(url, dest, options=None, progress=None):
    """:func:`download` from a coroutine (runs in a worker thread; cancel with the
    options' ``cancel`` event)."""
    import asyncio

    from netkit.transfer._api import download

    return await asyncio.to_thread(download, url, dest, options, progress)


async def aupload(path, url, options=None, progress=None, method="PUT"):
    import asyncio

    from netkit.transfer._api import upload

    return await asyncio.to_thread(upload, path, url, options, progress, None, method)


async def amirror(source, dest, options, include=(), exclude=(), *, delete=False, dry_run=False, workers=1):
    import asyncio
    import functools

    from netkit.transfer._mirror import mirror

    return await asyncio.to_thread(functools.partial(mirror, source, dest, options, include, exclude, delete=delete,
                                                     dry_run=dry_run, workers=workers))
