"""What a scan finds, as plain typed objects (renderers live in netkit.scan.output)."""

__all__ = ["PortResult", "HostResult", "ScanReport", "OPEN", "CLOSED", "FILTERED", "STATES"]

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

    def __init__(self, address: str, port: int, state: str, reason: str, rtt=None, service=None, banner=None):
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
    """One scanned address: the name it was given as (if any) and its ports in order."""

    __slots__ = ("address", "hostname", "ports", "started", "finished", "skipped")

    def __init__(self, address: str, hostname=None, ports=None, started=None, finished=None, skipped=0):
        self.address = address
        self.hostname = hostname
        self.ports = list(ports or [])
        self.started = started  # epoch seconds
        self.finished = finished
        self.skipped = skipped  # ports left unscanned when the host timed out

    @property
    def family(self) -> int:
        return 6 if ":" in self.address else 4

    def counts(self) -> dict:
        out = {state: 0 for state in STATES}
        for p in self.ports:
            out[p.state] += 1
        return out

    def __repr__(self):
        return f"HostResult({self.address}, {len(self.ports)} ports)"


class ScanReport:
    """A whole scan: hosts in the order given, what was asked, when, and whether it ended
    early (Ctrl-C)."""

    __slots__ = ("hosts", "ports", "command", "started", "finished", "interrupted")

    def __init__(self, hosts, ports, command="", started=None, finished=None, interrupted=False):
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
