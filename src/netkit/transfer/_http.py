"""HTTP and HTTPS transfers on a blocking socket.

The head of a response is read with :class:`netkit.proto.http1.ResponseParser`; the body
of an identity-coded response (Content-Length or until the end of the connection) then
goes straight from ``recv_into`` on one preallocated buffer to the file: no allocation per
block, which is what lets a Python client keep up with curl (a 1 GiB loopback download
is bound by copies, not by the interpreter). Chunked and compressed bodies take the
parser's path.

Resume sends ``Range: bytes=N-`` with ``If-Range`` (the ETag or Last-Modified seen before,
kept in the ``.part`` file's extended attributes across runs): a ``206`` must start at N
(``Content-Range`` is checked), a ``200`` means the server ignored the range or the file
changed, and the file is fetched again from zero rather than corrupted.
"""

import os

from netkit.core.errors import ConnectError, ProtocolError
from netkit.core.target import is_ip_literal, lookup_name
from netkit.proto.http import Request, TooManyRedirects, connect_bytes, next_request, request_bytes, tunnel_refused
from netkit.proto.http1 import ResponseParser, ascii_number, content_length
from netkit.transfer._common import (
    BUFFER_SIZE,
    RCVBUF,
    CutError,
    HTTPStatusError,
    limits,
    local_error,
    receive,
    utc_seconds,
)

__all__ = ["fetch", "head", "open_connection", "send"]

# Bytes of a server's answer to an upload kept to show (put prints it, as curl does).
KEEP_ANSWER = 65536
# Seconds to wait, after a server stopped reading an upload, for the answer it sent (it is
# on its way or already here: a server answers, then closes).
EARLY_ANSWER_WAIT = 2.0
# Bytes one call of the gzip/deflate decoder may produce: a megabyte of compressed zeros
# expands to a gigabyte, which must never be held at once (a "gzip bomb"); what is left
# of the input is decoded in further calls.
DECODE_BLOCK = 1024 * 1024
# The extended attribute that remembers, on a .part file, which version of the remote
# file it holds (so `get -c` the next day does not glue two versions together).
VALIDATOR_XATTR = "user.netkit.validator"


def open_connection(host, port, timeout, rcvbuf=RCVBUF):
    """A connected TCP socket, errors mapped onto netkit's tree.

    A ``_socket.socket``, as the blocking check driver's: the ``socket`` module's enums cost
    ~10 ms of start-up, a few percent of a gigabyte's download. TLS and uploads promote it
    to a ``socket.socket`` (``_full_socket``); ``ssl`` imports the module anyway."""
    import _socket

    from netkit.core.errmap import lookup_error, map_error
    from netkit.drivers._common import numeric_addrinfo, where

    try:
        if is_ip_literal(host):
            infos = numeric_addrinfo(host, port, _socket.AF_UNSPEC, _socket.SOCK_STREAM)
        else:
            infos = _socket.getaddrinfo(lookup_name(host), port, 0, _socket.SOCK_STREAM)
    except OSError as exc:
        raise lookup_error(exc, host) from None
    last = None
    for family, socktype, proto, _name, addr in infos:
        sock = _socket.socket(family, socktype, proto)
        peer = where(addr[0], addr[1])
        try:
            if rcvbuf:
                sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect(addr)
            return sock, peer
        except OSError as exc:
            sock.close()
            last = map_error(exc, peer, "connect", timeout=timeout)
    raise last or ConnectError(f"{host!r} has no address to connect to")


def _full_socket(sock):
    """``sock`` as a ``socket.socket`` (what ssl wraps, and the one with sendfile())."""
    import socket

    if isinstance(sock, socket.socket):
        return sock
    full = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    full.settimeout(sock.gettimeout())
    return full


def _proxy_for(url, options):
    if options.no_proxy:
        return None
    if options.proxy is not None:
        from netkit.core.proxies import env_bypasses

        env = options.env if options.env is not None else os.environ
        return None if env_bypasses(url.host, url.port, env) else options.proxy
    from netkit.core.proxies import proxy_from_env

    try:
        return proxy_from_env(url.scheme, url.host, url.port, options.env if options.env is not None else os.environ)
    except ValueError as exc:
        from netkit.core.errors import UsageError

        raise UsageError(f"the proxy in the environment {exc}") from None


class _Conn:
    """One request's connection: the socket and where it goes (for messages), shown to
    the watchdog (--max-time, --speed-limit) while it is open."""

    def __init__(self, sock, peer, watchdog=None):
        self.sock = sock
        self.peer = peer
        self.watchdog = watchdog
        if watchdog is not None:
            watchdog.watch(self)

    def close(self):
        if self.watchdog is not None:
            self.watchdog.unwatch(self)
        try:
            self.sock.close()
        except OSError:
            pass


def _read_head(conn, method):
    parser = ResponseParser(method)
    body = []
    sock = conn.sock
    while not parser.head_done:
        data = sock.recv(65536)
        try:
            body = parser.feed(data)
        except ProtocolError as exc:
            if data:
                raise
            # The end of the data before the end of the head: a cut, worth another try.
            raise CutError(f"{conn.peer}: {exc}") from None
    return parser, body


def _connect(url, options, watchdog=None):
    from netkit.core.errmap import map_error

    proxy = _proxy_for(url, options)
    host, port = (proxy.host, proxy.port) if proxy else (url.host, url.port)
    timeout = options.connect_timeout if watchdog is None else watchdog.remaining(options.connect_timeout)
    sock, peer = open_connection(host, port, timeout)  # and the TLS handshake below: the connect phase
    conn = _Conn(sock, peer, watchdog)
    try:
        if proxy is not None and url.scheme == "https":
            sock.sendall(connect_bytes(url, proxy))
            parser, _ = _read_head(conn, "CONNECT")
            if not 200 <= parser.status < 300:
                raise tunnel_refused(proxy, url, parser.status, parser.reason)
        if url.scheme == "https":
            from netkit.drivers._tls import context_for
            from netkit.proto.actions import TLSParams

            ctx = context_for(TLSParams(url.host, verify=not options.insecure, cafile=options.cacert))
            conn.sock = sock = _full_socket(sock)
            conn.sock = ctx.wrap_socket(sock, server_hostname=url.host)
        conn.sock.settimeout(options.timeout if watchdog is None else watchdog.remaining(options.timeout))  # reads
    except OSError as exc:
        conn.close()
        raise map_error(exc, peer, "connect", doing=f"in the TLS handshake with {peer}", timeout=timeout) from None
    except BaseException:
        conn.close()
        raise
    return conn, proxy


def _request(url, options, method, headers, body=None, body_file=None, pacer=None, watchdog=None):
    """Send one request, follow redirects (:func:`netkit.proto.http.next_request`, the
    policy check uses too); returns (conn, parser, first body chunks, url)."""
    from netkit.core.errmap import map_error
    from netkit.core.target import Target

    if options.user is not None:
        url = Target(url.scheme, url.host, url.port, url.path, options.user, options.password, url.text)
    request = Request(method, url, headers, body)
    while True:
        url = request.url
        conn, proxy = _connect(url, options, watchdog)
        try:
            size = os.fstat(body_file.fileno()).st_size if body_file is not None else None
            head = request_bytes(request, proxy=proxy, user_agent=options.user_agent or _agent(), body_size=size)
            if options.trace is not None:
                _trace(options, "*", f"connected to {conn.peer}" + (f" (proxy {proxy.netloc})" if proxy else ""))
                _trace(options, ">", head[: len(head) - len(request.body or b"")])
            conn.sock.sendall(head)
            early = None
            if body_file is not None:
                conn.sock = _full_socket(conn.sock)  # for its sendfile()
                try:
                    _send_file(conn.sock, body_file, size, pacer)
                except OSError:
                    early = _early_answer(conn, request.method)
                    if early is None:
                        raise
            parser, chunks = early or _read_head(conn, request.method)
            if options.trace is not None:
                _trace(options, "<", header_text(parser.version, parser.status, parser.reason,
                                                 parser.headers).encode("latin-1", "replace"))
        except OSError as exc:
            conn.close()
            raise map_error(exc, conn.peer, "read", doing=f"talking to {conn.peer}", timeout=options.timeout) from None
        except BaseException:
            conn.close()
            raise
        following = None
        if options.follow:
            try:
                following = next_request(request, parser.status, parser.header("Location"), options.max_redirects)
            except TooManyRedirects as exc:
                conn.close()
                raise TooManyRedirects(f"{exc}; raise --max-redirects if that is expected") from None
            except BaseException:
                conn.close()
                raise
        if following is None:
            return conn, parser, chunks, url
        conn.close()
        if following.method != request.method:
            body_file = None  # 303 (or POST after 301/302): the body stays behind
        request = following


def _early_answer(conn, method):
    """The answer a server sent before it stopped reading the request body (a 401, a 413:
    nginx answers and closes, the rest of the body unread), or None. Only a refusal or a
    redirect stands for the request; an early 2xx of a body that was not all sent is no
    proof the server stored it, so the failed send is said instead."""
    try:
        conn.sock.settimeout(EARLY_ANSWER_WAIT)
        parser, chunks = _read_head(conn, method)
    except (OSError, ProtocolError):
        return None
    return (parser, chunks) if parser.status >= 300 else None


def _trace(options, kind, payload):
    """One -v piece to ``options.trace``, through the transcript's masking (credential
    headers, the -H headers off the redirect policy's allowlist, URL passwords: never
    shown, in either direction)."""
    from netkit.core.secrets import caller_secrets
    from netkit.drivers._common import Transcript

    transcript = Transcript()
    if kind == "*":
        transcript.note(payload)
    else:
        transcript.data(kind, payload)
    for line in transcript.lines(caller_secrets(options.headers)):
        options.trace(line)


def _send_file(sock, f, size, pacer):
    """The request body from a file: sendfile() in blocks, each one counted (progress,
    --limit-rate)."""
    if pacer is not None:
        pacer.begin(0, size)
    block = pacer.block_size(4 * 1024 * 1024) if pacer is not None else size
    offset = 0
    while offset < size:
        sent = sock.sendfile(f, offset, min(block, size - offset))
        if not sent:
            raise CutError(f"the server stopped reading the body after {offset} of {size} bytes")
        offset += sent
        if pacer is not None:
            pacer(sent)


def _agent() -> str:
    from netkit import __version__

    return f"netkit/{__version__}"


def _status_error(parser, url):
    retry_after = None
    value = parser.header("Retry-After")
    seconds = ascii_number(value) if value is not None else None
    if seconds is not None:
        retry_after = float(seconds)
    from netkit.core.text import for_terminal

    return HTTPStatusError(f"{url.url()}: {parser.status} {for_terminal(parser.reason)}".rstrip(), parser.status,
                           retry_after)


def head(url, options, method="HEAD"):
    """(status, reason, version, headers) of ``url`` (redirects followed)."""
    with limits(options, None, {}) as watchdog:
        conn, parser, _, _ = _request(url, options, method, options.headers, watchdog=watchdog)
        conn.close()
    return parser.status, parser.reason, parser.version, parser.headers


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def http_date(text):
    """POSIX seconds of an IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``, RFC 9110 5.6.7),
    or None."""
    parts = text.replace(",", " ").split()
    if len(parts) != 6 or parts[5].upper() != "GMT":
        return None
    _, day, month, year, clock, _ = parts
    hms = clock.split(":")
    numbers = [ascii_number(t, 4) for t in (year, day, *hms)] if len(hms) == 3 else [None]
    if None in numbers or month.lower() not in _MONTHS:
        return None
    year, day, hour, minute, second = numbers
    if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61 and year >= 1970):
        return None  # a date a file can carry (os.utime), or none at all
    return utc_seconds(year, _MONTHS.index(month.lower()) + 1, day, hour, minute, second)


def _content_range_start(value):
    # "bytes 100-199/200" -> (100, 200); "bytes */200" -> (None, 200)
    try:
        unit, _, rest = value.strip().partition(" ")
        span, _, total = rest.partition("/")
        if unit.lower() != "bytes":
            return None, None
        total = ascii_number(total)
        if span.strip() == "*":
            return None, total
        return ascii_number(span.partition("-")[0]), total
    except ValueError:
        return None, None


def _get_validator(part):
    if part.part is None:  # written directly (a device, stdout): nothing to remember
        return None
    try:  # through the descriptor: a name swapped after the open cannot redirect it
        return os.getxattr(part.fd, VALIDATOR_XATTR).decode("latin-1")
    except (OSError, AttributeError):
        return None


def _set_validator(part, value):
    if part.part is None or value is None:
        return
    try:
        os.setxattr(part.fd, VALIDATOR_XATTR, value.encode("latin-1"))
    except (OSError, AttributeError):  # a filesystem without user xattrs: resume unchecked
        pass


def _validator(parser):
    etag = parser.header("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return parser.header("Last-Modified")


def fetch(url, part, options, pacer, state):
    """Fetch ``url`` into ``part`` from ``part.offset`` on; returns a dict of facts
    (``mtime``, ``status``, ``restarted``). ``state`` persists across retries."""
    offset = part.offset
    headers = list(options.headers)
    method = options.method or ("POST" if options.data is not None else "GET")
    compressed = options.compressed
    if compressed:
        headers.append(("Accept-Encoding", "gzip, deflate"))
        if offset:
            part.restart()
            offset = 0
    if offset and method == "GET":
        headers.append(("Range", f"bytes={offset}-"))
        validator = state.get("validator") or _get_validator(part)
        if validator:
            headers.append(("If-Range", validator))
    elif offset:
        part.restart()
        offset = 0
    with limits(options, pacer, state) as watchdog:
        conn, parser, chunks, final_url = _request(url, options, method, headers, body=options.data,
                                                   watchdog=watchdog)
        try:
            return _receive(conn, parser, chunks, final_url, part, pacer, state, offset, options)
        finally:
            conn.close()


def _receive(conn, parser, chunks, url, part, pacer, state, offset, options):
    from netkit.core.errmap import map_error

    status = parser.status
    facts = {"status": status, "headers": parser.headers, "restarted": False, "mtime": None}
    if status == 416 and offset:
        _, total = _content_range_start(parser.header("Content-Range", ""))
        if total == offset:  # the .part already holds the whole file
            pacer.begin(offset, total)
            return facts
        part.restart()
        raise CutError(f"{url.url()}: the server refused the range from byte {offset}; starting over")
    if status >= 400:
        raise _status_error(parser, url)
    if offset:
        if status == 206:
            start, _total = _content_range_start(parser.header("Content-Range", ""))
            if start != offset:
                raise ProtocolError(f"{url.url()}: asked for bytes from {offset}, the server sent "
                                    f"Content-Range {parser.header('Content-Range')!r}")
        else:  # 200: the range was ignored (or If-Range said the file changed)
            part.restart()
            offset = 0
            facts["restarted"] = True
    validator = _validator(parser)
    if validator is not None:
        state["validator"] = validator
        _set_validator(part, validator)
    modified = parser.header("Last-Modified")
    if modified and options.keep_mtime:
        facts["mtime"] = http_date(modified)
    chunked = any(n.lower() == "transfer-encoding" for n, _ in parser.headers)
    encoding = (parser.header("Content-Encoding") or "").strip().lower()
    decoder = None
    if options.compressed and encoding in ("gzip", "x-gzip", "deflate"):
        import zlib

        decoder = zlib.decompressobj(47 if encoding != "deflate" else 15)
    total = None if chunked else content_length(parser.headers)
    if total is not None:
        pacer.announce(offset + total)  # --max-filesize; a compressed body only grows when decoded
    pacer.begin(offset, offset + total if total is not None and decoder is None else None)
    try:
        if parser.done or chunked or decoder is not None:
            _slow_body(conn, parser, chunks, part, pacer, decoder, url)
        else:
            _fast_body(conn, chunks, part, pacer, total, url, options.timeout)
    except OSError as exc:
        raise map_error(exc, conn.peer, "read", doing=f"receiving from {conn.peer}", timeout=options.timeout) from None
    return facts


def _slow_body(conn, parser, chunks, part, pacer, decoder, url):
    bad_coding = ()  # zlib.error when decoding; zlib is not loaded for a plain body
    if decoder is not None:
        import zlib

        bad_coding = zlib.error
    sock = conn.sock
    try:
        while True:
            for chunk in chunks:
                if decoder is not None:
                    _decode(decoder, chunk, part, pacer)
                elif chunk:
                    part.write(chunk)
                    pacer(len(chunk))
            if parser.done:
                break
            try:
                chunks = parser.feed(sock.recv(BUFFER_SIZE))
            except ProtocolError as exc:
                raise CutError(f"{exc} ({pacer.done} bytes written)") from None
        if decoder is not None:
            tail = decoder.flush()
            if tail:
                part.write(tail)
                pacer(len(tail))
            if not decoder.eof:
                raise ProtocolError(f"{url.url()}: the compressed body ends before its end (Content-Encoding "
                                    f"{parser.header('Content-Encoding')!r})")
    except bad_coding as exc:
        raise ProtocolError(f"{url.url()}: the body is not the {parser.header('Content-Encoding')!r} the server "
                            f"said it is ({exc})") from None


def _decode(decoder, data, part, pacer):
    """Decode ``data`` into ``part`` at most DECODE_BLOCK bytes at a time, each block
    counted before the next is made (--max-filesize stops a bomb within a block)."""
    while data:
        out = decoder.decompress(data, DECODE_BLOCK)
        data = decoder.unconsumed_tail
        if out:
            part.write(out)
            pacer(len(out))
        elif decoder.eof:
            break


def _fast_body(conn, chunks, part, pacer, total, url, timeout):
    """The hot loop (:func:`netkit.transfer._common.receive`): splice or recv_into."""
    remaining = total
    for chunk in chunks:
        if remaining is not None:
            chunk = chunk[:remaining]
            remaining -= len(chunk)
        part.write(chunk)
        pacer(len(chunk))
    if remaining == 0:
        return
    got = receive(conn.sock, part, pacer, remaining, timeout)
    if remaining is not None and got < remaining:
        raise CutError(f"{url.url()}: the connection closed after {total - remaining + got} of {total} bytes")


def send(path, url, options, method="PUT", pacer=None, state=None):
    """Upload the file at ``path`` as the body of a PUT (or POST); returns (status, reason,
    headers, response body up to 64 KiB). ``state`` outlives retries (the deadline)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise local_error(exc, f"opening {path}") from None
    headers = list(options.headers)
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", options.content_type or "application/octet-stream"))
    with f, limits(options, pacer, {} if state is None else state) as watchdog:
        conn, parser, chunks, final = _request(url, options, method, headers, body_file=f, pacer=pacer,
                                               watchdog=watchdog)
        try:
            if parser.status >= 400:
                raise _status_error(parser, final)
            body = _read_answer(conn, parser, chunks, final, options)
        finally:
            conn.close()
    return parser.status, parser.reason, parser.headers, body


def _read_answer(conn, parser, chunks, url, options):
    """The server's answer to an upload, read to its end (a cut one is an error: the
    upload may not have been stored), keeping the first KEEP_ANSWER bytes."""
    from netkit.core.errmap import map_error

    kept = bytearray()
    size = 0
    try:
        while True:
            for chunk in chunks:
                size += len(chunk)
                if len(kept) < KEEP_ANSWER:
                    kept += chunk[: KEEP_ANSWER - len(kept)]
            if parser.done:
                return bytes(kept)
            chunks = parser.feed(conn.sock.recv(BUFFER_SIZE))
    except ProtocolError as exc:
        raise CutError(f"{url.url()}: the answer to the upload was cut after {size} bytes of its body ({exc}); "
                       f"the server may not have stored the file") from None
    except OSError as exc:
        raise map_error(exc, conn.peer, "read", doing=f"reading the answer from {conn.peer}",
                        timeout=options.timeout) from None


def header_text(version, status, reason, headers) -> str:
    """The head as urllib's ``info()`` (and curl -I) shows it, control characters (C1
    ones arrive as bytes 0x80-0x9f) escaped for the terminal."""
    from netkit.core.text import for_terminal

    lines = [f"{version} {status} {for_terminal(reason)}".rstrip()]
    lines.extend(f"{n}: {for_terminal(v)}" for n, v in headers)
    return "\r\n".join(lines) + "\r\n\r\n"

