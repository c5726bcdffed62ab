"""Small hardened network services (echo, reverse, time, discard, chargen) over TCP, UDP,
Unix sockets and TLS, as a library.

::

    from netkit.serve import Service, serving

    async with serving([Service("echo", port=0, prefix=b"You said: ")]) as server:
        label, (host, port) = server.addresses[0]

``run(services)`` serves in the foreground until SIGTERM/SIGINT, as ``netkit serve`` does.
"""

from netkit.core.lazy import lazy_names

TYPE_CHECKING = False

# Loaded on first use, as netkit.transfer's: the client commands (connect, send, sockopt)
# import netkit.serve.client and netkit.serve.sockopts, which must not pay for asyncio,
# ssl and the server (~60 ms of start-up).
_MODULES = {
    "netkit.serve._run": ("run", "serving"),
    "netkit.serve._server": ("Server",),
    "netkit.serve._spec": ("DEFAULT_BIND", "DEFAULT_PORTS", "Limits", "Service"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from netkit.serve._run import run as run
    from netkit.serve._run import serving as serving
    from netkit.serve._server import Server as Server
    from netkit.serve._spec import DEFAULT_BIND as DEFAULT_BIND
    from netkit.serve._spec import DEFAULT_PORTS as DEFAULT_PORTS
    from netkit.serve._spec import Limits as Limits
    from netkit.serve._spec import Service as Service
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)
