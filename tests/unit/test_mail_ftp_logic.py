"""FTP, SMTP, POP3 and IMAP dialogues driven by a scripted peer: no sockets."""

import pytest

from netkit.core.errors import ProtocolError
from netkit.proto.actions import TLSParams
from netkit.proto.ftp import ftp_dialogue, parse_epsv, parse_pasv
from netkit.proto.lines import LineReader
from netkit.proto.mail import imap_dialogue, imap_quote, pop3_dialogue, smtp_dialogue
from netkit.testing import FakePeer


def test_multiline_reply_in_pieces():
    def dialogue():
        from netkit.proto.actions import Connect

        yield Connect("h", 25)
        return (yield from LineReader().reply("x"))

    peer = FakePeer([b"250-mx.example\r\n250-SIZE 10", b"00\r\n250 HELP\r\n"])
    reply = peer.run(dialogue())
    assert reply.code == 250 and reply.lines == ["mx.example", "SIZE 1000", "HELP"]


@pytest.mark.parametrize("data, words", [(b"hello\r\n", "did not answer in the protocol"),
                                         (b"", "closed the connection while we waited for the greeting"),
                                         (b"220 partial", "closed the connection")])
def test_bad_greetings(data, words):
    peer = FakePeer([data])
    with pytest.raises(ProtocolError, match=words):
        peer.run(smtp_dialogue("h", 25))


def test_smtp_probe_sends_nothing():
    peer = FakePeer([b"220 hi\r\n", b"250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n", b"235 ok\r\n",
                     b"250 ok\r\n", b"250 ok\r\n", b"250 reset\r\n"])
    session = peer.run(smtp_dialogue("h", 25, user="u", password="p", mail_from="a@b", rcpts=["c@d"]))
    sent = peer.sent[0].decode()
    assert session.failure is None and session.facts["accepted"] == ["c@d"]
    assert "AUTH PLAIN AHUAcA==\r\n" in sent and "DATA" not in sent and sent.endswith("RSET\r\nQUIT\r\n")


def test_smtp_helo_fallback_and_rejections():
    peer = FakePeer([b"220 old\r\n", b"502 no\r\n", b"250 ok\r\n", b"250 ok\r\n", b"550 no such user\r\n"])
    session = peer.run(smtp_dialogue("h", 25, rcpts=["x@y"]))
    assert "HELO localhost" in peer.sent[0].decode()
    assert session.failure == ("RCPT TO:<x@y>", "550 no such user")


def test_smtp_starttls_needs_the_extension():
    peer = FakePeer([b"220 hi\r\n", b"250 mx\r\n"])
    session = peer.run(smtp_dialogue("h", 25, starttls=TLSParams("h")))
    assert session.failure[0] == "STARTTLS" and "does not offer" in session.failure[1]


def test_starttls_injection_refused():
    peer = FakePeer([b"220 hi\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"220 go ahead\r\n250 injected\r\n"])
    with pytest.raises(ProtocolError, match="injection"):
        peer.run(smtp_dialogue("h", 25, starttls=TLSParams("h")))


def test_pop3_user_pass_and_stat():
    peer = FakePeer([b"+OK ready\r\n", b"+OK\r\n", b"+OK in\r\n", b"+OK 3 1200\r\n"])
    session = peer.run(pop3_dialogue("h", 110, user="u", password="p"))
    assert session.facts["messages"] == 3 and session.facts["size"] == 1200
    assert peer.sent[0] == b"USER u\r\nPASS p\r\nSTAT\r\nQUIT\r\n"


def test_pop3_apop_when_offered():
    peer = FakePeer([b"+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n", b"+OK\r\n", b"+OK 0 0\r\n"])
    session = peer.run(pop3_dialogue("h", 110, user="mrose", password="tanstaaf"))
    # RFC 1939's own example digest
    assert b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n" in peer.sent[0]
    assert session.facts["auth"] == "APOP"


def test_pop3_login_failure_quotes_the_server():
    peer = FakePeer([b"+OK ready\r\n", b"+OK\r\n", b"-ERR [AUTH] Authentication failed.\r\n"])
    session = peer.run(pop3_dialogue("h", 110, user="u", password="bad"))
    assert session.failure == ("login as u", "-ERR [AUTH] Authentication failed.")


def test_imap_examine_and_unseen():
    peer = FakePeer([b"* OK ready\r\n", b"n1 OK in\r\n",
                     b"* 7 EXISTS\r\n* OK [UNSEEN 3]\r\nn2 OK [READ-ONLY] done\r\n",
                     b"* SEARCH 3 5 7\r\nn3 OK done\r\n"])
    session = peer.run(imap_dialogue("h", 143, user="u", password='p"w', mailbox="INBOX"))
    assert session.facts["messages"] == 7 and session.facts["unseen"] == 3
    assert peer.sent[0].startswith(b'n1 LOGIN "u" "p\\"w"\r\nn2 EXAMINE "INBOX"\r\nn3 SEARCH UNSEEN\r\n')


def test_imap_literal_for_non_ascii_password():
    peer = FakePeer([b"* OK ready\r\n", b"+ go ahead\r\n", b"n1 OK in\r\n", b"* 0 EXISTS\r\nn2 OK\r\n",
                     b"* SEARCH\r\nn3 OK\r\n"])
    session = peer.run(imap_dialogue("h", 143, user="u", password="pässword"))
    assert peer.sent[0].startswith('n1 LOGIN "u" {9}\r\npässword\r\n'.encode())
    assert session.facts["unseen"] == 0
    assert imap_quote("plain") == '"plain"' and imap_quote("tab\there") is None


def test_imap_preauth_skips_login_and_bye_fails():
    peer = FakePeer([b"* PREAUTH hi\r\n", b"* 1 EXISTS\r\nn1 OK\r\n", b"* SEARCH\r\nn2 OK\r\n"])
    assert peer.run(imap_dialogue("h", 143, user="u", password="p")).facts["messages"] == 1
    assert peer.run.__self__.sent[0].startswith(b"n1 EXAMINE")
    bye = FakePeer([b"* BYE too busy\r\n"])
    assert bye.run(imap_dialogue("h", 143, user="u", password="p")).failure == ("greeting", "* BYE too busy")


@pytest.mark.parametrize("text, port", [("Entering Extended Passive Mode (|||6446|)", 6446),
                                        ("ok (!!!1!)", 1)])
def test_epsv(text, port):
    assert parse_epsv(text) == port


@pytest.mark.parametrize("text", ["no parens", "(|||0|)", "(|||70000|)", "(||x|)"])
def test_bad_epsv(text):
    with pytest.raises(ProtocolError):
        parse_epsv(text)


def test_pasv_ignores_the_address():
    assert parse_pasv("Entering Passive Mode (10,0,0,1,195,80).") == 195 * 256 + 80
    for bad in ("Entering Passive Mode (1,2,3)", "(127,0,0,1,0,0)", "(127,0,0,1,999,999)",
                "(127,0,0,1,1,\u00b2)", "(127,0,0,1,1," + "9" * 5000 + ")"):
        with pytest.raises(ProtocolError):
            parse_pasv(bad)


def test_ftp_greeting_not_ready_for_ever_is_a_protocol_error():
    peer = FakePeer([b"120 wait\r\n"] * 50)
    with pytest.raises(ProtocolError, match="not ready"):
        peer.run(ftp_dialogue("h", 21))


def test_ftp_list_lines():
    from netkit.transfer._ftp import parse_list_line

    assert parse_list_line("-rw-r--r--   1 ftp  ftp   42 Jan 02  2020 my file.txt") == (
        "my file.txt", {"type": "file", "size": "42"})
    assert parse_list_line("drwxr-xr-x 2 ftp ftp 4096 Jan 02 12:00 ../up") == ("../up", {"type": "dir", "size": "4096"})
    for other in ("total 8", "lrwxrwxrwx 1 ftp ftp 4 Jan 02 2020 l -> /etc", "crw-rw-rw- 1 0 0 1, 5 Jan 1 2020 zero",
                  "garbage"):
        assert parse_list_line(other) is None


def test_ftp_retrieve_over_a_data_connection():
    peer = FakePeer([b"220 hi\r\n", b"331 pw\r\n", b"230 in\r\n", b"200 binary\r\n", b"213 5\r\n",
                     b"229 (|||4000|)\r\n", b"150 go\r\n", b"226 done\r\n"],
                    [b"hel", b"lo"])
    session = peer.run(ftp_dialogue("h", 21, user="u", password="p", path="/dir/f%20x.txt"))
    assert session.facts == {"user": "u", "size": 5, "bytes": 5, "path": "dir/f x.txt"}
    assert peer.connects[1].port == 4000 and peer.connects[1].channel == 1
    assert peer.sent[0].decode().endswith("RETR dir/f x.txt\r\nQUIT\r\n")


def test_ftp_anonymous_and_failures():
    peer = FakePeer([b"220 hi\r\n", b"331 pw\r\n", b"530 no\r\n"])
    session = peer.run(ftp_dialogue("h", 21))
    assert peer.sent[0] == b"USER anonymous\r\nPASS anonymous@\r\n"
    assert session.failure == ("login as anonymous", "530 no")
    busy = FakePeer([b"421 too many users\r\n"])
    assert busy.run(ftp_dialogue("h", 21)).failure == ("greeting", "421 too many users")
