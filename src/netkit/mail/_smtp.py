"""One SMTP (or LMTP) session as swaks drives it: connect, banner, EHLO, STARTTLS, AUTH,
the caller's own commands (``ETRN``), then MAIL/RCPT/DATA for each message -- pipelined
when the server offers PIPELINING, all on one connection -- and QUIT.

Built on smtplib (DESIGN.md's choice) with its reply reader replaced by a bounded one:
smtplib reads a multiline reply for as long as the server sends ``250-`` lines; here a
reply has at most :data:`MAX_REPLY_LINES` lines of :data:`MAX_LINE` bytes and must end
within the timeout. Every failure is a :class:`StageError` naming the stage (its exit
code, see :data:`STAGES`) and quoting the server's own words, escaped for a terminal.
"""

from __future__ import annotations

import smtplib
import time

from netkit.core.errors import NetError
from netkit.core.text import for_terminal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

__all__ = ["MAX_LINE", "MAX_REPLY_LINES", "STAGES", "StageError", "Transcript", "exit_code"]

# A reply line longer than this is garbage (RFC 5321 allows 512 octets; smtplib's own
# bound is 8192): it stops the session rather than the memory.
MAX_LINE = 8192
# Lines of one multiline reply (an EHLO lists a dozen extensions); a server sending "250-"
# forever is stopped here.
MAX_REPLY_LINES = 200

# The stages of a session in order, with the exit code of a failure in each (swaks's
# numbers from 21 on, so scripts written for it read ours; 2 stays netkit's usage error).
STAGES = {
    "connect": 20,   # no connection (refused, unreachable, name unknown, timeout)
    "banner": 21,    # no 220 greeting
    "ehlo": 22,      # EHLO and HELO (LHLO) refused
    "mail": 23,      # sender refused
    "rcpt": 24,      # every recipient refused
    "data": 25,      # the DATA command refused
    "message": 26,   # the message refused after its data (data refused)
    "partial": 27,   # sent, but some recipients were refused
    "auth": 28,      # authentication refused or impossible
    "starttls": 29,  # STARTTLS not offered when required, refused, or the handshake failed
    "command": 30,   # a --command got a 4xx/5xx reply
}
# The stages --quit-after accepts, in session order.
QUIT_AFTER = ("connect", "banner", "ehlo", "starttls", "auth", "mail", "rcpt")


class StageError(NetError):
    """A session failed at ``stage``: the message quotes the server (or the network);
    ``said`` is the server's own reply when it refused (``535 5.7.8 ...``), else None."""

    def __init__(self, stage: str, message: str, said: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.said = said


def exit_code(stage: str) -> int:
    return STAGES[stage]


class Transcript:
    """``-v``: each line sent (``>``) and received (``<``) with a timestamp, written to
    ``stream`` as it happens; AUTH's secrets shown as ``********``."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.clock = clock

    def line(self, arrow: str, text: str):
        now = self.clock()
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
        self.stream.write(f"{stamp} {arrow} {for_terminal(text)}\n")
        self.stream.flush()


class _Client(smtplib.SMTP):
    """smtplib.SMTP with a bounded reply reader, a transcript, AUTH masking, and implicit
    TLS (smtps) when ``tls_context`` is set before connect()."""

    ehlo_msg = "EHLO"
    transcript = None
    deadline_seconds = 30.0
    tls_context = None
    _masking = False

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        if self.tls_context is None:
            return sock
        try:
            return self.tls_context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise

    def send(self, s):
        if self.transcript is not None:
            text = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
            for line in text.split("\r\n")[:-1] if text.endswith("\r\n") else [text]:
                self.transcript.line(">", self._shown(line))
        super().send(s)

    def _shown(self, line: str) -> str:
        if line[:5].upper() == "AUTH ":
            self._masking = True
            words = line.split(" ")
            return " ".join(words[:2] + ["********"] * (len(words) > 2))
        return "********" if self._masking else line

    def getreply(self):
        if self.file is None:
            self.file = self.sock.makefile("rb")
        lines = []
        code = -1
        deadline = time.monotonic() + self.deadline_seconds
        while True:
            try:
                raw = self.file.readline(MAX_LINE + 1)
            except OSError as exc:  # a timeout too: the stage's words say which reply did not come
                from netkit.core.errmap import map_error

                wait = self.sock.gettimeout() if self.sock is not None else None
                self.close()
                error = map_error(exc, self._host, "read", timeout=wait)
                raise smtplib.SMTPServerDisconnected(str(error)) from error
            if not raw:
                self.close()
                raise smtplib.SMTPServerDisconnected("the server closed the connection")
            if len(raw) > MAX_LINE:
                self.close()
                raise smtplib.SMTPResponseException(500, f"a reply line longer than {MAX_LINE} bytes")
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if self.transcript is not None:
                self.transcript.line("<", text)
            head = text[:3]
            code = int(head) if head.isascii() and head.isdigit() else -1
            if code == -1:  # what follows it would be taken as the next command's reply
                self.close()
                raise smtplib.SMTPResponseException(-1, f"a reply line without a 3-digit code: {text[:200]}")
            lines.append(text[4:].strip())
            if len(lines) > MAX_REPLY_LINES:
                self.close()
                raise smtplib.SMTPResponseException(500, f"a reply of more than {MAX_REPLY_LINES} lines")
            if time.monotonic() > deadline:
                self.close()
                raise smtplib.SMTPServerDisconnected(f"a reply took longer than {self.deadline_seconds:g} s")
            if text[3:4] != "-":
                break
        if code != 334:
            self._masking = False
        return code, "\n".join(lines).encode("utf-8", "surrogateescape")


class _LMTPClient(_Client):
    """The same over LMTP (RFC 2033): LHLO, and one reply per recipient after the data."""

    ehlo_msg = "LHLO"

    def ehlo_or_helo_if_needed(self):
        if self.ehlo_resp is None:
            code, _ = self.ehlo()
            if not 200 <= code <= 299:
                raise smtplib.SMTPHeloError(code, b"LHLO refused")


def said(code, message) -> str:
    """A server's reply as one quotable line: ``550 5.1.1 <x>: Recipient address rejected``."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return for_terminal(f"{code} {' '.join(text.split())}" if code and code > 0 else " ".join(text.split()))
