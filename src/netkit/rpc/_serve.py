"""``netkit rpc serve``: one set of exposed functions, served over the chosen protocol in
the foreground until SIGTERM or SIGINT, one log line per event on stderr."""

import ipaddress

from netkit.rpc._registry import Dispatcher, Limits, Registry

__all__ = ["PROTOCOLS", "ServerConfig", "build_dispatcher", "run", "tls_context"]

PROTOCOLS = ("xmlrpc", "jsonrpc", "pyro", "pb")
DEFAULT_PORTS = {"xmlrpc": 8765, "jsonrpc": 8766, "pyro": 7766, "pb": 9876}  # the texts' ports
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class ServerConfig:
    """What ``netkit rpc serve`` was asked for (defaults: the safe ones)."""

    def __init__(self, protocol="xmlrpc", *, bind="127.0.0.1", port=None, root=".", module=None, checks=None,
                 allow=None, tls_cert=None, tls_key=None, client_ca=None, token=None, basic=None, limits=None,
                 debug=False, object_name="netkit"):
        if protocol not in PROTOCOLS:
            raise ValueError(f"--protocol {protocol}: give one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.bind = bind
        self.port = DEFAULT_PORTS[protocol] if port is None else port
        self.root = root
        self.module = module
        self.checks = checks
        self.allow = tuple(allow) if allow else LOOPBACK
        self.tls_cert, self.tls_key, self.client_ca = tls_cert, tls_key, client_ca
        self.token, self.basic = token, basic
        self.limits = limits or Limits()
        self.debug = debug
        self.object_name = object_name
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together: give both")
        if client_ca and not tls_cert:
            raise ValueError("--client-ca checks client certificates during TLS: give --tls-cert and --tls-key too")
        if (token or basic) and not tls_cert and not _loopback(bind):
            raise ValueError(f"a token or a password would cross the network in clear text (--bind {bind}): "
                             "give --tls-cert and --tls-key, or bind 127.0.0.1")


def _loopback(bind: str) -> bool:
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return bind == "localhost"


def tls_context(config: ServerConfig):
    """The server's SSLContext (None without --tls-cert); ValueError says what failed."""
    if not config.tls_cert:
        return None
    import ssl

    from netkit.serve._tls import server_context

    ctx, _ = server_context((config.tls_cert, config.tls_key))
    if config.client_ca:
        try:
            ctx.load_verify_locations(config.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"--client-ca {config.client_ca}: cannot load it ({exc}); give a PEM file") from None
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def build_dispatcher(config: ServerConfig, log=None) -> Dispatcher:
    """The registry (admin set over --root, the user's --module) and its dispatcher."""
    from netkit.rpc._admin import Root, admin_functions

    registry = Registry()
    checks = None
    if config.checks:
        from netkit.check import load_checks

        specs = load_checks(config.checks)
        checks = {spec.name or spec.label: spec for spec in specs}
    for name, fn in admin_functions(Root(config.root), checks).items():
        registry.add(fn, name)
    if config.module:
        from netkit.rpc._registry import load_module

        registry.add_module(load_module(config.module))
    return Dispatcher(registry, config.limits, debug=config.debug,
                      log=(lambda text: log("rpc", text)) if log else None)


async def _serve_http(config, dispatcher, log, on_ready):
    import asyncio
    import os
    import signal

    from netkit.rpc._http import HttpServer
    from netkit.serve._system import sd_notify

    server = HttpServer(dispatcher, config.protocol, tls=tls_context(config), allow=config.allow,
                        auth=(config.token, config.basic), log=log)
    host, port = await server.start(config.bind, config.port)
    scheme = "https" if config.tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    log("rpc", f"{config.protocol} on {scheme}://{shown}:{port}/ ({len(dispatcher.registry.methods)} methods, "
               f"root {dispatcher_root(config)}, allow {', '.join(map(str, config.allow))})")
    on_ready((host, port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sd_notify(f"READY=1\nSTATUS=serving {config.protocol}\nMAINPID={os.getpid()}")
    await stop.wait()
    log("rpc", "stopping")
    await server.close()


def dispatcher_root(config) -> str:
    import os

    return os.path.realpath(config.root)


def run(config: ServerConfig, log=None, on_ready=lambda address: None) -> int:
    """Serve until SIGTERM/SIGINT; 0 after a graceful stop. ValueError for a bad set-up,
    OSError when the port cannot be bound."""
    from netkit.serve._system import Log

    log = log or Log()
    dispatcher = build_dispatcher(config, log)
    try:
        if config.protocol in ("xmlrpc", "jsonrpc"):
            import asyncio

            from netkit.drivers.aio import loop_factory

            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                runner.run(_serve_http(config, dispatcher, log, on_ready))
        else:
            import importlib

            try:
                module = importlib.import_module(f"netkit.rpc._{config.protocol}")
            except ImportError as exc:
                raise ValueError(f"--protocol {config.protocol} is not available here ({exc.name} is missing)") from None
            module.serve(config, dispatcher, log, on_ready)
    finally:
        dispatcher.close()
    log("rpc", "stopped")
    return 0
