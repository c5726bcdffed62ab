"""The mail package without sockets: DATA bytes, Bcc removal, the transcript's masking,
the public names."""

import io
import os

from netkit.mail._compose import data_bytes, envelope_from_headers, without_bcc
from netkit.mail._smtp import Transcript, _Client


def test_data_bytes_crlf_and_dot_stuffing():
    assert data_bytes(b".a\n..b\nc\r\n.\nd") == b"..a\r\n...b\r\nc\r\n..\r\nd\r\n.\r\n"
    assert data_bytes(b"") == b".\r\n"
    assert data_bytes(b"x\rY\n") == b"x\r\nY\r\n.\r\n"


def test_bcc_is_dropped_with_its_continuation():
    msg = b"To: a@x\nBcc: b@x,\n c@x\nSubject: s\n\nBcc: in the body stays\n"
    assert without_bcc(msg) == b"To: a@x\nSubject: s\n\nBcc: in the body stays\n"
    assert envelope_from_headers(msg) == (None, ["a@x", "b@x", "c@x"])


class _Fake(_Client):
    def __init__(self):
        super().__init__()
        self.sent = []
        self.transcript = Transcript(io.StringIO(), clock=lambda: 0.0)
        self.sock = self

    def sendall(self, data):
        self.sent.append(data)


def test_auth_lines_are_masked_until_the_exchange_ends():
    client = _Fake()
    client.file = io.BytesIO(b"334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n250 fine\r\n")
    client.send("AUTH LOGIN dXNlcg==\r\n")
    client.getreply()
    client.send("c2VjcmV0\r\n")
    client.getreply()
    client.send("c2VjcmV0\r\n")
    client.getreply()
    client.send("MAIL FROM:<a@x>\r\n")
    client.getreply()
    shown = client.transcript.stream.getvalue()
    assert "dXNlcg==" not in shown and "c2VjcmV0" not in shown
    assert "> AUTH LOGIN ********" in shown and shown.count("> ********") == 2
    assert "> MAIL FROM:<a@x>" in shown


def test_reply_control_characters_are_escaped_in_the_transcript():
    client = _Fake()
    client.file = io.BytesIO(b"550 \x1b[2J bad\r\n")
    code, message = client.getreply()
    assert code == 550
    assert "\x1b" not in client.transcript.stream.getvalue()


def test_state_after_a_crash_keeps_only_messages_that_are_whole(tmp_path):
    from netkit.mail._store import Maildir, State

    md = Maildir(str(tmp_path / "md"))
    paths = []
    for body in (b"one\n", b"two\n", b"three\n"):
        fd, temp = md.begin()
        os.write(fd, body)
        paths.append(md.commit(fd, temp))
    path = str(tmp_path / "state.ids")
    state = State(path, "pop3://a@h:110/")
    state.add("u1", paths[0], 4)
    md.sync()
    state.checkpoint()
    state.add("u2", paths[1], 4)  # then the power went: u2's file lost, u3's cut short
    state.add("u3", paths[2], 6)
    state.close()
    os.unlink(paths[1])
    with open(paths[2], "wb") as fh:
        fh.write(b"th")
    again = State(path, "pop3://a@h:110/")
    assert again.ids == {"u1"}
    assert not os.path.exists(paths[2])  # the partial message is removed, to be fetched again
    again.close()
    os.rename(paths[0], paths[0].replace("/new/", "/cur/") + ":2,S")  # a reader moved it: still known
    assert State(path, "pop3://a@h:110/").ids == {"u1"}


def test_state_refuses_another_account_and_resets_on_a_new_uidvalidity(tmp_path):
    import pytest

    from netkit.core.fs import LocalError
    from netkit.mail._store import State

    path = str(tmp_path / "s.ids")
    state = State(path, "imap://a@h:143/INBOX", "7")
    state.rewrite({"1", "2"})
    state.close()
    with pytest.raises(LocalError):
        State(path, "imap://b@h:143/INBOX", "7")
    fresh = State(path, "imap://a@h:143/INBOX", "8")
    assert fresh.reset and fresh.ids == set()


def test_state_skips_a_pending_line_whose_size_is_not_ascii_digits(tmp_path):
    from netkit.mail._store import State

    path = str(tmp_path / "s.ids")
    state = State(path, "pop3://a@h:110/")
    state.rewrite({"u1"})
    state.close()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("+ u9 /nowhere \u00b2\n")  # str.isdigit() says True, int() refuses it
    assert State(path, "pop3://a@h:110/").ids == {"u1"}
