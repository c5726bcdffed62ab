"""``netkit rpc serve``: one set of exposed functions, served over the chosen protocol in
the foreground until SIGTERM or SIGINT, one log line per event on stderr."""

from __future__ import annotations

import ipaddress
import os

from netkit.rpc._registry import Dispatcher, Limits, Registry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from ipaddress import IPv4Network, IPv6Network

    from netkit.serve._system import Log

__all__ = ["PROTOCOLS", "ServerConfig", "build_dispatcher", "run", "tls_context"]

PROTOCOLS = ("xmlrpc", "jsonrpc", "pyro", "pb")
DEFAULT_PORTS = {"xmlrpc": 8765, "jsonrpc": 8766, "pyro": 7766, "pb": 9876}  # the texts' ports
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class ServerConfig:
    """What ``netkit rpc serve`` was asked for (defaults: the safe ones)."""

    def __init__(self, protocol: str = "xmlrpc", *, bind: str = "127.0.0.1", port: int | None = None,
                 root: str = ".", module: str | None = None, checks: str | None = None,
                 allow: Iterable[IPv4Network | IPv6Network] | None = None, tls_cert: str | None = None,
                 tls_key: str | None = None, client_ca: str | None = None, token: str | None = None,
                 basic: str | None = None, limits: Limits | None = None, debug: bool = False,
                 object_name: str = "netkit", workers: int = 1) -> None:
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
        self.workers = workers
        if workers > 1 and protocol == "pb":
            raise ValueError("--workers: pb serves from one process (Twisted's reactor); give --workers 1")
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together: give both")
        if client_ca and not tls_cert:
            raise ValueError("--client-ca checks client certificates during TLS: give --tls-cert and --tls-key too")
        if basic and protocol not in ("xmlrpc", "jsonrpc"):
            raise ValueError(f"--basic-env is HTTP basic auth; {protocol} has no HTTP: give --token-env")
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


def _announce(config, dispatcher, address, log):
    """The one line that says where the server listens (tests and users read it)."""
    host, port = address[:2]
    shown = f"[{host}]" if ":" in host else host
    if config.protocol == "pyro":
        where, extra = f"PYRO:{config.object_name}@{shown}:{port}", ", serpent only"
    elif config.protocol == "pb":
        where, extra = f"pb://{shown}:{port}", ""
    else:
        where, extra = f"{'https' if config.tls_cert else 'http'}://{shown}:{port}/", ""
    workers = f", {config.workers} processes" if config.workers > 1 else ""
    log("rpc", f"{config.protocol} on {where} ({len(dispatcher.registry.methods)} methods{extra}{workers}, root "
               f"{os.path.realpath(config.root)}, allow {', '.join(map(str, config.allow))})")


async def _serve_async(config, dispatcher, log, sock, notify):
    """Serve on the bound ``sock`` until SIGTERM/SIGINT (one process)."""
    import asyncio
    import signal

    from netkit.serve._system import sd_notify

    if config.protocol == "pyro":
        from netkit.rpc._pyro import PyroServer

        server = PyroServer(config, dispatcher, log)
    else:
        from netkit.rpc._http import HttpServer

        server = HttpServer(dispatcher, config.protocol, tls=tls_context(config), allow=config.allow,
                            auth=(config.token, config.basic), log=log)
    await server.start(sock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if notify:
        sd_notify(f"READY=1\nSTATUS=serving {config.protocol}\nMAINPID={os.getpid()}")
    await stop.wait()
    await server.close()


def _one_process(config, dispatcher, log, sock, notify=True) -> int:
    import asyncio

    from netkit.drivers.aio import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_serve_async(config, dispatcher, log, sock, notify))
    return 0


def _forked(config, dispatcher, log, sock) -> int:
    """``config.workers`` processes accepting on the one socket (the kernel hands each
    connection to one); SIGTERM/SIGINT reach every one; 1 when one of them failed."""
    import signal

    from netkit.serve._system import sd_notify

    children = []
    for number in range(1, config.workers + 1):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                code = _one_process(config, dispatcher, log, sock, notify=False)
            except BaseException as exc:  # noqa: BLE001 -- one line, then the exit code
                log("rpc", f"worker {number}: {type(exc).__name__}: {exc}")
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum, _frame):
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    sd_notify(f"READY=1\nSTATUS=serving {config.protocol} from {config.workers} processes\nMAINPID={os.getpid()}")
    failed = 0
    for child in children:
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        failed |= os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM, -signal.SIGINT)
    return 1 if failed else 0


def _nothing(address: tuple[str, int]) -> None:
    pass


def run(config: ServerConfig, log: Log | None = None,
        on_ready: Callable[[tuple[str, int]], object] = _nothing) -> int:
    """Serve until SIGTERM/SIGINT; 0 after a graceful stop. ValueError for a bad set-up,
    OSError when the port cannot be bound."""
    from netkit.serve._system import Log

    log = log or Log()
    dispatcher = build_dispatcher(config, log)
    try:
        if config.protocol == "pb":
            try:
                from netkit.rpc._pb import serve
            except ImportError as exc:
                raise ValueError(f"--protocol pb needs Twisted ({exc.name} is missing): pip install "
                                 "'netkit[rpc]'") from None
            serve(config, dispatcher, lambda address: (_announce(config, dispatcher, address, log), on_ready(address)),
                  log)
            code = 0
        else:
            from netkit.rpc._listen import bind_socket

            if config.protocol == "pyro":
                from netkit.rpc._pyro import serpent_only

                serpent_only()  # PYRO_SERIALIZER=pickle refused before anything listens
            sock = bind_socket(config.bind, config.port)
            address = sock.getsockname()[:2]
            _announce(config, dispatcher, address, log)
            on_ready(address)
            if config.workers > 1:
                code = _forked(config, dispatcher, log, sock)
            else:
                code = _one_process(config, dispatcher, log, sock)
    finally:
        dispatcher.close()
    log("rpc", "stopped")
    return code
