"""Port lists: ``22,80,443``, ``1-1024``, ``-`` (all 65,535), ``-1024``, ``60000-``, and the
most common ports first (``--top-ports N``), as nmap writes and orders them."""

from typing import Any

from netkit.core.text import is_digits

__all__ = ["as_ports", "parse_ports", "top_ports", "ALL_PORTS", "PORT_FORMS"]

ALL_PORTS = range(1, 65536)
PORT_FORMS = "a list of ports and ranges like 22,80,443 or 1-1024, or - for all 65535"
# nmap's frequency data, when nmap is installed: the true "most common" order.
NMAP_SERVICES = "/usr/share/nmap/nmap-services"

# The most often open TCP ports, most common first (nmap's top 100 by frequency), used
# when nmap's own table is not on the machine.
_TOP_TCP = (
    80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900,
    1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000, 8443, 8000,
    32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646, 5000, 5631, 631, 49153, 8081,
    2049, 88, 79, 5800, 106, 2121, 1110, 49155, 6000, 513, 990, 5357, 427, 49156, 543, 544, 5101, 144, 7,
    389, 8009, 3128, 444, 9999, 5009, 7070, 5190, 3000, 5432, 1900, 3986, 13, 1029, 9, 5051, 6646, 49157,
    1028, 873, 1755, 2717, 4899, 9100, 119, 37,
)


def _port(text: str, spec: str) -> int:
    if not is_digits(text):
        raise ValueError(f"{text!r} in -p {spec} is not a port number; give {PORT_FORMS}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} in -p {spec} is out of range: ports are 1-65535")
    return port


def parse_ports(spec: str) -> list[int]:
    """The ports of a -p spec, each once, in the order written; ``UsageError`` names a
    mistake and the right form."""
    from netkit.core.errors import UsageError

    try:
        return _parse(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def as_ports(ports: Any) -> list[int]:
    """Ports as a caller writes them, each once, in order: a spec string (``"22,80,443"``,
    ``"1-1024"``, ``"-"`` or ``"all"``, ``"top100"``: the 100 most common), a port number,
    a ``range``, or a list of numbers and spec strings. ``UsageError`` names a bad one."""
    from netkit.core.errors import UsageError

    items = [ports] if isinstance(ports, (str, int)) else ports
    if not hasattr(items, "__iter__"):
        raise UsageError(f"ports {ports!r}: give {PORT_FORMS}, a number, a range or a list")
    seen, out = set(), []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise UsageError(f"port {item!r} is not a port number or a spec like 22,80,443")
        if isinstance(item, int):
            if not 1 <= item <= 65535:
                raise UsageError(f"port {item} is out of range: ports are 1-65535")
            found = [item]
        else:
            text = item.strip().lower()
            count = text.removeprefix("top").lstrip("-_ ") if text.startswith("top") else None
            if count is not None:
                if not is_digits(count):
                    raise UsageError(f"{item!r}: write top followed by a number of ports, e.g. top100")
                found = top_ports(int(count))
            else:
                found = parse_ports("-" if text == "all" else item)
        for port in found:
            if port not in seen:
                seen.add(port)
                out.append(port)
    if not out:
        raise UsageError(f"no ports; give {PORT_FORMS}")
    return out


def _parse(spec: str) -> list[int]:
    spec = str(spec).strip()
    if not spec:
        raise ValueError(f"-p is empty; give {PORT_FORMS}")
    seen = set()
    ports = []
    for part in spec.split(","):
        part = part.strip()
        if part.lower().startswith("t:"):  # nmap's protocol prefix; only TCP is scanned
            part = part[2:]
        if not part:
            raise ValueError(f"-p {spec} has an empty item; give {PORT_FORMS}")
        if "-" in part:
            lo_text, _, hi_text = part.partition("-")
            lo = _port(lo_text, spec) if lo_text else 1
            hi = _port(hi_text, spec) if hi_text else 65535
            if lo > hi:
                raise ValueError(f"range {part} in -p {spec} runs backwards; write {hi}-{lo}")
            items: range | tuple[int] = range(lo, hi + 1)
        else:
            items = (_port(part, spec),)
        for port in items:
            if port not in seen:
                seen.add(port)
                ports.append(port)
    return ports


def _nmap_frequencies(path: str = NMAP_SERVICES):
    ranked = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                words = line.split()
                if len(words) < 3:
                    continue
                number, _, proto = words[1].partition("/")
                if proto != "tcp" or not is_digits(number):
                    continue
                try:
                    ranked.append((float(words[2]), int(number)))
                except ValueError:
                    continue
    except OSError:
        return None
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [port for _, port in ranked]


def top_ports(n: int) -> list[int]:
    """The ``n`` most common TCP ports, most common first."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        from netkit.core.errors import UsageError

        raise UsageError(f"top ports: a number of ports from 1 to 65535, not {n!r}")
    ranked = _nmap_frequencies() or list(_TOP_TCP)
    if n > len(ranked):  # then the rest in port order, as nmap fills up
        have = set(ranked)
        ranked = ranked + [p for p in ALL_PORTS if p not in have]
    return ranked[:n]
