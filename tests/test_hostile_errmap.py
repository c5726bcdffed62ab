"""A peer that resets the connection, or answers garbage, fails every feature with a class
of netkit's tree (:mod:`netkit.core.errmap`), never an OSError, an ssl.SSLError or a
library's own exception; what the error is rides on its class and attributes."""

import asyncio
import socket
import struct
import threading

import pytest

from netkit.core.errors import ConnectError, NetError, NetkitError, ProtocolError, TimedOut, TLSError
from netkit.core.timeout import Timeout


class Peer:
    """Accepts on 127.0.0.1 and, for every connection, reads what comes within a moment and
    then resets it (``mode`` "reset") or sends garbage and closes ("garbage")."""

    def __init__(self, mode):
        self.mode = mode
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server.settimeout(0.1)  # so that close() is seen at once
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.3)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                if self.mode == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    try:
                        conn.sendall(b"\x16\x03\x01\xff\xff garbage \x00\xff" * 8)
                    except OSError:
                        pass

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def reset_peer():
    peer = Peer("reset")
    yield peer
    peer.close()


@pytest.fixture
def garbage_peer():
    peer = Peer("garbage")
    yield peer
    peer.close()


def failure(call):
    try:
        call()
    except Exception as exc:  # noqa: BLE001 -- the exception is what the test is about
        assert isinstance(exc, NetkitError), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        return exc
    raise AssertionError("no failure")


def dialogue(tls=False):
    from netkit.proto.actions import Connect, Recv, Send, StartTLS, TLSParams

    def talk(port):
        yield Connect("127.0.0.1", port)
        if tls:
            yield StartTLS(TLSParams("localhost"))
        yield Send(b"hello\r\n")
        while (yield Recv()):
            pass

    return talk


def test_the_drivers(reset_peer, garbage_peer):
    from netkit.drivers import aio, blocking

    exchange = blocking.run(dialogue()(reset_peer.port), Timeout(5, read=2))
    assert type(exchange.error) is ConnectError and exchange.error.transient is True
    exchange = asyncio.run(aio.run(dialogue()(reset_peer.port), 5))
    assert type(exchange.error) is ConnectError and exchange.error.transient is True
    for run in (lambda d: blocking.run(d, 5), lambda d: asyncio.run(aio.run(d, 5))):
        exchange = run(dialogue(tls=True)(garbage_peer.port))
        assert isinstance(exchange.error, TLSError), exchange.error


def test_a_read_phase_timeout_is_named(silent_tcp):
    from netkit.drivers import aio, blocking

    exchange = blocking.run(dialogue()(silent_tcp.port), Timeout(30, read=0.3))
    assert type(exchange.error) is TimedOut and exchange.error.phase == "read"
    assert str(exchange.error) == f"timeout after 0.3 s waiting for data from 127.0.0.1:{silent_tcp.port}"
    exchange = asyncio.run(aio.run(dialogue()(silent_tcp.port), Timeout(30, read=0.3)))
    assert type(exchange.error) is TimedOut and exchange.error.phase == "read"
    exchange = asyncio.run(aio.run(dialogue()(silent_tcp.port), 0.3))
    assert type(exchange.error) is TimedOut and exchange.error.phase == "total"


def test_transfer_http_and_ftp(reset_peer, garbage_peer, tmp_path):
    from netkit.transfer import Options, download

    for scheme in ("http", "ftp"):
        error = failure(lambda s=scheme: download(f"{s}://127.0.0.1:{reset_peer.port}/f", str(tmp_path / "f"),
                                                   Options(retries=0, timeout=5)))
        assert isinstance(error, NetError) and error.transient is not False, error
    error = failure(lambda: download(f"https://127.0.0.1:{garbage_peer.port}/f", str(tmp_path / "f"),
                                     Options(retries=0, timeout=5)))
    assert isinstance(error, TLSError)


def test_transfer_sftp_and_check_ssh(reset_peer, garbage_peer, tmp_path):
    from netkit.transfer import Options, download

    for peer in (reset_peer, garbage_peer):
        error = failure(lambda p=peer: download(f"sftp://u@127.0.0.1:{p.port}/f", str(tmp_path / "f"),
                                                 Options(retries=0, timeout=5, known_hosts=str(tmp_path / "kh"))))
        assert isinstance(error, NetError), error
    from netkit.check.ssh import key_session

    error = failure(lambda: asyncio.run(key_session("127.0.0.1", reset_peer.port, pins=("SHA256:x",))))
    assert isinstance(error, ConnectError), error


def test_serve_client(reset_peer, garbage_peer):
    from netkit.serve.client import Endpoint, open_socket, talk

    endpoint = Endpoint("127.0.0.1", reset_peer.port, timeout=Timeout(10, connect=5))
    sock = open_socket(endpoint)
    with sock:
        error = failure(lambda: talk(sock, endpoint, data=b"x" * 100, sink=-1))
    assert isinstance(error, ConnectError)
    tls = Endpoint("127.0.0.1", garbage_peer.port, tls=True, timeout=5)
    assert isinstance(failure(lambda: open_socket(tls)), TLSError)


def test_rpc_client(reset_peer, garbage_peer):
    from netkit.rpc._client import call

    error = failure(lambda: call(f"http://127.0.0.1:{reset_peer.port}/", "ping", timeout=Timeout(10, read=5)))
    assert type(error) is ConnectError and error.transient is True
    assert isinstance(failure(lambda: call(f"https://127.0.0.1:{garbage_peer.port}/", "ping", timeout=5)),
                      TLSError)
    assert isinstance(failure(lambda: call(f"http://127.0.0.1:{garbage_peer.port}/", "ping", timeout=5)),
                      ProtocolError)


def test_mail(reset_peer):
    from netkit.mail import Request, StageError, send
    from netkit.mail._box import Account
    from netkit.mail._pop3 import Pop3Box

    account = Account("pop3", "127.0.0.1", reset_peer.port, "u", "p", timeout=5)
    error = failure(lambda: Pop3Box(account))
    assert isinstance(error, ConnectError) and error.transient is True
    error = failure(lambda: send(Request("127.0.0.1", reset_peer.port, timeout=5)))
    assert isinstance(error, StageError) and error.stage == "banner"
    assert "connection reset by 127.0.0.1" in str(error)


def test_dns(reset_peer, garbage_peer):
    from netkit.info.dns import lookup_records
    from netkit.packets._dns import dns_query

    error = failure(lambda: lookup_records("example.com", ["A"], server=f"127.0.0.1:{reset_peer.port}", tcp=True,
                                           timeout=3))
    assert isinstance(error, NetError) and "127.0.0.1" in str(error)
    error = failure(lambda: dns_query("example.com", 1, "127.0.0.1", reset_peer.port, tcp=True, timeout=3))
    assert isinstance(error, ConnectError)
    error = failure(lambda: dns_query("example.com", 1, "127.0.0.1", garbage_peer.port, tcp=True, timeout=3))
    assert isinstance(error, ProtocolError)


def test_transfer_takes_a_timeout(silent_tcp, tmp_path):
    from netkit.core.errors import DeadlineError
    from netkit.transfer import Options, download

    url = f"http://127.0.0.1:{silent_tcp.port}/f"
    error = failure(lambda: download(url, str(tmp_path / "f"), Options(retries=0, timeout=Timeout(30, read=0.3))))
    assert type(error) is TimedOut and error.phase == "read" and "timeout after 0.3 s" in str(error)
    error = failure(lambda: download(url, str(tmp_path / "f"), Options(retries=3, timeout=Timeout(0.5))))
    assert isinstance(error, DeadlineError) and error.phase == "total"


def test_mail_and_rpc_take_a_timeout(silent_tcp):
    from netkit.mail import Request, StageError, send
    from netkit.mail._box import Account
    from netkit.mail._pop3 import Pop3Box
    from netkit.rpc._client import call

    account = Account("pop3", "127.0.0.1", silent_tcp.port, "u", "p", timeout=Timeout(30, connect=0.3))
    error = failure(lambda: Pop3Box(account))
    assert type(error) is TimedOut and error.phase == "connect" and "timeout after 0.3 s" in str(error)
    error = failure(lambda: send(Request("127.0.0.1", silent_tcp.port, timeout=Timeout(connect=0.3, read=5))))
    assert isinstance(error, StageError) and error.stage == "banner" and "0.3 s" in str(error)
    error = failure(lambda: call(f"http://127.0.0.1:{silent_tcp.port}/", "ping", timeout=Timeout(30, read=0.3)))
    assert type(error) is TimedOut and error.phase == "read"
    error = failure(lambda: call(f"http://127.0.0.1:{silent_tcp.port}/", "ping", timeout=0.3))
    assert type(error) is TimedOut and error.phase == "total" and str(error).endswith("no answer within 0.3 s")


@pytest.mark.parametrize("scheme", ["PYRO:obj@127.0.0.1:{}", "pb://127.0.0.1:{}"])
def test_pyro_and_pb_calls_that_get_no_answer_time_out(silent_tcp, scheme):
    """Pyro's TimeoutError was a ConnectError, PB's Deferred timeout a Fault -32603 '(0.5, 'Deferred')'.
    In a process of its own: Twisted's reactor runs once per process."""
    import subprocess
    import sys

    code = ("from netkit.rpc._client import call\n"
            "try:\n"
            f"    call({scheme.format(silent_tcp.port)!r}, 'ping', timeout=0.5)\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, getattr(exc, 'phase', None), exc, sep='|')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    kind, phase, words = out.strip().split("|")
    assert (kind, phase) == ("TimedOut", "total") and words.endswith("no answer within 0.5 s"), out


def test_a_result_keeps_its_error_without_the_frames(reset_peer):
    """The error a check result keeps (a sweep holds thousands) holds no traceback, and
    neither does the OSError under it: no finished exchange is kept alive through them."""
    from netkit.drivers import blocking

    error = blocking.run(dialogue()(reset_peer.port), 5).error
    assert type(error) is ConnectError and error.__traceback__ is None
    cause = error.__cause__ or error.__context__
    assert cause is None or cause.__traceback__ is None
