"""What both drivers share: timings, the transcript, the exchange record, the timeout budget."""

from time import monotonic

from netkit.core.errors import NetkitError, ProtocolError, ResolveError
from netkit.core.target import bracket
from netkit.proto.actions import Await, Connect, Recv, Send, StartTLS

__all__ = ["PHASES", "TRANSCRIPT_LIMIT", "Budget", "Exchange", "Timings", "Transcript", "advance", "doing"]

# Bytes of each direction kept for ``-v``: enough to read a dialogue, bounded for a
# peer that sends megabytes.
TRANSCRIPT_LIMIT = 16384
# Characters of an exception's own text quoted in a "bad reply" error: enough to say what
# was wrong, bounded because the text may quote the peer's bytes.
FAULT_TEXT = 160
# Bytes of the reply kept on every run, so a failure can show what the peer did say.
HEAD_BYTES = 512


class Timings:
    """Phase durations in seconds (None when the phase did not happen).

    ``dns``, ``connect`` and ``tls`` belong to the last connection made; ``firstbyte`` is
    the wait from the last thing sent (or from the connection being ready) to the first
    byte of the answer; ``total`` covers the whole exchange, redirects included.
    """

    __slots__ = ("dns", "connect", "tls", "firstbyte", "total", "_wait_from", "_pending")

    def __init__(self):
        self.dns = self.connect = self.tls = self.firstbyte = self.total = None
        self._wait_from = None
        self._pending = False

    def ready(self, now):
        self._wait_from = now
        self._pending = True

    def data(self, now):
        if self._pending:
            self.firstbyte = now - self._wait_from
            self._pending = False

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("dns", "connect", "tls", "firstbyte", "total")}


class Transcript:
    """The dialogue as ``-v`` shows it: ``*`` notes, ``>`` sent, ``<`` received."""

    __slots__ = ("entries", "_budget")

    def __init__(self):
        self.entries = []
        self._budget = {">": TRANSCRIPT_LIMIT, "<": TRANSCRIPT_LIMIT}

    def note(self, text: str):
        self.entries.append(("*", text))

    def data(self, direction: str, data: bytes):
        left = self._budget[direction]
        if left <= 0:
            return
        if len(data) > left:
            self.entries.append((direction, data[:left]))
            self.entries.append(("*", f"(more {'sent' if direction == '>' else 'received'}, not shown)"))
        else:
            self.entries.append((direction, data))
        self._budget[direction] = left - len(data)

    def lines(self, also=frozenset()):
        """Printable lines, one per line of data, prefixed like curl -v. Consecutive pieces
        of one direction are read as one stream (a header split across two reads is still
        one line), and every credential header value, the value of every header named in
        ``also`` (the caller's own: :func:`netkit.core.secrets.caller_secrets`) and every
        URL password is masked (:mod:`netkit.core.secrets`), whoever sent it."""
        from netkit.core.secrets import mask_line, mask_url
        from netkit.core.text import for_terminal

        entries = []
        for kind, payload in self.entries:
            if kind != "*" and entries and entries[-1][0] == kind:
                entries[-1][1] += payload
            else:
                entries.append([kind, payload if kind == "*" else bytearray(payload)])
        for kind, payload in entries:
            if kind == "*":
                yield f"* {for_terminal(mask_url(payload))}"
                continue
            parts = bytes(payload).decode("utf-8", "replace").split("\n")
            if parts and parts[-1] == "":
                parts.pop()
            masking = False
            for part in parts:
                shown, masking = mask_line(part.rstrip("\r"), masking, also)
                yield f"{kind} " + "".join(c if c.isprintable() or c == "\t" else "." for c in shown)


class Exchange:
    """What running a dialogue gave: its return value or the error that ended it."""

    __slots__ = ("outcome", "error", "timings", "transcript", "peer", "head")

    def __init__(self, outcome, error, timings, transcript, peer, head=b""):
        self.outcome = outcome
        self.error = _unframed(error)
        self.timings = timings
        self.transcript = transcript
        self.peer = peer
        self.head = head  # the first HEAD_BYTES received, to show what came before a failure


def _unframed(error):
    """``error`` without the frames it (and what caused it) was raised through: a result
    keeps its error (a sweep's thousands, the monitor's latest per target), and a
    traceback would keep the finished exchange's runner, buffers and dialogue alive."""
    seen = set()
    cause = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        cause.__traceback__ = None
        cause = cause.__cause__ or cause.__context__
    return error


def where(host, port) -> str:
    return f"{bracket(host)}:{port}"


def doing(action, peer: str) -> str:
    """The phase an action stands for, for error messages ('while connecting to ...')."""
    if isinstance(action, Connect):
        return f"connecting to {where(action.host, action.port)}"
    if isinstance(action, StartTLS):
        return f"in the TLS handshake with {peer}"
    if isinstance(action, Send):
        return f"sending to {peer}"
    if isinstance(action, Recv):
        return f"waiting for data from {peer}"
    if isinstance(action, Await):
        return action.what
    return f"talking to {peer}"


class Budget:
    """An exchange's :class:`~netkit.core.timeout.Timeout` against the clock: how long the
    next wait of a phase may be (its own bound, cut to what is left of the total), and,
    once one ran out, which bound that was -- the TimedOut names it."""

    __slots__ = ("connect", "deadline", "phase", "read", "seconds", "total")

    def __init__(self, timeout, now):
        if isinstance(timeout, (int, float)):  # the CLI's --timeout: core.timeout is not imported for it
            self.total, self.connect, self.read = float(timeout), None, None
        else:
            from netkit.core.timeout import Timeout

            timeout = Timeout.of(timeout)
            self.total, self.connect, self.read = timeout.total, timeout.connect, timeout.read
        self.deadline = None if self.total is None else now + self.total
        self.phase, self.seconds = "total", self.total

    def left(self):
        """Seconds left of the total (None: no total); TimeoutError when none is."""
        if self.deadline is None:
            return None
        left = self.deadline - monotonic()
        if left <= 0:
            self.phase, self.seconds = "total", self.total
            raise TimeoutError
        return left

    def wait(self, phase):
        """Seconds the next wait of ``phase`` (``connect``, ``read``; None: only the total)
        may take, None for no bound; the bound is remembered for :meth:`expired`."""
        left = self.left()
        own = getattr(self, phase) if phase else None
        if own is not None and (left is None or own < left):
            self.phase, self.seconds = phase, own
            return own
        self.phase, self.seconds = "total", self.total
        return left

    def error(self, exc, action, peer):
        """The netkit error of ``exc``, met doing ``action`` with ``peer`` (a timeout names
        the bound that ran out: :mod:`netkit.core.errmap`)."""
        from netkit.core.errmap import map_error

        return map_error(exc, peer or "the peer", self.phase if isinstance(exc, TimeoutError) else PHASES.get(
            type(action), "read"), doing=doing(action, peer), timeout=self.seconds)


# The Timeout phase of each action's wait: a handshake is part of connecting; a send waits
# for the peer to take the data as a read waits for it to send.
PHASES = {Connect: "connect", StartTLS: "connect", Send: "read", Recv: "read"}


def advance(dialogue, value, peer: str):
    """The dialogue's next action, after handing it ``value`` (``None`` to start it).

    The dialogue's own code is what reads the peer's bytes (parses a reply, a certificate,
    a DNS message): any exception it lets out, other than netkit's own errors and the
    StopIteration that carries its outcome, is that peer's fault as far as this exchange
    goes. It becomes a ProtocolError naming the peer and the fault, so that one bad peer
    fails one check and never the driver, the sweep or the run.
    """
    try:
        return dialogue.send(value)
    except (StopIteration, NetkitError):
        raise
    except Exception as exc:  # noqa: BLE001 -- the point: nothing from the peer escapes
        raise ProtocolError(peer_fault(exc, peer)) from exc


def peer_fault(exc: BaseException, peer: str) -> str:
    """``protocol error: bad reply from PEER (ValueError: ...)``, printable and bounded."""
    from netkit.core.text import for_terminal

    text = for_terminal(str(exc))
    if len(text) > FAULT_TEXT:
        text = text[: FAULT_TEXT - 1] + "…"
    said = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"protocol error: bad reply from {peer or 'the peer'} ({said})"


def numeric_addrinfo(host: str, port: int, family: int, socktype: int):
    """getaddrinfo's answer for an IP literal, without calling it (it costs milliseconds
    on its first call in a process, even with AI_NUMERICHOST)."""
    import _socket

    v6 = ":" in host
    fam = _socket.AF_INET6 if v6 else _socket.AF_INET
    if family not in (_socket.AF_UNSPEC, fam):
        asked = "IPv4" if family == _socket.AF_INET else "IPv6"
        raise ResolveError(f"{host!r} is not an {asked} address")
    addr, _, zone = host.partition("%")
    try:
        _socket.inet_pton(fam, addr)
    except OSError:
        raise ResolveError(f"{host!r} is not a valid IP address") from None
    sockaddr: tuple[str, int] | tuple[str, int, int, int]
    if v6:
        scope = 0
        if zone:
            scope = int(zone) if zone.isascii() and zone.isdigit() else _socket.if_nametoindex(zone)
        sockaddr = (addr, port, 0, scope)
    else:
        sockaddr = (addr, port)
    proto = _socket.IPPROTO_TCP if socktype == _socket.SOCK_STREAM else _socket.IPPROTO_UDP
    return [(fam, socktype, proto, "", sockaddr)]
