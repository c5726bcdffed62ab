"""file:// transfers: a local copy with the same guarantees (``.part``, resume, checksum)."""

import os

from netkit.core.target import percent_decode
from netkit.transfer._common import LocalError, local_error

__all__ = ["fetch"]


def fetch(url, part, options, pacer, state):
    path = percent_decode(url.path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise LocalError(f"{path}: no such file") from None
    except OSError as exc:
        raise local_error(exc, f"opening {path}") from None
    with f:
        st = os.fstat(f.fileno())
        if not os.path.isfile(path):
            raise LocalError(f"{path} is not a file")
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
