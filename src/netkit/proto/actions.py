"""The actions a dialogue yields, and what a driver sends back for each.

=============  ===============================================  =====================
action         what the driver does                             value sent back
=============  ===============================================  =====================
``Connect``    resolve and connect (closing any earlier one)    the peer address text
``StartTLS``   TLS handshake on the current connection          a :class:`TLSInfo`
``Send``       send all bytes                                   ``None``
``Recv``       receive up to ``size`` bytes (one datagram)      bytes; ``b""`` at EOF
``Await``      run ``factory()``, a coroutine of a library      what it returns
               that speaks the protocol itself (asyncssh)

``Close``      close one connection                             ``None``
=============  ===============================================  =====================

A dialogue may hold several connections at once (FTP's control and data connections):
each action names its ``channel``, 0 by default. Timings, the peer and ``-v``'s
transcript follow channel 0, the conversation; other channels carry data.

Failures are raised by the driver as :mod:`netkit.core.errors` and end the dialogue.
"""

__all__ = ["Connect", "StartTLS", "Send", "Recv", "Close", "Await", "TLSParams", "TLSInfo", "RECV_SIZE"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~10 ms of start-up: these names exist for type checkers only
    from collections.abc import Callable, Coroutine, Generator
    from typing import Any, TypeAlias, TypeVar

    T = TypeVar("T")
    #: What a dialogue yields.
    Action: TypeAlias = "Connect | StartTLS | Send | Recv | Close | Await"
    #: A dialogue returning a T: it yields actions and is sent each one's value (table above).
    Dialogue: TypeAlias = "Generator[Action, Any, T]"

# One read's size: large enough for a page of HTTP in one call, small enough to keep
# thousands of concurrent checks cheap in memory.
RECV_SIZE = 65536


class Connect:
    __slots__ = ("host", "port", "transport", "family", "channel")

    def __init__(self, host: str, port: int, transport: str = "tcp", family: int = 0, channel: int = 0) -> None:
        if transport not in ("tcp", "udp"):
            raise ValueError(f"transport must be tcp or udp, not {transport!r}")
        if family not in (0, 4, 6):
            raise ValueError("family must be 0 (any), 4 or 6")
        self.host = host
        self.port = port
        self.transport = transport
        self.family = family
        self.channel = channel

    def __repr__(self) -> str:
        return f"Connect({self.host!r}, {self.port}, {self.transport!r}, family={self.family}, channel={self.channel})"


class TLSParams:
    """How to do a TLS handshake: whom to expect, and whether to verify them."""

    __slots__ = ("server_name", "verify", "cafile")

    def __init__(self, server_name: str | None, verify: bool = True, cafile: str | None = None) -> None:
        self.server_name = server_name
        self.verify = verify
        self.cafile = cafile

    @property
    def key(self) -> tuple[bool, str | None]:
        """What an SSL context depends on (drivers cache contexts by it)."""
        return (self.verify, self.cafile)

    def __repr__(self) -> str:
        return f"TLSParams({self.server_name!r}, verify={self.verify}, cafile={self.cafile!r})"


class StartTLS:
    __slots__ = ("params", "channel")

    def __init__(self, params: TLSParams, channel: int = 0) -> None:
        self.params = params
        self.channel = channel

    def __repr__(self) -> str:
        return f"StartTLS({self.params!r})"


class Send:
    """Send ``data``; ``shown`` replaces it in ``-v``'s transcript (for passwords)."""

    __slots__ = ("data", "channel", "shown")

    def __init__(self, data: bytes, channel: int = 0, shown: bytes | None = None) -> None:
        self.data = bytes(data)
        self.channel = channel
        self.shown = shown

    def __repr__(self) -> str:
        return f"Send({self.data!r})"


class Recv:
    __slots__ = ("size", "channel")

    def __init__(self, size: int = RECV_SIZE, channel: int = 0) -> None:
        self.size = size
        self.channel = channel

    def __repr__(self) -> str:
        return f"Recv({self.size})"


class Close:
    __slots__ = ("channel",)

    def __init__(self, channel: int = 0) -> None:
        self.channel = channel

    def __repr__(self) -> str:
        return f"Close({self.channel})"


class Await:
    """Hand the exchange to a library that does its own I/O (asyncssh, say).

    ``factory()`` makes the coroutine; the blocking driver runs it with ``asyncio.run``,
    the asyncio driver awaits it. It runs under the check's deadline; its exceptions
    (OSError, asyncio.TimeoutError) are mapped like the drivers' own.
    """

    __slots__ = ("factory", "what")

    def __init__(self, factory: "Callable[[], Coroutine[Any, Any, Any]]", what: str = "talking to the server") -> None:
        self.factory = factory
        self.what = what

    def __repr__(self) -> str:
        return f"Await({self.what!r})"


class TLSInfo:
    """What a handshake established: protocol, cipher and the peer's chain (DER, leaf first)."""

    __slots__ = ("version", "cipher", "bits", "chain", "verified", "server_name")

    def __init__(self, version: str | None, cipher: str | None, bits: int | None, chain: "list[bytes]",
                 verified: bool, server_name: str | None) -> None:
        self.version = version
        self.cipher = cipher
        self.bits = bits
        self.chain = chain
        self.verified = verified
        self.server_name = server_name

    def __repr__(self) -> str:
        return f"TLSInfo({self.version!r}, {self.cipher!r}, {len(self.chain)} certs, verified={self.verified})"
