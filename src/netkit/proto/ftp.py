"""An FTP session as a dialogue: greeting, explicit TLS, login, and optionally a directory
listing or a file retrieved over a passive data connection (RFC 959, 2228, 2428, 4217)."""

from netkit.core.errors import ProtocolError
from netkit.core.target import percent_decode
from netkit.core.text import is_digits
from netkit.proto.actions import Close, Connect, Recv, StartTLS
from netkit.proto.lines import LineReader, Reply, Session, command, no_injection, quit_

TYPE_CHECKING = False
if TYPE_CHECKING:
    from netkit.proto.actions import Dialogue, TLSParams

__all__ = ["ftp_dialogue", "parse_pasv", "parse_epsv", "ANONYMOUS_PASSWORD"]

# What anonymous FTP asks for as a password: by convention an e-mail-like token.
ANONYMOUS_PASSWORD = "anonymous@"
DATA = 1  # the data connection's channel
PRELIMINARY = (125, 150)
# "120 service ready in nnn minutes" greetings waited through; a server that says it for
# ever is not going to be ready within a check's time.
MAX_NOT_READY = 10


def _port(text: str, reply: str, what: str) -> int:
    """A TCP port a server named (ASCII digits, 1..65535); ProtocolError otherwise."""
    if not (is_digits(text) and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise ProtocolError(f"the {what} reply names no usable port: {reply[:80]!r}")
    return int(text)


def parse_epsv(text: str) -> int:
    """The port of ``229 Entering Extended Passive Mode (|||6446|)``."""
    start, end = text.find("("), text.rfind(")")
    inner = text[start + 1 : end] if 0 <= start < end else ""
    if len(inner) < 5 or len(set(inner[:3])) != 1 or not inner.endswith(inner[0]):
        raise ProtocolError(f"cannot read the port of the EPSV reply {text!r}")
    return _port(inner[3:-1], text, "EPSV")


def parse_pasv(text: str) -> int:
    """The port of ``227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)``; the address is
    ignored, as curl and ftplib do: data goes to the host of the control connection."""
    digits = []
    current = ""
    for ch in text + " ":
        if "0" <= ch <= "9":  # ASCII only: '²'.isdigit() is True and int() refuses it
            current += ch
        elif current:
            digits.append(int(current) if len(current) <= 3 else 256)  # 256: too big, refused below
            current = ""
    numbers = digits[-6:]
    if len(numbers) < 6 or any(n > 255 for n in numbers):
        raise ProtocolError(f"cannot read the address of the PASV reply {text[:80]!r}")
    return _port(str(numbers[4] * 256 + numbers[5]), text, "PASV")


def _passive(reader: LineReader, host: str, family: int) -> "Dialogue[Reply | None]":
    """Open the data connection; returns the reply that failed, or None."""
    r = yield from command(reader, "EPSV")
    if r.code == 229:
        port = parse_epsv(r.text)
    else:
        r = yield from command(reader, "PASV")
        if r.code != 227:
            return r
        port = parse_pasv(r.text)
    yield Connect(host, port, "tcp", family, channel=DATA)
    return None


def _transfer(reader: LineReader, session: Session, verb: str, name: str, data_tls: "TLSParams | None",
              host: str, family: int) -> "Dialogue[tuple[int, int] | None]":
    """LIST or RETR over a passive data connection; returns the bytes received or None."""
    failed = yield from _passive(reader, host, family)
    if failed is not None:
        session.fail("passive mode (EPSV/PASV)", failed)
        return None
    r = yield from command(reader, f"{verb} {name}".rstrip())
    if r.code not in PRELIMINARY:
        yield Close(DATA)
        session.fail(f"{verb} {name}".rstrip(), r)
        return None
    if data_tls is not None:
        yield StartTLS(data_tls, channel=DATA)
    size = lines = 0
    while True:
        chunk = yield Recv(channel=DATA)
        if not chunk:
            break
        size += len(chunk)
        lines += chunk.count(b"\n")
    yield Close(DATA)
    r = yield from reader.reply(f"the end of {verb}")
    if r.code not in (226, 250):
        session.fail(f"{verb} {name}".rstrip(), r)
        return None
    return size, lines


def ftp_dialogue(host: str, port: int, *, family: int = 0, user: str | None = None, password: str | None = None,
                 path: str = "", tls: "TLSParams | None" = None) -> "Dialogue[Session]":
    """Log in (anonymously without a user), then LIST a path ending in "/" or retrieve
    a file path. ``path`` is the URL's path, percent-encoded, relative to the login
    directory as RFC 1738 has it (``%2F`` at its start makes it absolute)."""
    reader = LineReader(0, "the FTP server")
    session = Session()
    session.peer = yield Connect(host, port, "tcp", family)
    r = yield from reader.reply("the greeting")
    waits = 0
    while r.code == 120:  # "service ready in nnn minutes"
        waits += 1
        if waits > MAX_NOT_READY:
            raise ProtocolError(f"the FTP server said 'not ready yet' (120) {MAX_NOT_READY} times; giving up")
        r = yield from reader.reply("the greeting")
    session.greeting = str(r)
    if r.code != 220:
        return session.fail("greeting", r)
    if tls is not None:
        r = yield from command(reader, "AUTH TLS")
        if r.code != 234:
            return session.fail("AUTH TLS", r)
        no_injection(reader, "AUTH TLS")
        session.tls = yield StartTLS(tls)
    login = user or "anonymous"
    name = percent_decode(path[1:] if path.startswith("/") else path)
    r = yield from command(reader, f"USER {login}")
    if r.code == 331:
        secret = password if user else (password or ANONYMOUS_PASSWORD)
        r = yield from command(reader, f"PASS {secret or ''}", shown="PASS ********")
    if r.code not in (202, 230):
        return session.fail(f"login as {login}", r)
    session.facts["user"] = login
    if tls is not None:
        for step, ok in (("PBSZ 0", 200), ("PROT P", 200)):
            r = yield from command(reader, step)
            if r.code != ok:
                return session.fail(step, r)
    if name:
        if name.endswith("/"):
            got = yield from _transfer(reader, session, "LIST", name, tls, host, family)
            if got is None:
                return session
            session.facts["listing_bytes"], session.facts["entries"] = got
        else:
            r = yield from command(reader, "TYPE I")
            if r.code != 200:
                return session.fail("TYPE I", r)
            r = yield from command(reader, f"SIZE {name}")
            if r.code == 213 and is_digits(r.text.strip()):
                session.facts["size"] = int(r.text.strip())
            got = yield from _transfer(reader, session, "RETR", name, tls, host, family)
            if got is None:
                return session
            session.facts["bytes"] = got[0]
        session.facts["path"] = name
    yield from quit_()
    return session
