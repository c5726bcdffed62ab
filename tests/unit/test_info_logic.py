"""netkit.info without the network: input checks, result shapes, the error mapping of DNS
look-ups (a fake resolver), the services tables and the URL functions."""

import io
import json
import socket
import subprocess
import sys

import dns.message
import dns.name
import dns.rdatatype
import dns.resolver
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netkit.cli import dns as cli_dns
from netkit.cli import service as cli_service
from netkit.cli import url as cli_url
from netkit.core.errors import NetError, TimedOut, UsageError
from netkit.info import dns as info_dns
from netkit.info import services, urls

# --- the public surface -------------------------------------------------------------------


def test_dnspython_loads_only_for_a_query():
    code = ("import sys, io; import netkit.info; from netkit.cli import dns; "
            "dns.main(['--hostname'], out=io.StringIO(), err=io.StringIO()); "
            "from netkit.info import describe_url, lookup_service; "
            "print('dns' in sys.modules, 'dns.resolver' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# --- DNS: input ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, rdtype", [("a", "A"), ("aaaa", "AAAA"), (" Mx ", "MX"), ("srv", "SRV"),
                                          ("caa", "CAA"), ("PTR", "PTR")])
def test_record_types(text, rdtype):
    assert info_dns.parse_record_type(text) == rdtype


@pytest.mark.parametrize("text", ["MXX", "ANY", "", "A6x"])
def test_unknown_record_type_names_the_valid_ones(text):
    with pytest.raises(UsageError, match="the types are A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT"):
        info_dns.parse_record_type(text)


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)),
    ("[::1]", ("::1", 53)),
    ("[2001:db8::1]:5300", ("2001:db8::1", 5300)),
    ("ns1.example.com", ("ns1.example.com", 53)),
    ("ns1.example.com:1053", ("ns1.example.com", 1053)),
])
def test_server_forms(text, expected):
    assert info_dns.parse_server(text) == expected


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("127.0.0.1:0", "not a port (1-65535)"),
    ("127.0.0.1:70000", "not a port (1-65535)"),
    ("127.0.0.1:dns", "not a port"),
    ("127.0.0.1:", "not a port"),
    ("[::1", "without ']'"),
    ("[::1]x", "after ']'"),
    ("[host]:53", "not an IPv6 address"),
    ("1:2:3:zz", "put one in brackets"),
    ("a b:53", "no valid host"),
])
def test_bad_servers(text, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        info_dns.parse_server(text)


@pytest.mark.parametrize("name, absolute", [
    ("example.com", "example.com."),
    ("example.com.", "example.com."),
    ("_sip._tcp.example.com", "_sip._tcp.example.com."),
    ("localhost", "localhost."),
    ("bücher.example", "xn--bcher-kva.example."),
    (".", "."),
])
def test_names(name, absolute):
    assert info_dns.check_name(name) == absolute


@pytest.mark.parametrize("name, words", [
    ("", "empty"),
    ("a..b", "empty label"),
    (".a", "empty label"),
    ("a b", "not a domain name"),
    ("http://example.com/", "not a domain name"),
    ("x" * 64 + ".com", "at most 63"),
    (".".join(["abcdefghi"] * 26), "at most 253"),
])
def test_bad_names(name, words):
    with pytest.raises(UsageError, match=words):
        info_dns.check_name(name)


def test_reverse_names():
    assert info_dns.reverse_name("192.0.2.10") == "10.2.0.192.in-addr.arpa."
    assert info_dns.reverse_name("2001:db8::10") == (
        "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")
    with pytest.raises(UsageError, match="not an IP address"):
        info_dns.reverse_name("www.example.com")


# --- DNS: results from a fake resolver -----------------------------------------------------

RESPONSE = """\
id 1
opcode QUERY
rcode NOERROR
flags QR AA RD
;QUESTION
alias.example. IN A
;ANSWER
alias.example. 300 IN CNAME www.example.
www.example. 60 IN A 192.0.2.1
www.example. 60 IN A 192.0.2.2
"""


class FakeResolver:
    """Answers from canned messages, or raises what a real resolver raises."""

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def resolve(self, qname, rdtype, **kw):
        self.asked.append((qname, rdtype, kw))
        outcome = self.answers[rdtype]
        if isinstance(outcome, Exception):
            raise outcome
        response = dns.message.from_text(outcome)
        return dns.resolver.Answer(dns.name.from_text(qname), dns.rdatatype.from_text(rdtype), 1, response)


def fake(monkeypatch, answers):
    resolver = FakeResolver(answers)
    monkeypatch.setattr(info_dns, "_make_resolver", lambda server, timeout: (resolver, "192.0.2.53:53"))
    return resolver


def nodata(qname, rdtype):
    return f"id 1\nopcode QUERY\nrcode NOERROR\nflags QR AA RD\n;QUESTION\n{qname} IN {rdtype}\n;ANSWER\n"


def test_records_keep_the_cname_chain_in_order(monkeypatch):
    resolver = fake(monkeypatch, {"A": RESPONSE, "AAAA": nodata("alias.example.", "AAAA")})
    result = info_dns.lookup_records("alias.example", timeout=2)
    assert resolver.asked[0][0] == "alias.example." and resolver.asked[0][2]["lifetime"] == 2
    assert result.status == "NOERROR" and result.types == ("A", "AAAA")
    assert [r.to_text() for r in result.records] == [
        "alias.example.\t300\tIN\tCNAME\twww.example.",
        "www.example.\t60\tIN\tA\t192.0.2.1",
        "www.example.\t60\tIN\tA\t192.0.2.2",
    ]
    assert result.answers[1].status == "NODATA" and result.answers[1].records == ()
    data = json.loads(json.dumps(result.to_dict()))
    assert data["answers"][0]["records"][1] == {"name": "www.example.", "ttl": 60, "class": "IN", "type": "A",
                                                "data": "192.0.2.1", "fields": {"address": "192.0.2.1"}}


def test_record_fields_split_the_data(monkeypatch):
    mx = ("id 1\nopcode QUERY\nrcode NOERROR\nflags QR\n;QUESTION\nexample. IN MX\n;ANSWER\n"
          "example. 300 IN MX 10 mx1.example.\n")
    txt = ("id 1\nopcode QUERY\nrcode NOERROR\nflags QR\n;QUESTION\nexample. IN TXT\n;ANSWER\n"
           'example. 300 IN TXT "v=spf1 -all" "more"\n')
    fake(monkeypatch, {"MX": mx, "TXT": txt})
    result = info_dns.lookup_records("example", ["mx", "TXT", "MX"])
    assert result.types == ("MX", "TXT")  # duplicates asked once
    assert result.records[0].fields == {"preference": 10, "exchange": "mx1.example."}
    assert result.records[1].fields == {"strings": ["v=spf1 -all", "more"]}
    assert result.records[1].data == '"v=spf1 -all" "more"'


def test_nxdomain_is_an_answer(monkeypatch):
    fake(monkeypatch, {"A": dns.resolver.NXDOMAIN(), "AAAA": dns.resolver.NXDOMAIN()})
    result = info_dns.lookup_records("nx.example")
    assert result.status == "NXDOMAIN" and result.records == ()


def test_nodata_everywhere(monkeypatch):
    fake(monkeypatch, {"MX": nodata("x.example.", "MX")})
    assert info_dns.lookup_records("x.example", ["MX"]).status == "NODATA"


def test_timeout_and_refusal_are_errors(monkeypatch):
    fake(monkeypatch, {"A": dns.resolver.LifetimeTimeout(timeout=1.0, errors=[])})
    with pytest.raises(TimedOut, match=r"timeout after 1\.5 s waiting for an answer from 192.0.2.53:53 over udp"):
        info_dns.lookup_records("x.example", ["A"], timeout=1.5)
    request = dns.message.make_query("x.example.", "A")
    refused = dns.resolver.NoNameservers(request=request, errors=[("Do53:192.0.2.53@53", False, 53, "REFUSED",
                                                                    None)] * 3)
    fake(monkeypatch, {"A": refused})
    with pytest.raises(NetError, match=r"^x.example. A: 192.0.2.53:53 \(udp\) answered REFUSED$"):
        info_dns.lookup_records("x.example", ["A"])
    down = dns.resolver.NoNameservers(request=request, errors=[("Do53:::1@53", True, 53,
                                                                ConnectionRefusedError(111, "Connection refused"),
                                                                None)])
    fake(monkeypatch, {"A": down})
    with pytest.raises(NetError, match=r"\[::1\]:53 \(tcp\): Connection refused"):
        info_dns.lookup_records("x.example", ["A"], tcp=True)


def test_lookup_checks_input_before_asking(monkeypatch):
    resolver = fake(monkeypatch, {})
    with pytest.raises(UsageError, match="unknown record type"):
        info_dns.lookup_records("example.com", ["MXX"])
    with pytest.raises(UsageError, match="empty label"):
        info_dns.lookup_records("a..example")
    with pytest.raises(UsageError, match="timeout"):
        info_dns.lookup_records("example.com", timeout=0)
    with pytest.raises(UsageError, match="not an IP address"):
        info_dns.reverse_lookup("nope")
    assert resolver.asked == []


def test_reverse_lookup_asks_for_ptr(monkeypatch):
    resolver = fake(monkeypatch, {"PTR": nodata("1.2.0.192.in-addr.arpa.", "PTR")})
    info_dns.reverse_lookup("192.0.2.1")
    assert resolver.asked[0][:2] == ("1.2.0.192.in-addr.arpa.", "PTR")


def test_configured_server_is_used():
    resolver, label = info_dns._make_resolver(("::1", 5353), 2.0)
    [server] = resolver.nameservers
    assert (server.address, server.port, resolver.port, label) == ("::1", 5353, 5353, "[::1]:5353")
    assert resolver.lifetime == 2.0
    resolver, label = info_dns._make_resolver("localhost:1053", 1.0)
    assert resolver.nameservers[0].address in ("127.0.0.1", "::1") and label == "localhost:1053"


def test_host_names(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "box")
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "box.example.org")
    monkeypatch.setattr(socket, "gethostbyname_ex", lambda name: ("box.example.org", ["box", "b1"], ["192.0.2.7"]))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, 1, 6, "", ("192.0.2.7", 0)), (socket.AF_INET6, 1, 6, "", ("2001:db8::7", 0, 0, 0)),
        (socket.AF_INET, 1, 6, "", ("192.0.2.7", 0))])
    names = info_dns.host_names()
    assert names == info_dns.HostNames("box", "box.example.org", ("b1",), ("192.0.2.7", "2001:db8::7"))

    def fail(*a, **k):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    monkeypatch.setattr(socket, "gethostbyname_ex", fail)
    names = info_dns.host_names()
    assert names.addresses == () and str(names.error) == "cannot resolve box: Name or service not known"


# --- DNS: the command line (parsing only; the real look-ups are in test_info_commands) --------


@pytest.mark.parametrize("argv, words", [
    ([], "no name given; the form is netkit dns NAME [TYPE...]"),
    (["example.com", "MXX"], "unknown record type 'MXX'; the types are A, AAAA"),
    (["MX", "example.com"], "the name comes first: netkit dns example.com MX"),
    (["-x", "host.example"], "-x expects an IP address"),
    (["-x", "192.0.2.1", "MX"], "PTR records only"),
    (["192.0.2.1", "MX"], "for its name write netkit dns -x 192.0.2.1"),
    (["--hostname", "example.com"], "--hostname takes no name"),
    (["example.com", "--timeout", "0"], "--timeout expects a number of seconds greater than 0"),
    (["example.com", "--timeout", "soon"], "--timeout expects a number of seconds"),
    (["example.com", "--server", "127.0.0.1:99999"], "not a port (1-65535)"),
    (["example.com", "@"], "'@' needs a server after it"),
    (["example.com", "@[::1"], "without ']'"),
    (["example.com", "--sever", "x"], "unknown option --sever; did you mean --server?"),
    (["example.com", "--server"], "--server needs a value"),
    (["a..b"], "empty label"),
])
def test_dns_bad_input(argv, words):
    out, err = io.StringIO(), io.StringIO()
    assert cli_dns.main(argv, out=out, err=err) == 2
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netkit dns: ") and words in lines[0], lines


def test_dns_request_forms():
    assert cli_dns.parse(["example.com", "mx", "@127.0.0.1:5353", "--tcp", "-t", "2"]) == {
        "json": False, "tcp": True, "timeout": 2.0, "server": ("127.0.0.1", 5353), "mode": "lookup",
        "name": "example.com.", "types": ("MX",), "explicit": True}
    assert cli_dns.parse(["-x192.0.2.1"])["address"] == "192.0.2.1"
    assert cli_dns.parse(["2001:db8::1"])["mode"] == "reverse"
    assert cli_dns.parse(["192.0.2.1", "PTR"])["mode"] == "reverse"
    assert cli_dns.parse(["example.com"])["types"] == () and cli_dns.parse(["example.com"])["timeout"] == 5.0
    assert cli_dns.parse(["--hostname", "--json"])["mode"] == "hostname"


# --- services -----------------------------------------------------------------------------


@pytest.mark.parametrize("text, protocol, expected", [
    ("https", None, ("https", None)),
    ("HTTPS", None, ("https", None)),
    ("443", None, (443, None)),
    ("53/udp", None, (53, "udp")),
    ("domain/TCP", None, ("domain", "tcp")),
    ("ntp", "udp", ("ntp", "udp")),
    (65535, None, (65535, None)),
    ("x11-ssh-offset", None, ("x11-ssh-offset", None)),
])
def test_service_queries(text, protocol, expected):
    assert services.parse_service_query(text, protocol) == expected


@pytest.mark.parametrize("text, protocol, words", [
    ("0", None, "port 0 is out of range; a port is 1-65535"),
    ("70000", None, "port 70000 is out of range"),
    ("foo bar", None, "neither a service name"),
    ("-http", None, "neither a service name"),
    ("héllo", None, "neither a service name"),
    ("", None, "nothing to look up"),
    ("80/sctp", None, "the protocol is tcp or udp"),
    ("53/udp", "tcp", "says udp but tcp"),
])
def test_bad_service_queries(text, protocol, words):
    with pytest.raises(UsageError, match=words):
        services.parse_service_query(text, protocol)


def no_system(monkeypatch):
    monkeypatch.setattr(services, "_system_by_name", lambda name, proto: None)
    monkeypatch.setattr(services, "_system_by_port", lambda port, proto: None)


@pytest.mark.parametrize("query, name, port, protocol", [
    ("ftp", "ftp", 21, "tcp"), ("ssh", "ssh", 22, "tcp"), ("telnet", "telnet", 23, "tcp"),
    ("smtp", "smtp", 25, "tcp"), ("domain", "domain", 53, "tcp"), ("dns", "domain", 53, "tcp"),
    ("http", "http", 80, "tcp"), ("www", "http", 80, "tcp"), ("pop3", "pop3", 110, "tcp"),
    ("ntp", "ntp", 123, "udp"), ("imap", "imap", 143, "tcp"), ("snmp", "snmp", 161, "tcp"),
    ("ldap", "ldap", 389, "tcp"), ("https", "https", 443, "tcp"), ("smtps", "submissions", 465, "tcp"),
    ("submissions", "submissions", 465, "tcp"), ("syslog", "syslog", 514, "udp"),
    ("submission", "submission", 587, "tcp"), ("ldaps", "ldaps", 636, "tcp"), ("rsync", "rsync", 873, "tcp"),
    ("imaps", "imaps", 993, "tcp"), ("pop3s", "pop3s", 995, "tcp"), ("mysql", "mysql", 3306, "tcp"),
    ("postgresql", "postgresql", 5432, "tcp"), ("postgres", "postgresql", 5432, "tcp"),
    ("redis", "redis", 6379, "tcp"), ("53/udp", "domain", 53, "udp"), ("443", "https", 443, "tcp"),
    ("123", "ntp", 123, "udp"), ("5432", "postgresql", 5432, "tcp"),
])
def test_builtin_table_answers_without_a_system_database(monkeypatch, query, name, port, protocol):
    no_system(monkeypatch)
    found = services.lookup_service(query)
    assert (found.name, found.port, found.protocol, found.source) == (name, port, protocol, "builtin")
    assert found.query == query


def test_builtin_table_respects_the_protocol(monkeypatch):
    no_system(monkeypatch)
    assert services.lookup_service("http", "udp") is None
    assert services.lookup_service("ntp", "tcp") is None
    assert services.lookup_service("nosuchservice") is None
    assert services.lookup_service("40000") is None
    found = services.lookup_service("smtps")
    assert found.to_text() == "submissions 465/tcp ssmtp smtps"
    assert found.to_dict() == {"query": "smtps", "name": "submissions", "port": 465, "protocol": "tcp",
                               "aliases": ["ssmtp", "smtps"], "source": "builtin"}


def test_builtin_table_is_consistent():
    seen = {}
    for name, port, protocols, aliases in services.BUILTIN_SERVICES:
        assert 1 <= port <= 65535 and set(protocols) <= {"tcp", "udp"} and name == name.lower()
        for proto in protocols:
            for word in (name, *aliases):
                assert (word, proto) not in seen, word
                seen[word, proto] = port


def test_system_database_answers_first(monkeypatch, tmp_path):
    table = {("syslog", "tcp"): 514, ("shell", "tcp"): 514, ("syslog", "udp"): 514, ("web", "tcp"): 8080}
    names = {(514, "tcp"): "shell", (514, "udp"): "syslog", (8080, "tcp"): "web"}
    monkeypatch.setattr(services, "_system_by_name", lambda name, proto: table.get((name, proto)))
    monkeypatch.setattr(services, "_system_by_port", lambda port, proto: names.get((port, proto)))
    etc = tmp_path / "services"
    etc.write_text("# comment\nshell\t514/tcp\tcmd syslog\t# no passwords\nsyslog\t514/udp\nweb 8080/tcp www2\n"
                   "broken line\nbad notaport/tcp\n")
    # A name that is the service's own on udp wins over an alias on tcp.
    found = services.lookup_service("syslog", services_file=str(etc))
    assert (found.name, found.protocol, found.source) == ("syslog", "udp", "system")
    found = services.lookup_service("syslog", "tcp", services_file=str(etc))
    assert (found.name, found.aliases) == ("shell", ("cmd", "syslog"))
    # The system's answer, even where the built-in table says otherwise.
    assert services.lookup_service("8080", services_file=str(etc)).to_text() == "web 8080/tcp www2"
    # Not in the system database: the built-in table.
    assert services.lookup_service("https", services_file=str(etc)).source == "builtin"
    assert services.read_services_file(str(tmp_path / "missing")) == {}


def test_service_command_in_process(monkeypatch):
    no_system(monkeypatch)
    out, err = io.StringIO(), io.StringIO()
    assert cli_service.main(["dns", "--json"], out=out, err=err) == 0
    assert json.loads(out.getvalue())["source"] == "builtin" and err.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    assert cli_service.main(["--udp", "--tcp", "53"], out=out, err=err) == 2
    assert err.getvalue().startswith("netkit service: --udp and --tcp exclude each other")


# --- URLs ---------------------------------------------------------------------------------


def test_describe_url_masks_the_password():
    parts = urls.describe_url("https://us%40er:s3cr%3At@Example.com:8443/a/b?x=1&x=2&e=#top")
    assert parts.to_dict() == {
        "url": "https://us%40er:***@Example.com:8443/a/b?x=1&x=2&e=#top", "scheme": "https",
        "netloc": "us%40er:***@Example.com:8443", "username": "us@er", "password": "***",
        "hostname": "example.com", "port": 8443, "path": "/a/b", "query": "x=1&x=2&e=",
        "query_pairs": [["x", "1"], ["x", "2"], ["e", ""]], "fragment": "top"}
    shown = urls.describe_url("https://u:s3cr%3At@h/", show_password=True)
    assert shown.password == "s3cr:t" and shown.netloc == "u:s3cr%3At@h" and shown.url == "https://u:s3cr%3At@h/"


def test_describe_url_forms():
    parts = urls.describe_url("http://[2001:db8::1]:8080/p")
    assert (parts.hostname, parts.port, parts.username, parts.password) == ("2001:db8::1", 8080, None, None)
    parts = urls.describe_url("http://google.com/search?q=Python")
    assert (parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment) == (
        "http", "google.com", "/search", "q=Python", "")
    assert urls.describe_url("mailto:root@example.com").path == "root@example.com"
    assert urls.describe_url("http://u@h").password is None
    assert urls.describe_url("http://h:/").port is None


@pytest.mark.parametrize("url, words", [
    ("", "the URL is empty"),
    ("http://h:99999/", "port 99999 in 'http://h:99999/' is out of range"),
    ("http://h:abc/", "port 'abc' in 'http://h:abc/' is not a number"),
    ("http://h:-1/", "is not a number"),
    ("http://[::1:80/", "IPv6 address needs both brackets"),
    ("http://[::1]:x/", "is not a number"),
])
def test_bad_urls(url, words):
    with pytest.raises(UsageError, match=words.replace("[", r"\[")):
        urls.describe_url(url)


def test_quote_as_the_seed_shows():
    assert urls.quote("rnd@onego.ru") == "rnd%40onego.ru"
    assert urls.quote("a = b + c") == "a%20%3D%20b%20%2B%20c"
    assert urls.quote("0/1/1") == "0/1/1"
    assert urls.quote("0/1/1", safe="") == "0%2F1%2F1"
    assert urls.quote("a = b + c", plus=True) == "a+%3D+b+%2B+c"
    assert urls.quote("a/b c", plus=True, safe="/") == "a/b+c"
    assert urls.quote("Привет") == "%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82"
    assert urls.unquote("a%20%3D%20b%20%2B%20c") == "a = b + c"
    assert urls.unquote("a+=+b+%2B+c", plus=True) == "a = b + c"
    assert urls.unquote("a+b") == "a+b"
    assert urls.unquote("%FF") == "\ufffd"


def test_join():
    assert urls.join_url("http://python.onego.ru", "itertools.html") == "http://python.onego.ru/itertools.html"
    assert urls.join_url("http://h/a/b/c", "../d?x=1") == "http://h/a/d?x=1"
    assert urls.join_url("http://h/a/b", "//other/x") == "http://other/x"
    assert urls.join_url("http://h/a/b", "https://x/") == "https://x/"
    with pytest.raises(UsageError, match="has no scheme"):
        urls.join_url("h/a", "b")
    with pytest.raises(UsageError, match="malformed"):
        urls.join_url("http://[::1/", "b")


def test_encode_and_decode():
    # The seed's form data with repeated names, in UTF-8 rather than KOI8-R.
    assert urls.encode_query([("n", "1"), ("n", "3"), ("n", "4"), ("button", "Привет")]) == (
        "n=1&n=3&n=4&button=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82")
    assert urls.encode_query(["q=a b&c", "empty=", "eq=x=y"]) == "q=a+b%26c&empty=&eq=x%3Dy"
    assert urls.decode_query("n=1&n=3&empty=&flag&q=a+b%26c") == (
        ("n", "1"), ("n", "3"), ("empty", ""), ("flag", ""), ("q", "a b&c"))
    assert urls.decode_query("?a=1") == (("a", "1"),)
    assert urls.decode_query("https://h/p?a=1&b=2#f") == (("a", "1"), ("b", "2"))
    assert urls.decode_query("") == ()
    with pytest.raises(UsageError, match="is not KEY=VALUE; write n= for an empty value"):
        urls.parse_pair("n")
    with pytest.raises(UsageError, match="no name before '='"):
        urls.encode_query(["=v"])


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=8))
def test_encode_decode_round_trip(pairs):
    assert urls.decode_query(urls.encode_query(pairs)) == tuple(pairs)


@given(st.text(), st.booleans())
def test_quote_unquote_round_trip(text, plus):
    assert urls.unquote(urls.quote(text, plus=plus), plus=plus) == text


@pytest.mark.parametrize("argv, words", [
    ([], "no action given"),
    (["frob"], "unknown action 'frob'"),
    (["pars", "x"], "did you mean parse?"),
    (["quote"], "url quote takes TEXT (1 argument, got 0)"),
    (["quote", "a", "b"], "put text with spaces in quotes"),
    (["join", "http://h/"], "url join takes BASE REF (2 arguments, got 1)"),
    (["encode"], "no KEY=VALUE pairs given"),
    (["encode", "novalue"], "'novalue' is not KEY=VALUE"),
    (["parse", "http://h:70000/"], "port 70000"),
    (["parse", "http://h/", "--plus"], "--plus applies to url quote and url unquote only"),
    (["unquote", "x", "--safe", "/"], "--safe applies to url quote only"),
    (["quote", "x", "--show-password"], "--show-password applies to url parse only"),
    (["quote", "x", "--safe"], "--safe needs a value"),
])
def test_url_bad_input(argv, words):
    out, err = io.StringIO(), io.StringIO()
    assert cli_url.main(argv, out=out, err=err) == 2
    lines = err.getvalue().splitlines()
    assert out.getvalue() == "" and len(lines) == 1 and lines[0].startswith("netkit url: ") and words in lines[0]


def test_url_text_output_is_one_line_per_pair():
    out = io.StringIO()
    assert cli_url.main(["decode", "a=x%0Ay&b=%09"], out=out, err=io.StringIO()) == 0
    assert out.getvalue() == "a=x\\ny\nb=\\t\n"
