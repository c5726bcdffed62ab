"""netkit.testing as a user would use it: a test of one's own protocol logic, written as a
netkit dialogue, run against FakePeer without a socket -- and the same dialogue on a real
socket through the blocking driver, so the fake answers as a driver does."""

import socket
import threading

import pytest

from netkit.proto.actions import Close, Connect, Recv, Send, StartTLS, TLSParams
from netkit.proto.line import tcp_dialogue
from netkit.testing import FakePeer


def redis_ping(host, port):
    """A user's dialogue: PING a Redis-like server, return its answer line."""
    yield Connect(host, port)
    yield Send(b"PING\r\n")
    answer = b""
    while not answer.endswith(b"\r\n"):
        piece = yield Recv(64)
        if not piece:
            raise ConnectionError(f"closed after {answer!r}")
        answer += piece
    yield Close()
    return answer.decode().strip()


def test_a_users_dialogue_against_a_scripted_peer():
    peer = FakePeer([b"+PO", b"NG\r\n"])  # the answer in two pieces, as TCP may give it
    assert peer.run(redis_ping("cache", 6379)) == "+PONG"
    assert peer.sent == [b"PING\r\n"]
    assert [type(a).__name__ for a in peer.actions] == ["Connect", "Send", "Recv", "Recv", "Close"]
    assert (peer.connects[0].host, peer.connects[0].port) == ("cache", 6379)


def test_eof_and_short_reads_are_scripted_like_a_socket():
    with pytest.raises(ConnectionError, match="closed after b'\\+PO'"):
        FakePeer([b"+PO"]).run(redis_ping("cache", 6379))
    peer = FakePeer([b"+" + b"x" * 100 + b"\r\n"])  # longer than one Recv(64): cut in two reads
    assert peer.run(redis_ping("cache", 6379)) == "+" + "x" * 100
    assert sum(isinstance(a, Recv) for a in peer.actions) == 2


def test_tls_handshakes_are_recorded_with_the_scripted_chain():
    peer = FakePeer([b"* OK ready\r\n"], tls_chain=[b"leaf-der"])
    out = peer.run(tcp_dialogue("imap.example", 993, expects=[b"OK"], tls=TLSParams("imap.example")))
    assert out.matched and out.tls.chain == [b"leaf-der"] and out.tls.server_name == "imap.example"
    assert [p.server_name for p in peer.tls] == ["imap.example"]
    assert isinstance(peer.actions[1], StartTLS)


def test_sending_before_connecting_is_a_failed_test_not_a_silent_pass():
    def rude():
        yield Send(b"hello")

    with pytest.raises(AssertionError, match="no connection"):
        FakePeer().run(rude())


def test_the_same_dialogue_on_a_real_socket_agrees():
    from netkit.drivers.blocking import run

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        conn, _ = server.accept()
        with conn:
            assert conn.recv(64) == b"PING\r\n"
            conn.sendall(b"+PO")
            conn.sendall(b"NG\r\n")

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        exchange = run(redis_ping("127.0.0.1", port), 5)
    finally:
        thread.join(5)
        server.close()
    assert exchange.error is None and exchange.outcome == "+PONG"
