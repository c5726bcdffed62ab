"""Local files netkit ssh reads whole (an -i key, an -F config): regular files of a sane
size, never a device, a pipe or a directory, which would be read for ever (-i /dev/zero
filled the memory) or block the run (a FIFO nobody writes)."""

import errno
import os
import stat

__all__ = ["MAX_CONFIG_BYTES", "MAX_KEY_BYTES", "check_regular", "read_regular"]

# A private key is a few KiB (an RSA 16384-bit one in PEM is under 13 KiB); 1 MiB is no key.
MAX_KEY_BYTES = 1 << 20
# An ssh config of a few thousand hosts is well under a MiB; 16 MiB is no config file.
MAX_CONFIG_BYTES = 16 << 20


def _refusal(info, limit):
    if stat.S_ISDIR(info.st_mode):  # said as reading one says it: "Is a directory"
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_size > limit:
        return f"is larger than {limit >> 20} MiB"
    return None


def check_regular(path: str, limit: int):
    """ValueError (saying why, without the path) unless ``path`` is a regular file of at most
    ``limit`` bytes; OSError when it cannot be looked at."""
    why = _refusal(os.stat(path), limit)
    if why:
        raise ValueError(why)


def read_regular(path: str, limit: int) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes (opened
    non-blocking, so a FIFO cannot hang the open); ValueError or OSError as
    :func:`check_regular`."""
    from netkit.core.fs import read_regular as read_bounded

    def refuse(info):
        why = _refusal(info, limit)
        if why:
            raise ValueError(why)

    data = read_bounded(path, limit, refuse)
    if len(data) > limit:  # it grew while we read
        raise ValueError(f"is larger than {limit >> 20} MiB")
    return data
