"""The exposed functions as one Pyro5 object, and ``netkit rpc call PYRO:...``.

Pyro5 speaks serpent here and nothing else: the other serializers are taken out of this
process's table before the daemon starts (marshal can build code objects and crash the
interpreter on hostile bytes; pickle and dill are gone from Pyro5 and stay refused by
name), so a client choosing another one is disconnected before its bytes are decoded.
Also:

* a peer outside ``--allow`` is closed before its handshake is read;
* ``--token-env``: the client's handshake (``proxy._pyroHandshake``) must carry it;
* a request is at most ``--max-request`` bytes (Pyro's MAX_MESSAGE_SIZE); an idle
  connection is closed after ``IDLE_SECONDS``; connections are served by a bounded pool;
* a fault reaches the client as the builtin exception a Python caller expects, without the
  server's traceback (Pyro sends it by default) unless ``--debug``;
* objects of the --module's @value_class classes are rebuilt as those classes (example
  5.8: Pyro keeps the class); any other class is refused by serpent's dict_to_class.
"""

import os

from netkit.rpc._faults import RpcFault

__all__ = ["pyro_call", "serve"]

# A connection that says nothing this long is closed: its pool thread goes to the next.
IDLE_SECONDS = 60.0
# Connections served at once (Pyro gives each a pool thread while it is open).
MAX_POOL = 256
REFUSED_SERIALIZERS = ("pickle", "dill", "marshal", "json", "msgpack")


def _refuse_other_serializers():
    """Only serpent stays in Pyro5's table (ValueError for a PYRO_SERIALIZER asking for
    another one: configuring pickle, dill or marshal is refused, not ignored)."""
    wanted = os.environ.get("PYRO_SERIALIZER", "serpent")
    if wanted != "serpent":
        raise ValueError(f"PYRO_SERIALIZER={wanted}: netkit rpc speaks serpent only (pickle, dill and marshal "
                         "run or build code from a peer's bytes); unset it")
    from Pyro5 import config, serializers

    config.SERIALIZER = "serpent"
    for key in [k for k, v in serializers.serializers_by_id.items() if v.serializer_id != 1 or
                type(v).__name__ != "SerpentSerializer"]:
        del serializers.serializers_by_id[key]
    for name in [n for n in serializers.serializers if n != "serpent"]:
        del serializers.serializers[name]


def _exposed_class(dispatcher):
    """A Pyro object class with one method per exposed function, each run by the
    dispatcher (deadline, pool, typed faults), plus listMethods/methodHelp/
    methodSignature/multicall (Pyro has no dotted names)."""
    from Pyro5.server import behavior, expose

    def method(name):
        def call(self, *args):
            try:
                return dispatcher.call_blocking(name, list(args))
            except RpcFault as fault:
                raise fault.builtin() from None

        call.__name__ = name
        call.__doc__ = None
        return expose(call)

    namespace = {name: method(name) for name in dispatcher.registry.methods}
    for system in ("listMethods", "methodHelp", "methodSignature", "multicall"):
        namespace.setdefault(system, method(f"system.{system}"))
    return behavior(instance_mode="single")(type("NetkitRpc", (object,), namespace))


def _register_value_classes(registry):
    from Pyro5.api import register_dict_to_class

    for wire, cls in registry.value_classes.items():
        def rebuild(_name, data, cls=cls):
            obj = cls.__new__(cls)
            for key, value in data.items():
                if key != "__class__" and isinstance(key, str) and key.isidentifier() and not key.startswith("_"):
                    setattr(obj, key, value)
            return obj

        register_dict_to_class(wire, rebuild)


def _daemon_class(config, allowed, log):
    import hmac

    from Pyro5 import errors
    from Pyro5.server import Daemon

    class NetkitDaemon(Daemon):
        def _handshake(self, conn, denied_reason=None):
            try:
                peer = conn.sock.getpeername()[0]
            except OSError:
                return False
            if not allowed(peer):
                log("rpc", f"{peer} refused: not in --allow")
                return False
            try:
                return super()._handshake(conn, denied_reason)
            except KeyError:  # a serializer id not in the table: not serpent
                log("rpc", f"{peer} refused: a serializer other than serpent")
                return False

        def validateHandshake(self, conn, data):
            if config.token is not None:
                if not isinstance(data, str) or not hmac.compare_digest(data.encode(), config.token.encode()):
                    raise errors.SecurityError("a token is needed (proxy._pyroHandshake)")
            return "hello"

        def handleRequest(self, conn):
            try:
                return super().handleRequest(conn)
            except KeyError:
                raise errors.ConnectionClosedError("a serializer other than serpent") from None

        def _sendExceptionResponse(self, connection, seq, serializer_id, exc_value, tbinfo, flags=0,
                                   annotations=None):
            if not config.debug:
                tbinfo = []
                if not isinstance(exc_value, (errors.PyroError, ValueError, TypeError, AttributeError, OSError,
                                              TimeoutError, RuntimeError)):
                    exc_value = RuntimeError(type(exc_value).__name__)
            return super()._sendExceptionResponse(connection, seq, serializer_id, exc_value, tbinfo, flags,
                                                  annotations)

    return NetkitDaemon


def serve(config, dispatcher, log, on_ready):
    """Serve the dispatcher's functions as PYRO:<object>@bind:port until SIGTERM/SIGINT."""
    import signal
    import threading

    from netkit.rpc._http import HttpServer  # its allow() rule, shared

    _refuse_other_serializers()
    from Pyro5 import config as pyro

    pyro.SERVERTYPE = "thread"
    pyro.THREADPOOL_SIZE = min(MAX_POOL, config.limits.max_connections)
    pyro.THREADPOOL_SIZE_MIN = 4
    pyro.COMMTIMEOUT = IDLE_SECONDS
    pyro.MAX_MESSAGE_SIZE = config.limits.max_request
    pyro.DETAILED_TRACEBACK = False
    pyro.SOCK_NODELAY = True
    if config.tls_cert:
        pyro.SSL = True
        pyro.SSL_SERVERCERT, pyro.SSL_SERVERKEY = config.tls_cert, config.tls_key
        if config.client_ca:
            pyro.SSL_CACERTS, pyro.SSL_REQUIRECLIENTCERT = config.client_ca, True
    _register_value_classes(dispatcher.registry)
    rule = HttpServer(dispatcher, allow=config.allow)
    daemon = _daemon_class(config, rule.allowed, log)(host=config.bind, port=config.port)
    uri = daemon.register(_exposed_class(dispatcher), config.object_name)
    log("rpc", f"pyro on {uri} ({len(dispatcher.registry.methods)} methods, serpent only, root "
               f"{os.path.realpath(config.root)}, allow {', '.join(map(str, config.allow))})")
    on_ready(daemon.locationStr)
    stopping = threading.Event()

    def stop(signum, _frame):
        if not stopping.is_set():
            stopping.set()
            log("rpc", f"{signal.Signals(signum).name}: stopping")
            threading.Thread(target=daemon.shutdown, daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        daemon.requestLoop(lambda: not stopping.is_set())
    finally:
        daemon.close()


_FAULT_CODES = {"ParseFault": -32700, "InvalidRequest": -32600, "MethodNotFound": -32601, "InvalidParams": -32602,
                "InternalFault": -32603, "CallFailed": -32000, "OutsideRoot": -32001, "CallTimeout": -32003,
                "TooBig": -32004, "Busy": -32005}


def pyro_call(url, method, params, *, token=None, cafile=None, cert=None, key=None, timeout=30.0):
    """``method(*params)`` on the Pyro object at ``url`` (serpent); Fault for the server's
    refusals, NetError subclasses for the connection."""
    from netkit.core.errors import ConnectError, UsageError
    from netkit.rpc._client import Fault

    from Pyro5 import config as pyro
    from Pyro5 import errors
    from Pyro5.api import Proxy

    pyro.SERIALIZER = "serpent"
    pyro.MAX_MESSAGE_SIZE = 64 << 20
    if cafile or cert:
        pyro.SSL = True
        pyro.SSL_CACERTS = cafile or ""
        pyro.SSL_CLIENTCERT, pyro.SSL_CLIENTKEY = cert or "", key or ""
    if method.startswith("system."):
        method = method[len("system."):]
    try:
        proxy = Proxy(url)
    except errors.PyroError as exc:
        raise UsageError(f"{url[:120]!r}: {exc}; a Pyro URL is PYRO:name@host:port") from None
    with proxy:
        proxy._pyroTimeout = timeout
        if token is not None:
            proxy._pyroHandshake = token
        try:
            return getattr(proxy, method)(*params)
        except errors.CommunicationError as exc:
            raise ConnectError(f"{url}: {exc}") from None
        except errors.PyroError as exc:
            raise Fault(-32603, str(exc)) from None
        except (ValueError, TypeError, AttributeError, OSError, RuntimeError) as exc:
            name, _, message = str(exc).partition(": ")
            if name in _FAULT_CODES:
                raise Fault(_FAULT_CODES[name], message) from None
            raise Fault(-32000, f"{type(exc).__name__}: {exc}") from None
