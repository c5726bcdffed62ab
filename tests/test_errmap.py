"""netkit.core.errmap: each outside source's errors on netkit's tree, from real failures
(a refused port, a reset, a certificate that does not verify, a silent DNS server) and
from asyncssh's own exception classes; the class and its attributes carry the fact."""

import socket
import ssl
import struct
import subprocess
import sys
import threading

from netkit.core import errmap
from netkit.core.errors import (
    AuthError,
    CertificateError,
    ConnectError,
    CutError,
    LocalError,
    NetkitError,
    ProtocolError,
    RefusedError,
    RemoteError,
    ResolveError,
    SSHError,
    TimedOut,
    TLSError,
    UnknownHostKey,
)


def caught(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 -- the exception is what the test is about
        return exc
    raise AssertionError("no exception")


def one_shot_server(handle):
    """A listening socket on 127.0.0.1 whose first connection goes to ``handle(conn)`` in a thread."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = server.accept()
        with conn:
            handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST


# --- OSError -----------------------------------------------------------------------------


def test_a_refused_port_is_a_refused_error_not_retried(closed_port):
    exc = caught(lambda: socket.create_connection((closed_port.host, closed_port.port), timeout=5))
    assert isinstance(exc, ConnectionRefusedError)
    where = f"{closed_port.host}:{closed_port.port}"
    error = errmap.from_os(exc, where, "connect")
    assert type(error) is RefusedError and str(error) == f"connection refused by {where}"
    assert error.transient is False
    assert errmap.map_error(exc, where) is not exc and type(errmap.map_error(exc, where)) is RefusedError


def test_a_reset_is_a_transient_connect_error():
    connected = threading.Event()
    server, thread = one_shot_server(lambda conn: (connected.wait(5), reset(conn)))
    with server, socket.create_connection(server.getsockname(), timeout=5) as sock:
        connected.set()
        thread.join(5)
        exc = caught(lambda: sock.recv(10))
    assert isinstance(exc, ConnectionResetError)
    error = errmap.map_error(exc, "127.0.0.1:9", "read")
    assert type(error) is ConnectError and error.transient is True
    assert str(error) == "connection reset by 127.0.0.1:9 waiting for data from 127.0.0.1:9"


def test_a_timeout_names_its_phase_and_seconds(silent_tcp):
    with socket.create_connection((silent_tcp.host, silent_tcp.port), timeout=0.2) as sock:
        exc = caught(lambda: sock.recv(10))
    assert isinstance(exc, TimeoutError)
    error = errmap.map_error(exc, "h:1", "read", timeout=0.2)
    assert type(error) is TimedOut and error.phase == "read"
    assert str(error) == "timeout after 0.2 s waiting for data from h:1"
    assert errmap.map_error(exc, "h:1", "connect", doing="in the TLS handshake with h:1").phase == "connect"


def test_a_name_that_does_not_resolve_is_a_resolve_error():
    exc = caught(lambda: socket.getaddrinfo("no-such-host.invalid", 80))
    assert isinstance(exc, socket.gaierror)
    error = errmap.from_os(exc, "no-such-host.invalid")
    assert type(error) is ResolveError and str(error).startswith("cannot resolve no-such-host.invalid: ")


def test_running_out_of_descriptors_is_this_machines_fault():
    import errno

    error = errmap.from_os(OSError(errno.EMFILE, "Too many open files"), "h:1", "connect")
    assert type(error) is LocalError and "(on this machine)" in str(error)


def test_netkit_errors_and_bugs_pass_through():
    mine = ProtocolError("x")
    assert errmap.map_error(mine, "h:1") is mine
    bug = KeyError("k")
    assert errmap.map_error(bug, "h:1") is bug


# --- ssl ---------------------------------------------------------------------------------


def tls_server(pki, pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.cert, pair.key)

    def handle(conn):
        try:
            with ctx.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    return one_shot_server(handle)


def test_a_certificate_that_does_not_verify_is_a_certificate_error(pki):
    server, thread = tls_server(pki, pki.wrong_name)
    ctx = ssl.create_default_context(cafile=pki.ca_file)
    with server, socket.create_connection(server.getsockname(), timeout=5) as sock:
        exc = caught(lambda: ctx.wrap_socket(sock, server_hostname="localhost"))
    thread.join(5)
    assert isinstance(exc, ssl.SSLCertVerificationError)
    error = errmap.from_ssl(exc, "127.0.0.1:1")
    assert type(error) is CertificateError and error.transient is False
    assert str(error).startswith("certificate of 127.0.0.1:1 did not verify: Hostname mismatch")
    assert type(errmap.map_error(exc, "127.0.0.1:1")) is CertificateError


def test_a_peer_that_speaks_no_tls_is_a_tls_error():
    server, thread = one_shot_server(lambda conn: (conn.recv(1024), conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" * 4)))
    ctx = ssl.create_default_context()
    with server, socket.create_connection(server.getsockname(), timeout=5) as sock:
        exc = caught(lambda: ctx.wrap_socket(sock, server_hostname="localhost"))
    thread.join(5)
    assert isinstance(exc, ssl.SSLError)
    error = errmap.map_error(exc, "127.0.0.1:1")
    assert isinstance(error, TLSError) and str(error) == "TLS failed with 127.0.0.1:1: wrong version number"


def test_a_reset_in_the_handshake_is_a_connect_error():
    server, thread = one_shot_server(lambda conn: (conn.recv(1024), reset(conn)))
    ctx = ssl.create_default_context()
    with server, socket.create_connection(server.getsockname(), timeout=5) as sock:
        exc = caught(lambda: ctx.wrap_socket(sock, server_hostname="localhost"))
    thread.join(5)
    error = errmap.from_ssl(exc, "127.0.0.1:1", doing="in the TLS handshake with 127.0.0.1:1")
    assert isinstance(error, ConnectError) and error.transient is True
    assert str(error).endswith("by 127.0.0.1:1 in the TLS handshake with 127.0.0.1:1")


# --- asyncssh ----------------------------------------------------------------------------


def test_asyncssh_errors_by_class():
    import asyncssh

    where = "h:22"
    cases = [
        (asyncssh.HostKeyNotVerifiable("not in known_hosts"), UnknownHostKey),
        (asyncssh.PermissionDenied("denied"), AuthError),
        (asyncssh.ChannelOpenError(1, "administratively prohibited"), RemoteError),
        (asyncssh.SFTPNoSuchFile("no such file"), RemoteError),
        (asyncssh.SFTPPermissionDenied("no"), RemoteError),
        (asyncssh.DisconnectError(2, "protocol error"), SSHError),
    ]
    for exc, cls in cases:
        error = errmap.from_asyncssh(exc, where, "connect")
        assert type(error) is cls, (exc, error)
        assert str(error).startswith(f"{where}:") or where in str(error)
    assert str(errmap.from_asyncssh(asyncssh.PermissionDenied("denied"), where)) == \
        "h:22: authentication failed (denied)"


def test_a_lost_ssh_connection_is_cut_while_data_moves_and_escaped():
    import asyncssh

    lost = asyncssh.ConnectionLost("bye\x1b[2J")
    during = errmap.map_error(lost, "h:22", "read", doing="reading /f")
    assert type(during) is CutError and during.transient is True
    assert str(during) == "connection closed by h:22 reading /f: bye\\x1b[2J"
    connecting = errmap.map_error(lost, "h:22", "connect")
    assert type(connecting) is ConnectError and connecting.transient is True
    assert "\x1b" not in str(connecting)


def test_an_oserror_under_asyncssh_goes_to_from_os(closed_port):
    error = errmap.from_asyncssh(ConnectionRefusedError(111, "Connection refused"), "h:22")
    assert type(error) is RefusedError


# --- dnspython ---------------------------------------------------------------------------


def resolver_for(port, timeout):
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def test_a_silent_dns_server_is_a_timeout(udp_silent):
    exc = caught(lambda: resolver_for(udp_silent.port, 0.3).resolve("example.com", "A"))
    error = errmap.map_error(exc, f"127.0.0.1:{udp_silent.port}", "total", timeout=0.3)
    assert type(error) is TimedOut and error.phase == "total"
    assert str(error).startswith(f"timeout after 0.3 s waiting for an answer from 127.0.0.1:{udp_silent.port}")


def test_a_dns_server_that_answers_refused_is_a_remote_error(dnsmasq):
    import dns.resolver

    resolver = resolver_for(dnsmasq.port, 3)
    exc = caught(lambda: resolver.resolve("example.com", "A"))
    assert isinstance(exc, dns.resolver.NoNameservers)
    error = errmap.from_dns(exc, f"127.0.0.1:{dnsmasq.port}")
    assert type(error) is RemoteError and "answered REFUSED" in str(error)
    assert errmap.server_failures(exc) == [(f"127.0.0.1:{dnsmasq.port} (udp) answered REFUSED", True)]


def test_a_reply_that_is_not_dns_is_a_protocol_error():
    import dns.exception

    error = errmap.from_dns(dns.exception.FormError("too short"), "127.0.0.1:53")
    assert type(error) is ProtocolError and "is not a DNS reply" in str(error)


def test_no_outside_library_is_imported_for_a_plain_oserror():
    code = ("import sys; from netkit.core import errmap; "
            "errmap.map_error(ConnectionRefusedError(111, 'x'), 'h:1'); errmap.map_error(TimeoutError(), 'h:1'); "
            "print(sorted(m for m in ('ssl', 'asyncssh', 'dns') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_mapped_error_is_a_netkit_error(closed_port):
    exc = caught(lambda: socket.create_connection((closed_port.host, closed_port.port), timeout=5))
    for source in (errmap.from_os, errmap.from_ssl, errmap.from_asyncssh, errmap.map_error):
        assert isinstance(source(exc, "h:1", "connect"), NetkitError)


def test_what_each_dns_server_did_is_told_by_class():
    import dns.message
    import dns.resolver

    request = dns.message.make_query("x.example.", "A")
    reply = dns.message.make_response(request)
    errors = [("Do53:192.0.2.1@53", False, 53, "SERVFAIL", None),
              ("Do53:192.0.2.2@53", False, 53, dns.message.Truncated(message=reply), None),
              ("Do53:::1@53", True, 53, EOFError(), None),
              ("Do53:192.0.2.3@53", True, 53, ConnectionRefusedError(111, "Connection refused"), None)]
    exc = dns.resolver.NoNameservers(request=request, errors=errors)
    assert errmap.server_failures(exc) == [
        ("192.0.2.1:53 (udp) answered SERVFAIL", True),
        ("192.0.2.2:53 (udp) sent a truncated reply (TC set: the answer did not fit a datagram)", True),
        ("[::1]:53 (tcp) closed the connection before a complete DNS reply", True),
        ("192.0.2.3:53 (tcp): Connection refused", False)]
    assert type(errmap.from_dns(exc, "x.example. A")) is RemoteError
    silence = dns.resolver.NoNameservers(request=request, errors=errors[3:])
    assert type(errmap.from_dns(silence, "x.example. A")) is ConnectError
