"""Red team on ``netkit mail send``: servers that would read a password in clear (offered
without STARTTLS, or after a STARTTLS that is not one), and garbage between reply lines."""

import pytest

from tests.helpers import run_netkit
from tests.peers.attack_mail_smtp import attack_smtp  # noqa: F401 -- the fixture

SECRET = {"MAIL_PW": "pa55-w0rd-secret"}


def send(attack_smtp, name, *args):
    return run_netkit("mail", "send", f"smtp://alice@127.0.0.1:{attack_smtp.port(name)}", "--password-env", "MAIL_PW",
                      "-f", "alice@example.org", "-t", "bob@example.org", "--body", "hi", *args, env=SECRET)


def auth_lines(attack_smtp, name):
    return [line for line in attack_smtp.lines(name) if line.upper().startswith("AUTH")]


@pytest.mark.parametrize("extra", [[], ["--starttls-optional"]])
def test_a_password_is_not_sent_in_clear_unasked(attack_smtp, extra):
    """AUTH PLAIN and LOGIN offered on a connection without TLS (a stripped STARTTLS
    looks just like this): exit 28, the password never sent, the way out said."""
    before = len(auth_lines(attack_smtp, "plain_auth"))
    code, out, err = send(attack_smtp, "plain_auth", *extra)
    assert code == 28, err
    assert "unencrypted" in err and "--starttls" in err and "--auth PLAIN" in err
    assert len(auth_lines(attack_smtp, "plain_auth")) == before
    assert not any(line.startswith(("MAIL", "RCPT")) for line in attack_smtp.lines("plain_auth")[before:])


def test_naming_the_mechanism_sends_it_with_a_warning(attack_smtp):
    code, out, err = send(attack_smtp, "plain_auth", "--auth", "PLAIN")
    assert code == 0, err
    assert "AUTH PLAIN over an unencrypted connection" in err
    assert auth_lines(attack_smtp, "plain_auth")[-1].startswith("AUTH PLAIN ")


def test_without_tls_cram_md5_is_chosen_over_plain(attack_smtp):
    code, out, err = send(attack_smtp, "plain_and_cram")
    assert code == 0, err
    assert [line.split(" ")[:2] for line in auth_lines(attack_smtp, "plain_and_cram")] == [["AUTH", "CRAM-MD5"]]


def test_a_starttls_that_is_not_one_sends_nothing(attack_smtp):
    """220 to STARTTLS, then plain SMTP: the handshake fails (exit 29) and neither the
    password nor the message crosses."""
    for extra in (["--starttls"], ["--starttls-optional"]):
        code, out, err = send(attack_smtp, "tls_then_plain", *extra)
        assert code == 29, err
        assert err.count("\n") == 1
    lines = attack_smtp.lines("tls_then_plain")
    assert not any(line.upper().startswith(("AUTH", "MAIL", "RCPT", "DATA")) for line in lines), lines


def test_a_reply_line_without_a_code_ends_the_session(attack_smtp):
    """A continuation line that is no SMTP (``2x0-...``) used to end the reply there: the
    rest of it was then read as the reply to HELO, then to MAIL -- every reply after it
    answered the command before. Now it is a protocol error in its stage (EHLO: 22), and
    the escapes in the lines before it are shown, not sent to the terminal."""
    code, out, err = run_netkit("mail", "send", f"smtp://127.0.0.1:{attack_smtp.port('garbage_lines')}", "-v",
                                "-f", "a@example.org", "-t", "b@example.org", "--body", "x")
    assert code == 22 and "without a 3-digit code" in err, err  # never read on as the next reply
    assert "\x1b" not in err + out and "\x07" not in err + out and "\x00" not in err + out
    assert "\\x1b[2J" in err  # the transcript shows it, escaped
    assert not any(line.startswith(("helo", "HELO", "MAIL", "RCPT")) for line in attack_smtp.lines("garbage_lines"))


def test_an_endless_body_on_standard_input_is_bounded():
    """``--body - < /dev/zero`` (a careless redirection) read until the memory ran out."""
    from netkit.mail._compose import MAX_MESSAGE_BYTES

    with open("/dev/zero", "rb") as zero:
        code, out, err = run_netkit("mail", "send", "--dump", "-f", "a@example.org", "-t", "b@example.org",
                                    "--body", "-", stdin=zero, timeout=120)
    assert code == 2 and f"--body on standard input is larger than {MAX_MESSAGE_BYTES >> 20} MiB" in err, err
    assert out == ""
