"""The mail package without sockets: DATA bytes, Bcc removal, the transcript's masking,
the public names."""

import io

import netkit.mail
from netkit.mail._compose import data_bytes, envelope_from_headers, without_bcc
from netkit.mail._smtp import Transcript, _Client


def test_public_names_are_pinned():
    assert netkit.mail.__all__ == ["Draft", "Report", "Request", "STAGES", "Sent", "StageError", "Transcript",
                                   "build", "data_bytes", "read_message", "send"]
    for name in netkit.mail.__all__:
        assert getattr(netkit.mail, name) is not None


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
