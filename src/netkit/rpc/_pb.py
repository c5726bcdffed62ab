"""The exposed functions as a Twisted Perspective Broker root (examples 5.14-5.16), and
``netkit rpc call pb://...``.

Every connection lives on the reactor (no thread per client); a call runs in a bounded
thread pool through the dispatcher (deadline, typed faults). Jelly's type allowlist is
PB's own: basic types only, plus the --module's @value_class classes registered as
RemoteCopy (example 5.8's "the class travels", for PB); an instance of any other class
is refused by jelly. A fault is a ``pb.Error`` whose message names it, so the server logs
no "Peer will receive following PB traceback" and the client gets the message (not the
text's "Traceback unavailable"); an unexpected exception gives the client one line.
Also: ``--allow`` refuses the connection before the first byte, an idle connection is
closed after IDLE_SECONDS, a string or list longer than ``--max-request`` is refused by
banana, and ``--token-env`` puts the methods behind ``login(token)``.
"""


__all__ = ["pb_call", "serve"]

# A connection that says nothing this long is closed.
IDLE_SECONDS = 60.0


def _pb_error():
    from twisted.spread import pb

    class RpcError(pb.Error):
        """A fault for a PB client: ``"OutsideRoot: '..' ..."``."""

    return RpcError


def _methods_class(dispatcher, pool, reactor):
    from twisted.internet import threads
    from twisted.spread import pb

    from netkit.rpc._faults import RpcFault

    RpcError = _pb_error()

    def method(name):
        def call(self, *args):
            d = threads.deferToThreadPool(reactor, pool, dispatcher.call_blocking, name, list(args))
            d.addTimeout(dispatcher.limits.call_seconds + 1.0, reactor)  # the dispatcher's own comes first

            def fault(failure):
                value = failure.value
                if isinstance(value, RpcFault):
                    raise RpcError(f"{type(value).__name__}: {value.message}")
                from twisted.internet.defer import TimeoutError as DeferTimeout

                if isinstance(value, DeferTimeout):
                    raise RpcError(f"CallTimeout: {name} took more than {dispatcher.limits.call_seconds:g} s")
                raise RpcError(f"InternalFault: {name} failed on the server")

            return d.addErrback(fault)

        return call

    namespace = {f"remote_{name}": method(name) for name in dispatcher.registry.methods}
    for system in ("listMethods", "methodHelp", "methodSignature", "multicall"):
        namespace.setdefault(f"remote_{system}", method(f"system.{system}"))
    return type("NetkitRoot", (pb.Root,), namespace)


def _register_value_classes(registry):
    from twisted.spread import pb

    for wire, cls in registry.value_classes.items():
        copy = type(cls.__name__, (cls, pb.RemoteCopy), {})
        pb.setUnjellyableForClass(wire, copy)


def serve(config, dispatcher, on_ready, log):
    """Serve pb://bind:port until SIGTERM/SIGINT."""
    import hmac

    from twisted.internet import reactor
    from twisted.protocols import policies
    from twisted.python.threadpool import ThreadPool
    from twisted.spread import pb

    from netkit.rpc._listen import Listener  # its allow() rule, shared

    pool = ThreadPool(minthreads=1, maxthreads=config.limits.threads, name="netkit-rpc-pb")
    reactor.callWhenRunning(pool.start)
    reactor.addSystemEventTrigger("during", "shutdown", pool.stop)
    _register_value_classes(dispatcher.registry)
    methods = _methods_class(dispatcher, pool, reactor)
    RpcError = _pb_error()
    if config.token is None:
        root = methods()
    else:
        class Login(pb.Root):
            def remote_login(self, token):
                if isinstance(token, str) and hmac.compare_digest(token.encode(), config.token.encode()):
                    return methods()
                raise RpcError("Unauthorized: a wrong token")

        root = Login()
    rule = Listener(None, None, allow=config.allow)
    limit = config.limits.max_request

    class Factory(pb.PBServerFactory):
        def buildProtocol(self, addr):
            if not rule.allowed(addr.host):
                log("rpc", f"{addr.host} refused: not in --allow")
                return None
            proto = super().buildProtocol(addr)
            proto.sizeLimit = limit
            return proto

    class Idle(policies.TimeoutFactory):
        def buildProtocol(self, addr):
            if not rule.allowed(addr.host):
                log("rpc", f"{addr.host} refused: not in --allow")
                return None
            return super().buildProtocol(addr)

    factory = Idle(Factory(root), timeoutPeriod=IDLE_SECONDS)
    if config.tls_cert:
        port = reactor.listenSSL(config.port, factory, _tls_options(config), interface=config.bind)
    else:
        port = reactor.listenTCP(config.port, factory, interface=config.bind)
    address = port.getHost()
    on_ready((address.host, address.port))
    reactor.run()


def _tls_options(config):
    from twisted.internet import ssl

    with open(config.tls_cert, "rb") as f:
        cert = f.read()
    with open(config.tls_key, "rb") as f:
        key = f.read()
    pair = ssl.PrivateCertificate.loadPEM(cert + b"\n" + key)
    if config.client_ca:
        with open(config.client_ca, "rb") as f:
            ca = ssl.Certificate.loadPEM(f.read())
        return pair.options(ca)
    return pair.options()


def pb_call(url, method, params, *, token=None, cafile=None, timeout=30.0):
    """``method(*params)`` on the PB root at ``pb://host:port``; Fault for the server's
    refusals, NetError subclasses for the connection."""
    from twisted.internet import error, reactor
    from twisted.spread import pb

    from netkit.core.errors import ConnectError, UsageError
    from netkit.core.target import parse_target
    from netkit.rpc._client import Fault
    from netkit.rpc._pyro import fault_code

    try:
        target = parse_target(url, {"pb": None})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    method = method.removeprefix("system.")
    outcome = {}
    # One call per process: Twisted's reactor runs once (--list is one run, "describe").
    factory = pb.PBClientFactory()
    if cafile:
        from twisted.internet import ssl

        with open(cafile, "rb") as f:
            trust = ssl.Certificate.loadPEM(f.read())
        reactor.connectSSL(target.host, target.port, factory, ssl.optionsForClientTLS(target.host, trust),
                           timeout=timeout)
    else:
        reactor.connectTCP(target.host, target.port, factory, timeout=timeout)
    d = factory.getRootObject()
    if token is not None:
        d.addCallback(lambda root: root.callRemote("login", token))
    if method == "describe":  # --list: names, then their help, in one run of the reactor
        def describe(root):
            def helps(names):
                calls = [{"methodName": "system.methodHelp", "params": [n]} for n in names]
                return root.callRemote("multicall", calls).addCallback(lambda got: [names, got])

            return root.callRemote("listMethods").addCallback(helps)

        d.addCallback(describe)
    else:
        d.addCallback(lambda root: root.callRemote(method, *params))
    d.addTimeout(timeout, reactor)

    def done(result):
        outcome["result"] = result
        reactor.callLater(0, reactor.stop)

    d.addBoth(done)
    reactor.run(installSignalHandlers=False)
    result = outcome.get("result")
    from twisted.python.failure import Failure

    if not isinstance(result, Failure):
        return result
    value = result.value
    from twisted.internet.defer import TimeoutError as DeferTimeout

    if isinstance(value, (DeferTimeout, error.TimeoutError)):  # addTimeout's, connectTCP's
        from netkit.core.errors import TimedOut

        raise TimedOut(f"{target.netloc}: no answer within {timeout:g} s", phase="total") from None
    if isinstance(value, (error.ConnectError, error.ConnectionLost, error.ConnectionDone)):
        raise ConnectError(f"{target.netloc}: {value.__class__.__name__}: {value}") from None
    message = result.getErrorMessage()
    name, _, rest = message.partition(": ")
    if fault_code(name) is not None:
        raise Fault(fault_code(name), rest)
    if name == "Unauthorized":
        raise Fault(-32006, rest)
    raise Fault(-32603, message)
