"""``netkit dns``, ``netkit service`` and ``netkit url`` run as users run them: a child
process, its output and its exit code. DNS look-ups go to the dnsmasq peer (tests/peers/dns.py)
and to a port that never answers."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.peers import dns as peer

COLUMNS = 5  # name, TTL, class, type, data


def run(*args, timeout=60):
    """``netkit ARGS`` -> (exit code, stdout, stderr); never a traceback."""
    env = dict(os.environ)
    env.pop("NETKIT_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "netkit", *map(str, args)], capture_output=True, text=True,
                          check=False, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def one_error_line(err: str, command: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"netkit {command}: "), err
    return lines[0]


def records(out: str):
    """dig +answer lines -> [(name, ttl, class, type, data)]."""
    rows = [line.split("\t") for line in out.splitlines()]
    assert all(len(row) == COLUMNS for row in rows), out
    return [(name, int(ttl), cls, rdtype, data) for name, ttl, cls, rdtype, data in rows]


def server(dnsmasq):
    return f"{dnsmasq.host}:{dnsmasq.port}"


# --- netkit dns -----------------------------------------------------------------------------


def test_default_types_are_a_and_aaaa(dnsmasq):
    code, out, err = run("dns", peer.WWW, "--server", server(dnsmasq))
    assert (code, err) == (0, "")
    assert records(out) == [
        (f"{peer.WWW}.", peer.TTL, "IN", "A", peer.WWW_V4),
        (f"{peer.WWW}.", peer.TTL, "IN", "AAAA", peer.WWW_V6),
    ]


@pytest.mark.parametrize("name, rdtype", [
    (peer.ZONE, "MX"), (peer.ZONE, "TXT"), (peer.ZONE, "NS"), (peer.ZONE, "SOA"), (peer.ZONE, "CAA"),
    (peer.MULTI, "A"), (peer.SRV_NAME, "SRV"), (peer.ALIAS, "CNAME"), (peer.WWW, "AAAA"),
])
def test_every_record_type(dnsmasq, name, rdtype):
    code, out, err = run("dns", name, rdtype.lower(), "--server", server(dnsmasq))
    assert (code, err) == (0, "")
    rows = records(out)
    assert {(r[0], r[1], r[3]) for r in rows} == {(f"{name}.", peer.TTL, rdtype)}
    assert sorted(r[4] for r in rows) == sorted(dnsmasq.records[name, rdtype])


def test_types_are_grouped_in_the_order_asked(dnsmasq):
    code, out, err = run("dns", peer.ZONE, "SOA", "MX", "TXT", "@" + server(dnsmasq))
    assert (code, err) == (0, "")
    assert [r[3] for r in records(out)] == ["SOA", "MX", "MX", "TXT", "TXT"]


def test_cname_is_shown_before_what_it_leads_to(dnsmasq):
    code, out, _ = run("dns", peer.ALIAS, "A", "--server", server(dnsmasq))
    assert code == 0
    assert records(out) == [
        (f"{peer.ALIAS}.", peer.TTL, "IN", "CNAME", f"{peer.WWW}."),
        (f"{peer.WWW}.", peer.TTL, "IN", "A", peer.WWW_V4),
    ]


def test_json(dnsmasq):
    code, out, err = run("dns", peer.SRV_NAME, "SRV", "--server", server(dnsmasq), "--tcp", "--json")
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert (result["name"], result["server"], result["transport"], result["status"]) == (
        f"{peer.SRV_NAME}.", server(dnsmasq), "tcp", "NOERROR")
    (answer,) = result["answers"]
    assert (answer["type"], answer["status"]) == ("SRV", "NOERROR")
    (record,) = answer["records"]
    assert record["fields"] == {"priority": peer.SRV_PRIORITY, "weight": peer.SRV_WEIGHT, "port": peer.SRV_PORT,
                                "target": f"{peer.SIP}."}
    assert (record["ttl"], record["class"], record["data"]) == (peer.TTL, "IN", dnsmasq.records[peer.SRV_NAME,
                                                                                                 "SRV"][0])


def test_txt_strings_in_json(dnsmasq):
    code, out, _ = run("dns", peer.ZONE, "TXT", "--server", server(dnsmasq), "--json")
    assert code == 0
    strings = sorted(r["fields"]["strings"] for r in json.loads(out)["answers"][0]["records"])
    assert strings == sorted([[peer.SPF], list(peer.TXT_STRINGS)])


@pytest.mark.parametrize("transport", [(), ("--tcp",)])
def test_a_truncated_answer_is_asked_again_over_tcp(dnsmasq, transport):
    code, out, _ = run("dns", peer.BIG_TXT_NAME, "TXT", "--server", server(dnsmasq), *transport)
    assert code == 0
    assert sorted(r[4] for r in records(out)) == sorted(f'"{t}"' for t in peer.BIG_TXT)


@pytest.mark.parametrize("args, name", [
    (("-x", peer.WWW_V4), peer.WWW_PTR_V4),
    (("-x", peer.WWW_V6), peer.WWW_PTR_V6),
    ((peer.WWW_V4,), peer.WWW_PTR_V4),  # an address as NAME: reverse, as host(1) does
    ((peer.WWW_V6, "PTR"), peer.WWW_PTR_V6),
])
def test_reverse(dnsmasq, args, name):
    code, out, err = run("dns", *args, "--server", server(dnsmasq))
    assert (code, err) == (0, "")
    assert records(out) == [(f"{name}.", peer.TTL, "IN", "PTR", f"{peer.WWW}.")]


def test_nxdomain_fails(dnsmasq):
    code, out, err = run("dns", peer.NX_NAME, "--server", server(dnsmasq))
    assert (code, out) == (1, "")
    assert one_error_line(err, "dns") == (
        f"netkit dns: {peer.NX_NAME}. does not exist (NXDOMAIN from {server(dnsmasq)})")
    code, out, err = run("dns", peer.NX_NAME, "MX", "--server", server(dnsmasq), "--json")
    assert code == 1 and json.loads(out)["status"] == "NXDOMAIN"
    assert "does not exist" in one_error_line(err, "dns")


def test_no_records_of_that_type_fails(dnsmasq):
    code, out, err = run("dns", peer.MULTI, "MX", "--server", server(dnsmasq))
    assert (code, out) == (1, "")
    assert f"{peer.MULTI}. has no MX records" in one_error_line(err, "dns")


def test_some_types_missing_is_a_note(dnsmasq):
    code, out, err = run("dns", peer.MULTI, "A", "AAAA", "--server", server(dnsmasq))
    assert code == 0 and len(records(out)) == len(peer.MULTI_V4)
    assert one_error_line(err, "dns") == f"netkit dns: note: {peer.MULTI}. has no AAAA records"
    # With the default types, a name without AAAA is normal: nothing to note.
    code, out, err = run("dns", peer.MULTI, "--server", server(dnsmasq))
    assert (code, err) == (0, "")


def test_refused_fails(dnsmasq):
    code, out, err = run("dns", peer.OUTSIDE_NAME, "--server", server(dnsmasq))
    assert (code, out) == (1, "")
    assert one_error_line(err, "dns") == (
        f"netkit dns: {peer.OUTSIDE_NAME}. A: {server(dnsmasq)} (udp) answered REFUSED")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_server_that_never_answers_times_out(dns_silent, transport):
    where = f"{dns_silent.host}:{dns_silent.port}"
    started = time.monotonic()
    code, out, err = run("dns", peer.WWW, "--server", where, "--timeout", "1", *(["--tcp"] if transport == "tcp"
                                                                                 else []))
    elapsed = time.monotonic() - started
    assert (code, out) == (1, "")
    assert one_error_line(err, "dns") == f"netkit dns: timeout after 1 s waiting for an answer from {where} over {transport}"
    assert elapsed < 10


def test_timeout_in_json(dns_silent):
    code, out, err = run("dns", peer.WWW, "--server", f"{dns_silent.host}:{dns_silent.port}", "-t", "0.5",
                         "--json")
    assert code == 1 and json.loads(out) == {"name": f"{peer.WWW}.", "error": one_error_line(err, "dns")[12:]}


def test_a_closed_tcp_port_fails():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        code, out, err = run("dns", peer.WWW, "--server", f"127.0.0.1:{port}", "--tcp", "-t", "2")
    assert (code, out) == (1, "")
    assert "Connection refused" in one_error_line(err, "dns")


@pytest.mark.parametrize("args, words", [
    (("www.netkit.test", "MXX"), "unknown record type 'MXX'; the types are A, AAAA, CAA, CNAME, MX, NS, PTR, "
                                 + "SOA, SRV, TXT"),
    (("www.netkit.test", "--server", "127.0.0.1:0"), "is not a port (1-65535)"),
    (("-x", "www.netkit.test"), "-x expects an IP address"),
    (("bad name",), "not a domain name"),
    ((), "no name given"),
])
def test_dns_bad_input(args, words):
    code, out, err = run("dns", *args)
    assert (code, out) == (2, "")
    assert words in one_error_line(err, "dns")


def test_hostname():
    code, out, err = run("dns", "--hostname")
    rows = dict(line.split(None, 1) for line in out.splitlines())
    assert rows["hostname"] == socket.gethostname() and rows["fqdn"] == socket.getfqdn()
    if code == 0:
        assert err == "" and rows["addresses"] != "-"
    else:
        assert code == 1 and "cannot resolve" in one_error_line(err, "dns")
    code, out, _ = run("dns", "--hostname", "--json")
    names = json.loads(out)
    assert names["hostname"] == socket.gethostname() and names["fqdn"] == socket.getfqdn()
    assert set(names) == {"hostname", "fqdn", "aliases", "addresses", "error"}


# --- netkit service ------------------------------------------------------------------------


@pytest.mark.parametrize("query, line", [
    ("https", "https 443/tcp"),
    ("443", "https 443/tcp"),
    ("ssh", "ssh 22/tcp"),
    ("53/udp", "domain 53/udp"),
    ("smtp", "smtp 25/tcp mail"),
    ("www", "http 80/tcp www"),
])
def test_service(query, line):
    code, out, err = run("service", query)
    assert (code, out, err) == (0, line + "\n", "")


def test_service_json_says_where_the_answer_came_from():
    code, out, _ = run("service", "imaps", "--json")
    assert code == 0
    found = json.loads(out)
    assert {k: found[k] for k in ("query", "name", "port", "protocol")} == {
        "query": "imaps", "name": "imaps", "port": 993, "protocol": "tcp"}
    assert found["source"] in ("system", "builtin")
    # "dns" is no name in Debian's /etc/services: the built-in table knows it.
    code, out, _ = run("service", "dns", "--json")
    assert code == 0 and json.loads(out)["port"] == 53


def test_service_udp():
    code, out, _ = run("service", "--udp", "53")
    assert (code, out) == (0, "domain 53/udp\n")
    code, out, _ = run("service", "ntp")  # udp only: found without --udp
    assert (code, out.split()[1]) == (0, "123/udp")


@pytest.mark.parametrize("args", [("nosuchservice",), ("47999",), ("http", "--udp")])
def test_unknown_service_fails(args):
    code, out, err = run("service", *args)
    assert (code, out) == (1, "")
    assert "no service" in one_error_line(err, "service")


@pytest.mark.parametrize("query, words", [
    ("0", "port 0 is out of range; a port is 1-65535"),
    ("70000", "port 70000 is out of range; a port is 1-65535"),
    ("no such", "neither a service name"),
    ("80/sctp", "the protocol is tcp or udp"),
])
def test_service_bad_input(query, words):
    code, out, err = run("service", query)
    assert (code, out) == (2, "")
    assert words in one_error_line(err, "service")


# --- netkit url ----------------------------------------------------------------------------


def test_url_parse_table():
    code, out, err = run("url", "parse", "https://admin:s3cret@example.com:8443/a/b?x=1&x=2&e=#top")
    assert (code, err) == (0, "")
    assert "s3cret" not in out
    assert out.splitlines() == [
        "scheme    https",
        "netloc    admin:***@example.com:8443",
        "username  admin",
        "password  ***",
        "hostname  example.com",
        "port      8443",
        "path      /a/b",
        "query     x=1&x=2&e=",
        "            x = 1",
        "            x = 2",
        "            e =",
        "fragment  top",
    ]


def test_url_parse_json():
    code, out, _ = run("url", "parse", "--json", "--show-password", "ftp://u:p%40ss@[::1]:2121/%2Fetc?a=1")
    assert code == 0
    assert json.loads(out) == {
        "url": "ftp://u:p%40ss@[::1]:2121/%2Fetc?a=1", "scheme": "ftp", "netloc": "u:p%40ss@[::1]:2121",
        "username": "u", "password": "p@ss", "hostname": "::1", "port": 2121, "path": "/%2Fetc", "query": "a=1",
        "query_pairs": [["a", "1"]], "fragment": ""}


@pytest.mark.parametrize("args, expected", [
    (("quote", "rnd@onego.ru"), "rnd%40onego.ru"),
    (("quote", "a = b + c"), "a%20%3D%20b%20%2B%20c"),
    (("quote", "0/1/1"), "0/1/1"),
    (("quote", "0/1/1", "--safe="), "0%2F1%2F1"),
    (("quote", "--plus", "a = b + c"), "a+%3D+b+%2B+c"),
    (("quote", "--", "-x y"), "-x%20y"),
    (("unquote", "a%20%3D%20b%20%2B%20c"), "a = b + c"),
    (("unquote", "--plus", "a+=+b+%2B+c"), "a = b + c"),
    (("join", "http://python.onego.ru", "itertools.html"), "http://python.onego.ru/itertools.html"),
    (("join", "https://h/a/b/", "../c?x=1"), "https://h/a/c?x=1"),
    (("encode", "n=1", "n=3", "n=4", "button=Привет"), "n=1&n=3&n=4&button=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82"),
])
def test_url_functions(args, expected):
    code, out, err = run("url", *args)
    assert (code, out, err) == (0, expected + "\n", "")


def test_url_decode():
    code, out, _ = run("url", "decode", "n=1&n=3&empty=&button=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82")
    assert (code, out) == (0, "n=1\nn=3\nempty=\nbutton=Привет\n")
    code, out, _ = run("url", "decode", "--json", "https://h/?q=a+b&q=c")
    assert json.loads(out) == {"query": "https://h/?q=a+b&q=c", "pairs": [["q", "a b"], ["q", "c"]]}


def test_url_json_everywhere():
    for args, key in ((("quote", "a b"), "output"), (("unquote", "a%20b"), "output"),
                      (("join", "http://h/a", "b"), "url"), (("encode", "a=b c"), "query")):
        code, out, _ = run("url", *args, "--json")
        assert code == 0 and key in json.loads(out)


@pytest.mark.parametrize("args, words", [
    (("parse", "http://example.com:99999/"), "port 99999 in 'http://example.com:99999/' is out of range"),
    (("parse", "http://example.com:http/"), "is not a number"),
    (("parse", "http://[::1/"), "IPv6 address needs both brackets"),
    (("join", "relative/path", "x"), "has no scheme"),
    (("encode", "novalue"), "is not KEY=VALUE"),
    (("frob",), "unknown action 'frob'"),
    ((), "no action given"),
])
def test_url_bad_input(args, words):
    code, out, err = run("url", *args)
    assert (code, out) == (2, "")
    assert words in one_error_line(err, "url")


# --- all three ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["dns", "service", "url"])
def test_help(command):
    code, out, err = run(command, "--help")
    assert (code, err) == (0, "") and out.startswith(f"usage: netkit {command} ")
    code, out, _ = run("--help")
    assert f"  {command} " in out


@pytest.mark.parametrize("command", ["dns", "service", "url"])
def test_unknown_option(command):
    code, out, err = run(command, "--frobnicate", "x")
    assert (code, out) == (2, "")
    assert "unknown option --frobnicate" in one_error_line(err, command)
