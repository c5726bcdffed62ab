"""Credentials from ~/.netrc (or the file $NETRC names), as curl, ftp and wget read them."""

import os

from netkit.core.errors import UsageError

__all__ = ["netrc_entry"]

# A netrc holds a few lines per host; a bigger file is a mistake ($NETRC naming a log).
MAX_NETRC_BYTES = 1 << 20
# Permission bits that let someone else read or change the file: group and others.
_SHARED_BITS = 0o077


def _check_private(path: str):
    """UsageError unless ``path`` is the user's own and private, as the standard library
    checks ~/.netrc (netkit passes the path, which turns the library's check off): a
    password file others can read is a leaked password, and one others can write can
    send our passwords anywhere."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if info.st_size > MAX_NETRC_BYTES:
        raise UsageError(f"{path} is larger than {MAX_NETRC_BYTES} bytes; that is no netrc file")
    if info.st_uid != os.getuid():
        raise UsageError(f"{path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): "
                         f"netkit reads passwords only from your own netrc file")
    if info.st_mode & _SHARED_BITS:
        raise UsageError(f"{path} access too permissive (mode {info.st_mode & 0o777:o}): others can read or change "
                         f"the passwords it holds; chmod 600 {path}")


def netrc_entry(host: str, env=None):
    """(login, password) of the ``machine host`` (or ``default``) entry, or None when there
    is no file or no entry. UsageError, naming the file, when it cannot be read or parsed."""
    env = os.environ if env is None else env
    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    _check_private(path)
    import netrc

    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: it is not UTF-8 text") from None
    if entry is None:
        return None
    return entry[0], entry[2]
