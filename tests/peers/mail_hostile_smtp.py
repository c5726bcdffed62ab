"""Fixture ``mail_hostile_smtp``: SMTP servers that misbehave, one port per behaviour,
in-process on 127.0.0.1 for the test module. ``.port(name)`` gives the port of:

``banner_refused``   greets with ``554 5.3.2 no service for you``
``banner_garbage``   greets with bytes that are no SMTP reply (NUL, ESC sequences, \\xff)
``endless``          answers EHLO with ``250-`` lines forever (until the client leaves)
``long_line``        answers EHLO with one 1 MiB line without an end
``ehlo_refused``     refuses EHLO and HELO: ``550 5.7.1 go away``
``drop_at_mail``     closes the connection when MAIL comes
``drop_at_data``     takes the data, then closes before the final reply
``escape_reply``     refuses RCPT with a reply holding ESC[2J and a BEL

``.lines(name)`` lists the lines each received (decoded), across connections.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers._mail_peer import SmtpHandler as _Handler
from tests.peers._mail_peer import SmtpPeers, serving_each

# How many "250-" lines the endless server sends at most (a bound for the peer itself).
ENDLESS_LINES = 1_000_000
GARBAGE = b"\x00\x1b[2J\x1b]0;owned\x07\xff\xfe garbage\r\n"


class _BannerRefused(_Handler):
    name = "banner_refused"
    banner = b"554 5.3.2 no service for you\r\n"


class _BannerGarbage(_Handler):
    name = "banner_garbage"
    banner = GARBAGE


class _Endless(_Handler):
    name = "endless"

    def on(self, verb, line):
        if verb != "EHLO":
            return super().on(verb, line)
        for _ in range(ENDLESS_LINES):
            self.say(b"250-and another extension\r\n")
        return False


class _LongLine(_Handler):
    name = "long_line"

    def on(self, verb, line):
        if verb != "EHLO":
            return super().on(verb, line)
        self.say(b"250-" + b"x" * (1 << 20))
        return False


class _EhloRefused(_Handler):
    name = "ehlo_refused"

    def on(self, verb, line):
        if verb in ("EHLO", "HELO"):
            self.say(b"550 5.7.1 go away\r\n")
            return None
        return super().on(verb, line)


class _DropAtMail(_Handler):
    name = "drop_at_mail"

    def on(self, verb, line):
        if verb == "MAIL":
            return False
        return super().on(verb, line)


class _DropAtData(_Handler):
    name = "drop_at_data"

    def on(self, verb, line):
        if verb == "DATA":
            self.say(b"354 go ahead\r\n")
            while self.read_line() not in (None, "."):
                pass
            return False
        return super().on(verb, line)


class _EscapeReply(_Handler):
    name = "escape_reply"

    def on(self, verb, line):
        if verb == "RCPT":
            self.say(b"550 5.1.1 \x1b[2J\x07 no such user \x1b]0;owned\x07\r\n")
            return None
        return super().on(verb, line)


_HANDLERS = (_BannerRefused, _BannerGarbage, _Endless, _LongLine, _EhloRefused, _DropAtMail, _DropAtData,
             _EscapeReply)


@pytest.fixture(scope="module")
def mail_hostile_smtp() -> Iterator[SmtpPeers]:
    with serving_each(_HANDLERS, SmtpPeers(), "mail-hostile") as peers:
        yield peers
