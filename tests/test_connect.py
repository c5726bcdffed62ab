"""netkit connect / send / sockopt against netkit serve: in a pipe, on a terminal."""

import os
import pty
import subprocess
import sys

from tests.helpers import netkit, read_pty


def test_connect_in_a_pipe_half_closes_and_prints_replies(served):
    server = served("echo", "--prefix", "You said: ")
    proc = subprocess.run([sys.executable, "-m", "netkit", "connect", "127.0.0.1", str(server.port)],
                          input=b"hi\nthere\n", capture_output=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == b"You said: hi\nYou said: there\n"
    assert "half-closed by the client" in server.wait_log("disconnect")


def test_connect_crlf_udp_unix_and_tls(served, tmp_path, pki):
    echo = served("echo")
    out = subprocess.run([sys.executable, "-m", "netkit", "connect", "--crlf", f"127.0.0.1:{echo.port}"],
                         input=b"a\nb\n", capture_output=True, timeout=30).stdout
    assert out == b"a\nb\n"
    assert "4 B in" not in echo.wait_log("disconnect") and "6 B in" in echo.wait_log("disconnect")
    udp = served("echo", "--udp")
    out = subprocess.run([sys.executable, "-m", "netkit", "connect", "--udp", "--wait", "0.5", "127.0.0.1",
                          str(udp.port)], input=b"dgram\n", capture_output=True, timeout=30).stdout
    assert out == b"echo:dgram\n"
    path = str(tmp_path / "s")
    served("reverse", "--unix", path)
    out = subprocess.run([sys.executable, "-m", "netkit", "connect", "--unix", path], input=b"abc\n",
                         capture_output=True, timeout=30).stdout
    assert out == b"cba\n"
    tls = served("reverse", "--tls", pki.good.cert, pki.good.key)
    args = [sys.executable, "-m", "netkit", "connect", "--tls", "--wait", "0.5", "localhost", str(tls.port)]
    proc = subprocess.run(args, input=b"secure\n", capture_output=True, timeout=30)
    assert proc.returncode == 1 and b"did not verify" in proc.stderr and b"--cafile" in proc.stderr
    proc = subprocess.run(args[:4] + ["--cafile", str(pki.ca_file)] + args[4:], input=b"secure\n",
                          capture_output=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == b"eruces\n"


def test_connect_big_pipe_does_not_deadlock(served):
    server = served("echo")
    data = (b"z" * 999 + b"\n") * 20000  # 20 MB: far more than the socket buffers hold
    proc = subprocess.run([sys.executable, "-m", "netkit", "connect", "127.0.0.1", str(server.port)],
                          input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == data


def read_until(fd, wanted: bytes, timeout=20.0) -> bytes:
    seen = read_pty(fd, until=wanted, timeout=timeout)
    assert wanted in seen, seen
    return seen


def test_connect_on_a_terminal(served):
    server = served("reverse")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "connect", "127.0.0.1", str(server.port)],
                            stdin=terminal, stdout=terminal, stderr=subprocess.PIPE, close_fds=True)
    os.close(terminal)
    try:
        os.write(controller, b"terminal\n")
        assert b"lanimret" in read_until(controller, b"lanimret")
        os.write(controller, b"quit\n")  # the server closes: connect exits
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    assert proc.stderr.read() == b""


def test_connect_on_a_terminal_ends_with_ctrl_d(served):
    server = served("echo")
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "connect", "127.0.0.1", str(server.port)],
                            stdin=terminal, stdout=terminal, stderr=subprocess.PIPE, close_fds=True)
    os.close(terminal)
    try:
        os.write(controller, b"typed\n")
        read_until(controller, b"typed\r\ntyped")
        os.write(controller, b"\x04")  # Ctrl-D: end of input
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)


def test_connect_failures_are_one_line():
    code, out = netkit("connect", "127.0.0.1", "1")
    assert code == 1
    for args in (("connect",), ("connect", "127.0.0.1"), ("connect", "127.0.0.1", "x"), ("connect", "--insecure",
                 "h", "1"), ("connect", "h", "1", "extra"), ("send", "127.0.0.1", "7"), ("sockopt", "fetch")):
        proc = subprocess.run([sys.executable, "-m", "netkit", *args], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, args


def test_send_prints_the_reply(served):
    rev = served("reverse")
    code, out = netkit("send", "127.0.0.1", rev.port, "a man a plan")
    assert code == 0 and out == "nalp a nam a\n"
    udp = served("echo", "--udp")
    code, out = netkit("send", "--udp", f"127.0.0.1:{udp.port}", "hello")
    assert code == 0 and out == "echo:hello\n"
    clock = served("time", "--iso", "--tls", "auto")
    code, out = netkit("send", "--tls", "--insecure", "--wait", "0.3", "127.0.0.1", clock.port, "")
    assert code == 0 and out.endswith("Z\n")


def test_send_timeout_when_no_reply(served):
    server = served("discard")
    code, out = netkit("send", "--udp", "--timeout", "0.5", "127.0.0.1", server.port, "anyone?")
    assert code == 1 and out == ""


def test_sockopt_list_and_get(served):
    code, out = netkit("sockopt", "list", "--level", "tcp")
    assert code == 0 and "TCP_NODELAY" in out and "TCP_KEEPIDLE" in out and "SO_" not in out
    code, out = netkit("sockopt", "list", "--json")
    import json

    rows = [json.loads(line) for line in out.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["SO_TYPE"]["value"] == 1 and by_name["IP_TTL"]["value"] > 0
    assert {r["level"] for r in rows} == {"socket", "tcp", "ip", "ipv6"}
    server = served("echo")
    code, out = netkit("sockopt", "get", "127.0.0.1", server.port, "--json")
    rows = {r["name"]: r["value"] for r in map(json.loads, out.splitlines())}
    assert code == 0 and rows["TCP_NODELAY"] is True and rows["SO_ACCEPTCONN"] is False
