"""The exposed functions as one Pyro5 object on asyncio, and ``netkit rpc call PYRO:...``.

Pyro5's own daemon gives every connection a thread; this server speaks Pyro5's wire
protocol (its message classes, its serpent serializer) on one event loop instead, and runs
each call in the dispatcher's bounded pool under its deadline. Safe by default:

* serpent only: a message naming another serializer (marshal can build code objects and
  crash the interpreter on hostile bytes; pickle and dill are gone from Pyro5 and refused
  by name in PYRO_SERIALIZER) is dropped with its connection before a byte is decoded; so
  is anything that does not start with ``PYRO`` (a raw pickle);
* a peer outside ``--allow`` is closed at accept (:mod:`netkit.rpc._listen`);
* ``--token-env``: the client's handshake (``proxy._pyroHandshake``) must carry it;
* a message is at most ``--max-request`` bytes, also after zlib; an idle connection is
  closed after ``IDLE_SECONDS``;
* a fault reaches the client as the builtin exception a Python caller expects, without a
  server traceback (Pyro's daemon sends one by default);
* objects of the --module's @value_class classes are rebuilt as those classes (example
  5.8: Pyro keeps the class); any other class is refused by serpent's dict_to_class.
"""

import asyncio
import os

from netkit.rpc._faults import InvalidParams, RpcFault

__all__ = ["PyroServer", "pyro_call", "serpent_only"]

# A connection that sends nothing this long is closed: a client reconnects cheaply.
IDLE_SECONDS = 60.0
# What one read may bring (uvloop reads up to 256 KiB): the buffer holds at most one
# message plus one read before the client is refused as a flood.
READ_CHUNK = 256 << 10
# Pyro's fixed header.
HEADER = 40
# Methods every netkit object has besides the exposed ones (Pyro has no dotted names).
SYSTEM = ("listMethods", "methodHelp", "methodSignature", "multicall")


def serpent_only():
    """Pyro5's serpent serializer; ValueError for a PYRO_SERIALIZER asking for another
    one (configuring pickle, dill or marshal is refused, not ignored)."""
    wanted = os.environ.get("PYRO_SERIALIZER", "serpent")
    if wanted != "serpent":
        raise ValueError(f"PYRO_SERIALIZER={wanted}: netkit rpc speaks serpent only (pickle, dill and marshal "
                         "run or build code from a peer's bytes); unset it")
    from Pyro5 import serializers

    return serializers.serializers["serpent"]


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


class _Refused(Exception):
    """The connection is dropped; the message says why (for the log)."""


class PyroServer:
    """Pyro5's wire protocol for one object, ``config.object_name``."""

    def __init__(self, config, dispatcher, log):
        from Pyro5 import config as pyro

        self.config = config
        self.dispatcher = dispatcher
        self.log = log
        self.serpent = serpent_only()
        pyro.MAX_MESSAGE_SIZE = config.limits.max_request  # ReceivingMessage checks the header with it
        self.names = set(dispatcher.registry.methods) | set(SYSTEM)
        self.meta = {"methods": self.names, "oneway": set(), "attrs": set()}
        self.open = 0
        _register_value_classes(dispatcher.registry)

    async def start(self, sock):
        from netkit.rpc._listen import Listener
        from netkit.rpc._serve import tls_context

        self.listener = Listener(lambda: _Connection(self), lambda: self.open, allow=self.config.allow,
                                 tls=tls_context(self.config), max_connections=self.config.limits.max_connections,
                                 log=self.log)
        return self.listener.start(sock)

    async def close(self):
        self.listener.close()

    def parse(self, buffer: bytearray):
        """The first whole message of ``buffer`` (removed from it), or None for more
        bytes; _Refused / ProtocolError for a message that is not served."""
        from Pyro5 import protocol

        if len(buffer) >= 4 and not buffer.startswith(b"PYRO"):
            raise _Refused("not a Pyro message (a pickle?)")
        if len(buffer) < HEADER:
            return None
        msg = protocol.ReceivingMessage(bytes(buffer[:HEADER]))  # version, magic, MAX_MESSAGE_SIZE
        if msg.serializer_id != self.serpent.serializer_id:
            raise _Refused("a serializer other than serpent")
        end = HEADER + msg.annotations_size + msg.data_size
        if len(buffer) < end:
            return None
        payload = bytes(buffer[HEADER:end])
        del buffer[:end]
        compressed = msg.flags & protocol.FLAGS_COMPRESSED
        msg.flags &= ~protocol.FLAGS_COMPRESSED
        msg.add_payload(payload)
        if compressed:
            import zlib

            limit = self.config.limits.max_request
            inflater = zlib.decompressobj()
            try:
                data = inflater.decompress(bytes(msg.data), limit + 1)
            except zlib.error:
                raise _Refused("a compressed message that does not inflate") from None
            if len(data) > limit or inflater.unconsumed_tail:
                raise _Refused(f"a compressed message that inflates past {limit} bytes")
            msg.data = data
        return msg

    def _message(self, kind, seq, data, flags=0):
        from Pyro5 import protocol

        return protocol.SendingMessage(kind, flags, seq, self.serpent.serializer_id, data)

    def _fault(self, seq, exc):
        from Pyro5 import errors

        if not isinstance(exc, (errors.PyroError, ValueError, TypeError, AttributeError, OSError, TimeoutError,
                                RuntimeError)):
            exc = RuntimeError(f"{type(exc).__name__} while reading the call")
        exc._pyroTraceback = []
        return self._message(5, seq, self.serpent.dumps(exc), flags=1)  # MSG_RESULT, FLAGS_EXCEPTION

    def handshake(self, msg):
        import hmac

        from Pyro5 import errors, protocol

        try:
            data = self.serpent.loads(bytes(msg.data))
            token = self.config.token
            if token is not None:
                given = data.get("handshake") if isinstance(data, dict) else None
                if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
                    raise errors.SecurityError("a token is needed (proxy._pyroHandshake)")
            if not isinstance(data, dict) or data.get("object") != self.config.object_name:
                raise errors.DaemonError("unknown object")
            reply = {"handshake": "hello", "meta": self.meta}
            return self._message(protocol.MSG_CONNECTOK, msg.seq, self.serpent.dumps(reply))
        except Exception as exc:  # noqa: BLE001 -- a peer's bytes: any failure refuses it
            return self._message(protocol.MSG_CONNECTFAIL, msg.seq, self.serpent.dumps(str(exc)[:200]))

    def invoke(self, msg):
        """The reply to a call (None for a oneway one), or a coroutine that makes it when
        the call runs in the pool."""
        from Pyro5 import core, errors, protocol

        oneway = msg.flags & protocol.FLAGS_ONEWAY
        try:
            object_id, method, args, kwargs = self.serpent.loadsCall(bytes(msg.data))
            if object_id == core.DAEMON_NAME and method == "get_metadata":
                return self._result(msg, self.meta)
            if object_id != self.config.object_name:
                raise errors.DaemonError("unknown object")
            if msg.flags & protocol.FLAGS_BATCH:
                return self._batch(msg, args)
            if kwargs:
                raise InvalidParams("arguments by keyword are not supported; pass them in order").builtin()
            name = self._name(method)
            found = self.dispatcher.registry.methods.get(name)
            if found is not None and found.inline:
                return self._result(msg, self.dispatcher.call_blocking(name, list(args)))
        except RpcFault as fault:
            return None if oneway else self._fault(msg.seq, fault.builtin())
        except Exception as exc:  # noqa: BLE001 -- the call's fault, or a peer's bad bytes
            return None if oneway else self._fault(msg.seq, exc)
        return self._later(msg, name, args)

    def _name(self, method):
        if not isinstance(method, str) or method not in self.names:
            raise AttributeError(f"no exposed method {str(method)[:80]!r}")
        return f"system.{method}" if method in SYSTEM and method not in self.dispatcher.registry.methods else method

    def _result(self, msg, result, flags=0):
        from Pyro5 import protocol

        if msg.flags & protocol.FLAGS_ONEWAY:
            return None
        return self._message(protocol.MSG_RESULT, msg.seq, self.serpent.dumps(result), flags)

    async def _later(self, msg, name, args):
        from Pyro5 import protocol

        try:
            result = await self.dispatcher.call(name, list(args))
        except RpcFault as fault:
            return None if msg.flags & protocol.FLAGS_ONEWAY else self._fault(msg.seq, fault.builtin())
        return self._result(msg, result)

    async def _batch(self, msg, calls):
        from Pyro5 import core, protocol

        results = []
        for method, args, kwargs in calls:
            try:
                if kwargs:
                    raise InvalidParams("arguments by keyword are not supported").builtin()
                results.append(await self.dispatcher.call(self._name(method), list(args)))
            except Exception as exc:  # noqa: BLE001 -- sent back as Pyro does
                exc = exc.builtin() if isinstance(exc, RpcFault) else exc
                exc._pyroTraceback = []
                results.append(core._ExceptionWrapper(exc))
                break
        return self._result(msg, results, protocol.FLAGS_BATCH)


class _Connection(asyncio.Protocol):
    """One client: messages answered in order, one at a time (a Pyro proxy waits for each
    reply); bytes beyond one message's limit while a call runs are a flood."""

    def __init__(self, server):
        self.server = server
        self.buffer = bytearray()
        self.busy = False
        self.paused = False
        self.shaken = False
        self.transport = None
        self.idle = None
        self.peer = "?"

    def connection_made(self, transport):
        self.transport = transport
        self.peer = (transport.get_extra_info("peername") or ("?",))[0]
        self.server.open += 1
        self._touch()

    def connection_lost(self, exc):
        self.server.open -= 1
        if self.idle:
            self.idle.cancel()

    # A client that sends and never reads (a flood of pings) fills the transport's buffer:
    # stop reading its requests until it has read the replies.
    def pause_writing(self):
        self.paused = True
        self.transport.pause_reading()

    def resume_writing(self):
        self.paused = False
        self.transport.resume_reading()
        self._serve()

    def _touch(self):
        if self.idle:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(IDLE_SECONDS, self.transport.close)

    def data_received(self, data):
        self.buffer += data
        self._touch()
        if len(self.buffer) > self.server.config.limits.max_request + HEADER + READ_CHUNK:
            return self._refuse("more bytes than a message may have")
        self._serve()

    def _refuse(self, why):
        self.server.log("rpc", f"{self.peer} refused: {why}")
        self.transport.abort()

    def _serve(self):
        from Pyro5 import errors, protocol

        while not self.busy and not self.paused and not self.transport.is_closing():
            try:
                msg = self.server.parse(self.buffer)
            except (_Refused, errors.ProtocolError) as exc:
                return self._refuse(str(exc))
            if msg is None:
                return
            if msg.type == protocol.MSG_PING:
                self.transport.write(self.server._message(protocol.MSG_PING, msg.seq, b"pong").data)
            elif msg.type == protocol.MSG_CONNECT:
                reply = self.server.handshake(msg)
                self.transport.write(reply.data)
                self.shaken = reply.type == protocol.MSG_CONNECTOK
                if not self.shaken:
                    self.transport.close()
            elif msg.type == protocol.MSG_INVOKE and self.shaken:
                reply = self.server.invoke(msg)
                if asyncio.iscoroutine(reply):
                    self.busy = True
                    asyncio.get_running_loop().create_task(self._finish(reply))
                elif reply is not None:
                    self.transport.write(reply.data)
            else:
                return self._refuse(f"message type {msg.type} before or instead of a call")

    async def _finish(self, pending):
        try:
            reply = await pending
        except Exception as exc:  # noqa: BLE001 -- never a dead connection task
            reply = self.server._fault(0, RuntimeError(type(exc).__name__))
        self.busy = False
        if self.transport.is_closing():
            return
        if reply is not None:
            self.transport.write(reply.data)
        self._serve()


def fault_code(name: str):
    """The code of the fault class ``name`` (``OutsideRoot`` -> -32001), or None: a Pyro
    or PB client reads the class from the front of the message."""
    from netkit.rpc._faults import RpcFault

    return next((cls.code for cls in RpcFault.__subclasses__() if cls.__name__ == name), None)


def pyro_call(url, method, params, *, token=None, cafile=None, cert=None, key=None, timeout=30.0):
    """``method(*params)`` on the Pyro object at ``url`` (serpent); Fault for the server's
    refusals, NetError subclasses for the connection."""
    from Pyro5 import config as pyro
    from Pyro5 import errors
    from Pyro5.api import Proxy

    from netkit.core.errors import ConnectError, UsageError
    from netkit.rpc._client import Fault

    pyro.SERIALIZER = "serpent"
    pyro.MAX_MESSAGE_SIZE = 64 << 20
    if cafile or cert:
        pyro.SSL = True
        pyro.SSL_CACERTS = cafile or ""
        pyro.SSL_CLIENTCERT, pyro.SSL_CLIENTKEY = cert or "", key or ""
    method = method.removeprefix("system.")
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
        except errors.TimeoutError:  # a CommunicationError too
            from netkit.core.errors import TimedOut

            raise TimedOut(f"{url}: no answer within {timeout:g} s", phase="total") from None
        except errors.CommunicationError as exc:
            raise ConnectError(f"{url}: {exc}") from None
        except errors.PyroError as exc:
            raise Fault(-32603, str(exc)) from None
        except (ValueError, TypeError, AttributeError, OSError, RuntimeError) as exc:
            name, _, message = str(exc).partition(": ")
            if fault_code(name) is not None:
                raise Fault(fault_code(name), message) from None
            raise Fault(-32000, f"{type(exc).__name__}: {exc}") from None
