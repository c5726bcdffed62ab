"""ssh:// and dns:// checks against real peers: OpenSSH's sshd, dnsmasq, and faulty servers."""

import contextlib
import socketserver
import subprocess
import sys
import threading
import time

import pytest

from netkit.core.perfdata import parse_perfdata
from tests.helpers import check, check_json
from tests.peers._base import ThreadingServer, serve_in_thread
from tests.unit.test_ssh_dns_logic import kexinit_packet

# --- scripted TCP servers for the faults sshd will not produce --------------------------

# How long a scripted server waits for the client's identification line before going on.
SCRIPT_READ_TIMEOUT = 2.0


class _ScriptServer(ThreadingServer):
    def __init__(self, data: bytes, then: str):
        self.data = data
        self.then = then
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _ScriptHandler)


class _ScriptHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock, server = self.request, self.server
        sock.sendall(server.data)
        sock.settimeout(SCRIPT_READ_TIMEOUT)
        try:  # read what the client sends first, so closing does not reset the connection
            sock.recv(65536)
        except OSError:
            pass
        if server.then == "hold":
            server.stopping.wait()


@contextlib.contextmanager
def scripted(data: bytes, then: str = "close"):
    """A TCP server on 127.0.0.1 that sends ``data`` to every client, reads what the client
    sends, then closes ("close") or stays silent until the test ends ("hold")."""
    server = _ScriptServer(data, then)
    with serve_in_thread(server, "scripted-tcp"):
        try:
            yield server.server_address[1]
        finally:
            server.stopping.set()


def log_since(path, start: int) -> str:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read().decode(errors="replace")


def wait_for_log(path, start: int, needle: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = log_since(path, start)
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.02)


# --- ssh:// ------------------------------------------------------------------------------


def test_ssh_identification_like_check_ssh(sshd):
    start = sshd.log_file.stat().st_size
    code, out = check(f"ssh://{sshd.host}:{sshd.port}")
    text, _, perf = out.strip().partition("|")
    assert code == 0, out
    assert text.startswith("SSH OK - OpenSSH_") and text.endswith("(protocol 2.0)")
    labels = {m.label: m for m in parse_perfdata(perf)}
    assert labels["time"].unit == "s" and labels["time"].max == 10
    # We sent our identification: sshd logs a clean close, not a failed identification exchange.
    log = wait_for_log(sshd.log_file, start, "Connection closed by")
    assert "[preauth]" in log and "kex_exchange_identification" not in log
    assert "Did not receive identification" not in log


def test_ssh_verbose_and_json(sshd):
    url = f"ssh://{sshd.host}:{sshd.port}"
    code, out = check(url, "-v")
    lines = out.splitlines()
    assert code == 0 and "  > SSH-2.0-netkit_0.1.0" in lines
    assert any(line.startswith("  < SSH-2.0-OpenSSH_") for line in lines)
    code, results = check_json(url)
    details = results[0]["details"]
    assert code == 0 and details["protocol"] == "2.0" and details["software"].startswith("OpenSSH_")
    assert details["identification"].startswith("SSH-2.0-OpenSSH_") and details["peer"] == f"127.0.0.1:{sshd.port}"


def test_ssh_protocol_and_software_options(sshd):
    url = f"ssh://{sshd.host}:{sshd.port}"
    assert check(url, "--protocol", "2.0")[0] == 0
    code, out = check(url, "--protocol", "1.5")
    assert code == 2 and "protocol version mismatch, expected '1.5'" in out
    assert check(url, "--software", "OpenSSH_")[0] == 0
    assert check(url, "--software", "Debian")[0] == 0  # the comment part counts too
    code, out = check(url, "--software", "Dropbear")
    assert code == 2 and out.startswith("SSH CRITICAL - OpenSSH_") and "version mismatch, expected 'Dropbear'" in out


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_ssh_hostkey_pin_of_any_server_key(sshd, kind):
    pin = sshd.host_key_fingerprints[kind]
    code, results = check_json(f"ssh://{sshd.host}:{sshd.port}", "--hostkey", pin)
    result = results[0]
    assert code == 0, result["summary"]
    assert result["summary"].endswith(f"{pin} as pinned") and result["details"]["hostkey_match"] == pin


def test_ssh_hostkey_any_of_several_pins(sshd):
    url = f"ssh://{sshd.host}:{sshd.port}"
    code, out = check(url, "--hostkey", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                      "--hostkey", sshd.host_key_fingerprints["ed25519"])
    assert code == 0 and "ED25519" in out


def test_ssh_hostkey_mismatch_names_expected_and_actual(sshd):
    wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    code, results = check_json(f"ssh://{sshd.host}:{sshd.port}", "--hostkey", wrong)
    result = results[0]
    assert code == 2 and "host key mismatch" in result["summary"] and f"expected {wrong}" in result["summary"]
    # Every key the server holds is named, with ssh-keygen -lf's fingerprints.
    for fp in sshd.host_key_fingerprints.values():
        assert fp in result["summary"]
    presented = {k["fingerprint"] for k in result["details"]["host_keys"]}
    assert presented == set(sshd.host_key_fingerprints.values())


def test_ssh_login_with_a_key(sshd):
    start = sshd.log_file.stat().st_size
    url = f"ssh://{sshd.host}:{sshd.port}"
    trust = ("--known-hosts", sshd.known_hosts)
    code, out = check(url, "--identity", sshd.client_key, "--user", sshd.user, *trust)
    assert code == 0 and f"logged in as {sshd.user} with {sshd.client_key.name}" in out, out
    assert f"Accepted publickey for {sshd.user}" in wait_for_log(sshd.log_file, start, "Accepted publickey")
    # The local user name when no --user (root in CI, where the fixture logs in as itself).
    code, out = check(url, "--identity", sshd.client_key, *trust)
    assert code == 0 and f"logged in as {sshd.user}" in out


def test_ssh_login_and_pin_together(sshd):
    code, results = check_json(f"ssh://{sshd.host}:{sshd.port}", "--identity", sshd.client_key,
                               "--hostkey", sshd.host_key_fingerprints["rsa"])
    result = results[0]
    assert code == 0 and "as pinned" in result["summary"] and result["details"]["login"]["ok"] is True


def test_ssh_no_login_when_the_pin_fails(sshd):
    start = sshd.log_file.stat().st_size
    code, results = check_json(f"ssh://{sshd.host}:{sshd.port}", "--identity", sshd.client_key,
                               "--hostkey", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert code == 2 and "host key mismatch" in results[0]["summary"]
    assert results[0]["details"]["login"]["ok"] is False
    time.sleep(0.3)
    assert "Accepted publickey" not in log_since(sshd.log_file, start)


def test_ssh_login_failures_are_critical(sshd, tmp_path):
    url = f"ssh://{sshd.host}:{sshd.port}"
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    trust = ("--known-hosts", sshd.known_hosts)
    code, out = check(url, "--identity", other, *trust)
    assert code == 2 and f"authentication as {sshd.user} with other_key failed" in out
    code, out = check(url, "--identity", sshd.client_key, "--user", "no-such-user-netkit", *trust)
    assert code == 2 and "authentication as no-such-user-netkit" in out and "failed" in out


def test_ssh_unusable_key_is_unknown(sshd, tmp_path):
    locked = tmp_path / "locked_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)], check=True)
    code, out = check(f"ssh://{sshd.host}:{sshd.port}", "--identity", locked, "--known-hosts", sshd.known_hosts)
    assert code == 3 and f"cannot use {locked}" in out


def test_ssh_refused_and_silent(closed_port, silent_tcp):
    code, out = check(f"ssh://127.0.0.1:{closed_port.port}")
    assert code == 2 and out.startswith("SSH CRITICAL - connection refused by 127.0.0.1:")
    code, out = check(f"ssh://127.0.0.1:{silent_tcp.port}", "-t", "1")
    assert code == 2 and "timeout after 1 s waiting for data from 127.0.0.1" in out


def test_ssh_against_services_that_are_not_ssh(nginx, banner_tcp):
    # nginx answers our identification line as a bad HTTP request, and closes.
    code, out = check(f"ssh://127.0.0.1:{nginx.http_port}")
    assert code == 2 and "is not an SSH server: it said 'HTTP/1.1 400 Bad Request'" in out
    # A greeting that stays open: RFC 4253 allows lines before the identification, so
    # only the timeout ends the wait; the line says what the peer did say.
    code, out = check(f"ssh://127.0.0.1:{banner_tcp.port}", "-t", "1")
    assert code == 2 and "timeout after 1 s" in out and "it said '220 netkit test ready'" in out


def test_ssh_preamble_and_bad_identifications_on_the_wire():
    with scripted(b"Welcome\r\nAuthorized use only\r\nSSH-2.0-Fake_1.0 test server\r\n") as port:
        code, results = check_json(f"ssh://127.0.0.1:{port}")
        assert code == 0 and results[0]["summary"] == "Fake_1.0 test server (protocol 2.0)"
        assert results[0]["details"]["preamble"] == ["Welcome", "Authorized use only"]
    with scripted(b"SSH-2.0-" + b"x" * 300 + b"\r\n") as port:
        code, out = check(f"ssh://127.0.0.1:{port}")
        assert code == 2 and "longer than 255 bytes" in out
    with scripted(b"\x16\x03\x01\x00\x05\x00\x00\x00\x00\x00") as port:
        code, out = check(f"ssh://127.0.0.1:{port}")
        assert code == 2 and "binary data instead of an SSH identification" in out


def test_ssh_key_exchange_faults_are_mapped():
    hello = b"SSH-2.0-Fake_1.0\r\n" + kexinit_packet(("ssh-ed25519",))
    # The server stalls after its KEXINIT: the deadline covers asyncssh's part too.
    with scripted(hello, then="hold") as port:
        code, out = check(f"ssh://127.0.0.1:{port}", "--hostkey", "SHA256:x", "-t", "2")
        assert code == 2 and f"timeout after 2 s in the SSH key exchange with 127.0.0.1:{port}" in out
        # The same on asyncio (two URLs make a sweep): the deadline cancels asyncssh there too.
        code, out = check(f"ssh://127.0.0.1:{port}", f"ssh://[::1]:{port}", f"ssh://127.0.0.1:{port}",
                          "--hostkey", "SHA256:x", "-t", "2")
        lines = out.splitlines()
        assert code == 2 and len(lines) == 3 and "timeout after 2 s in the SSH key exchange" in lines[0]
        assert "refused" in lines[1]  # the scripted server listens on IPv4 only
    # It closes instead: asyncssh's ConnectionLost (not an OSError) becomes a clear line.
    with scripted(hello) as port:
        code, out = check(f"ssh://127.0.0.1:{port}", "--hostkey", "SHA256:x", "-t", "5")
        assert code == 2 and f"SSH CRITICAL - connection closed by 127.0.0.1:{port} in the SSH key exchange" in out
    # No host key type in common.
    with scripted(b"SSH-2.0-Fake_1.0\r\n" + kexinit_packet(("x-unknown@example.com",))) as port:
        code, out = check(f"ssh://127.0.0.1:{port}", "--hostkey", "SHA256:x")
        assert code == 2 and "offers no host key type netkit can check" in out


def test_ssh_sweep_runs_the_key_exchange_on_asyncio(sshd):
    url = f"ssh://{sshd.host}:{sshd.port}"
    code, results = check_json(url, url, "--hostkey", sshd.host_key_fingerprints["ecdsa"],
                               "--identity", sshd.client_key)
    assert code == 0 and len(results) == 2
    assert all("logged in as" in r["summary"] for r in results)


def test_ssh_fast_path_imports_neither_asyncssh_nor_asyncio(sshd):
    code = (
        "import sys, io; from netkit.cli.check import main; "
        f"rc = main(['ssh://127.0.0.1:{sshd.port}'], out=io.StringIO()); "
        "print(rc, ' '.join(m for m in ('asyncssh', 'asyncio', 'ssl', 'dns') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


# --- dns:// ------------------------------------------------------------------------------


def dns_url(peer, name, rtype=None):
    return f"dns://{peer.host}:{peer.port}/{name}" + (f"?type={rtype}" if rtype else "")


def test_dns_a_record_line(dnsmasq):
    code, out = check(dns_url(dnsmasq, "www.netkit.test"))
    text, _, perf = out.strip().partition("|")
    assert code == 0
    assert text.startswith("DNS OK - www.netkit.test A 192.0.2.10 (1 answer) in ")
    assert text.endswith(f" s from 127.0.0.1:{dnsmasq.port}")
    labels = {m.label: m.value for m in parse_perfdata(perf)}
    assert set(labels) == {"time", "answers"} and labels["answers"] == 1


def test_dns_every_record_of_the_zone(dnsmasq):
    """Each (name, type) of the peer's zone: the answers in --json are the expected records."""
    for (name, rtype), expected in dnsmasq.records.items():
        code, results = check_json(dns_url(dnsmasq, name, rtype))
        details = results[0]["details"]
        assert code == 0, results[0]["summary"]
        got = {a["data"] for a in details["answers"] if a["type"] == rtype}
        assert got == set(expected), (name, rtype)
        assert all(a["ttl"] == 300 and a["name"] for a in details["answers"])
        assert results[0]["metrics"]["answers"] == len(expected)


def test_dns_cname_chain(dnsmasq):
    code, results = check_json(dns_url(dnsmasq, "alias.netkit.test"))
    result = results[0]
    assert code == 0 and "alias.netkit.test A 192.0.2.10 via CNAME www.netkit.test" in result["summary"]
    assert [a["type"] for a in result["details"]["answers"]] == ["CNAME", "A"]


def test_dns_truncated_udp_falls_back_to_tcp(dnsmasq):
    code, results = check_json(dns_url(dnsmasq, "big.netkit.test", "TXT"))
    details = results[0]["details"]
    assert code == 0 and details["truncated"] is True and details["transport"] == "tcp"
    assert len(details["answers"]) == 40 and "after a truncated UDP answer" in results[0]["summary"]


def test_dns_over_tcp(dnsmasq):
    code, results = check_json(dns_url(dnsmasq, "www.netkit.test"), "--tcp")
    details = results[0]["details"]
    assert code == 0 and details["transport"] == "tcp" and details["truncated"] is False


def test_dns_nxdomain_and_expect_nxdomain(dnsmasq):
    code, out = check(dns_url(dnsmasq, "nx.netkit.test"))
    assert code == 2 and "DNS CRITICAL - nx.netkit.test does not exist (NXDOMAIN)" in out
    code, out = check(dns_url(dnsmasq, "nx.netkit.test"), "--expect-nxdomain")
    assert code == 0 and "as expected" in out
    code, out = check(dns_url(dnsmasq, "www.netkit.test"), "--expect-nxdomain")
    assert code == 2 and "expected NXDOMAIN, got NOERROR" in out


def test_dns_refused_and_no_data(dnsmasq):
    code, out = check(dns_url(dnsmasq, "example.com"))
    assert code == 2 and "example.com A: the server answered REFUSED" in out
    code, out = check(dns_url(dnsmasq, "www.netkit.test", "MX"))
    assert code == 2 and "has no MX record (NOERROR, no answer)" in out
    assert check(dns_url(dnsmasq, "www.netkit.test", "MX"), "--answers", "0")[0] == 0


def test_dns_answer_count(dnsmasq):
    url = dns_url(dnsmasq, "multi.netkit.test")
    assert check(url, "--answers", "3")[0] == 0
    code, out = check(url, "--answers", "4:")
    assert code == 2 and "3 answers, outside --answers 4:" in out and "answers=3;;4:;0" in out


def test_dns_expected_addresses(dnsmasq):
    url = dns_url(dnsmasq, "multi.netkit.test")
    assert check(url, "--expect-address", "192.0.2.0/24")[0] == 0
    assert check(url, "--expect-address", "192.0.2.21", "--expect-address", "192.0.2.22",
                 "--expect-address", "192.0.2.23")[0] == 0
    code, out = check(url, "--expect-address", "192.0.2.21")
    assert code == 2 and "not within the expected 192.0.2.21" in out
    code, out = check(url, "--expect-address", "192.0.2.0/24", "--expect-address", "192.0.2.99")
    assert code == 2 and "expected 192.0.2.99 missing from the answer" in out
    assert check(dns_url(dnsmasq, "www.netkit.test", "AAAA"), "--expect-address", "2001:db8::/64")[0] == 0


def test_dns_response_time_thresholds(dnsmasq):
    url = dns_url(dnsmasq, "www.netkit.test")
    assert check(url, "-w", "5", "-c", "10")[0] == 0
    code, out = check(url, "-w", "@0:100")
    assert code == 1 and ";@100;" in out
    assert check(url, "-c", "@0:100")[0] == 2


def test_dns_server_that_never_answers(dns_silent):
    code, out = check(dns_url(dns_silent, "www.netkit.test"), "-t", "1")
    assert code == 2 and "timeout after 1 s waiting for data from 127.0.0.1" in out
    code, out = check(dns_url(dns_silent, "www.netkit.test"), "-t", "1", "--tcp")
    assert code == 2 and "timeout after 1 s" in out


def test_dns_closed_port_is_refused(closed_port):
    import socket

    from tests.peers._base import free_port

    port = free_port(type=socket.SOCK_DGRAM)
    code, out = check(f"dns://127.0.0.1:{port}/www.netkit.test", "-t", "2")
    assert code == 2 and "refused" in out


def test_dns_garbage_is_a_protocol_error(udp_echo, nginx):
    code, out = check(dns_url(udp_echo, "www.netkit.test"), "-t", "2")
    assert code == 2 and f"127.0.0.1:{udp_echo.port} sent something that is not a DNS reply" in out
    code, out = check(f"dns://127.0.0.1:{nginx.http_port}/www.netkit.test", "--tcp", "-t", "2")
    assert code == 2 and "closed the connection before a complete DNS reply" in out and "HTTP/1.1 400" in out


def test_dns_bad_input_is_unknown(dnsmasq):
    code, out = check(dns_url(dnsmasq, "www.netkit.test", "BOGUS"))
    assert code == 3 and "type=BOGUS" in out
    code, out = check(dns_url(dnsmasq, "a..b.netkit.test"))
    assert code == 3 and "is not a DNS name: it has an empty label" in out


def test_dns_system_resolver_is_named():
    from netkit.check.dns import system_nameserver

    server, _why = system_nameserver()
    _code, results = check_json("dns:///localhost", "-t", "2")
    result = results[0]
    assert "(system resolver, /etc/resolv.conf)" in result["summary"]
    assert result["details"]["system_resolver"] is True
    if server is None:
        assert "no nameserver" in result["summary"]
    else:
        assert result["details"]["server"] in (f"{server}:53", f"[{server}]:53")


def test_dns_sweep_on_asyncio(dnsmasq):
    code, results = check_json(dns_url(dnsmasq, "www.netkit.test"), dns_url(dnsmasq, "big.netkit.test", "TXT"),
                               dns_url(dnsmasq, "nx.netkit.test"))
    assert [r["status"] for r in results] == ["OK", "OK", "CRITICAL"] and code == 2
    assert results[1]["details"]["truncated"] is True
