"""The scan's output formats, from reports built by hand: the table, JSON Lines, nmap's
grepable and XML formats (XML parsed back, validated against nmap's DTD and read by the
tools that read nmap's when they are installed).

The expected nmap lines are nmap 7.93's own output for the same scans (nmap -sT -oG/-oX).
"""

import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netkit import __version__
from netkit.scan.model import HostResult, PortResult, ScanReport
from netkit.scan.output import (
    INTERRUPTED_MESSAGE,
    grepable,
    json_line,
    json_summary,
    nmap_xml,
    table,
)

T = 1795317409  # Sun Nov 22 03:16:49 2026 UTC, the time of the nmap runs quoted below
WHEN = "Sun Nov 22 03:16:49 2026"
NMAP_DTD = Path("/usr/share/nmap/nmap.dtd")


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times are written in local time, as nmap's are: pin it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def port(n, state="closed", service=None, banner=None, address="127.0.0.1", rtt=0.00005, reason=None):
    if reason is None:
        reason = {"open": "syn-ack", "closed": "conn-refused", "filtered": "no-response"}[state]
    if state == "filtered" and reason == "no-response":
        rtt = None
    return PortResult(address, n, state, reason, rtt, service, banner)


def host(ports, address="127.0.0.1", name=None):
    return HostResult(address, name, ports, T, T + 0.04)


def report(hosts, ports=None, command="netkit scan 127.0.0.1", interrupted=False):
    if ports is None:
        ports = sorted({p.port for h in hosts for p in h.ports})
    return ScanReport(hosts, ports, command, T, T + 0.04, interrupted)


def localhost_four():
    """nmap -sT -p 22,80,443,1 127.0.0.1 with nothing listening (the brief's example)."""
    ports = [port(1, service="tcpmux"), port(22, service="ssh"), port(80, service="http"),
             port(443, service="https")]
    return report([host(ports, name="localhost")], [22, 80, 443, 1],
                  "netkit scan -p 22,80,443,1 -oX - 127.0.0.1")


def mixed():
    """Three open ports (two with banners), one filtered, 30 closed; then ::1 and a host
    that was never reached."""
    ports = ([port(22, "open", "ssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
              port(80, "open", "http"),
              port(443, "filtered", "https"),
              port(2525, "open", None, "220 mail ESMTP\r\n250 ok")]
             + [port(n) for n in range(1000, 1030)])
    hosts = [host(ports, name="localhost"),
             host([port(22, service="ssh", address="::1")], address="::1"),
             HostResult("10.0.0.9", "far", [], T, None)]
    return report(hosts, [22, 80, 443, 2525, *range(1000, 1030)], "netkit scan --banner localhost ::1 far")


# -- table -------------------------------------------------------------------------------


def test_table_lists_states_with_few_ports_and_folds_the_others():
    assert table(mixed()) == (
        "localhost (127.0.0.1): 3 open, 30 closed, 1 filtered\n"
        "PORT      STATE     SERVICE  BANNER\n"
        "22/tcp    open      ssh      SSH-2.0-OpenSSH_9.2p1 Debian-2\n"
        "80/tcp    open      http\n"
        "443/tcp   filtered  https\n"
        "2525/tcp  open      unknown  220 mail ESMTP 250 ok\n"
        "30 closed ports not shown\n"
        "\n"
        "::1: 0 open, 1 closed\n"
        "PORT    STATE   SERVICE\n"
        "22/tcp  closed  ssh\n"
        "\n"
        "far (10.0.0.9): no ports scanned\n"
        "\n"
        "Done: 3 hosts, 35 ports in 0.04 s (3 open)\n"
    )


def test_table_shows_25_ports_of_a_state_and_folds_26():
    shown = table(report([host([port(n) for n in range(1, 26)])]))
    assert "25/tcp  closed" in shown and "not shown" not in shown
    folded = table(report([host([port(n) for n in range(1, 27)])]))
    assert folded.splitlines()[:2] == ["127.0.0.1: 0 open, 26 closed", "26 closed ports not shown"]


def test_table_folds_many_filtered_and_closed_most_first():
    ports = [port(n) for n in range(1, 31)] + [port(n, "filtered") for n in range(100, 140)]
    assert "40 filtered, 30 closed ports not shown" in table(report([host(ports)]))


def test_table_only_open():
    text = table(mixed(), only_open=True)
    assert text == (
        "localhost (127.0.0.1): 3 open, 30 closed, 1 filtered\n"
        "PORT      STATE  SERVICE  BANNER\n"
        "22/tcp    open   ssh      SSH-2.0-OpenSSH_9.2p1 Debian-2\n"
        "80/tcp    open   http\n"
        "2525/tcp  open   unknown  220 mail ESMTP 250 ok\n"
        "30 closed, 1 filtered ports not shown\n"
        "\n"
        "Done: 3 hosts, 35 ports in 0.04 s (3 open)\n"
    )
    one = table(report([host([port(22, "open", "ssh"), port(23)])]), only_open=True)
    assert "1 closed port not shown" in one


def test_table_cuts_banners_to_the_width():
    long = "220 " + "x" * 200
    text = table(report([host([port(25, "open", "smtp", long)], name="mail")]), width=40)
    lines = text.splitlines()
    assert lines[2] == "25/tcp  open   smtp     220 xxxxxxxxxxx…"
    assert all(len(line) <= 40 for line in lines)
    assert lines[1] == "PORT    STATE  SERVICE  BANNER"
    assert "x" * 200 in table(report([host([port(25, "open", "smtp", long)])]))  # no width: whole


def test_table_cut_never_splits_an_escape():
    banner = "a\x01\x02\x03\x04\x05"
    rows = {w: table(report([host([port(25, "open", "smtp", banner)])]), width=w).splitlines()[2]
            for w in range(30, 46)}
    assert rows[32] == rows[33] == "25/tcp  open   smtp     a\\x01…"
    assert rows[34] == "25/tcp  open   smtp     a\\x01\\x02…"
    assert rows[45] == "25/tcp  open   smtp     a\\x01\\x02\\x03\\x04\\x05"
    for w, row in rows.items():
        assert len(row) <= w and re.search(r"(a|\\x0\d)…?$", row), row


@pytest.mark.parametrize("banner, shown", [
    ("\x1b[31mred\x1b[0m", "\\x1B[31mred\\x1B[0m"),  # no terminal escapes get through
    ("a\x00b\x7fc", "a\\x00b\\x7Fc"),
    ("one\r\n\r\ntwo\tthree  four", "one two three four"),  # whitespace runs: one space
    ("  padded  \r\n", "padded"),
    ("caf\u00e9 \u2603", "caf\u00e9 \u2603"),  # printable Unicode kept
    ("\u202eevil", "\\u202Eevil"),  # not printable: escaped
    (b"SSH-2.0-x\xff\xfe\r\n", "SSH-2.0-x\\xFF\\xFE"),  # bytes: UTF-8, the rest as \xHH
])
def test_table_banners_are_printable(banner, shown):
    text = table(report([host([port(22, "open", "ssh", banner)])]))
    assert text.splitlines()[2] == f"22/tcp  open   ssh      {shown}"
    assert all(c.isprintable() or c == "\n" for c in text)


def test_table_hostname_cannot_break_lines():
    text = table(report([host([port(22, "open")], name="evil\nname\x1b")]))
    assert text.splitlines()[0] == "evil name  (127.0.0.1): 1 open"


def test_table_name_equal_to_address_is_not_repeated():
    assert table(report([host([port(22, "open")], name="127.0.0.1")])).startswith("127.0.0.1: 1 open\n")


def test_table_only_open_and_nothing_open():
    assert table(report([host([port(22)])]), only_open=True) == "Done: 1 host, 1 port in 0.04 s (0 open)\n"


def test_table_interrupted_and_empty():
    assert table(report([], [], interrupted=True)) == (
        "Interrupted: 0 hosts, 0 ports in 0.04 s (0 open); the results are partial\n")


def test_table_thousands():
    ports = [port(n) for n in range(1, 1201)] + [port(8080, "open", "http-proxy")]
    assert table(report([host(ports)])).splitlines()[0] == "127.0.0.1: 1 open, 1,200 closed"


# -- JSON Lines --------------------------------------------------------------------------


def test_json_line_exact():
    p = port(22, "open", "ssh", "SSH-2.0-OpenSSH_9.2p1", rtt=0.0001234567)
    assert json_line(p, "localhost") == (
        '{"type":"port","host":"127.0.0.1","hostname":"localhost","port":22,"protocol":"tcp",'
        '"state":"open","reason":"syn-ack","rtt":0.000123,"service":"ssh",'
        '"banner":"SSH-2.0-OpenSSH_9.2p1"}')
    assert json.loads(json_line(port(9, "filtered"))) == {
        "type": "port", "host": "127.0.0.1", "hostname": None, "port": 9, "protocol": "tcp",
        "state": "filtered", "reason": "no-response", "rtt": None, "service": None, "banner": None}


@pytest.mark.parametrize("banner, loaded", [
    ("caf\u00e9\r\n\x00\"\\", "caf\u00e9\r\n\x00\"\\"),  # kept as received, escaped by JSON
    (b"220 \xc3\xa9 \xff", "220 \u00e9 \\xff"),
    ("x\udcff", "x\udcff"),  # an undecodable byte kept by surrogateescape
])
def test_json_line_odd_banners(banner, loaded):
    line = json_line(port(25, "open", "smtp", banner, address="::1"), "mail")
    line.encode("utf-8")  # always writable to a UTF-8 stream
    assert "\n" not in line
    assert json.loads(line)["banner"] == loaded
    assert json.loads(line)["host"] == "::1"


def test_json_summary_exact():
    assert json_summary(mixed()) == (
        '{"type":"summary","hosts":3,"ports":34,"scanned":35,"open":3,"closed":31,"filtered":1,'
        '"started":1795317409,"finished":1795317409.04,"elapsed":0.04,"interrupted":false}')
    assert json.loads(json_summary(report([], [], interrupted=True)))["interrupted"] is True


# -- nmap grepable -----------------------------------------------------------------------


def test_grepable_matches_nmap():
    assert grepable(localhost_four()) == (
        f"# netkit {__version__} scan initiated {WHEN} as: netkit scan -p 22,80,443,1 -oX - 127.0.0.1\n"
        # nmap 7.93's lines, byte for byte:
        "Host: 127.0.0.1 (localhost)\tStatus: Up\n"
        "Host: 127.0.0.1 (localhost)\tPorts: 1/closed/tcp//tcpmux///, 22/closed/tcp//ssh///, "
        "80/closed/tcp//http///, 443/closed/tcp//https///\n"
        f"# Nmap done at {WHEN} -- 1 IP address (1 host up) scanned in 0.04 seconds\n"
    )


def test_grepable_folded_and_unknown_services():
    # nmap -sT -n -p 2222,2525,8080,9999,1-30 with three listeners and 9999 dropped:
    ports = ([port(n) for n in range(1, 31)]
             + [port(2222, "open", "EtherNetIP-1"), port(2525, "open", "ms-v-worlds"),
                port(8080, "open", "http-proxy"), port(9999, "filtered", "abyss"),
                port(40004)])
    lines = grepable(report([host(ports)])).splitlines()
    assert lines[1:3] == [
        "Host: 127.0.0.1 ()\tStatus: Up",
        ("Host: 127.0.0.1 ()\tPorts: 2222/open/tcp//EtherNetIP-1///, 2525/open/tcp//ms-v-worlds///, "
         "8080/open/tcp//http-proxy///, 9999/filtered/tcp//abyss///\tIgnored State: closed (31)"),
    ]


def test_grepable_all_folded_names_the_most_common_state_only():
    ports = [port(n) for n in range(1, 31)] + [port(n, "filtered") for n in range(100, 200)]
    assert grepable(report([host(ports)])).splitlines()[2] == (
        "Host: 127.0.0.1 ()\tPorts: \tIgnored State: filtered (100)")
    tie = [port(n) for n in range(1, 31)] + [port(n, "filtered") for n in range(100, 130)]
    assert grepable(report([host(tie)])).splitlines()[2].endswith("\tIgnored State: closed (30)")


def test_grepable_only_open_ipv6_and_empty_hosts():
    hosts = [host([port(22, "open", "ssh", address="::1"), port(23, address="::1"),
                   port(24, "filtered", address="::1"), port(25, "filtered", address="::1")],
                  address="::1", name="localhost"),
             host([port(22)], address="10.0.0.2"),  # no open port: left out, as nmap --open does
             HostResult("10.0.0.3", None, [], T, None)]
    text = grepable(report(hosts, [22, 23, 24, 25]), only_open=True)
    assert text.splitlines()[1:] == [
        "Host: ::1 (localhost)\tStatus: Up",
        "Host: ::1 (localhost)\tPorts: 22/open/tcp//ssh///\tIgnored State: filtered (2)",
        f"# Nmap done at {WHEN} -- 3 IP addresses (3 hosts up) scanned in 0.04 seconds",
    ]
    assert grepable(report(hosts[2:], [22])).splitlines()[1:] == [
        "Host: 10.0.0.3 ()\tStatus: Up",
        f"# Nmap done at {WHEN} -- 1 IP address (1 host up) scanned in 0.04 seconds",
    ]


def test_grepable_fields_cannot_break_the_format():
    r = report([host([port(22, "open", "a/b,c\tz")], name="bad\tname\n")],
               command="netkit scan\n--open x")
    lines = grepable(r).splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("as: netkit scan --open x")
    assert lines[2] == "Host: 127.0.0.1 (bad name )\tPorts: 22/open/tcp//a|b c z///"


def test_grepable_interrupted():
    lines = grepable(report([host([port(22, "open", "ssh")])], interrupted=True)).splitlines()
    assert lines[-2:] == [f"# {INTERRUPTED_MESSAGE}",
                          f"# Nmap done at {WHEN} -- 1 IP address (1 host up) scanned in 0.04 seconds"]


def test_grepable_read_as_nmap_parsers_read_it():
    # The usual parse: Host line, tab-separated fields, ", "-separated ports, "/" fields.
    found = []
    for line in grepable(mixed()).splitlines():
        m = re.match(r"Host: (\S+) \((.*?)\)\tPorts: (.*?)(?:\tIgnored State: (\w+) \((\d+)\))?$", line)
        if m and m.group(3):
            for entry in m.group(3).split(", "):
                number, state, proto, _owner, service, _rpc, _version, _ = entry.split("/")
                found.append((m.group(1), int(number), state, proto, service))
    assert found == [("127.0.0.1", 22, "open", "tcp", "ssh"), ("127.0.0.1", 80, "open", "tcp", "http"),
                     ("127.0.0.1", 443, "filtered", "tcp", "https"), ("127.0.0.1", 2525, "open", "tcp", ""),
                     ("::1", 22, "closed", "tcp", "ssh")]


# -- nmap XML ----------------------------------------------------------------------------


def test_xml_matches_nmap():
    assert nmap_xml(localhost_four()) == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE nmaprun>\n"
        f"<!-- netkit {__version__} scan initiated {WHEN} as: netkit scan -p 22,80,443,1 -oX - 127.0.0.1 -->\n"
        f'<nmaprun scanner="netkit" args="netkit scan -p 22,80,443,1 -oX - 127.0.0.1" start="{T}" '
        f'startstr="{WHEN}" version="{__version__}" xmloutputversion="1.05">\n'
        # From here on, nmap 7.93's lines but for the host's reason (-Pn), the name's type
        # (given, not looked up), the times and the summary's first word:
        '<scaninfo type="connect" protocol="tcp" numservices="4" services="1,22,80,443"/>\n'
        '<verbose level="0"/>\n'
        '<debugging level="0"/>\n'
        f'<host starttime="{T}" endtime="{T}"><status state="up" reason="user-set" reason_ttl="0"/>\n'
        '<address addr="127.0.0.1" addrtype="ipv4"/>\n'
        "<hostnames>\n"
        '<hostname name="localhost" type="user"/>\n'
        "</hostnames>\n"
        '<ports><port protocol="tcp" portid="1"><state state="closed" reason="conn-refused" reason_ttl="0"/>'
        '<service name="tcpmux" method="table" conf="3"/></port>\n'
        '<port protocol="tcp" portid="22"><state state="closed" reason="conn-refused" reason_ttl="0"/>'
        '<service name="ssh" method="table" conf="3"/></port>\n'
        '<port protocol="tcp" portid="80"><state state="closed" reason="conn-refused" reason_ttl="0"/>'
        '<service name="http" method="table" conf="3"/></port>\n'
        '<port protocol="tcp" portid="443"><state state="closed" reason="conn-refused" reason_ttl="0"/>'
        '<service name="https" method="table" conf="3"/></port>\n'
        "</ports>\n"
        '<times srtt="50" rttvar="0" to="100000"/>\n'
        "</host>\n"
        f'<runstats><finished time="{T}" timestr="{WHEN}" summary="netkit done at {WHEN}; '
        '1 IP address (1 host up) scanned in 0.04 seconds" elapsed="0.04" exit="success"/>'
        '<hosts up="1" down="0" total="1"/>\n'
        "</runstats>\n"
        "</nmaprun>\n"
    )


def test_xml_extraports_banners_ipv6_and_empty_hosts():
    text = nmap_xml(mixed())
    assert ('<ports><extraports state="closed" count="30">\n'
            '<extrareasons reason="conn-refused" count="30" proto="tcp" ports="1000-1029"/>\n'
            "</extraports>\n"
            '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/>'
            '<service name="ssh" method="table" conf="3"/>'
            '<script id="banner" output="SSH-2.0-OpenSSH_9.2p1 Debian-2"/></port>\n') in text
    # No service name: no <service>, as nmap writes an unknown port; the banner as nmap's
    # banner script writes it (line breaks as \x0D\x0A).
    assert ('<port protocol="tcp" portid="2525"><state state="open" reason="syn-ack" reason_ttl="0"/>'
            '<script id="banner" output="220 mail ESMTP\\x0D\\x0A250 ok"/></port>\n') in text
    assert '<address addr="::1" addrtype="ipv6"/>\n<hostnames>\n</hostnames>\n<ports><port' in text
    assert (f'<host starttime="{T}"><status state="up" reason="user-set" reason_ttl="0"/>\n'
            '<address addr="10.0.0.9" addrtype="ipv4"/>\n<hostnames>\n<hostname name="far" type="user"/>\n'
            "</hostnames>\n</host>\n") in text
    root = ET.fromstring(text)
    assert [h.find("address").get("addr") for h in root.iter("host")] == ["127.0.0.1", "::1", "10.0.0.9"]
    assert root.find("scaninfo").get("services") == "22,80,443,1000-1029,2525"


def test_xml_several_reasons_of_one_state():
    ports = ([port(n, "filtered") for n in range(1, 31)]
             + [port(n, "filtered", reason="host-unreach", rtt=0.001) for n in range(40, 45)]
             + [port(22, "open", "ssh")])
    root = ET.fromstring(nmap_xml(report([host(ports)])))
    extra = root.find("host/ports/extraports")
    assert extra.attrib == {"state": "filtered", "count": "35"}
    assert [r.attrib for r in extra] == [
        {"reason": "no-response", "count": "30", "proto": "tcp", "ports": "1-30"},
        {"reason": "host-unreach", "count": "5", "proto": "tcp", "ports": "40-44"}]


def test_xml_follows_the_dtd_order():
    root = ET.fromstring(nmap_xml(mixed()))
    assert [e.tag for e in root] == ["scaninfo", "verbose", "debugging", "host", "host", "host", "runstats"]
    first = root.find("host")
    assert [e.tag for e in first] == ["status", "address", "hostnames", "ports", "times"]
    assert [e.tag for e in first.find("ports")] == ["extraports", "port", "port", "port", "port"]
    assert [e.tag for e in first.find("ports/port")] == ["state", "service", "script"]
    assert [e.tag for e in root.find("runstats")] == ["finished", "hosts"]


def test_xml_only_open():
    root = ET.fromstring(nmap_xml(mixed(), only_open=True))
    hosts = root.findall("host")
    assert len(hosts) == 1  # ::1 has nothing open, 10.0.0.9 nothing at all: left out
    assert [(e.get("state"), e.get("count")) for e in hosts[0].findall("ports/extraports")] == [
        ("closed", "30"), ("filtered", "1")]
    assert [p.get("portid") for p in hosts[0].findall("ports/port")] == ["22", "80", "2525"]
    assert root.find("runstats/hosts").attrib == {"up": "3", "down": "0", "total": "3"}  # as nmap


def test_xml_interrupted():
    root = ET.fromstring(nmap_xml(report([host([port(22, "open")])], interrupted=True)))
    finished = root.find("runstats/finished")
    assert finished.get("exit") == "error"
    assert finished.get("errormsg") == INTERRUPTED_MESSAGE


ODD = "".join(map(chr, range(0x100))) + "\ud800\udcff\ufffe\uffff\U0001f600]]>--<!-- &amp; \"'"


def test_xml_stays_valid_with_any_text():
    r = report([host([port(22, "open", "ssh" + ODD, ODD), port(23, "open", banner=ODD.encode("utf-8", "surrogatepass")),
                      port(24, "open", banner=bytes(range(256)))], name=ODD)],
               command="netkit scan -p 22 --banner " + ODD + " -")
    text = nmap_xml(r)
    text.encode("utf-8")
    root = ET.fromstring(text)
    banner = root.find("host/ports/port/script")
    assert banner.get("id") == "banner"
    out = banner.get("output")
    assert out.startswith("\\x00\\x01") and "\\x09\\x0A\\x0B\\x0C\\x0D\\x0E" in out and "\\x7F\\x80" in out and "]]>" in out
    assert "\\uD800\\xFF\\uFFFE\\uFFFF\U0001f600" in out
    # The bytes banner, as nmap's banner script writes bytes (\\x00 is no whitespace: kept):
    expected = "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02X}" for b in range(256))
    assert root.findall("host/ports/port/script")[2].get("output") == expected
    assert root.get("args").startswith("netkit scan -p 22 --banner ")
    assert "\t\n??\r" in root.get("args")  # whitespace survives normalisation; other controls: ?


@settings(max_examples=200)
@given(banner=st.text(), name=st.text(), command=st.text(), service=st.text())
def test_xml_any_text_parses_back(banner, name, command, service):
    r = report([host([port(22, "open", service or None, banner)], name=name or None)], command=command)
    root = ET.fromstring(nmap_xml(r))
    script = root.find("host/ports/port/script")
    if banner.strip():
        assert script.get("output")
    if command and all(c.isprintable() or c in "\t\n\r" for c in command):
        assert root.get("args") == command


def need_tool(name, package):
    """A tool the test needs: missing, the test fails (a missing peer never skips)."""
    if shutil.which(name) is None:
        pytest.fail(f"{name} is not installed: apt-get install {package} (or run make test)")


def _relaxed_dtd(tmp_path):
    # nmap.dtd allows scanner="nmap" only (masscan's files fail it the same way); the rest
    # of the DTD is nmap's, unchanged.
    if not NMAP_DTD.exists():
        pytest.fail("nmap's DTD is not installed: apt-get install nmap-common (or run make test)")
    dtd = NMAP_DTD.read_text()
    relaxed = re.sub(r"(scanner\s+)\(nmap\)", r"\1CDATA", dtd)
    assert relaxed != dtd
    path = tmp_path / "nmap-any-scanner.dtd"
    path.write_text(relaxed)
    return path


def _write_reports(tmp_path):
    cases = {"mixed": mixed(), "four": localhost_four(), "empty": report([], []),
             "interrupted": report([host([port(22, "open", "ssh", "x\x00")])], interrupted=True)}
    paths = []
    for name, r in cases.items():
        for only_open in (False, True):
            path = tmp_path / f"{name}-{only_open}.xml"
            path.write_text(nmap_xml(r, only_open=only_open), encoding="utf-8")
            paths.append(path)
    return paths


def test_xml_valid_against_nmaps_dtd(tmp_path):
    need_tool("xmllint", "libxml2-utils")
    dtd = _relaxed_dtd(tmp_path)
    for path in _write_reports(tmp_path):
        done = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(dtd), str(path)],
                              check=False, capture_output=True, text=True)
        assert done.returncode == 0, (path.name, done.stderr)
    strict = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(NMAP_DTD), str(path)],
                            check=False, capture_output=True, text=True)
    errors = [line for line in strict.stderr.splitlines() if "validity error" in line]
    assert len(errors) == 1 and 'Value "netkit" for attribute scanner' in errors[0]


def test_xml_read_by_python_libnmap():
    from libnmap import parser
    parsed = parser.NmapParser.parse(nmap_xml(mixed()))
    assert parsed.hosts_total == 3 and parsed.is_consistent()
    assert parsed.elapsed == 0.04 and parsed.summary.startswith("netkit done at")
    local = parsed.hosts[0]
    assert local.address == "127.0.0.1" and local.hostnames == ["localhost"] and local.is_up()
    assert local.get_open_ports() == [(22, "tcp"), (80, "tcp"), (2525, "tcp")]
    assert [(s.port, s.state, s.service) for s in local.services] == [
        (22, "open", "ssh"), (80, "open", "http"), (443, "filtered", "https"), (2525, "open", "")]
    assert local.services[0].scripts_results[0]["output"] == "SSH-2.0-OpenSSH_9.2p1 Debian-2"
    assert parsed.hosts[1].ipv6 == "::1"
    interrupted = parser.NmapParser.parse(nmap_xml(report([host([port(22)])], interrupted=True)))
    assert interrupted.hosts_total == 1


def test_xml_read_by_nmaps_ndiff(tmp_path):
    need_tool("ndiff", "ndiff")
    before = tmp_path / "before.xml"
    after = tmp_path / "after.xml"
    before.write_text(nmap_xml(localhost_four()))
    now = localhost_four()
    now.hosts[0].ports[1] = port(22, "open", "ssh", "SSH-2.0-x")
    after.write_text(nmap_xml(now))
    done = subprocess.run(["ndiff", str(before), str(after)], check=False, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # 1: the scans differ; 2 would be an error
    assert "-22/tcp closed ssh" in done.stdout and "+22/tcp open   ssh" in done.stdout
    same = subprocess.run(["ndiff", str(before), str(before)], check=False, capture_output=True, text=True)
    assert same.returncode == 0, same.stderr


def test_xml_rendered_by_nmaps_stylesheet(tmp_path):
    need_tool("xsltproc", "xsltproc")
    if not Path("/usr/share/nmap/nmap.xsl").exists():
        pytest.fail("nmap's nmap.xsl is not installed: apt-get install nmap-common (or run make test)")
    path = tmp_path / "scan.xml"
    path.write_text(nmap_xml(mixed()))
    done = subprocess.run(["xsltproc", "/usr/share/nmap/nmap.xsl", str(path)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "SSH-2.0-OpenSSH_9.2p1 Debian-2" in done.stdout and "localhost" in done.stdout


def test_deferred_closed_ports_are_built_only_when_read():
    """A host's closed ports may come as a count and a builder: counts, select and the
    table do not build them; reading ``ports`` does, once, in scan order."""
    from netkit.scan.model import CLOSED, OPEN, HostResult, PortResult, ScanReport
    from netkit.scan.output import table

    built = []

    def build(ports):
        built.append(True)
        return sorted(ports + [PortResult("192.0.2.1", p, CLOSED, "conn-refused", 0.001) for p in range(1, 101)
                               if p != 22], key=lambda r: r.port)

    host = HostResult("192.0.2.1", None, [PortResult("192.0.2.1", 22, OPEN, "syn-ack", 0.001)])
    host.defer({CLOSED: 99}, build)
    assert host.counts() == {"open": 1, "closed": 99, "filtered": 0} and host.scanned == 100
    assert [p.port for p in host.select((OPEN,))] == [22]
    text = table(ScanReport([host], range(1, 101), started=0.0, finished=1.0))
    assert "1 open, 99 closed" in text and "99 closed ports not shown" in text and not built
    assert [p.port for p in host.select((CLOSED,))][:3] == [1, 2, 3] and built == [True]
    assert len(host.ports) == 100 and built == [True]
