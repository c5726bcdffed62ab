"""Small hardened network services (echo, reverse, time, discard, chargen) over TCP, UDP,
Unix sockets and TLS, as a library.

::

    from netkit.serve import Service, serving

    async with serving([Service("echo", port=0, prefix=b"You said: ")]) as server:
        label, (host, port) = server.addresses[0]

``run(services)`` serves in the foreground until SIGTERM/SIGINT, as ``netkit serve`` does.
"""

from netkit.serve._run import run, serving
from netkit.serve._server import Server
from netkit.serve._spec import DEFAULT_BIND, DEFAULT_PORTS, Limits, Service

__all__ = sorted(["DEFAULT_BIND", "DEFAULT_PORTS", "Limits", "Server", "Service", "run", "serving"])
