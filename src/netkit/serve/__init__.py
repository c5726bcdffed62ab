"""Small hardened network services (echo, reverse, time, discard, chargen) over TCP, UDP,
Unix sockets and TLS, as a library.

::

    from netkit.serve import Service, serving

    async with serving([Service("echo", port=0, prefix=b"You said: ")]) as server:
        label, (host, port) = server.addresses[0]

``run(services)`` serves in the foreground until SIGTERM/SIGINT, as ``netkit serve`` does.
"""

__all__ = ["DEFAULT_BIND", "DEFAULT_PORTS", "Limits", "Server", "Service", "run", "serving"]

# Loaded on first use, as netkit.transfer's: the client commands (connect, send, sockopt)
# import netkit.serve.client and netkit.serve.sockopts, which must not pay for asyncio,
# ssl and the server (~60 ms of start-up).
_WHERE = {"run": "_run", "serving": "_run", "Server": "_server", "DEFAULT_BIND": "_spec", "DEFAULT_PORTS": "_spec",
          "Limits": "_spec", "Service": "_spec"}


def __getattr__(name):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"netkit.serve.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'netkit.serve' has no attribute {name!r}")
