"""Mail sessions as dialogues: SMTP (RFC 5321, 3207, 4954), POP3 (RFC 1939, 2595) and
IMAP (RFC 9051, the subset a check needs). Nothing is ever sent or changed: SMTP stops
at RCPT and resets, IMAP examines the mailbox read-only."""

from netkit.core.errors import ProtocolError
from netkit.core.text import is_digits
from netkit.proto.actions import Connect, Send, StartTLS
from netkit.proto.lines import MAX_LINE, MAX_REPLY_LINES, LineReader, Session, command, line_bytes, no_injection, quit_

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from netkit.proto.actions import Dialogue, TLSParams
    from netkit.proto.lines import Reply

__all__ = ["smtp_dialogue", "pop3_dialogue", "imap_dialogue", "imap_quote", "parse_extensions"]


def parse_extensions(reply: "Reply") -> dict[str, str]:
    """EHLO's reply lines after the first -> {KEYWORD: parameters}."""
    out = {}
    for line in reply.lines[1:]:
        word, _, params = line.strip().partition(" ")
        if word:
            out[word.upper()] = params.strip()
    return out


def _b64(text: str) -> str:
    import base64  # only when logging in

    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _smtp_auth(reader: LineReader, session: Session, mechanisms: set[str], user: str,
               password: str | None) -> "Dialogue[Session | None]":
    if "PLAIN" in mechanisms:
        token = _b64(f"\0{user}\0{password or ''}")
        r = yield from command(reader, f"AUTH PLAIN {token}", shown="AUTH PLAIN ********")
    elif "LOGIN" in mechanisms:
        r = yield from command(reader, "AUTH LOGIN")
        if r.code == 334:
            r = yield from command(reader, _b64(user), shown="******** (user)")
        if r.code == 334:
            r = yield from command(reader, _b64(password or ""), shown="******** (password)")
    else:
        offered = " ".join(sorted(mechanisms)) or "none"
        return session.fail(f"AUTH as {user}", f"no mechanism netkit speaks (PLAIN, LOGIN); offered: {offered}")
    if r.code != 235:
        return session.fail(f"AUTH as {user}", r)
    session.facts["user"] = user
    return None


def smtp_dialogue(host: str, port: int, *, family: int = 0, implicit_tls: "TLSParams | None" = None,
                  starttls: "TLSParams | None" = None, ehlo: str = "localhost", user: str | None = None,
                  password: str | None = None, mail_from: str | None = None,
                  rcpts: "Iterable[str]" = ()) -> "Dialogue[Session]":
    """Greeting, EHLO (HELO if refused), STARTTLS, AUTH, MAIL/RCPT probes, RSET, QUIT."""
    reader = LineReader(0, "the SMTP server")
    session = Session()
    session.peer = yield Connect(host, port, "tcp", family)
    if implicit_tls is not None:
        session.tls = yield StartTLS(implicit_tls)
    r = yield from reader.reply("the greeting")
    session.greeting = str(r)
    if r.code != 220:
        return session.fail("greeting", r)
    r = yield from command(reader, f"EHLO {ehlo}")
    extensions = {}
    if r.code == 250:
        extensions = parse_extensions(r)
    else:
        r = yield from command(reader, f"HELO {ehlo}")
        if r.code != 250:
            return session.fail(f"HELO {ehlo}", r)
    if starttls is not None:
        if "STARTTLS" not in extensions:
            return session.fail("STARTTLS", "the server does not offer STARTTLS in its EHLO reply")
        r = yield from command(reader, "STARTTLS")
        if r.code != 220:
            return session.fail("STARTTLS", r)
        no_injection(reader, "STARTTLS")
        session.tls = yield StartTLS(starttls)
        r = yield from command(reader, f"EHLO {ehlo}")  # the extensions may differ over TLS
        if r.code != 250:
            return session.fail(f"EHLO {ehlo} after STARTTLS", r)
        extensions = parse_extensions(r)
    session.facts["extensions"] = sorted(f"{k} {v}".strip() for k, v in extensions.items())
    if user is not None:
        if "AUTH" not in extensions:
            return session.fail(f"AUTH as {user}", "the server offers no AUTH"
                                + ("" if session.tls else " (many offer it only after STARTTLS)"))
        failed = yield from _smtp_auth(reader, session, set(extensions["AUTH"].upper().split()), user, password)
        if failed is not None:
            return failed
    if rcpts or mail_from is not None:
        r = yield from command(reader, f"MAIL FROM:<{mail_from or ''}>")
        if r.code != 250:
            return session.fail(f"MAIL FROM:<{mail_from or ''}>", r)
        accepted = []
        for rcpt in rcpts:
            r = yield from command(reader, f"RCPT TO:<{rcpt}>")
            if r.code not in (250, 251):
                return session.fail(f"RCPT TO:<{rcpt}>", r)
            accepted.append(rcpt)
        session.facts["accepted"] = accepted
        yield from command(reader, "RSET")
    yield from quit_()
    return session


# -- POP3 ----------------------------------------------------------------------------------

def _pop_line(reader: LineReader, what: str) -> "Dialogue[str]":
    line = yield from reader.line(what)
    if not (line.startswith("+OK") or line.startswith("-ERR")):
        raise ProtocolError(f"the POP3 server did not answer +OK or -ERR while we waited for {what}: {line[:60]!r}")
    return line


def _pop_command(reader: LineReader, text: str, shown: str | None = None) -> "Dialogue[str]":
    yield Send(line_bytes(text, shown), shown=None if shown is None else (shown + "\r\n").encode())
    return (yield from _pop_line(reader, f"the reply to {(shown or text).split(' ', 1)[0]}"))


def pop3_dialogue(host: str, port: int, *, family: int = 0, implicit_tls: "TLSParams | None" = None,
                  starttls: "TLSParams | None" = None, user: str, password: str | None) -> "Dialogue[Session]":
    """Greeting, STLS, APOP (when offered and the password is known) or USER/PASS, STAT."""
    reader = LineReader(0, "the POP3 server")
    session = Session()
    session.peer = yield Connect(host, port, "tcp", family)
    if implicit_tls is not None:
        session.tls = yield StartTLS(implicit_tls)
    greeting = yield from _pop_line(reader, "the greeting")
    session.greeting = greeting
    if not greeting.startswith("+OK"):
        return session.fail("greeting", greeting)
    if starttls is not None:
        line = yield from _pop_command(reader, "STLS")
        if not line.startswith("+OK"):
            return session.fail("STLS", line)
        no_injection(reader, "STLS")
        session.tls = yield StartTLS(starttls)
    stamp = _apop_stamp(greeting)
    if stamp is not None and password is not None:
        import hashlib

        digest = hashlib.md5((stamp + password).encode("utf-8")).hexdigest()  # noqa: S324 (RFC 1939)
        line = yield from _pop_command(reader, f"APOP {user} {digest}", shown=f"APOP {user} ********")
        session.facts["auth"] = "APOP"
    else:
        line = yield from _pop_command(reader, f"USER {user}")
        if line.startswith("+OK"):
            line = yield from _pop_command(reader, f"PASS {password or ''}", shown="PASS ********")
        session.facts["auth"] = "USER/PASS"
    if not line.startswith("+OK"):
        return session.fail(f"login as {user}", line)
    session.facts["user"] = user
    line = yield from _pop_command(reader, "STAT")
    parts = line.split()
    if not line.startswith("+OK") or len(parts) < 3 or not is_digits(parts[1]) or not is_digits(parts[2]):
        return session.fail("STAT", line)
    session.facts["messages"], session.facts["size"] = int(parts[1]), int(parts[2])
    yield from quit_()
    return session


def _apop_stamp(greeting: str) -> str | None:
    start, end = greeting.find("<"), greeting.rfind(">")
    if 0 <= start < end and "@" in greeting[start:end]:
        return greeting[start : end + 1]
    return None


# -- IMAP ----------------------------------------------------------------------------------

def imap_quote(text: str) -> str | None:
    """An IMAP astring: a quoted string, or None when a literal is needed."""
    if any(ord(c) < 32 or ord(c) > 126 for c in text):
        return None
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# A SEARCH reply is one line of message numbers: 20,000 unseen messages already pass
# MAX_LINE. 4 MiB holds half a million of them and still bounds what a peer can send.
MAX_SEARCH_LINE = 4 * 1024 * 1024


class _Imap:
    def __init__(self, reader: LineReader) -> None:
        self.reader = reader
        self.counter = 0

    def run(self, command: str, *args: str, shown: str | None = None,
            limit: int | None = None) -> "Dialogue[tuple[str, list[str]]]":
        """Generator: send a tagged command (``args`` as astrings), return (the tagged
        status after the tag, the untagged lines)."""
        self.counter += 1
        tag = f"n{self.counter}"
        verb = command.split(" ", 1)[0]
        pieces = [f"{tag} {command}"]  # piece i is followed by literal i, if any
        literals = []
        for arg in args:
            quoted = imap_quote(arg)
            if quoted is not None:
                pieces[-1] += " " + quoted
            else:  # a synchronizing literal: {n}, the server's "+", then the octets
                data = arg.encode("utf-8")
                pieces[-1] += f" {{{len(data)}}}"
                literals.append(data)
                pieces.append("")
        yield Send(line_bytes(pieces[0], shown),  # a literal (below) may hold CR LF; a line may not
                   shown=None if shown is None else f"{tag} {shown}\r\n".encode())
        untagged: list[str] = []
        for data, after in zip(literals, pieces[1:]):
            line = yield from self.reader.line(f"the go-ahead for {verb}")
            if line.startswith(tag + " "):
                return line[len(tag) + 1 :], untagged
            if not line.startswith("+"):
                raise ProtocolError(f"the IMAP server answered a literal of {verb} with {line[:60]!r}")
            yield Send(data + line_bytes(after, verb), shown=b"******** (literal)\r\n")
        while True:
            line = yield from self.reader.line(f"the reply to {verb}", limit or MAX_LINE)
            if line.startswith(tag + " "):
                return line[len(tag) + 1 :], untagged
            if line.startswith("* ") or line.startswith("+"):
                if len(untagged) >= MAX_REPLY_LINES:
                    raise ProtocolError(f"the IMAP server answered {verb} with more than {MAX_REPLY_LINES} "
                                        f"untagged lines")
                untagged.append(line)
            else:
                raise ProtocolError(f"the IMAP server answered {verb} with {line[:60]!r}")


def imap_dialogue(host: str, port: int, *, family: int = 0, implicit_tls: "TLSParams | None" = None,
                  starttls: "TLSParams | None" = None, user: str, password: str | None,
                  mailbox: str = "INBOX") -> "Dialogue[Session]":
    """Greeting, STARTTLS, LOGIN, EXAMINE (read-only SELECT), SEARCH UNSEEN, LOGOUT."""
    reader = LineReader(0, "the IMAP server")
    session = Session()
    session.peer = yield Connect(host, port, "tcp", family)
    if implicit_tls is not None:
        session.tls = yield StartTLS(implicit_tls)
    greeting = yield from reader.line("the greeting")
    session.greeting = greeting
    if not (greeting.startswith("* OK") or greeting.startswith("* PREAUTH")):
        if greeting.startswith("* BYE") or greeting.startswith("* NO"):
            return session.fail("greeting", greeting)
        raise ProtocolError(f"the IMAP server greeted with {greeting[:60]!r}")
    imap = _Imap(reader)
    if starttls is not None:
        status, _ = yield from imap.run("STARTTLS")
        if not status.startswith("OK"):
            return session.fail("STARTTLS", status)
        no_injection(reader, "STARTTLS")
        session.tls = yield StartTLS(starttls)
    if not greeting.startswith("* PREAUTH"):
        status, _ = yield from imap.run("LOGIN", user, password or "", shown=f"LOGIN {user} ********")
        if not status.startswith("OK"):
            return session.fail(f"login as {user}", status)
    session.facts["user"] = user
    status, untagged = yield from imap.run("EXAMINE", mailbox)
    if not status.startswith("OK"):
        return session.fail(f"EXAMINE {mailbox}", status)
    for line in untagged:
        words = line.split()
        if len(words) >= 3 and words[2].upper() == "EXISTS" and is_digits(words[1]):
            session.facts["messages"] = int(words[1])
    if "messages" not in session.facts:  # RFC 9051 6.3.2: EXISTS is a required part of the reply
        raise ProtocolError(f"the IMAP server answered EXAMINE {mailbox[:60]!r} without its number of messages "
                            f"(no '* N EXISTS' line)")
    status, untagged = yield from imap.run("SEARCH UNSEEN", limit=MAX_SEARCH_LINE)
    if not status.startswith("OK"):
        return session.fail("SEARCH UNSEEN", status)
    unseen = 0
    for line in untagged:
        words = line.split()
        if len(words) >= 2 and words[1].upper() == "SEARCH":
            unseen += sum(1 for w in words[2:] if is_digits(w))
    session.facts["unseen"] = unseen
    session.facts["mailbox"] = mailbox
    yield from quit_(f"n{imap.counter + 1} LOGOUT")
    return session
