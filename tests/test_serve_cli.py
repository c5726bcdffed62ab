"""netkit serve as users run it: every service, transport, TLS, --allow, logs, signals,
systemd readiness, --user, --pidfile, --config."""

import os
import signal
import socket
import ssl
import subprocess
import time

from tests.helpers import netkit


def talk(port, data: bytes, host="127.0.0.1", family=socket.AF_INET):
    """Send ``data``, half-close, read the reply to the end."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def read_all(sock) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_echo_with_prefix_and_quit(served):
    server = served("echo", "--prefix", "You said: ")
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"hello\r\nworld\nquit\nnever answered\n")
        assert read_all(sock) == b"You said: hello\r\nYou said: world\n"
    line = server.wait_log("disconnect")
    assert "(quit)" in line and "echo/tcp" in line
    assert "connect 127.0.0.1:" in server.wait_log("connect 127.0.0.1")


def test_reverse_is_the_palindrome_server(served):
    server = served("reverse")
    assert talk(server.port, "А роза упала на лапу Азора\n".encode()) == "арозА упал ан алапу азор А\n".encode()


def test_time_ctime_and_iso(served):
    plain = served("time")
    iso = served("time", "--iso")
    assert talk(plain.port, b"")[-6:] == time.strftime("%Y").encode() + b"\r\n"
    reply = talk(iso.port, b"").decode()
    assert reply.endswith("Z\r\n") and reply.startswith(time.strftime("%Y-%m-%dT", time.gmtime()))


def test_discard_and_chargen(served):
    discard = served("discard")
    assert talk(discard.port, b"x" * 100000) == b""
    assert "100000 B in, 0 B out" in discard.wait_log("disconnect")
    chargen = served("chargen")
    with socket.create_connection(chargen.address, timeout=10) as sock:
        data = b""
        while len(data) < 100000:
            data += sock.recv(65536)
    lines = data.split(b"\r\n")
    assert lines[0] == bytes(range(32, 104)) and lines[1] == bytes(range(33, 105))


def test_raw_echo_is_binary_safe(served):
    server = served("echo", "--raw")
    blob = bytes(range(256)) * 100
    assert talk(server.port, blob) == blob


def test_udp_echo_time_and_reverse(served):
    echo = served("echo", "--udp")
    rev = served("reverse", "--udp")
    clock = served("time", "--udp", "--iso")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(b"ping", echo.address)
        assert sock.recvfrom(100) == (b"echo:ping", echo.address)
        sock.sendto(b"abc", rev.address)
        assert sock.recv(100) == b"cba"
        sock.sendto(b"", clock.address)
        assert sock.recv(100).endswith(b"Z\r\n")


def test_unix_socket_and_its_file_removed_at_stop(served, tmp_path):
    path = str(tmp_path / "echo.sock")
    server = served("echo", "--unix", path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(b"over unix\n")
        sock.shutdown(socket.SHUT_WR)
        assert read_all(sock) == b"over unix\n"
    assert server.stop() == 0 and not os.path.exists(path)


def test_tls_with_a_certificate_verifies(served, pki):
    server = served("reverse", "--tls", pki.good.cert, pki.good.key)
    assert "SHA-256 fingerprint" in server.wait_log("tls:")
    with socket.create_connection(server.address, timeout=10) as raw:
        with pki.client_context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"secret\n")
            assert sock.recv(100) == b"terces\n"
            assert sock.version() in ("TLSv1.2", "TLSv1.3")


def test_tls_auto_logs_the_fingerprint_a_client_sees(served):
    server = served("time", "--tls", "auto")
    logged = server.wait_log("fingerprint").rsplit(" ", 1)[1]
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with ctx.wrap_socket(socket.create_connection(server.address, timeout=10)) as sock:
        import hashlib

        seen = hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest().upper()
        assert sock.recv(100).endswith(b"\r\n")
    assert logged.replace(":", "") == seen
    # a client that checks certificates refuses it, and the server logs the failed handshake
    with socket.create_connection(server.address, timeout=10) as raw:
        try:
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
        except ssl.SSLCertVerificationError:
            pass
        else:
            raise AssertionError("a self-signed certificate verified")
    assert "TLS handshake failed" in server.wait_log("error")


def test_allow_refuses_others_at_accept(served):
    server = served("echo", "--bind", "0.0.0.0", "--allow", "127.0.0.1/32")
    with socket.socket() as outsider:
        outsider.bind(("127.0.0.2", 0))
        outsider.settimeout(10)
        outsider.connect(("127.0.0.2", server.port))
        outsider.sendall(b"let me in\n")
        try:
            assert outsider.recv(100) == b""
        except ConnectionResetError:
            pass
    assert "refused 127.0.0.2:" in server.wait_log("refused") and "not in --allow" in server.wait_log("refused")
    assert talk(server.port, b"insider\n") == b"insider\n"
    udp = served("echo", "--udp", "--bind", "0.0.0.0", "--allow", "127.0.0.1/32")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.2", 0))
        sock.sendto(b"outside", ("127.0.0.2", udp.port))
        sock.settimeout(0.5)
        try:
            got = sock.recv(100)
        except TimeoutError:
            got = None
        assert got is None
    assert "1 refused (not in --allow)" in udp.wait_log("refused (not in --allow)")


def test_sockopt_reaches_the_sockets(served):
    server = served("echo", "--sockopt", "SO_RCVBUF=65536", "--sockopt", "TCP_NODELAY=1")
    assert talk(server.port, b"ok\n") == b"ok\n"
    # the listening socket, seen by the kernel: ss shows the receive buffer doubled from 64 KiB
    out = subprocess.run(["ss", "-ltnm", f"sport = :{server.port}"], capture_output=True, text=True).stdout
    assert "rb131072" in out, out


def test_sigterm_lets_open_connections_finish_then_stops(served):
    server = served("echo", "--grace", "20")
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"before\n")
        assert sock.recv(100) == b"before\n"
        server.proc.send_signal(signal.SIGTERM)
        assert "1 connection open" in server.wait_log("stopping:")
        with socket.socket() as late:  # no longer accepting
            assert late.connect_ex(server.address) != 0
        sock.sendall(b"during grace\n")
        assert sock.recv(100) == b"during grace\n"
    assert server.proc.wait(20) == 0
    assert server.wait_log("stopped")


def test_grace_period_over_closes_what_is_left(served):
    server = served("echo", "--grace", "0.5")
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"x\n")
        sock.recv(10)
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(20) == 0
        assert sock.recv(10) == b""
    assert "closing 1 connection" in server.wait_log("grace period over")


def test_sd_notify_ready_on_a_real_unix_datagram_socket(served, tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(path)
        notify.settimeout(20)
        server = served("echo", env={"NOTIFY_SOCKET": path})
        message = notify.recv(4096).decode()
        assert "READY=1" in message.splitlines() and f"MAINPID={server.proc.pid}" in message
        assert talk(server.port, b"ready\n") == b"ready\n"  # ready means serving
        server.stop()
        assert "STOPPING=1" in notify.recv(4096).decode()


def test_user_and_pidfile(served, tmp_path):
    pidfile = tmp_path / "serve.pid"
    server = served("echo", "--user", "nobody", "--pidfile", pidfile)
    assert pidfile.read_text().strip() == str(server.proc.pid)
    with open(f"/proc/{server.proc.pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    nobody = __import__("pwd").getpwnam("nobody").pw_uid
    assert status["Uid"].split()[:2] == [str(nobody), str(nobody)] and status["Groups"].strip() == ""
    assert "running as nobody" in server.wait_log("running as")
    assert talk(server.port, b"dropped\n") == b"dropped\n"
    # a second server with the same pid file refuses to start
    code, _ = netkit("serve", "echo", "--port", "0", "--pidfile", pidfile)
    assert code == 2


def test_config_serves_several_services_in_one_process(served, tmp_path):
    path = tmp_path / "services.toml"
    path.write_text('grace = 2\n[[service]]\nservice = "echo"\nport = 0\nprefix = "You said: "\n'
                    '[[service]]\nservice = "reverse"\nport = 0\n[[service]]\nservice = "echo"\nudp = true\nport = 0\n')
    server = served("--config", path, listeners=3)
    ports = [int(a.rsplit(":", 1)[1]) for a in server.addresses]
    assert talk(ports[0], b"hi\n") == b"You said: hi\n"
    assert talk(ports[1], b"hi\n") == b"ih\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(b"u", ("127.0.0.1", ports[2]))
        assert sock.recv(10) == b"echo:u"


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[service]]\nservice = "ech"\n')
    for args in (("ech",), ("echo", "--port", "x"), ("--config", bad), ("echo", "--tls", "no.pem", "no.key")):
        proc = subprocess.run([__import__("sys").executable, "-m", "netkit", "serve", *map(str, args)],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("netkit serve: ") and "Traceback" not in proc.stderr


def test_port_in_use_is_one_line(served):
    server = served("echo")
    code, out = netkit("serve", "echo", "--port", server.port)
    assert code == 1


def test_help_lists_services_and_limits():
    code, out = netkit("serve", "--help")
    assert code == 0
    for word in ("echo", "reverse", "chargen", "--max-connections", "--idle-timeout", "--allow", "--sockopt",
                 "--config", "--user", "--pidfile", "127.0.0.1"):
        assert word in out
