"""Session fixture ``nginx``: a real nginx serving HTTP and HTTPS on loopback ephemeral ports.

Ports (attributes of the fixture value; ``host`` is "127.0.0.1"):

``http_port``        plain HTTP on 127.0.0.1 AND [::1] (same number).
``https_port``       TLS with ``pki.good`` (also on [::1]); SNI "alt.test" gets ``pki.alt``.
``expired_port``     TLS with ``pki.expired``.
``wrong_name_port``  TLS with ``pki.wrong_name`` (only "wrong.example").
``soon_port``        TLS with ``pki.soon`` (expires in 5 days).

Every port serves the same routes (Location headers are relative: ``absolute_redirect off``):

``/``                 200 text/html, body exactly ``<html><body>hello netkit</body></html>\\n``
``/big``              200, 1 MiB of b"x" (application/octet-stream)
``/slow``             200, 300 KiB of b"x" at 10 KiB/s (``limit_rate``, ~30 s in all): a client
                      with a 1-2 s DEADLINE times out mid-body. nginx sends a burst about
                      once a second, so a per-read (idle) timeout of 1-2 s may never fire:
                      use ``/stall`` for those.
``/stall``            200 text/html, chunked: 64 KiB of b"x", then nothing for 60 s (the
                      body's end is an SSI include of an upstream that never answers): any
                      idle/read timeout under a minute fires mid-body
``/redirect``         301 -> ``/``
``/r1``               302 -> ``/r2``; ``/r2`` 302 -> ``/``
``/loop``             302 -> ``/loop``
``/to-https``         301 -> ``https://localhost:<https_port>/``
``/see-other``        303 -> ``/``
``/temp-redirect``    307 -> ``/echo``
``/status/<code>``    that status for 201, 204 (no body), 404, 418, 500, 503; text/plain body
                      "<code> <text>\\n" (``status_body(code)``). nginx 1.22 sends 418 with
                      an empty reason phrase: ``HTTP/1.1 418 ``
``/auth/``            basic auth, user ``admin`` / ``nginx.password``; body ``secret area\\n``
``/echo``             any method; text/plain, one ``name=value`` per line, in this order:
                      method, uri ($request_uri, with query), ua (User-Agent), auth
                      (Authorization), ctype (Content-Type), xtest (X-Test), body (request
                      body, up to 64 KiB; last, since it may hold newlines). After
                      ``/temp-redirect`` it shows the redirected request (uri=/echo).
``/chunked``          200 with ``Transfer-Encoding: chunked``, no Content-Length, body
                      ``<html><body>hello chunked</body></html>\\n`` (HTTP/1.1 clients)
``/headers``          200 with response header ``X-Netkit: yes``, body ``headers\\n``

How three of them work:

* ``/echo`` proxies the request (body included) to a tiny server on a unix socket that answers
  418; ``proxy_intercept_errors`` + ``error_page 418 = @echo`` then runs a named location whose
  ``return 200 "..."`` is built from the original request's variables, ``$request_body``
  among them (read into one memory buffer by the proxy).
* ``/chunked`` is a static file with ``ssi on``: the SSI filter drops Content-Length, so nginx
  sends the body chunked to HTTP/1.1 clients without any special request header.
* ``/stall`` is a static file with ``ssi on`` ending in ``<!--# include virtual=... -->`` of a
  location proxied to a unix socket that the fixture holds listening but never accepts:
  nginx flushes the first 64 KiB, then waits for that upstream (``proxy_read_timeout``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers._base import ServerProcess, can_connect, need_binary, wait_listening
from tests.peers.certs import CertPair, Pki

NGINX = "/usr/sbin/nginx"
DEBIAN_PACKAGE = "nginx-light"
HOST = "127.0.0.1"
HOST6 = "::1"
USER = "admin"
INDEX_BODY = b"<html><body>hello netkit</body></html>\n"
CHUNKED_BODY = b"<html><body>hello chunked</body></html>\n"
SECRET_BODY = b"secret area\n"
BIG_SIZE = 1024 * 1024
SLOW_SIZE = 300 * 1024
# 300 KiB at 10 KiB/s lasts 30 s: a client with a 1-2 s deadline gives up mid-body.
SLOW_RATE = "10k"
# /stall: bytes sent before the stall, and how long the stall lasts (nginx's wait for the
# silent upstream). A minute outlasts any timeout a test would wait for.
STALL_PREFIX_SIZE = 64 * 1024
STALL_SECONDS = 60
# Request bodies /echo reflects; the whole body must fit one memory buffer.
ECHO_MAX_BODY = 64 * 1024
STATUS_TEXT = {
    201: "Created",
    204: "No Content",
    404: "Not Found",
    418: "I'm a teapot",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
STATUSES = tuple(STATUS_TEXT)
# The TCP ports nginx listens on (keys of the ports dict given to render_config).
PORT_NAMES = ("http", "https", "expired", "wrong_name", "soon")
# Unix sockets in the prefix: /echo's 418 upstream (nginx) and /stall's silent upstream.
ECHO_SOCK = "echo.sock"
BLACKHOLE_SOCK = "blackhole.sock"
# Connections the black hole queues (one per /stall request still waiting).
BLACKHOLE_BACKLOG = 128


@dataclass(frozen=True)
class Nginx:
    """A running nginx; see the module docstring for ports and routes."""

    host: str
    http_port: int
    https_port: int
    expired_port: int
    wrong_name_port: int
    soon_port: int
    user: str
    password: str
    root: Path
    prefix: Path
    error_log: Path
    access_log: Path

    def url(
        self,
        path: str = "/",
        scheme: str = "http",
        port: int | None = None,
        host: str | None = None,
    ) -> str:
        """``scheme://host:port/path``; the port defaults to http_port or https_port."""
        if port is None:
            port = self.https_port if scheme == "https" else self.http_port
        host = host or self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{scheme}://{host}:{port}{path}"


def _routes(https_port: int, htpasswd: Path, prefix: Path, root: Path) -> str:
    """Locations shared by every server block."""
    statuses = "\n".join(
        f"    location = /status/{code} {{ return {code}{_status_body(code)}; }}"
        for code in STATUS_TEXT
    )
    echo_text = (
        "method=$request_method\\n"
        "uri=$request_uri\\n"
        "ua=$http_user_agent\\n"
        "auth=$http_authorization\\n"
        "ctype=$content_type\\n"
        "xtest=$http_x_test\\n"
        "body=$request_body"
    )
    return f"""
    root {root};
    index index.html;
    location / {{ }}
    location = /big {{ default_type application/octet-stream; }}
    location = /slow {{ default_type application/octet-stream; limit_rate {SLOW_RATE}; }}
    location = /stall {{
        ssi on;
        default_type text/html;
        alias {root}/stall.html;
    }}
    location = /__blackhole {{
        internal;
        proxy_pass http://unix:{prefix / BLACKHOLE_SOCK}:/;
        proxy_read_timeout {STALL_SECONDS}s;
    }}
    location = /redirect {{ return 301 /; }}
    location = /r1 {{ return 302 /r2; }}
    location = /r2 {{ return 302 /; }}
    location = /loop {{ return 302 /loop; }}
    location = /to-https {{ return 301 https://localhost:{https_port}/; }}
    location = /see-other {{ return 303 /; }}
    location = /temp-redirect {{ return 307 /echo; }}
{statuses}
    location /auth/ {{
        auth_basic "netkit";
        auth_basic_user_file {htpasswd};
    }}
    location = /echo {{
        client_body_buffer_size {ECHO_MAX_BODY * 2};
        client_body_in_single_buffer on;
        proxy_pass http://unix:{prefix / ECHO_SOCK}:/;
        proxy_intercept_errors on;
        error_page 418 = @echo;
    }}
    location @echo {{
        default_type text/plain;
        return 200 "{echo_text}";
    }}
    location = /chunked {{
        ssi on;
        default_type text/html;
        alias {root}/chunked.html;
    }}
    location = /headers {{
        add_header X-Netkit yes always;
        return 200 "headers\\n";
    }}
"""


def status_body(code: int) -> bytes:
    """The body ``/status/<code>`` returns (empty for 204)."""
    return b"" if code == 204 else f"{code} {STATUS_TEXT[code]}\n".encode()


def _status_body(code: int) -> str:
    """`` "<code> <text>\\n"`` as a quoted nginx string, or nothing for 204."""
    body = status_body(code).decode().replace("\n", "\\n").replace('"', '\\"')
    return f' "{body}"' if body else ""


def render_config(prefix: Path, ports: dict[str, int], pki: Pki, htpasswd: Path, root: Path) -> str:
    """The whole nginx.conf for ``ports`` (keys: PORT_NAMES); also writes routes.conf."""
    routes = prefix / "routes.conf"
    routes.write_text(_routes(ports["https"], htpasswd, prefix, root))
    tmp = prefix / "tmp"

    def tls_server(port: int, pair: CertPair, extra_listen: str = "", server_name: str = "") -> str:
        return f"""
    server {{
        listen {HOST}:{port} ssl{" default_server" if not server_name else ""};
        {extra_listen}
        {f"server_name {server_name};" if server_name else ""}
        ssl_certificate {pair.cert};
        ssl_certificate_key {pair.key};
        include {routes};
    }}"""

    https = ports["https"]
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; text/plain txt; }}
    default_type text/plain;
    absolute_redirect off;
    keepalive_timeout 5s;
    sendfile on;
    ssl_protocols TLSv1.2 TLSv1.3;

    server {{
        listen unix:{prefix / ECHO_SOCK};
        location / {{ return 418; }}
    }}
    server {{
        listen {HOST}:{ports["http"]} default_server;
        listen [{HOST6}]:{ports["http"]} default_server;
        include {routes};
    }}
    {tls_server(https, pki.good, f"listen [{HOST6}]:{https} ssl default_server;")}
    {tls_server(https, pki.alt, server_name="alt.test")}
    {tls_server(ports["expired"], pki.expired)}
    {tls_server(ports["wrong_name"], pki.wrong_name)}
    {tls_server(ports["soon"], pki.soon)}
}}
"""


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry in nginx's ``{SHA}`` format (base64 of SHA-1)."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return f"{user}:{{SHA}}{digest}\n"


def write_docroot(root: Path) -> None:
    """The static files behind /, /big, /slow, /stall, /chunked and /auth/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_bytes(INDEX_BODY)
    (root / "chunked.html").write_bytes(CHUNKED_BODY)
    (root / "big").write_bytes(b"x" * BIG_SIZE)
    (root / "slow").write_bytes(b"x" * SLOW_SIZE)
    (root / "stall.html").write_bytes(
        b"x" * STALL_PREFIX_SIZE + b'<!--# include virtual="/__blackhole" -->never\n'
    )
    (root / "auth").mkdir(exist_ok=True)
    (root / "auth" / "index.html").write_bytes(SECRET_BODY)


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports, each free on both 127.0.0.1 and ::1 when checked."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s4 = socket.socket(socket.AF_INET)
            s4.bind((HOST, 0))
            held.append(s4)
            port = s4.getsockname()[1]
            s6 = socket.socket(socket.AF_INET6)
            try:
                s6.bind((HOST6, port))
            except OSError:
                s6.close()
                continue
            held.append(s6)
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


@contextlib.contextmanager
def running_nginx(prefix: Path, pki: Pki) -> Iterator[Nginx]:
    """Write config and docroot under ``prefix``, run nginx (retrying on a taken port)."""
    binary = need_binary(NGINX, DEBIAN_PACKAGE)
    password = secrets.token_urlsafe(12)
    root = prefix / "html"
    write_docroot(root)
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    htpasswd = prefix / "htpasswd"
    htpasswd.write_text(htpasswd_line(USER, password))
    conf = prefix / "nginx.conf"
    pid_file = prefix / "nginx.pid"
    chosen: dict[str, int] = {}

    def factory(attempt: int) -> ServerProcess:
        chosen.clear()
        chosen.update(zip(PORT_NAMES, _free_ports(len(PORT_NAMES))))
        conf.write_text(render_config(prefix, chosen, pki, htpasswd, root))
        pid_file.unlink(missing_ok=True)
        (prefix / ECHO_SOCK).unlink(missing_ok=True)
        server: ServerProcess

        def ready() -> bool:
            # nginx writes its pid file only after binding every listening socket.
            if not pid_file.exists() or pid_file.read_text().strip() != str(server.pid):
                return False
            return all(can_connect(HOST, port) for port in chosen.values())

        server = ServerProcess(
            "nginx",
            [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
            log_file=prefix / "logs" / "stderr.log",
            ready=ready,
            extra_logs=[prefix / "logs" / "error.log"],
        )
        return server

    # /stall's upstream: listening (connections queue in the kernel), never accepted.
    with socket.socket(socket.AF_UNIX) as blackhole:
        blackhole.bind(str(prefix / BLACKHOLE_SOCK))
        blackhole.listen(BLACKHOLE_BACKLOG)
        with ServerProcess.start_with_retries(factory):
            wait_listening(HOST6, chosen["http"], name="nginx [::1]")
            yield Nginx(
                host=HOST,
                http_port=chosen["http"],
                https_port=chosen["https"],
                expired_port=chosen["expired"],
                wrong_name_port=chosen["wrong_name"],
                soon_port=chosen["soon"],
                user=USER,
                password=password,
                root=root,
                prefix=prefix,
                error_log=prefix / "logs" / "error.log",
                access_log=prefix / "logs" / "access.log",
            )


@pytest.fixture(scope="session")
def nginx(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """A running nginx (see the module docstring for ports and routes)."""
    with running_nginx(tmp_path_factory.mktemp("nginx"), pki) as info:
        yield info
