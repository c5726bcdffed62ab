"""What a scan finds, as plain typed objects (renderers live in netkit.scan.output)."""

__all__ = ["PortResult", "HostResult", "ScanReport", "OPEN", "CLOSED", "FILTERED", "STATES"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

OPEN, CLOSED, FILTERED = "open", "closed", "filtered"
STATES = (OPEN, CLOSED, FILTERED)


class PortResult:
    """One port of one host.

    ``reason`` says why the state was chosen, in nmap's words: ``syn-ack`` (connected),
    ``conn-refused`` (RST), ``no-response`` (no answer after the retries),
    ``host-unreach``/``net-unreach`` (ICMP). ``rtt`` is the connect time in seconds when
    there was an answer.
    """

    __slots__ = ("address", "port", "state", "reason", "rtt", "service", "banner")

    def __init__(self, address: str, port: int, state: str, reason: str, rtt: float | None = None,
                 service: str | None = None, banner: str | None = None) -> None:
        self.address = address
        self.port = port
        self.state = state
        self.reason = reason
        self.rtt = rtt
        self.service = service
        self.banner = banner

    def to_dict(self) -> dict:
        return {"address": self.address, "port": self.port, "protocol": "tcp", "state": self.state,
                "reason": self.reason, "rtt": None if self.rtt is None else round(self.rtt, 6),
                "service": self.service, "banner": self.banner}

    def __repr__(self):
        return f"PortResult({self.address}:{self.port} {self.state})"


class HostResult:
    """One scanned address: the name it was given as (if any) and its ports in order.

    A full scan finds tens of thousands of closed ports; the scanner may hand those over
    as a count and a ``build`` function (``defer``) instead of objects. ``counts()``,
    ``scanned`` and ``select(states)`` answer without building them; the ``ports`` list is
    built the first time it is read.
    """

    __slots__ = ("address", "hostname", "_ports", "_deferred", "started", "finished", "skipped")

    def __init__(self, address: str, hostname: str | None = None, ports: "Iterable[PortResult] | None" = None,
                 started: float | None = None, finished: float | None = None, skipped: int = 0) -> None:
        self.address = address
        self.hostname = hostname
        self._ports = list(ports or [])
        # (counts per state of the ports not built yet, build)
        self._deferred: tuple[dict, Callable[[list], list]] | None = None
        self.started = started  # epoch seconds
        self.finished = finished
        self.skipped = skipped  # ports left unscanned when the host timed out

    @property
    def ports(self) -> list:
        if self._deferred is not None:
            _counts, build = self._deferred
            self._deferred = None
            self._ports = build(self._ports)
        return self._ports

    @ports.setter
    def ports(self, value):
        self._ports = list(value)
        self._deferred = None

    def defer(self, counts: dict, build) -> None:
        """More ports, ``counts`` of them per state, not objects yet: ``build(ports)`` gets
        the ports so far and returns the whole list, in scan order."""
        self._deferred = (counts, build)

    def select(self, states) -> list:
        """The ports in ``states``, in order; deferred ones are built only if asked for."""
        if self._deferred is not None and any(self._deferred[0].get(s) for s in states):
            return [p for p in self.ports if p.state in states]
        return [p for p in self._ports if p.state in states]

    @property
    def scanned(self) -> int:
        deferred = sum(self._deferred[0].values()) if self._deferred is not None else 0
        return len(self._ports) + deferred

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4

    def counts(self) -> dict:
        out = {state: 0 for state in STATES}
        for p in self._ports:
            out[p.state] += 1
        if self._deferred is not None:
            for state, n in self._deferred[0].items():
                out[state] += n
        return out

    def __repr__(self):
        return f"HostResult({self.address}, {self.scanned} ports)"


class ScanReport:
    """A whole scan: hosts in the order given, what was asked, when, and whether it ended
    early (Ctrl-C)."""

    __slots__ = ("hosts", "ports", "command", "started", "finished", "interrupted")

    def __init__(self, hosts: "Iterable[HostResult]", ports: "Iterable[int]", command: str = "",
                 started: float | None = None, finished: float | None = None, interrupted: bool = False) -> None:
        self.hosts = list(hosts)
        self.ports = list(ports)  # the ports asked for, in scan order
        self.command = command  # the command line, for nmap's XML "args"
        self.started = started  # epoch seconds
        self.finished = finished
        self.interrupted = interrupted

    def counts(self) -> dict:
        out = {state: 0 for state in STATES}
        for host in self.hosts:
            for state, n in host.counts().items():
                out[state] += n
        return out
