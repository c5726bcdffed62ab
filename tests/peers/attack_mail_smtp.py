"""SMTP servers for the red team on ``netkit mail send`` (what
tests/peers/mail_hostile_smtp.py does not try), in-process on 127.0.0.1, one port per
behaviour; ``.lines(name)`` lists every line each received:

``plain_auth``      offers AUTH PLAIN LOGIN and no STARTTLS (as a server behind an attacker
                    who strips STARTTLS does), takes any password
``plain_and_cram``  offers AUTH CRAM-MD5 PLAIN LOGIN, no STARTTLS
``tls_then_plain``  offers STARTTLS, says 220 to it, then talks plain SMTP instead of TLS
``garbage_lines``   answers EHLO with continuation lines of garbage (no code, a bad code,
                    escapes, invalid UTF-8) before its final 250
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers._mail_peer import SmtpHandler, SmtpPeers, serving_each


class _Handler(SmtpHandler):
    banner = b"220 attack.test ESMTP\r\n"
    ehlo = b"250-attack.test\r\n250 8BITMIME\r\n"

    def on(self, verb, line):
        if verb != "AUTH":
            return super().on(verb, line)
        if line.upper().startswith("AUTH CRAM-MD5") or line.upper() == "AUTH LOGIN":
            self.say(b"334 PDEyMzQ1QGF0dGFjay50ZXN0Pg==\r\n")
            if line.upper() == "AUTH LOGIN":
                self.read_line()
                self.say(b"334 UGFzc3dvcmQ6\r\n")
            self.read_line()
        self.say(b"235 2.7.0 ok\r\n")
        return None


class _PlainAuth(_Handler):
    name = "plain_auth"
    ehlo = b"250-attack.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"


class _PlainAndCram(_Handler):
    name = "plain_and_cram"
    ehlo = b"250-attack.test\r\n250-AUTH CRAM-MD5 PLAIN LOGIN\r\n250 8BITMIME\r\n"


class _TlsThenPlain(_Handler):
    name = "tls_then_plain"
    ehlo = b"250-attack.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"

    def on(self, verb, line):
        if verb == "STARTTLS":
            self.say(b"220 go ahead\r\n220 attack.test ESMTP, still in clear\r\n")
            return None
        return super().on(verb, line)


class _GarbageLines(_Handler):
    name = "garbage_lines"
    ehlo = (b"250-attack.test\r\n250-\x1b[2J\x1b]0;owned\x07\r\n2x0-not a code\r\n250-\xff\xfe\x00\r\n"
            b"250 8BITMIME\r\n")


_HANDLERS = (_PlainAuth, _PlainAndCram, _TlsThenPlain, _GarbageLines)


@pytest.fixture(scope="module")
def attack_smtp() -> Iterator[SmtpPeers]:
    with serving_each(_HANDLERS, SmtpPeers(), "attack-smtp") as peers:
        yield peers
