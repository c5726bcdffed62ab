"""Scan targets: names, IPv4 and IPv6 addresses, CIDR blocks (``10.0.0.0/24``), octet
ranges (``10.0.0.1-20``, ``10.0-1.0.1``), target files and exclusions. Each address is
scanned once, in the order first given."""

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from netkit.core.text import is_digits

__all__ = ["as_targets", "expand_targets", "read_target_file", "MAX_ADDRESSES", "TARGET_FORMS"]

# More addresses than this in one scan is almost surely a typo (a /8 is 16.7 million);
# nmap would start it, but it would run for days.
MAX_ADDRESSES = 1 << 20
# A target file (-iL) of more than this is not a list of hosts (a million names of 60
# bytes); /dev/zero or a log named by mistake stops here, not in the memory.
MAX_TARGET_FILE = 64 << 20
TARGET_FORMS = ("a host name, an address (192.0.2.1, ::1), a CIDR block (192.0.2.0/24), or an "
                "octet range (192.0.2.1-20)")


def _octets(spec: str):
    """``10.0.0.1-20`` style: every IPv4 address of the octet ranges, or None if not one."""
    parts = spec.split(".")
    if len(parts) != 4 or "-" not in spec:
        return None
    ranges = []
    for part in parts:
        lo, dash, hi = part.partition("-")
        if not is_digits(lo) or (dash and not is_digits(hi)):
            return None
        lo_n, hi_n = int(lo), int(hi) if dash else int(lo)
        if lo_n > 255 or hi_n > 255:
            raise ValueError(f"{spec!r}: an octet is at most 255")
        if lo_n > hi_n:
            raise ValueError(f"{spec!r}: the range {part} runs backwards")
        ranges.append(range(lo_n, hi_n + 1))
    count = len(ranges[0]) * len(ranges[1]) * len(ranges[2]) * len(ranges[3])
    if count > MAX_ADDRESSES:
        raise ValueError(f"{spec!r} holds {count} addresses, more than {MAX_ADDRESSES}")
    return (f"{a}.{b}.{c}.{d}" for a in ranges[0] for b in ranges[1] for c in ranges[2] for d in ranges[3])


def _network(spec: str):
    try:
        net = ipaddress.ip_network(spec, strict=False)
    except ValueError as exc:
        address, _, bits = spec.partition("/")
        if bits and not is_digits(bits):
            raise ValueError(f"{spec!r}: the prefix length {bits!r} is not a number") from None
        maximum = 128 if ":" in address else 32
        if bits and int(bits) > maximum:
            raise ValueError(f"{spec!r}: the prefix length is at most {maximum}") from None
        raise ValueError(f"{spec!r} is not {TARGET_FORMS} ({exc})") from None
    if net.num_addresses > MAX_ADDRESSES:
        raise ValueError(f"{spec} holds {net.num_addresses} addresses, more than {MAX_ADDRESSES}; "
                         f"scan a smaller block")
    return (str(a) for a in net)


def _resolve(name: str, family: int):
    import socket

    fam = {4: socket.AF_INET, 6: socket.AF_INET6}.get(family, socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(name, None, fam, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {name!r}: {exc.strerror}") from None
    except UnicodeError:  # the idna codec: an empty label ('a..b') or one over 63 characters
        raise ValueError(f"{name!r} is not a valid host name (its dot-separated parts are 1 to 63 characters)") \
            from None
    # nmap's choice: the first address the resolver gives, IPv4 preferred unless -6.
    infos.sort(key=lambda info: 0 if info[0] == (socket.AF_INET6 if family == 6 else socket.AF_INET) else 1)
    return infos[0][4][0]


def _addresses(spec: str, family: int, resolve):
    """(address, name or None) pairs of one target spec."""
    spec = spec.strip()
    if not spec:
        raise ValueError(f"an empty target; give {TARGET_FORMS}")
    if spec.startswith("[") and spec.endswith("]"):
        spec = spec[1:-1]
    octets = _octets(spec)
    if octets is not None:
        return ((a, None) for a in octets)
    if "/" in spec or ":" in spec or is_digits(spec.replace(".", "")):
        return ((a, None) for a in _network(spec))
    if any(c in spec for c in " \t,;@\\") or spec.startswith("-"):
        raise ValueError(f"{spec!r} is not {TARGET_FORMS}")
    return iter([(resolve(spec, family), spec)])


def expand_targets(specs: Iterable[str], exclude: Iterable[str] = (), family: int = 0,
                   resolve: Callable[[str, int], str] = _resolve) -> list[tuple[str, str | None]]:
    """[(address, name or None)], each address once, in the order given, minus ``exclude``.

    ``UsageError`` names the bad spec and the right form (``resolve(name, family)`` -> an
    address, or ``ValueError`` saying why not).
    """
    from netkit.core.errors import UsageError

    try:
        return _expand(specs, exclude, family, resolve)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def as_targets(targets: Any, exclude: Iterable[str] | str = (), family: int = 0) -> list[tuple[str, str | None]]:
    """Targets as a caller writes them, as [(address, name or None)]: one string
    (``"192.0.2.0/28"``, ``"web1, 10.0.0.1-5"``: split at commas and blanks), an
    ``ipaddress`` address or network, a list of those, or the pairs :func:`expand_targets`
    gives (used as they are). ``UsageError`` names a bad one."""
    import ipaddress

    from netkit.core.errors import UsageError

    single = (str, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network)
    items = [targets] if isinstance(targets, single) else list(targets)
    pairs = [t for t in items if isinstance(t, tuple)]
    if pairs:
        if len(pairs) != len(items) or not all(len(t) == 2 and isinstance(t[0], str) for t in pairs) or exclude:
            raise UsageError("targets are specs (strings, addresses, networks) or (address, name) pairs from "
                             "expand_targets, not a mix; exclude= goes with specs")
        return [(address, name) for address, name in pairs]
    specs: list[str] = []
    for item in items:
        if not isinstance(item, single):
            raise UsageError(f"target {item!r} is not {TARGET_FORMS} (a string, or an ipaddress object)")
        specs.extend(part for part in str(item).replace(",", " ").split())
    if not specs:
        raise UsageError(f"no targets; give {TARGET_FORMS}")
    if isinstance(exclude, str):
        exclude = [exclude]
    return expand_targets(specs, exclude, family)


def _expand(specs, exclude, family, resolve) -> list:
    excluded: set[str] = set()
    for spec in exclude:
        for part in spec.split(","):
            if part.strip():
                excluded.update(a for a, _ in _addresses(part, family, resolve))
    seen = set()
    out = []
    for spec in specs:
        for address, name in _addresses(spec, family, resolve):
            if family and (":" in address) != (family == 6):
                continue
            if address in seen or address in excluded:
                continue
            seen.add(address)
            out.append((address, name))
            if len(out) > MAX_ADDRESSES:
                raise ValueError(f"the targets hold more than {MAX_ADDRESSES} addresses; scan fewer at once")
    return out


def read_target_file(path: str) -> list[str]:
    """Targets from a file (``-iL``): separated by white space or lines, ``#`` comments;
    ``UsageError`` when it cannot be read."""
    from netkit.core.fs import read_text_file

    text = read_text_file(path, "the target file", MAX_TARGET_FILE, "give a file of targets, one a line")
    targets = []
    for line in text.splitlines():
        targets.extend(line.split("#", 1)[0].split())
    return targets
