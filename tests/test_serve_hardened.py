"""The servers attacked for real: each attack, then a normal client must still be served.

Memory is read from /proc (VmRSS) with generous bounds; nothing here measures time.
"""

import os
import socket
import struct
import threading

from tests.test_serve_cli import read_all, talk

MIB = 1024


def still_serves(server, data=b"still here\n", expect=None):
    assert talk(server.port, data) == (data if expect is None else expect)


def test_slow_client_that_never_finishes_a_line_is_closed_when_idle(served):
    server = served("echo", "--idle-timeout", "1")
    with socket.create_connection(server.address, timeout=30) as slow:
        slow.sendall(b"a")
        stop = threading.Event()

        def trickle():  # one byte now and then, never a line end
            while not stop.wait(0.2):
                try:
                    slow.sendall(b"b")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        still_serves(server)
        try:
            assert slow.recv(100) == b""  # the server closed it
        except ConnectionResetError:
            pass
        stop.set()
    assert "no complete request for 1 s (--idle-timeout)" in server.wait_log("--idle-timeout")
    still_serves(server)


def test_more_connections_than_the_limit_are_refused_cleanly(served):
    server = served("echo", "--max-connections", "5")
    held = [socket.create_connection(server.address, timeout=10) for _ in range(5)]
    for sock in held:  # all five are served
        sock.sendall(b"held\n")
        assert sock.recv(10) == b"held\n"
    extra = [socket.create_connection(server.address, timeout=10) for _ in range(20)]
    for sock in extra:
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass
        sock.close()
    assert "5 connections open (--max-connections); refused" in server.wait_log("--max-connections", count=20)
    held[0].sendall(b"still\n")
    assert held[0].recv(10) == b"still\n"
    for sock in held:
        sock.close()
    server.wait_log("disconnect", count=5)
    still_serves(server)


def test_a_100_mb_line_is_rejected_with_memory_bounded(served):
    server = served("echo")
    before = server.rss_kib()
    sent = 0
    with socket.create_connection(server.address, timeout=30) as sock:
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(100):
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert sent < 100 * (1 << 20)  # closed long before the end
    assert "line longer than 65536 bytes (--max-line)" in server.wait_log("--max-line")
    assert server.rss_kib() - before < 32 * MIB
    still_serves(server)


def test_binary_garbage_is_echoed_and_reversed_without_harm(served):
    echo = served("echo")
    rev = served("reverse")
    garbage = os.urandom(1 << 20).replace(b"q", b"?").replace(b"Q", b"?")
    garbage = garbage[:garbage.rfind(b"\n") + 1]
    assert talk(echo.port, garbage) == garbage
    reply = talk(rev.port, garbage)
    assert len(reply) == len(garbage) and reply.count(b"\n") == garbage.count(b"\n")
    still_serves(echo)
    still_serves(rev, b"abc\n", b"cba\n")


def test_half_closed_and_reset_connections(served):
    server = served("chargen")
    with socket.create_connection(server.address, timeout=10) as half:
        half.shutdown(socket.SHUT_WR)  # half-closed: the server ends the stream
        data = read_all(half)
    assert data.startswith(bytes(range(32, 104)))
    for _ in range(20):  # resets while the server has output queued
        sock = socket.create_connection(server.address, timeout=10)
        sock.recv(1000)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    assert "reset by the client" in server.wait_log("reset by the client")
    with socket.create_connection(server.address, timeout=10) as sock:
        assert sock.recv(72) == bytes(range(32, 104))
    echo = served("echo")
    sock = socket.create_connection(echo.address, timeout=10)
    sock.sendall(b"half a li")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    echo.wait_log("disconnect")
    still_serves(echo)


def test_a_client_that_never_reads_is_paused_then_cut_off(served):
    server = served("echo", "--max-output", "64k")
    before = server.rss_kib()
    with socket.create_connection(server.address, timeout=10) as hog:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.setblocking(False)
        line = b"y" * 1000 + b"\n"
        pushed = 0
        try:
            while pushed < 200 << 20:
                pushed += hog.send(line * 64)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            pass
        assert pushed < 200 << 20  # the server stopped reading: our writes back up
        still_serves(server)
    assert server.rss_kib() - before < 32 * MIB


def test_udp_flood_does_not_stop_the_service(served):
    server = served("echo", "--udp")
    before = server.rss_kib()

    def flood():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # its replies are dropped
            for i in range(20000):
                sock.sendto(b"flood %d" % i, server.address)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # UDP: while the server works through the flood its receive buffer may still be full
        # and drop a datagram, so ask again as any UDP client would (up to 20 s in all).
        sock.settimeout(1)
        answer = None
        for _ in range(20):
            sock.sendto(b"after the flood", server.address)
            try:
                answer = sock.recv(100)
                break
            except TimeoutError:
                continue
        assert answer == b"echo:after the flood"
    assert server.rss_kib() - before < 32 * MIB
    assert server.stop() == 0
    assert "datagrams answered" in server.wait_log("stopped:")


def test_memory_stays_flat_over_thousands_of_connections(served):
    server = served("echo", "--prefix", "> ")

    def wave(n):
        for start in range(0, n, 100):
            socks = [socket.create_connection(server.address, timeout=30) for _ in range(100)]
            for i, sock in enumerate(socks):
                sock.sendall(b"soak %d\n" % (start + i))
            for i, sock in enumerate(socks):
                sock.shutdown(socket.SHUT_WR)
                assert read_all(sock) == b"> soak %d\n" % (start + i)
                sock.close()

    wave(1000)  # warm: allocator pools, log buffers
    server.wait_log("disconnect", count=1000)
    warm = server.rss_kib()
    wave(5000)
    server.wait_log("disconnect", count=6000)
    assert server.rss_kib() - warm < 16 * MIB
    still_serves(server, b"x\n", b"> x\n")


def test_a_fast_chargen_reader_does_not_starve_other_services(served, tmp_path):
    path = tmp_path / "services.toml"
    path.write_text('[[service]]\nservice = "chargen"\nport = 0\n[[service]]\nservice = "echo"\nport = 0\n')
    server = served("--config", path, listeners=2)
    chargen_port, echo_port = (int(a.rsplit(":", 1)[1]) for a in server.addresses)
    stop = threading.Event()
    got = []

    def drink():
        with socket.create_connection(("127.0.0.1", chargen_port), timeout=10) as sock:
            while not stop.is_set():
                got.append(len(sock.recv(1 << 20)))

    reader = threading.Thread(target=drink)
    reader.start()
    try:
        while sum(got) < 1 << 20:
            reader.join(0.05)
        assert talk(echo_port, b"not starved\n") == b"not starved\n"
    finally:
        stop.set()
        reader.join()
