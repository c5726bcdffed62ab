"""What a service is: its kind, where it listens, who may talk to it, and its limits.

Plain frozen values, checked when made; the CLI and the config file build them from the
same option table (:mod:`netkit.serve._options`).
"""

import ipaddress
from dataclasses import dataclass, field

from netkit.proto.services import DEFAULT_MAX_LINE, SERVICES

__all__ = ["Limits", "Service", "DEFAULT_BIND", "DEFAULT_PORTS", "TRANSPORTS"]

# Loopback unless told otherwise: a test service should not be reachable from the network
# by accident (DESIGN: safe defaults).
DEFAULT_BIND = "127.0.0.1"
# The well-known ports of the classic services (RFC 862/863/864/868), and the ports of the
# source texts: the palindrome server on 33333. Used when --port is not given.
DEFAULT_PORTS = {"echo": 7, "discard": 9, "chargen": 19, "time": 37, "reverse": 33333}
TRANSPORTS = ("tcp", "udp", "unix")

# 1,000 connections: far more than a test service needs, far fewer than the descriptors a
# default `ulimit -n` of 1,024 (raised where allowed) gives, so accept never hits EMFILE.
DEFAULT_MAX_CONNECTIONS = 1000
# 5 minutes without a complete request (a line; any bytes for raw services) ends a
# connection: long enough for a person at a prompt, short enough that a client trickling
# one byte a minute (slowloris) does not hold a slot for ever.
DEFAULT_IDLE_TIMEOUT = 300.0
# 1 MiB of replies waiting for a client that does not read them: then we stop reading
# from it (backpressure); at twice this the connection is closed.
DEFAULT_MAX_OUTPUT = 1 << 20
# Time given to open connections to finish after SIGTERM/SIGINT before they are closed.
DEFAULT_GRACE = 10.0
# A TLS handshake that has not finished in 10 s is a stuck or hostile client.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Limits:
    """Per-service limits, each with a named default above."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_line: int = DEFAULT_MAX_LINE
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_output: int = DEFAULT_MAX_OUTPUT

    def __post_init__(self):
        if self.max_connections < 1 or self.max_line < 1 or self.max_output < 1 or not self.idle_timeout > 0:
            raise ValueError(f"limits must be positive: {self}")


@dataclass(frozen=True)
class Service:
    """One listening service.

    ``tls`` is None, ``"auto"`` (a self-signed certificate made at start) or a pair
    ``(cert, key)`` of PEM paths. ``allow`` is a tuple of networks; empty means everyone
    who can reach the address. ``sockopts`` is a tuple of ``(name, value)``.
    """

    kind: str
    transport: str = "tcp"
    bind: str = DEFAULT_BIND
    port: int | None = None
    path: str | None = None
    tls: object = None
    allow: tuple = ()
    limits: Limits = field(default_factory=Limits)
    sockopts: tuple = ()
    prefix: bytes = b""
    raw: bool = False
    iso: bool = False
    name: str | None = None

    def __post_init__(self):
        if self.kind not in SERVICES:
            raise ValueError(f"unknown service {self.kind!r}; services: {', '.join(SERVICES)}")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r}; one of {', '.join(TRANSPORTS)}")
        if self.transport == "unix" and not self.path:
            raise ValueError("a unix service needs a path")
        if self.transport == "udp" and self.tls:
            raise ValueError("--tls works over TCP and Unix sockets, not UDP (DTLS is not supported)")
        if self.transport == "unix" and self.allow:
            raise ValueError("--allow filters IP addresses; a Unix socket is guarded by its file's mode")
        for net in self.allow:
            if not isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                raise ValueError(f"allow takes networks, got {net!r}")

    @property
    def listen_port(self) -> int:
        return DEFAULT_PORTS[self.kind] if self.port is None else self.port

    @property
    def label(self) -> str:
        """How log lines name this service: ``echo/tcp``, ``time/tls``."""
        transport = "tls" if self.tls and self.transport == "tcp" else self.transport
        return f"{self.name or self.kind}/{transport}"
