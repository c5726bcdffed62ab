"""tcp:// and udp:// checks against real peers."""

from netkit.core.perfdata import parse_perfdata
from tests.helpers import check, check_json

ECHO_GET = "GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n"


def test_open_port_is_ok_with_perfdata(nginx):
    code, out = check(f"tcp://127.0.0.1:{nginx.http_port}")
    assert code == 0
    text, _, perf = out.strip().partition("|")
    assert text.startswith("TCP OK - ") and f"127.0.0.1 port {nginx.http_port}" in text
    labels = {m.label: m for m in parse_perfdata(perf)}
    assert labels["time"].unit == "s" and labels["time"].max == 10 and "time_connect" in labels


def test_refused_is_critical_and_configurable(closed_port):
    url = f"tcp://127.0.0.1:{closed_port.port}"
    code, out = check(url)
    assert code == 2 and out.startswith("TCP CRITICAL - connection refused by 127.0.0.1:")
    assert check(url, "--refuse", "warn")[0] == 1
    code, out = check(url, "--refuse", "ok")
    assert code == 0 and "nothing listening" in out


def test_ipv6_literal_and_family_choice(nginx):
    code, out = check(f"tcp://[::1]:{nginx.http_port}")
    assert code == 0 and "::1" in out
    code, results = check_json(f"tcp://[::1]:{nginx.http_port}", "-6")
    assert code == 0 and results[0]["details"]["peer"] == f"[::1]:{nginx.http_port}"
    code, results = check_json(f"tcp://localhost:{nginx.http_port}", "-4")
    assert code == 0 and results[0]["details"]["peer"] == f"127.0.0.1:{nginx.http_port}"
    code, out = check(f"tcp://[::1]:{nginx.http_port}", "-4")
    assert code == 2 and "not an IPv4 address" in out


def test_send_expect_quit_dialogue(banner_tcp):
    code, out = check(f"tcp://127.0.0.1:{banner_tcp.port}", "--send", "HELO x\\r\\n", "--expect", "250 hello x",
                      "--quit", "QUIT\\r\\n")
    assert code == 0 and "[220 netkit test ready]" in out
    assert banner_tcp.lines[:2] == ["HELO x", "QUIT"]


def test_expect_any_all_and_mismatch(nginx):
    url = f"tcp://127.0.0.1:{nginx.http_port}"
    assert check(url, "--send", ECHO_GET, "--expect", "nope", "--expect", "200 OK")[0] == 0
    code, out = check(url, "--send", ECHO_GET, "--expect", "200 OK", "--expect", "hello netkit", "--expect-all")
    assert code == 0
    code, out = check(url, "--send", ECHO_GET, "--expect", "200 OK", "--expect", "nope", "--expect-all")
    assert code == 1 and "TCP WARNING - unexpected reply" in out and "'nope'" in out
    assert check(url, "--send", ECHO_GET, "--expect", "nope", "--mismatch", "crit")[0] == 2
    assert check(url, "--send", ECHO_GET, "--expect", "nope", "--mismatch", "ok")[0] == 0


def test_maxbytes_ends_the_wait(banner_tcp):
    code, out = check(f"tcp://127.0.0.1:{banner_tcp.port}", "--expect", "never", "--maxbytes", "5")
    assert code == 1 and "[220 n]" in out


def test_timeout_waiting_for_reply_is_critical(silent_tcp):
    code, out = check(f"tcp://127.0.0.1:{silent_tcp.port}", "--expect", "x", "-t", "1")
    assert code == 2 and "timeout after 1 s waiting for data from 127.0.0.1" in out


def test_tls_after_connect(nginx, pki):
    url = f"tcp://127.0.0.1:{nginx.https_port}"
    code, out = check(url, "--tls", "--cacert", pki.ca_file, "--send", ECHO_GET, "--expect", "hello netkit")
    assert code == 0 and "TLSv1.3" in out
    code, out = check(url, "--tls")
    assert code == 2 and "did not verify" in out


def test_response_time_thresholds(nginx):
    url = f"tcp://127.0.0.1:{nginx.http_port}"
    assert check(url, "-w", "100", "-c", "200")[0] == 0
    code, out = check(url, "-w", "@0:100")
    assert code == 1 and "time=" in out and ";@100;" in out
    assert check(url, "-w", "@0:100", "-c", "@0:100")[0] == 2


def test_verbose_prints_the_dialogue(nginx):
    code, out = check(f"tcp://127.0.0.1:{nginx.http_port}", "-v", "--send", ECHO_GET, "--expect", "200")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("TCP OK")
    assert "  > GET / HTTP/1.0" in lines and any(line.startswith("  < HTTP/1.1 200 OK") for line in lines)


def test_unresolvable_host_is_critical():
    code, out = check("tcp://no-such-host.invalid:80", "-t", "3")
    assert code == 2 and ("cannot resolve no-such-host.invalid: " in out or "resolving" in out)


def test_udp_echo(udp_echo, udp_echo6):
    code, out = check(f"udp://127.0.0.1:{udp_echo.port}", "--send", "ping", "--expect", "echo:ping")
    assert code == 0 and out.startswith("UDP OK") and "[echo:ping]" in out
    code, out = check(f"udp://[::1]:{udp_echo6.port}", "--send", "ping", "--expect", "echo:ping")
    assert code == 0


def test_udp_wrong_reply_is_mismatch(udp_echo):
    code, out = check(f"udp://127.0.0.1:{udp_echo.port}", "--send", "ping", "--expect", "pong")
    assert code == 1 and "unexpected reply" in out and "echo:ping" in out


def test_udp_silence_is_a_timeout(udp_silent):
    code, out = check(f"udp://127.0.0.1:{udp_silent.port}", "--send", "ping", "--expect", "x", "-t", "1")
    assert code == 2 and "timeout after 1 s" in out


def test_udp_closed_port_is_refused(closed_port):
    # Nothing listens on this UDP port: the kernel answers ICMP port unreachable.
    import socket

    from tests.peers._base import free_port

    port = free_port(type=socket.SOCK_DGRAM)
    code, out = check(f"udp://127.0.0.1:{port}", "--send", "x", "--expect", "y", "-t", "2")
    assert code == 2 and "refused" in out
    assert check(f"udp://127.0.0.1:{port}", "--send", "x", "--expect", "y", "-t", "2", "--refuse", "ok")[0] == 0
