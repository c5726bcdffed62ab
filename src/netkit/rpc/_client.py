"""``netkit rpc call``: one call to an XML-RPC or JSON-RPC server (``http(s)://``), a Pyro
object (``PYRO:name@host:port``) or a Perspective Broker root (``pb://host:port``).

The server's reply is as hostile as any peer's bytes: it is read up to ``MAX_REPLY``
bytes, XML parsed defused and depth-bounded, JSON depth-bounded.
"""

from __future__ import annotations

import json

from netkit.core.errors import ConnectError, NetError, ProtocolError, TimedOut, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from netkit.core.timeout import Timeout

__all__ = ["MAX_REPLY", "Fault", "call", "parse_arg"]

# A reply larger than this is a flood, not an answer (an ls is capped at 10,000 names).
MAX_REPLY = 64 << 20
# Nesting accepted in a reply, as the server accepts in a request (plus the envelope).
MAX_REPLY_DEPTH = 64
# Seconds a call may take when the caller names no timeout (the CLI's --timeout default).
DEFAULT_TIMEOUT = 30.0


class Fault(NetError):
    """The server answered with a fault: ``code`` and ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"fault {code}: {message}")
        self.code = code
        self.message = message


def parse_arg(text: str) -> Any:
    """A command-line argument: ``str:``, ``int:``, ``float:``, ``bool:``, ``json:`` say the
    type; otherwise JSON when it parses (``5``, ``[1,2]``, ``{"a":1}``, ``null``), else the
    text itself (``/var/log``). Nested at most MAX_REPLY_DEPTH levels (deeper, the
    marshallers recurse past Python's stack, and no server takes it)."""
    from netkit.rpc._registry import depth_over

    too_deep = f"argument {text[:40]!r}...: nested deeper than {MAX_REPLY_DEPTH} levels"
    try:
        value = _parse_arg(text)
    except RecursionError:
        raise UsageError(too_deep) from None
    if depth_over(value, MAX_REPLY_DEPTH):
        raise UsageError(too_deep)
    return value


def _parse_arg(text: str):
    kind, colon, rest = text.partition(":")
    if colon and kind in ("str", "int", "float", "bool", "json"):
        try:
            if kind == "str":
                return rest
            if kind == "int":
                return int(rest)
            if kind == "float":
                return float(rest)
            if kind == "bool":
                if rest.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("expects true or false")
                return rest.lower() in ("true", "1", "yes")
            return json.loads(rest)
        except ValueError as exc:
            raise UsageError(f"argument {text[:80]!r}: {kind}: {exc}; e.g. int:5, str:007, bool:true, "
                             'json:{"a":1}') from None
    try:
        return json.loads(text)
    except ValueError:
        return text


def call(url: str, method: str, params: Sequence[Any] = (), *, protocol: str | None = None, token: str | None = None,
         user: str | None = None, password: str | None = None, cafile: str | None = None, insecure: bool = False,
         cert: str | None = None, key: str | None = None, timeout: float | Timeout | None = DEFAULT_TIMEOUT) -> Any:
    """The result of ``method(*params)`` at ``url``; Fault when the server says no;
    NetError subclasses when it cannot be reached or breaks the protocol. ``timeout``:
    seconds for the whole call, or a :class:`~netkit.core.timeout.Timeout` (over HTTP,
    ``connect`` bounds the connection and ``read`` each wait for the answer; Pyro and PB
    take its longest bound as one)."""
    params = list(params)
    lower = url.lower()
    if lower.startswith(("http://", "https://")):
        return _http_call(url, method, params, protocol or "xmlrpc", token, user, password, cafile, insecure,
                          cert, key, timeout)
    if lower.startswith(("pyro:", "pyros:")):
        from netkit.rpc._pyro import pyro_call

        return pyro_call(url, method, params, token=token, cafile=cafile, cert=cert, key=key,
                         timeout=_seconds(timeout))
    if lower.startswith("pb://"):
        from netkit.rpc._pb import pb_call

        return pb_call(url, method, params, token=token, cafile=cafile, timeout=_seconds(timeout))
    raise UsageError(f"{url[:120]!r}: give http(s)://host:port/ (xmlrpc, jsonrpc), PYRO:name@host:port or "
                     "pb://host:port")


def _seconds(timeout) -> float:
    from netkit.core.timeout import Timeout

    return Timeout.of(timeout, DEFAULT_TIMEOUT).longest or DEFAULT_TIMEOUT


def _tls_context(ssl, cafile, insecure, cert, key):
    """The client's TLS context; UsageError naming the file when the CA file or the client
    certificate cannot be read or is not PEM (an "internal error: SSLError" before)."""
    def why(exc):
        return getattr(exc, "reason", None) or exc.strerror or exc

    try:
        ctx = ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError) as exc:
        raise UsageError(f"the CA file {cafile}: {why(exc)}; give a file of -----BEGIN CERTIFICATE----- "
                         f"blocks") from None
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        try:
            ctx.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            raise UsageError(f"the client certificate {cert} (key {key}): {why(exc)}; give PEM files of a "
                             f"certificate and its key") from None
    return ctx


def _http_call(url, method, params, protocol, token, user, password, cafile, insecure, cert, key, timeout):
    import base64
    import http.client
    import socket
    import ssl
    import threading

    from netkit.core.target import parse_target
    from netkit.core.timeout import Timeout

    try:
        target = parse_target(url, {"http": 80, "https": 443})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if protocol == "jsonrpc":
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}).encode()
        kind = "application/json"
    else:
        from xmlrpc.client import dumps

        try:
            body = dumps(tuple(params), method, allow_none=True).encode()
        except (TypeError, OverflowError) as exc:
            raise UsageError(f"cannot send these arguments as XML-RPC: {exc}") from None
        kind = "text/xml"
    headers = {"Content-Type": kind, "User-Agent": "netkit-rpc"}
    if token is None:  # the URL's user, the password completed from ~/.netrc (core.credentials)
        from netkit.core.credentials import resolve

        user, password = resolve(target, user, password, netrc_login=False)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    elif user is not None:
        pair = f"{user}:{password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    if target.scheme == "https":
        ctx = _tls_context(ssl, cafile, insecure, cert, key)
        conn = http.client.HTTPSConnection(target.host, target.port, context=ctx)
    else:
        conn = http.client.HTTPConnection(target.host, target.port)
    where = target.netloc
    # The socket's timeout bounds each read; a server trickling a byte a second would pass
    # every one of them for days. The watchdog bounds the whole exchange: at ``timeout`` it
    # shuts the socket, and whatever the read then says, the answer is TimedOut.
    expired, sockets = threading.Event(), []

    def connect(address, _timeout=None, *args, **kw):  # the raw socket, kept: http.client drops conn.sock early
        sockets.append(socket.create_connection(address, bounds.limit("connect"), *args, **kw))
        sockets[-1].settimeout(bounds.limit("read"))
        return sockets[-1]

    conn._create_connection = connect
    bounds = Timeout.of(timeout, DEFAULT_TIMEOUT)
    watchdog = threading.Timer(bounds.total if bounds.total is not None else 1e9, _expire, (sockets, expired))
    watchdog.daemon = True
    if bounds.total is not None:
        watchdog.start()
    try:
        try:
            conn.request("POST", target.path or "/", body, headers)
            response = conn.getresponse()
            data = response.read(MAX_REPLY + 1)
        except Exception:
            if expired.is_set():
                raise TimeoutError from None
            raise
        if expired.is_set():
            raise TimeoutError
    except OSError as exc:  # the socket's, ssl's; http.client's RemoteDisconnected is a reset
        raise _mapped(exc, where, bounds, expired.is_set(), bool(sockets)) from None
    except http.client.HTTPException as exc:  # a status line or a length that does not parse
        from netkit.core.text import for_terminal

        raise ProtocolError(f"{where}: not an HTTP answer ({type(exc).__name__}: "
                            f"{for_terminal(str(exc)[:100])})") from None
    finally:
        watchdog.cancel()
        conn.close()
    if len(data) > MAX_REPLY:
        raise ProtocolError(f"{where}: a reply over {MAX_REPLY >> 20} MiB: not read")
    if response.status != 200:
        from netkit.core.text import for_terminal

        first = data.decode("utf-8", "replace").strip().splitlines()[:1]
        raise ProtocolError(f"{where}: HTTP {response.status} {for_terminal(response.reason[:80])}"
                            + (f": {for_terminal(first[0][:200])}" if first else ""))
    return _json_reply(data, where) if protocol == "jsonrpc" else _xml_reply(data, where)


def _mapped(exc, where, bounds, expired, connected):
    """The netkit error of the OSError an exchange ended with; ``expired``: the watchdog
    cut it at the total."""
    from netkit.core.errmap import hinted, map_error
    from netkit.core.errors import RefusedError

    phase = "read" if connected else "connect"
    if expired or (isinstance(exc, TimeoutError) and getattr(bounds, phase) is None):  # the total's bound
        return TimedOut(f"{where}: no answer within {bounds.total:g} s", phase="total")
    error = map_error(exc, where, phase, timeout=bounds.limit(phase))
    if isinstance(error, RefusedError):
        return hinted(error, " (is netkit rpc serve running there?)")
    if type(error) is ConnectError and connected:
        return hinted(error, " (the server closed the connection: outside its --allow?)")
    return error


def _expire(sockets, expired):
    """The watchdog's end of an exchange past its deadline: the reads fail at once."""
    import socket

    expired.set()
    for sock in list(sockets):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _xml_reply(data, where):
    from xmlrpc.client import Fault as XmlFault

    from netkit.rpc._faults import RpcFault
    from netkit.rpc._http import parse_xml

    try:
        _, params = parse_xml(data, MAX_REPLY_DEPTH)
    except XmlFault as fault:
        raise Fault(fault.faultCode, fault.faultString) from None
    except RpcFault as fault:
        raise ProtocolError(f"{where}: a reply that is not XML-RPC: {fault.message}") from None
    if len(params) != 1:
        raise ProtocolError(f"{where}: a reply with {len(params)} values; XML-RPC answers one")
    return params[0]


def _json_reply(data, where):
    from netkit.rpc._registry import depth_over

    try:
        reply = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"{where}: a reply that is not JSON: {str(exc)[:100]}") from None
    if depth_over(reply, MAX_REPLY_DEPTH) or not isinstance(reply, dict):
        raise ProtocolError(f"{where}: a reply that is not a JSON-RPC response")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise ProtocolError(f"{where}: a JSON-RPC error that is not an object")
        raise Fault(error.get("code"), str(error.get("message")))
    return reply.get("result")
