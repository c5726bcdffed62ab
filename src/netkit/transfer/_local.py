"""file:// transfers: a local copy with the same guarantees (``.part``, resume, checksum)."""

import os

from netkit.core.target import percent_decode
from netkit.transfer._common import LocalError, limits, local_error

__all__ = ["fetch"]


def fetch(url, part, options, pacer, state):
    """Copy the local file. --max-time and --speed-limit hold here too: the Pacer stops
    the loop at the next block once the watchdog fired (there is no connection to cut)."""
    with limits(options, pacer, state):
        return _copy(url, part, pacer)


def _copy(url, part, pacer):
    import stat

    path = percent_decode(url.path)
    try:
        # O_NONBLOCK: opening a pipe must not wait for a writer; what it is, fstat says.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise LocalError(f"{path}: no such file") from None
    except OSError as exc:
        raise local_error(exc, f"opening {path}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise LocalError(f"{path} is not a regular file" if not stat.S_ISDIR(st.st_mode) else f"{path} is a directory")
    os.set_blocking(fd, True)
    with open(fd, "rb") as f:
        offset = part.offset if part.offset <= st.st_size else 0
        if offset != part.offset:
            part.restart()
        pacer.begin(offset, st.st_size)
        f.seek(offset)
        block = pacer.block_size()
        buf = bytearray(block)
        view = memoryview(buf)
        try:
            while True:
                n = f.readinto(view)
                if not n:
                    break
                part.write(view[:n])
                pacer(n)
        except OSError as exc:
            raise local_error(exc, f"reading {path}") from None
    return {"mtime": st.st_mtime}
