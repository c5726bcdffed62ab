"""The services' logic, the option table and the services file, without sockets."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netkit.cli import serve as serve_cli
from netkit.core.errors import UsageError
from netkit.proto import services as svc
from netkit.serve import DEFAULT_BIND, Limits, Service, sockopts
from netkit.serve._options import load_config


def feed_all(service, chunks):
    return b"".join(service.feed(c) for c in chunks)


def test_echo_answers_a_batch_with_the_same_bytes_and_keeps_the_partial_line():
    echo = svc.EchoLines()
    assert echo.feed(b"one\ntwo\r\nthr") == b"one\ntwo\r\n"
    assert echo.requests == 2
    assert echo.feed(b"ee\n") == b"three\n" and echo.requests == 3


def test_echo_prefix_goes_before_every_line():
    echo = svc.EchoLines(prefix=b"You said: ")
    assert echo.feed(b"a\nb\n") == b"You said: a\nYou said: b\n"


def test_quit_ends_after_the_lines_before_it():
    echo = svc.EchoLines(prefix=b"> ")
    assert echo.feed(b"a\nquitter\n  QUIT\r\nb\n") == b"> a\n> quitter\n"
    assert echo.finished and echo.feed(b"more\n") == b""
    rev = svc.ReverseLines()
    assert rev.feed(b"abc\nquit\n") == b"cba\n" and rev.finished


def test_reverse_is_by_character_and_keeps_line_ends():
    rev = svc.ReverseLines()
    assert rev.feed("héllo wörld\r\nabc\n".encode()) == "dlröw olléh\r\ncba\n".encode()
    assert rev.feed(b"\xff\xfeab\n") == b"ba\xfe\xff\n"  # not UTF-8: bytes reversed, none lost


def test_a_line_over_the_limit_raises_whether_pending_or_inside_a_batch():
    with pytest.raises(svc.LineTooLong):
        svc.EchoLines(max_line=10).feed(b"x" * 11)
    echo = svc.EchoLines(max_line=10)
    echo.feed(b"x" * 8)
    with pytest.raises(svc.LineTooLong):
        echo.feed(b"x" * 8)
    with pytest.raises(svc.LineTooLong):
        svc.EchoLines(max_line=10).feed(b"ok\n" + b"y" * 20 + b"\nok\n")
    assert svc.EchoLines(max_line=10).feed(b"x" * 10 + b"\n" + b"z" * 10 + b"\n") == b"x" * 10 + b"\n" + b"z" * 10 + b"\n"


@given(st.lists(st.binary(max_size=40), max_size=20), st.binary(min_size=1, max_size=5).filter(lambda p: b"\n" not in p))
def test_any_chunking_gives_the_same_replies(chunks, prefix):
    chunks = [c.replace(b"q", b"").replace(b"Q", b"") for c in chunks]  # no quit: every line answered
    data = b"".join(chunks)
    whole = svc.EchoLines(prefix=prefix).feed(data)
    assert feed_all(svc.EchoLines(prefix=prefix), chunks) == whole
    assert whole.count(b"\n") == data.count(b"\n")
    split = [data[i:i + 3] for i in range(0, len(data), 3)]
    assert feed_all(svc.ReverseLines(), split) == svc.ReverseLines().feed(data)


def test_raw_discard_time_chargen_and_datagrams():
    assert svc.EchoRaw().feed(b"\x00\xff no lines") == b"\x00\xff no lines"
    assert svc.Discard().feed(b"anything\n") == b""
    assert svc.time_text(0, iso=True) == b"1970-01-01T00:00:00Z\r\n"
    assert svc.time_text(0).endswith(b"1970\r\n") or svc.time_text(0).endswith(b"1969\r\n")
    lines = svc.chargen_block(0, 96).split(b"\r\n")
    assert lines[0] == bytes(range(32, 104)) and lines[1] == bytes(range(33, 105)) and lines[95] == lines[0]
    assert svc.echo_datagram(b"hi") == b"echo:hi"
    assert svc.reverse_datagram(b"abc\n") == b"cba\n"
    assert len(svc.chargen_datagram(b"")) == 512


def test_service_defaults_are_safe_and_labels_name_the_transport():
    service = Service("echo")
    assert service.bind == DEFAULT_BIND == "127.0.0.1" and service.listen_port == 7
    assert service.limits == Limits() and service.limits.max_line == svc.DEFAULT_MAX_LINE
    assert Service("time", tls="auto").label == "time/tls"
    with pytest.raises(ValueError, match="not UDP"):
        Service("echo", transport="udp", tls="auto")
    with pytest.raises(ValueError, match="file's mode"):
        Service("echo", transport="unix", path="/tmp/x", allow=(ipaddress.ip_network("127.0.0.1/32"),))


def test_sockopt_names_values_and_mistakes():
    opt, value = sockopts.parse_assignment("tcp_nodelay=on")
    assert opt.name == "TCP_NODELAY" and value == 1
    assert sockopts.parse_assignment("KEEPIDLE=30")[0].name == "TCP_KEEPIDLE"
    with pytest.raises(ValueError, match="did you mean TCP_NODELAY"):
        sockopts.parse_assignment("TCP_NODLAY=1")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        sockopts.parse_assignment("TCP_NODELAY")
    with pytest.raises(ValueError, match="takes a whole number"):
        sockopts.parse_assignment("TCP_KEEPIDLE=soon")
    names = {o.name for o in sockopts.available("tcp")}
    assert {"TCP_NODELAY", "TCP_KEEPIDLE"} <= names


def parse(*argv):
    return serve_cli.parse(list(argv))


def test_cli_builds_a_service_from_options():
    request = parse("echo", "--port", "7007", "--prefix", "You said: ", "--allow", "10.0.0.0/8", "--allow",
                    "::1", "--max-line", "4k", "--idle-timeout", "30", "--sockopt", "TCP_NODELAY=1",
                    "--tls", "c.pem", "k.pem", "--grace", "2", "--user", "nobody")
    service = request["services"][0]
    assert service.port == 7007 and service.prefix == b"You said: " and service.tls == ("c.pem", "k.pem")
    assert [str(n) for n in service.allow] == ["10.0.0.0/8", "::1/128"]
    assert service.limits.max_line == 4096 and service.limits.idle_timeout == 30
    assert request["grace"] == 2 and request["user"] == "nobody"


@pytest.mark.parametrize("argv, words", [
    ((), "which service"),
    (("ech",), "did you mean echo"),
    (("echo", "reverse"), "one service at a time"),
    (("echo", "--udp", "--unix", "/tmp/s"), "both choose the transport"),
    (("echo", "--port", "70000"), "0-65535"),
    (("echo", "--tls"), "--tls needs"),
    (("echo", "--tls", "only.pem"), "give the key too"),
    (("time", "--raw"), "--raw is for echo"),
    (("echo", "--iso"), "--iso is for time"),
    (("echo", "--idle-timeout", "-1"), "--idle-timeout expects"),
    (("echo", "--config", "x.toml"), "belongs in the file"),
    (("echo", "--prot", "1"), "did you mean --port"),
])
def test_cli_mistakes_are_named(argv, words):
    with pytest.raises(UsageError, match=words.replace("?", r"\?")):
        parse(*argv)


def test_services_file(tmp_path):
    path = tmp_path / "services.toml"
    path.write_text('grace = 3\n[[service]]\nservice = "echo"\nport = 7007\nprefix = "You said: "\n'
                    '[[service]]\nservice = "reverse"\nudp = true\nallow = ["127.0.0.0/8"]\n'
                    '[[service]]\nservice = "time"\ntls = "auto"\niso = true\nname = "clock"\n')
    services, settings = load_config(str(path))
    assert settings == {"grace": 3.0}
    assert [(s.kind, s.transport, s.label) for s in services] == [
        ("echo", "tcp", "echo/tcp"), ("reverse", "udp", "reverse/udp"), ("time", "tcp", "clock/tls")]


@pytest.mark.parametrize("text, words", [
    ("", "no services"),
    ("[[service]]\nport = 1\n", "which service"),
    ("[[service]]\nservice = \"echo\"\nprot = 1\n", "did you mean 'port'"),
    ("[[service]]\nservice = \"echo\"\nport = \"x\"\n", "#1: port expects a port number"),
    ("[[service]]\nservice = \"echo\"\nudp = \"yes\"\n", "udp expects true or false"),
    ("[[service]]\nservice = \"echo\"\ntls = [\"a\"]\n", "tls expects auto or"),
    ("gracee = 1\n[[service]]\nservice = \"echo\"\n", "did you mean 'grace'"),
    ("[[service]\n", "not valid TOML"),
    ("[[service]]\nservice = \"echo\"\nport = inf\n", "port expects a port number"),
    ("[[service]]\nservice = \"echo\"\nmax-connections = 2.5\n", "max-connections expects a whole number"),
    ("workers = -inf\n[[service]]\nservice = \"echo\"\n", "workers expects a number of processes"),
])
def test_services_file_mistakes_name_the_table_and_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=words):
        load_config(str(path))


def test_a_last_line_without_a_line_end_is_answered_at_the_end():
    echo = svc.EchoLines(prefix=b"> ")
    assert echo.feed(b"a\nlast") == b"> a\n" and echo.end() == b"> last" and echo.end() == b""
    reverse = svc.ReverseLines()
    assert reverse.feed(b"abc\r\nde") == b"cba\r\n" and reverse.end() == b"ed"
    quitting = svc.EchoLines()
    assert quitting.feed(b"x\nquit") == b"x\n" and quitting.end() == b"" and quitting.finished


def test_reply_budget_per_source_is_bounded_in_bytes_and_in_sources():
    from netkit.serve._ratelimit import ReplyBudget

    budget = ReplyBudget(rate=1000, burst=2000, max_sources=2)
    assert [budget.allow("a", 512, 0.0) for _ in range(4)] == [True, True, True, False]  # 2000 B burst
    assert budget.allow("b", 2000, 0.0)  # another address has its own bucket
    # 464 B left, 600 B more after 0.6 s: two more replies, not three
    assert [budget.allow("a", 512, 0.6) for _ in range(3)] == [True, True, False]
    # table full (a, b), both in use: a third address shares the overflow bucket
    assert budget.allow("c", 1500, 0.6) and not budget.allow("d", 1000, 0.6) and len(budget) == 2
    # buckets full again (idle) are reclaimed for new addresses
    assert budget.allow("e", 2000, 10.0) and list(budget.buckets) == ["e"]


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 4000), st.floats(0, 0.5)), max_size=300))
def test_reply_budget_never_lets_more_than_burst_plus_rate_per_address(events):
    from netkit.serve._ratelimit import ReplyBudget

    budget = ReplyBudget(rate=1000, burst=4000, max_sources=8)
    now = 0.0
    sent = {}
    for source, size, step in events:
        now += step
        if budget.allow(source, size, now):
            sent[source] = sent.get(source, 0) + size
    # an address is paid from its own bucket, or from the one the overflow shares: at most
    # two buckets' worth; all of them from at most 8 + 1 buckets
    assert len(budget) <= 8
    worth = 4000 + 1000 * now
    assert all(total <= 2 * worth for total in sent.values())
    assert sum(sent.values()) <= 9 * worth


def test_sockopt_values_are_bounded():
    with pytest.raises(ValueError, match="C int"):
        sockopts.parse_assignment("TCP_KEEPIDLE=99999999999")
    with pytest.raises(ValueError, match="seconds"):
        sockopts.parse_assignment("SO_RCVTIMEO=nan")
