"""XML-RPC and JSON-RPC 2.0 over HTTP(S) on asyncio and aiohttp's low-level server.

One event loop holds every connection (no thread per client); a call's function runs in
the dispatcher's bounded pool under its deadline. Each connection is accepted here, and a
peer outside ``allow`` is closed before a byte is read or a TLS handshake is spent on it
(the texts' ``verify_request``). Then, per request:

* the body is read up to ``max_request`` bytes (more: 413), within ``READ_SECONDS``;
  a gzip body is inflated to at most ``max_request`` bytes (a decompression bomb stops
  there) -- aiohttp's own inflating is off;
* XML is parsed by defusedxml's expat parser with DTDs forbidden (billion laughs and the
  quadratic blow-up need a DTD: refused at its first byte) and elements nested at most
  a few levels deeper than ``max_depth`` arrays;
* JSON is parsed by the json module, its nesting then checked against ``max_depth``.
"""

import asyncio
import functools
import hmac
import json

from netkit.rpc._faults import InvalidRequest, ParseFault, RpcFault, TooBig

__all__ = ["HttpServer", "parse_xml", "parse_xml_call"]

# A request body arriving slower than this is a slowloris holding a connection.
READ_SECONDS = 30.0
# A JSON-RPC batch's answers past this size: the rest of its calls are not run. 100 ls of
# 10,000 long names are 250 MB, held in memory for a request of 5 KB.
MAX_BATCH_REPLY = 16 << 20
# An idle keep-alive connection is closed after this long: clients reconnect cheaply.
KEEPALIVE_SECONDS = 30.0
# XML elements per array level of the arguments (<value><array><data>) plus the envelope.
_XML_PER_LEVEL = 3
_XML_ENVELOPE = 8


def _finite_double(unmarshaller, data):
    """<double>: float() also reads nan and inf, which XML-RPC has not (its clients in
    other languages fail on them)."""
    import math

    value = float(data)
    if not math.isfinite(value):
        raise ValueError(f"{data[:20]!r} is not an XML-RPC double")
    unmarshaller.append(value)
    unmarshaller._value = 0


@functools.cache
def _unmarshaller_class():
    """xmlrpc.client's Unmarshaller reading only finite doubles (made once)."""
    from xmlrpc.client import Unmarshaller

    dispatch = dict(Unmarshaller.dispatch)
    dispatch["double"] = _finite_double
    return type("_Unmarshaller", (Unmarshaller,), {"dispatch": dispatch})


def parse_xml(body: bytes, max_depth: int):
    """(method name or None, params) of an XML-RPC methodCall or methodResponse, parsed
    defused and depth-bounded; ParseFault / TooBig otherwise (a response's <fault> is
    raised as xmlrpc.client.Fault)."""
    from xml.parsers.expat import ExpatError
    from xmlrpc.client import Fault

    from defusedxml import DefusedXmlException
    from defusedxml.xmlrpc import DefusedExpatParser

    target = _unmarshaller_class()(use_builtin_types=True)
    parser = DefusedExpatParser(target, forbid_dtd=True)
    expat = parser._parser  # type: ignore[attr-defined]  # xmlrpc's ExpatParser keeps its pyexpat parser private; the depth limit hooks its handlers
    start, end = expat.StartElementHandler, expat.EndElementHandler
    limit = max_depth * _XML_PER_LEVEL + _XML_ENVELOPE
    depth = 0

    def on_start(tag, attrs):
        nonlocal depth
        depth += 1
        if depth > limit:
            raise TooBig(f"XML nested deeper than {max_depth} levels of arrays and structs")
        start(tag, attrs)

    def on_end(tag):
        nonlocal depth
        depth -= 1
        end(tag)

    expat.StartElementHandler, expat.EndElementHandler = on_start, on_end
    try:
        parser.feed(body)
        parser.close()
        params = target.close()
    except (RpcFault, Fault):
        raise
    except DefusedXmlException as exc:
        raise ParseFault(f"refused XML: {type(exc).__name__} (DTDs and entities are not accepted)") from None
    except ExpatError as exc:
        raise ParseFault(f"not well-formed XML: {exc}") from None
    except Exception as exc:  # the unmarshaller's own complaints: a bad <int>, an unknown tag
        raise ParseFault(f"not XML-RPC: {type(exc).__name__}: {str(exc)[:200]}") from None
    return target.getmethodname(), list(params)


def parse_xml_call(body: bytes, max_depth: int):
    """(method name, params) of an XML-RPC methodCall; ParseFault / TooBig otherwise."""
    from xmlrpc.client import Fault

    try:
        name, params = parse_xml(body, max_depth)
    except Fault:
        raise InvalidRequest("a <fault> is a reply, not a call") from None
    if not name:
        raise InvalidRequest("no methodName: an XML-RPC request is a <methodCall>")
    return name, params


def _dumps(values, allow_none=True) -> str:
    """A methodResponse of ``values``, with integers past 32 bits as ``<i8>`` (the byte
    counts of df and du pass 2**31; Python's, Java's and Ruby's clients read i8) instead of
    xmlrpc.client's OverflowError."""
    import xmlrpc.client

    if not _has_big_int(values):
        return xmlrpc.client.dumps(values, methodresponse=True, allow_none=allow_none)
    marshaller = xmlrpc.client.Marshaller("utf-8", allow_none)
    marshaller.dispatch = dict(marshaller.dispatch)
    marshaller.dispatch[int] = _dump_i8
    return "<?xml version='1.0'?>\n<methodResponse>\n" + marshaller.dumps(values) + "</methodResponse>\n"


def _dump_i8(_marshaller, value, write):
    if not -2**63 <= value < 2**63:
        raise OverflowError("int exceeds 64 bits")
    tag = "int" if -2**31 <= value < 2**31 else "i8"
    write(f"<value><{tag}>{int(value)}</{tag}></value>\n")


def _has_big_int(value) -> bool:
    """Whether ``value`` holds an int past 32 bits; ValueError for a NaN or an infinity
    (xmlrpc.client writes them as <double>nan</double>, which no XML-RPC client reads)."""
    import math

    stack = [value]
    found = False
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item} is not an XML-RPC double")
        if isinstance(item, int) and not isinstance(item, bool):
            if not -2**31 <= item < 2**31:
                found = True
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def _xml_reply(result=None, fault=None) -> bytes:
    from xmlrpc.client import Fault, dumps

    if fault is not None:
        return dumps(Fault(fault.code, fault.message), methodresponse=True).encode()
    try:
        return _dumps((result,)).encode("utf-8", "xmlcharrefreplace")
    except (TypeError, OverflowError, ValueError) as exc:
        return dumps(Fault(-32603, f"the result cannot be sent as XML-RPC: {exc}"), methodresponse=True).encode()


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")


def _not_json(word):
    """NaN, Infinity and -Infinity: Python's json reads them, JSON (RFC 8259) has none."""
    raise ValueError(f"{word} is not a JSON number")


def _json_error(fault, ident):
    return {"jsonrpc": "2.0", "error": {"code": fault.code, "message": fault.message}, "id": ident}


class _OneLine:
    """A logging handler writing aiohttp's complaints about a request (a smuggling attempt,
    a header too long: aiohttp answers 400 itself) as one line of the server's log: its
    own handler would print a traceback per hostile request, a log flooded by any client."""

    def __init__(self, log):
        import logging

        self.handler = type("_Handler", (logging.Handler,), {"emit": self._emit})()
        self.log = log

    def _emit(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        why = " ".join(str(exc).split())[:200] if exc is not None else ""
        self.log("rpc", f"{record.getMessage()[:200]}{': ' + why if why else ''}")


def _one_line_logger(log):
    """A logger of its own for one server (not aiohttp's shared one), writing one line
    per event to ``log`` and nothing to the root logger."""
    import logging

    logger = logging.Logger("netkit.rpc.http")  # noqa: LOG001 -- its own, not the shared registry's
    logger.propagate = False
    logger.addHandler(_OneLine(log).handler)
    return logger


class HttpServer:
    """XML-RPC (``protocol="xmlrpc"``) or JSON-RPC 2.0 (``"jsonrpc"``) over HTTP(S).

    ``allow``: networks a peer must be in; ``auth``: (token or None, "user:password" or
    None); ``log(label, text)``: one line per event."""

    def __init__(self, dispatcher, protocol="xmlrpc", *, tls=None, allow=(), auth=(None, None), log=None):
        self.dispatcher = dispatcher
        self.protocol = protocol
        self.tls = tls
        self.allow = tuple(allow)
        self.token, self.basic = auth
        self.log = log or (lambda label, text: None)
        self.limits = dispatcher.limits
        self.listener = None
        self.address = None

    # -- connections ----------------------------------------------------------------------

    async def start(self, sock):
        from aiohttp import web

        from netkit.rpc._listen import Listener

        self._server = web.Server(self.handle, access_log=None, keepalive_timeout=KEEPALIVE_SECONDS,
                                  auto_decompress=False, max_line_size=8190, max_field_size=8190, max_headers=64,
                                  logger=_one_line_logger(self.log))
        self.listener = Listener(self._server, lambda: len(self._server.connections), allow=self.allow,
                                 tls=self.tls, max_connections=self.limits.max_connections, log=self.log)
        self.address = self.listener.start(sock)
        return self.address

    async def close(self):
        self.listener.close()
        await self._server.shutdown(1.0)

    # -- requests -------------------------------------------------------------------------

    def _authorized(self, header: str) -> bool:
        if self.token is None and self.basic is None:
            return True
        scheme, _, value = (header or "").partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self.token is not None:
            # surrogateescape: a header of bytes that are not UTF-8 is a wrong token, not a 500
            return hmac.compare_digest(value.strip().encode("utf-8", "surrogateescape"), self.token.encode())
        if scheme == "basic":
            import base64
            import binascii

            try:
                pair = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            if self.basic is not None and hmac.compare_digest(pair, self.basic.encode()):
                return True
            if self.token is not None:  # any user name, the token as the password
                return hmac.compare_digest(pair.partition(b":")[2], self.token.encode())
        return False

    async def _body(self, request) -> bytes:
        limit = self.limits.max_request
        if request.content_length is not None and request.content_length > limit:
            raise TooBig(f"a request of {request.content_length} bytes; the limit is {limit}")
        chunks, size = [], 0
        async with asyncio.timeout(READ_SECONDS):
            while True:
                chunk = await request.content.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise TooBig(f"a request over the limit of {limit} bytes")
                chunks.append(chunk)
        body = b"".join(chunks)
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "gzip":
            from defusedxml.xmlrpc import defused_gzip_decode

            try:
                body = defused_gzip_decode(body, limit)
            except ValueError as exc:
                raise TooBig(f"a gzip body that inflates past {limit} bytes ({exc})") from None
            except Exception:
                raise ParseFault("a gzip body that does not inflate") from None
        elif encoding not in ("identity", ""):
            raise ParseFault(f"Content-Encoding {encoding[:40]!r} is not accepted (identity or gzip)")
        return body

    async def handle(self, request):
        from aiohttp import web

        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"},
                                text=f"netkit rpc: {self.protocol} takes POST requests\n")
        if not self._authorized(request.headers.get("Authorization")):
            self.log("rpc", f"{request.remote} refused: bad or missing credentials")
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="netkit rpc"'},
                                text="netkit rpc: credentials needed\n")
        try:
            body = await self._body(request)
        except TimeoutError:
            return web.Response(status=408, text="netkit rpc: the request came too slowly\n")
        except TooBig as fault:
            self.log("rpc", f"{request.remote} refused: {fault.message}")
            return web.Response(status=413, text=f"netkit rpc: {fault.message}\n")
        except RpcFault as fault:
            body, early = b"", fault
        else:
            early = None
        if self.protocol == "jsonrpc":
            reply = await self._jsonrpc(body, early)
            if reply is None:
                return web.Response(status=204)
            return web.Response(body=reply, content_type="application/json")
        return web.Response(body=await self._xmlrpc(body, early, request.remote), content_type="text/xml")

    async def _xmlrpc(self, body, early, peer) -> bytes:
        try:
            if early:
                raise early
            name, params = parse_xml_call(body, self.limits.max_depth)
            return _xml_reply(await self.dispatcher.call(name, params))
        except RpcFault as fault:
            if isinstance(fault, (ParseFault, TooBig)):
                self.log("rpc", f"{peer} refused: {fault.message}")
            return _xml_reply(fault=fault)

    async def _jsonrpc(self, body, early):
        try:
            if early:
                raise early
            try:
                request = json.loads(body, parse_constant=_not_json)
            except RecursionError:
                raise TooBig(f"JSON nested deeper than {self.limits.max_depth} levels") from None
            except ValueError as exc:
                raise ParseFault(f"not JSON: {exc}") from None
        except RpcFault as fault:
            return json.dumps(_json_error(fault, None)).encode()
        if isinstance(request, list):
            from netkit.rpc._registry import MAX_MULTICALL

            if not request or len(request) > MAX_MULTICALL:
                return json.dumps(_json_error(InvalidRequest(f"a batch of 1 to {MAX_MULTICALL} calls"), None)).encode()
            parts, size = [], 0
            for item in request:
                if size > MAX_BATCH_REPLY:  # the rest is not run: its answers would not be sent
                    notification = isinstance(item, dict) and "id" not in item
                    reply = None if notification else _json_error(TooBig(
                        f"the batch's answers passed {MAX_BATCH_REPLY >> 20} MiB; send this call again"),
                        item.get("id") if isinstance(item, dict) else None)
                else:
                    reply = await self._json_one(item, batch=True)
                if reply is not None:
                    parts.append(self._dump(reply))
                    size += len(parts[-1])
            return b"[" + b", ".join(parts) + b"]" if parts else None
        reply = await self._json_one(request)
        return None if reply is None else self._dump(reply)

    def _dump(self, reply) -> bytes:
        try:
            return json.dumps(reply, default=_json_default, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            ident = reply.get("id") if isinstance(reply, dict) else None
            return json.dumps(_json_error(RpcFault(f"the result cannot be sent as JSON: {exc}"), ident)).encode()

    async def _json_one(self, request, batch=False):
        ident = request.get("id") if isinstance(request, dict) else None
        try:
            if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or not isinstance(
                    request.get("method"), str):
                raise InvalidRequest('a JSON-RPC 2.0 request is {"jsonrpc": "2.0", "method": ..., "params": [...], '
                                     '"id": ...}')
            if batch and request["method"] == "system.multicall":
                # 100 multicalls of 100 calls each would be 10,000 calls for one request.
                raise InvalidRequest("system.multicall cannot be in a batch: a batch is already many calls")
            params = request.get("params", [])
            if isinstance(params, dict):
                raise InvalidRequest("params by name are not supported; give them as an array")
            result = await self.dispatcher.call(request["method"], params)
        except RpcFault as fault:
            return None if "id" not in (request if isinstance(request, dict) else {"id": 0}) else \
                _json_error(fault, ident)
        if isinstance(request, dict) and "id" not in request:
            return None  # a notification: no reply
        return {"jsonrpc": "2.0", "result": result, "id": ident}
