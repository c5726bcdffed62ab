"""netkit scan as users run it: formats, options, bad input, Ctrl-C."""

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import dropping, interrupted, netkit, read_pty
from tests.peers.terminal import screen


def scan(*args):
    return netkit("scan", *args)


@pytest.fixture
def two_listeners():
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    yield sorted(s.getsockname()[1] for s in socks)
    for s in socks:
        s.close()


def test_table_with_services_and_banners(banner_tcp, nginx):
    code, out = scan("127.0.0.1", "-p", f"{banner_tcp.port},{nginx.http_port},1", "--banner")
    assert code == 0
    assert f"{banner_tcp.port}/tcp" in out and "220 netkit test ready" in out
    assert "HTTP/1.1" in out  # nginx says nothing first: the HEAD probe gets an answer
    assert "1/tcp" in out and "closed" in out and "tcpmux" in out
    assert out.rstrip().splitlines()[-1].startswith("Done: 1 host, 3 ports")


def test_json_lines_and_open_only(two_listeners):
    ports = ",".join(map(str, two_listeners + [1, 2]))
    code, out = scan("127.0.0.1", "-p", ports, "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [x["state"] for x in lines[:-1]] == ["open", "open", "closed", "closed"]
    assert lines[-1]["type"] == "summary" and lines[-1]["open"] == 2 and lines[-1]["closed"] == 2
    code, out = scan("127.0.0.1", "-p", ports, "--json", "--open")
    assert [json.loads(line).get("port") for line in out.splitlines()[:-1]] == two_listeners


def test_xml_file_parses_back_and_grepable(tmp_path, two_listeners):
    xml_path = tmp_path / "scan.xml"
    ports = ",".join(map(str, two_listeners + [1]))
    code, _ = scan("127.0.0.1", "-p", ports, "-oX", str(xml_path), "-oG", str(tmp_path / "scan.gnmap"))
    assert code == 0 and not (tmp_path / "scan.xml.part").exists()
    root = ET.parse(xml_path).getroot()
    assert root.tag == "nmaprun" and root.get("scanner") == "netkit"
    got = {int(p.get("portid")): p.find("state").get("state") for p in root.iter("port")}
    assert got == {two_listeners[0]: "open", two_listeners[1]: "open", 1: "closed"}
    grepable = (tmp_path / "scan.gnmap").read_text()
    assert f"{two_listeners[0]}/open/tcp" in grepable and grepable.rstrip().splitlines()[-1].startswith("# Nmap done")


def test_targets_exclusions_and_files(tmp_path, two_listeners):
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# loopback\n127.0.0.1\n127.0.0.2  # another\n127.0.0.3\n")
    code, out = scan("-iL", str(hosts), "--exclude", "127.0.0.2", "-p", "1", "--json")
    addresses = [json.loads(line)["host"] for line in out.splitlines()[:-1]]
    assert code == 0 and addresses == ["127.0.0.1", "127.0.0.3"]
    code, out = scan("127.0.0.1", "--top-ports", "5", "--json")
    assert code == 0 and [json.loads(line)["port"] for line in out.splitlines()[:-1]] == [80, 23, 443, 21, 22]


@pytest.mark.parametrize("args, words", [
    (["127.0.0.1", "-p", "0"], "port 0 in -p 0 is out of range"),
    (["127.0.0.1", "-p", "70000"], "port 70000"),
    (["10.0.0.0/33"], "prefix length is at most 32"),
    (["no-such-host.invalid"], "cannot resolve 'no-such-host.invalid'"),
    ([], "no targets"),
    (["127.0.0.1", "-p", "1", "--top-ports", "5"], "both choose the ports"),
    (["127.0.0.1", "--rate", "fast"], "--rate expects a whole number"),
    (["127.0.0.1", "--timeout", "0"], "--timeout expects"),
    (["127.0.0.1", "--exclude", "127.0.0.1"], "every target was excluded"),
    (["-iL", "/nonexistent/hosts"], "cannot read the target file"),
])
def test_bad_input(args, words):
    proc = subprocess.run([sys.executable, "-m", "netkit", "scan", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_ctrl_c_prints_what_was_found(two_listeners):
    """Ports behind a drop rule take the whole timeout: Ctrl-C while they wait."""
    with dropping("ip daddr 127.0.0.3"):
        ports = ",".join(map(str, two_listeners))
        code, out, err = interrupted("scan", "127.0.0.1", "127.0.0.3", "-p", ports, "--timeout", "5", "--json",
                                     after=1.5, timeout=20)
    assert code == 130 and "Traceback" not in err, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["host"], x["state"]) for x in lines[:-1]] == [("127.0.0.1", "open"), ("127.0.0.1", "open")]
    assert lines[-1]["interrupted"] is True


def test_host_timeout_gives_up_on_a_slow_host(two_listeners):
    """127.0.0.3 drops everything: with --host-timeout it is abandoned, 127.0.0.1 is finished."""
    # Closed ports: bound (so no other process can listen there meanwhile) but not listening.
    holders = [socket.socket() for _ in range(30)]
    for h in holders:
        h.bind(("127.0.0.1", 0))
    with dropping("ip daddr 127.0.0.3"):
        ports = ",".join(map(str, two_listeners + [h.getsockname()[1] for h in holders]))
        # Every probe goes out at once; the resends, 0.4 s later, come after the host's 0.3 s.
        code, out = scan("127.0.0.1", "127.0.0.3", "-p", ports, "--host-timeout", "0.3", "--timeout", "0.4")
    for h in holders:
        h.close()
    assert code == 0
    assert "127.0.0.1: 2 open, 30 closed" in out
    assert "127.0.0.3: 0 open, 32 not scanned (host timeout)" in out


def test_ctrl_c_with_worker_processes():
    """20,000 probes fork two engines; Ctrl-C stops them all and still reports."""
    with dropping("ip daddr 127.0.0.3 tcp dport 10001-20000"):
        # 100 connects in flight per worker, 10,000 silent ports at 6 tries each: many seconds.
        code, out, err = interrupted("scan", "127.0.0.3", "-p", "1-20000", "--concurrency", "200", "--json",
                                     after=2)
    assert code == 130 and "Traceback" not in err, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["interrupted"] is True and 0 < summary["scanned"] < 20000


def _scan_with_stderr_on(terminal: bool, *args):
    """Run netkit scan with stderr on a pseudo-terminal (or a pipe); (stdout, stderr)."""
    import os
    import pty

    if terminal:
        master, slave = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "netkit", "scan", *args], stdout=subprocess.PIPE,
                                stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        seen = read_pty(master, timeout=60)
        out = proc.stdout.read().decode()
        proc.wait(timeout=60)
        os.close(master)
        return out, seen.decode()
    proc = subprocess.run([sys.executable, "-m", "netkit", "scan", *args], capture_output=True, text=True,
                          timeout=60)
    return proc.stdout, proc.stderr


def test_progress_on_a_terminal_and_none_in_a_pipe(two_listeners):
    """A big scan shows `scan ━━━╸━━━ N% done/total ports N open ETA` on a terminal's stderr,
    then erases it; piped, stderr stays empty. The results are the same either way."""
    args = ("127.0.0.1", "127.0.0.2", "-p-", "--open", "--json", "--retries", "0")
    out_tty, err_tty = _scan_with_stderr_on(True, *args)
    out_pipe, err_pipe = _scan_with_stderr_on(False, *args)
    assert "/131,070 ports" in err_tty and " open" in err_tty and "━" in err_tty, err_tty
    assert screen(err_tty, 80) == [] and "Traceback" not in err_tty  # erased at the end
    assert err_pipe == ""
    # Both find our listeners (other processes' listeners may come and go between the runs).
    for out in (out_tty, out_pipe):
        opened = {json.loads(line)["port"] for line in out.splitlines()[:-1]}
        assert set(two_listeners) <= opened
