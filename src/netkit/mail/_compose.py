"""The message ``netkit mail send`` sends: built with the ``email`` package from the
options (From, To, Cc, Subject in any charset as RFC 2047, a text body, an HTML
alternative, attachments, Date, Message-ID), or read ready-made from a file or standard
input -- and made into the bytes of SMTP's DATA (CRLF line ends, dot-stuffed).

A ready message is sent byte for byte (only its line ends become CRLF): its charset and
8-bit headers are the author's, which is what lets a cp1251 message arrive as it left.
"""

from __future__ import annotations

import os

from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO

__all__ = ["MAX_MESSAGE_BYTES", "Draft", "build", "data_bytes", "envelope_from_headers", "read_message",
           "with_message_id"]

# The largest message send builds or reads: above every server's limit (Gmail 25 MB,
# Exchange 150 MB by default), and small enough to be held in memory once.
MAX_MESSAGE_BYTES = 256 << 20


class Draft:
    """What the options say the message is (everything already validated as text)."""

    __slots__ = ("sender", "to", "cc", "bcc", "subject", "body", "html", "attachments", "headers", "charset")

    def __init__(self, sender: str, to: Iterable[str] = (), cc: Iterable[str] = (), bcc: Iterable[str] = (),
                 subject: str | None = None, body: str | None = None, html: str | None = None,
                 attachments: Iterable[tuple[str, str | None]] = (), headers: Iterable[tuple[str, str]] = (),
                 charset: str = "utf-8") -> None:
        self.sender = sender
        self.to, self.cc, self.bcc = tuple(to), tuple(cc), tuple(bcc)
        self.subject = subject
        self.body = body
        self.html = html
        self.attachments = tuple(attachments)  # (path, "type/subtype" or None)
        self.headers = tuple(headers)  # (name, value)
        self.charset = charset


def _msgid_domain(sender: str) -> str:
    """The domain of a Message-ID: the sender's (no DNS look-up, unlike make_msgid's
    default socket.getfqdn(), which can take seconds)."""
    domain = sender.rpartition("@")[2].strip(" >")
    if domain and domain.isascii() and all(c.isalnum() or c in ".-" for c in domain):
        return domain
    import socket

    return socket.gethostname() or "localhost"


def build(draft: Draft) -> bytes:
    """The message as bytes (LF line ends; non-ASCII headers RFC 2047 in UTF-8, the body
    in ``draft.charset``)."""
    import email.policy
    import mimetypes
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage(policy=email.policy.SMTP.clone(linesep="\n"))
    msg["From"] = draft.sender
    for name, addresses in (("To", draft.to), ("Cc", draft.cc)):
        if addresses:
            msg[name] = ", ".join(addresses)
    if draft.subject is not None:
        msg["Subject"] = draft.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=_msgid_domain(draft.sender))
    for name, value in draft.headers:
        if name.lower() in ("from", "to", "cc", "subject", "date", "message-id"):
            del msg[name]  # --header wins over the built one
        msg[name] = value
    body = draft.body if draft.body is not None else ""
    charset = draft.charset
    cte = "8bit" if charset.lower() not in ("utf-8", "us-ascii", "ascii") else None
    try:
        msg.set_content(body, charset=charset, cte=cte)
    except (UnicodeEncodeError, LookupError) as exc:
        raise UsageError(f"--charset {charset}: the body cannot be written in it ({exc}); "
                         f"use --charset utf-8") from None
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html", charset="utf-8")
    for path, kind in draft.attachments:
        if kind is None:
            guessed, encoding = mimetypes.guess_type(path)
            kind = guessed if guessed and not encoding else "application/octet-stream"
        maintype, _, subtype = kind.partition("/")
        data = _read_file(path, "attachment")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=os.path.basename(path))
    try:
        return msg.as_bytes()
    except (UnicodeEncodeError, ValueError) as exc:
        raise UsageError(f"the message cannot be written: {exc}") from None


def _read_file(path, what) -> bytes:
    import stat

    from netkit.core.fs import read_regular

    def refuse(info):
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{what} {path!r} is not a regular file")

    try:
        data = read_regular(path, MAX_MESSAGE_BYTES, refuse)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path!r}: {exc.strerror}") from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise UsageError(f"{what} {path!r} is larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    return data


def read_message(source: str, stdin: BinaryIO | None = None) -> bytes:
    """A ready message from a file (``-``: standard input), as its bytes."""
    if source != "-":
        return _read_file(source, "message file")
    import sys

    stream = stdin if stdin is not None else sys.stdin.buffer
    data = stream.read(MAX_MESSAGE_BYTES + 1)
    if len(data) > MAX_MESSAGE_BYTES:
        raise UsageError(f"the message on standard input is larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    return data


def envelope_from_headers(message: bytes):
    """(From address, [To, Cc and Bcc addresses]) of a ready message (as sendmail -t reads
    them), for when the options give no envelope."""
    import email.parser
    import email.policy
    from email.utils import getaddresses

    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(message)
    senders = [a for _, a in getaddresses(head.get_all("From", [])) if a]
    rcpts = [a for _, a in getaddresses(head.get_all("To", []) + head.get_all("Cc", []) + head.get_all("Bcc", []))
             if a]
    return (senders[0] if senders else None), rcpts


def without_bcc(message: bytes) -> bytes:
    """``message`` without its Bcc header lines (a ready message's Bcc is not sent)."""
    head, sep, body = _split(message)
    lines = head.split(b"\n")
    out, skipping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line[:4].lower() == b"bcc:"
        if not skipping:
            out.append(line)
    return b"\n".join(out) + sep + body


def _split(message: bytes):
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = message.find(sep)
        if at >= 0:
            return message[:at], sep, message[at + len(sep):]
    return message, b"", b""


def data_bytes(message: bytes) -> bytes:
    """``message`` as DATA sends it: every line end CRLF, a leading '.' doubled, and the
    final ``CRLF.CRLF``."""
    text = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if text and not text.endswith(b"\n"):
        text += b"\n"
    text = text.replace(b"\n.", b"\n..")
    if text.startswith(b"."):
        text = b"." + text
    return text.replace(b"\n", b"\r\n") + b".\r\n"


def with_message_id(data: bytes, old: bytes, domain: str) -> bytes:
    """``data`` with the Message-ID ``old`` replaced by a new one (``--count``: each copy
    is its own message)."""
    from email.utils import make_msgid

    return data.replace(old, make_msgid(domain=domain).encode("ascii"), 1)
