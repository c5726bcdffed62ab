"""Credentials from ~/.netrc (or the file $NETRC names), as curl, ftp and wget read them."""

import os

from netkit.core.errors import UsageError

__all__ = ["netrc_entry"]


def netrc_entry(host: str, env=None):
    """(login, password) of the ``machine host`` (or ``default``) entry, or None when there
    is no file or no entry. UsageError, naming the file, when it cannot be read or parsed."""
    env = os.environ if env is None else env
    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    import netrc

    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if entry is None:
        return None
    return entry[0], entry[2]
