"""Hostile bytes through every check's dialogue, both drivers, the judge and the renderers.

A loopback peer (TCP and UDP on one port) replays what hypothesis generates: reply lines
built from the protocols' own words (codes, ``+OK``, ``* OK``, ``SSH-2.0-``, HTTP heads,
passive-mode replies) mixed with non-ASCII digits, controls and raw binary, or DNS replies
mutated byte by byte. Whatever comes, the exchange ends in netkit's own errors
(:mod:`netkit.core.errors`) or a verdict; never in a foreign exception, and never in the
drivers' catch-all (a ``ProtocolError`` caused by a foreign exception): every such case is
a parser defect that deserves its own clear line.
"""

import asyncio
import socket
import socketserver
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netkit.check import build_spec
from netkit.check.run import _module
from netkit.cli.render import json_line, nagios_line
from netkit.core.errors import NetkitError, ProtocolError
from netkit.drivers import aio, blocking
from netkit.proto.services import Discard, EchoLines, EchoRaw, LineTooLong, ReverseLines
from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
# Each exchange ends at the peer's EOF; this only bounds a dialogue that would wait anyway.
EXCHANGE_TIMEOUT = 2.0
# Examples per (check, driver): enough to reach deep into each dialogue, few enough that
# the whole file runs in well under 30 s on a busy two-core machine.
EXAMPLES = 40

WORDS = [b"1", b"0", b"65535", b"70000", b"-1", b"99999999999999999999999", "²".encode(), b"\xb2",
         "١٢".encode(), b"\x00", b"\x1b]0;title\x07", b"<1.2@host>", b"PLAIN LOGIN", b"STARTTLS",
         b"AUTH PLAIN", b"(|||6446|)", "(|||²|)".encode(), b"(127,0,0,1,300,1)", "(1,2,3,4,²,5)".encode(),
         b"EXISTS", b"SEARCH", b"\xff\xfe", b"chunked", b"0", b"gzip", b"text/html", b"{5}", b"*"]
PREFIXES = [b"", b"220 ", b"220-", b"250 ", b"250-", b"250 AUTH ", b"334 ", b"235 ", b"421 ", b"500 ",
            b"227 Entering Passive Mode ", b"229 Entering Extended Passive Mode ", b"213 ", b"150 ",
            b"226 ", b"331 ", b"230 ", b"257 ", b"+OK ", b"-ERR ", b"+ ", b"* OK ", b"* PREAUTH ", b"* BYE ",
            b"* ", b"n1 OK ", b"n2 OK ", b"n3 OK ", b"n4 OK ", b"n2 NO ", b"SSH-2.0-", b"SSH-1.99-",
            b"SSH-", b"HTTP/1.1 200 OK", b"HTTP/1.1 301 Moved", b"HTTP/1.0 ", b"Content-Length: ",
            b"Transfer-Encoding: ", b"Location: ", b"Content-Encoding: ", "²²² ".encode(), b"\xb2\xb2\xb2 "]
ENDS = [b"\r\n", b"\n", b"", b"\r\n\r\n"]

word = st.one_of(st.sampled_from(WORDS), st.binary(max_size=10))
line = st.builds(lambda p, ws, end: p + b" ".join(ws) + end, st.sampled_from(PREFIXES),
                 st.lists(word, max_size=4), st.sampled_from(ENDS))
stream_script = st.lists(st.one_of(line, line, line, st.binary(max_size=80)), max_size=14)

# What a well-behaved server of each check says, reply by reply, so that the fuzzing gets
# past the greeting: each reply is kept, dropped, mutated or replaced. ``{PORT}`` and
# ``{PASV}`` become the replay peer's own port (the data connection comes back to it).
HAPPY = {
    "tcp": [b"250 hello\r\n"],
    "smtp": [b"220 mx ESMTP\r\n", b"250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000\r\n", b"235 ok\r\n",
             b"250 ok\r\n", b"250 ok\r\n", b"250 ok\r\n"],
    "pop3": [b"+OK ready <1.2@mx>\r\n", b"+OK welcome\r\n", b"+OK 3 120\r\n"],
    "imap": [b"* OK IMAP4rev1 ready\r\n", b"n1 OK logged in\r\n", b"+ go on\r\n",
             b"* 3 EXISTS\r\n* 0 RECENT\r\nn2 OK [READ-ONLY] done\r\n", b"* SEARCH 1 2\r\nn3 OK done\r\n"],
    "ftp": [b"220 ftp ready\r\n", b"331 password\r\n", b"230 in\r\n", b"200 binary\r\n", b"213 42\r\n",
            b"229 Entering Extended Passive Mode (|||{PORT}|)\r\n", b"150 here\r\n", b"226 done\r\n"],
    "ftp-list": [b"220 ftp ready\r\n", b"331 password\r\n", b"230 in\r\n", b"500 no EPSV\r\n",
                 b"227 Entering Passive Mode (127,0,0,1,{PASV})\r\n", b"150 here\r\n", b"226 done\r\n"],
    "ssh": [b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"],
    "http": [b"HTTP/1.1 301 Moved\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n",
             b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html\r\n\r\nhello"],
}
NON_ASCII_DIGITS = ["²".encode(), "١".encode(), "৩".encode(), b"\xb2"]


@st.composite
def mutated(draw, data: bytes) -> bytes:
    data = bytearray(data)
    how = draw(st.sampled_from(["digit", "insert", "cut", "flip", "control"]))
    at = draw(st.integers(0, len(data)))
    if how == "digit":
        digits = [i for i, b in enumerate(data) if 0x30 <= b <= 0x39]
        if digits:
            at = draw(st.sampled_from(digits))
            data[at : at + 1] = draw(st.sampled_from(NON_ASCII_DIGITS))
    elif how == "insert":
        data[at:at] = draw(word)
    elif how == "cut":
        del data[at:]
    elif how == "flip" and data:
        data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
    else:
        data[at:at] = draw(st.sampled_from([b"\0", b"\r", b"\n", b"\x1b[2J", b"\r\n\r\n"]))
    return bytes(data)


@st.composite
def scripted(draw, happy):
    out = []
    for good in happy:
        how = draw(st.sampled_from(["keep"] * 5 + ["mutate"] * 3 + ["fuzz", "drop", "stop"]))
        if how == "stop":
            break
        if how == "keep":
            out.append(good)
        elif how == "mutate":
            out.append(draw(mutated(good)))
        elif how == "fuzz":
            out.append(draw(st.one_of(line, st.binary(max_size=80))))
    return out + draw(st.lists(line, max_size=2))


def _dns_reply(rdtype: str, answers: int) -> bytes:
    import dns.message
    import dns.rrset

    query = dns.message.make_query("example.com", rdtype)
    reply = dns.message.make_response(query)
    data = {"A": "192.0.2.1", "AAAA": "2001:db8::1", "MX": "10 mx.example.com.", "TXT": '"x"'}[rdtype]
    for _ in range(answers):
        reply.answer.append(dns.rrset.from_text("example.com.", 60, "IN", rdtype, data))
    return reply.to_wire()


@st.composite
def dns_message(draw):
    """A real reply to our question (the peer patches in the id), then mutated."""
    wire = bytearray(_dns_reply(draw(st.sampled_from(["A", "AAAA", "MX", "TXT"])), draw(st.integers(0, 3))))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(wire) - 1))
        wire[at] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.none(), st.integers(2, len(wire))))
    if cut is not None:
        wire = wire[:cut]
    return bytes(wire) + draw(st.binary(max_size=8))


dns_script = st.lists(st.one_of(dns_message(), dns_message(), st.binary(min_size=2, max_size=40)),
                      min_size=1, max_size=3)


class _State:
    def __init__(self):
        self.script = []
        self.read_first = False  # read (the client's query) before answering
        self.dns_tcp = False  # answers framed with the 2-byte length of DNS over TCP


class _Stream(socketserver.BaseRequestHandler):
    def handle(self):
        state = self.server.state
        sock = self.request
        sock.settimeout(EXCHANGE_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        qid = b"\0\0"
        try:
            if state.read_first:
                got = b""
                while len(got) < 4:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                qid = got[2:4] if len(got) >= 4 else qid
            port = self.server.server_address[1]
            for piece in state.script:
                piece = piece.replace(b"{PORT}", b"%d" % port).replace(b"{PASV}", b"%d,%d" % divmod(port, 256))
                if state.dns_tcp:
                    piece = len(piece).to_bytes(2, "big") + qid + piece[2:]
                sock.sendall(piece)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):  # until the client is done: no RST under its last reads
                pass
        except OSError:
            pass


class _Datagrams(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        for piece in self.server.state.script:
            sock.sendto(data[:2] + piece[2:], self.client_address)


class _UDP(socketserver.UDPServer):
    allow_reuse_address = True


@pytest.fixture(scope="module")
def replay():
    """A TCP and a UDP replay peer on one port number; ``.state.script`` is what they say."""
    state = _State()
    for _ in range(20):
        tcp = ThreadingServer((HOST, 0), _Stream)
        try:
            udp = _UDP((HOST, tcp.server_address[1]), _Datagrams)
        except OSError:
            tcp.server_close()
            continue
        break
    else:
        pytest.fail("no port free for both TCP and UDP on 127.0.0.1")
    tcp.state = udp.state = state
    with serve_in_thread(tcp, "replay-tcp"), serve_in_thread(udp, "replay-udp"):
        state.port = tcp.server_address[1]
        yield state


@pytest.fixture(scope="module")
def loop():
    runner = asyncio.Runner()
    yield runner
    runner.close()


# (check URL with {port}, options): every dialogue of netkit check, the http one included.
STREAM_CHECKS = {
    "tcp": ("tcp://127.0.0.1:{port}", {"send": "HELO x\\r\\n", "expect": "250", "quit": "QUIT\\r\\n"}),
    "smtp": ("smtp://127.0.0.1:{port}", {"from": "a@b", "rcpt": "c@d", "user": "u", "password_env": "NK_PW"}),
    "pop3": ("pop3://u:p@127.0.0.1:{port}", {}),
    "imap": ("imap://u:p@127.0.0.1:{port}", {"mailbox": "Ärchiv"}),
    "ftp": ("ftp://u:p@127.0.0.1:{port}/dir/file", {}),
    "ftp-list": ("ftp://127.0.0.1:{port}/dir/", {}),
    "ssh": ("ssh://127.0.0.1:{port}", {}),
    "http": ("http://127.0.0.1:{port}/", {"follow": True, "body": "x"}),
}
DNS_CHECKS = {
    "dns-udp": ("dns://127.0.0.1:{port}/example.com?type=A", {"expect_address": "192.0.2.0/24"}),
    "dns-tcp": ("dns://127.0.0.1:{port}/example.com?type=MX", {"tcp": True}),
}


def _spec(url, options, port):
    import os

    os.environ.setdefault("NK_PW", "secret")
    return build_spec(url.format(port=port), timeout=EXCHANGE_TIMEOUT, **options)


def _drive(spec, driver, loop):
    module = _module(spec.target.scheme)
    if driver == "blocking":
        exchange = blocking.run(module.plan(spec), EXCHANGE_TIMEOUT, verbose=True)
    else:
        exchange = loop.run(aio.run(module.plan(spec), EXCHANGE_TIMEOUT, verbose=True))
    error = exchange.error
    assert error is None or isinstance(error, NetkitError), repr(error)
    # The drivers' catch-all keeps the run alive; reaching it means a parser let a foreign
    # exception out: a defect, to be mapped to a clear line where it happens.
    cause = getattr(error, "__cause__", None)
    assert not (isinstance(error, ProtocolError) and cause is not None and not isinstance(cause, NetkitError)), (
        f"{error} <- {cause!r}")
    result = module.judge(spec, exchange, time.time())
    list(exchange.transcript.lines())
    for text in (nagios_line(result), json_line(result)):
        assert not any(c in text for c in "\n\r\x00\x07\x1b\x9b"), text  # one line, no terminal sequences


def _settings():
    return settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
@pytest.mark.parametrize("name", sorted(STREAM_CHECKS))
def test_stream_dialogues_survive_any_reply(replay, loop, name, driver):
    url, options = STREAM_CHECKS[name]
    spec = _spec(url, options, replay.port)

    @_settings()
    @given(script=st.one_of(scripted(HAPPY[name]), scripted(HAPPY[name]), stream_script))
    def run(script):
        replay.script, replay.read_first, replay.dns_tcp = script, False, False
        _drive(spec, driver, loop)

    run()


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
@pytest.mark.parametrize("name", sorted(DNS_CHECKS))
def test_dns_dialogue_survives_any_reply(replay, loop, name, driver):
    url, options = DNS_CHECKS[name]
    spec = _spec(url, options, replay.port)

    @_settings()
    @given(script=dns_script)
    def run(script):
        replay.script, replay.read_first, replay.dns_tcp = script, True, name == "dns-tcp"
        _drive(spec, driver, loop)

    run()


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
def test_udp_dialogue_survives_any_reply(replay, loop, driver):
    spec = _spec("udp://127.0.0.1:{port}", {"send": "ping", "expect": "pong"}, replay.port)

    @_settings()
    @given(script=st.lists(st.binary(min_size=2, max_size=200), min_size=1, max_size=2))
    def run(script):
        replay.script = script
        _drive(spec, driver, loop)

    run()


@settings(max_examples=200, deadline=None, database=None)
@given(chunks=st.lists(st.one_of(line, st.binary(max_size=64)), max_size=20), max_line=st.integers(1, 64))
def test_serve_services_survive_any_stream(chunks, max_line):
    """The line services of netkit serve: only LineTooLong (the peer's fault) may come out."""
    for service in (EchoLines(max_line), EchoLines(max_line, prefix=b"You said: "), ReverseLines(max_line),
                    EchoRaw(), Discard()):
        for chunk in chunks:
            try:
                reply = service.feed(chunk)
            except LineTooLong:
                break
            assert isinstance(reply, bytes)


def _kexinit_payload(draw):
    lists = [b",".join(draw(st.lists(st.sampled_from([b"ssh-ed25519", b"rsa-sha2-512", b"\xb2", b""]), max_size=3)))
             for _ in range(10)]
    body = bytes([20]) + draw(st.binary(min_size=16, max_size=16))
    body += b"".join(len(x).to_bytes(4, "big") + x for x in lists) + b"\0" + b"\0\0\0\0"
    return body


@st.composite
def ssh_stream(draw):
    """An identification line (maybe with a preamble), then a binary packet, often mangled."""
    preamble = draw(st.lists(line, max_size=2))
    ident = draw(st.sampled_from([b"SSH-2.0-OpenSSH_9.2\r\n", b"SSH-1.99-x\n", b"SSH-2.0-\r\n", b"SSH-\xb2-x\r\n"]))
    payload = _kexinit_payload(draw)
    padding = draw(st.integers(4, 16))
    packet = (len(payload) + padding + 1).to_bytes(4, "big") + bytes([padding]) + payload + b"\0" * padding
    data = bytearray(b"".join(preamble) + ident + packet)
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data), draw(st.integers(1, 64))


@settings(max_examples=150, deadline=None, database=None)
@given(case=ssh_stream())
def test_ssh_identification_and_kexinit_parsers(case):
    """The SSH reader the ssh:// check (with --hostkey/--identity) runs before asyncssh."""
    from netkit.proto.ssh import IdentificationReader, parse_kexinit

    data, step = case
    reader = IdentificationReader()
    try:
        for at in range(0, len(data), step):
            if reader.feed(data[at : at + step]) is not None:
                break
        if reader.identification is not None:
            payload = reader.packet()
            if payload is not None:
                parse_kexinit(payload)
    except ProtocolError:
        pass
