"""``netkit mail send`` against aiosmtpd (tests/peers/mail_smtp.py) and hostile SMTP
servers (tests/peers/mail_hostile_smtp.py): every option, every refusal's exit code."""

import email
import email.policy
import re
import subprocess
import sys
import uuid

import pytest

from tests.helpers import run_netkit

pytestmark = pytest.mark.usefixtures("mail_smtp")


def rcpt(name="r"):
    return f"{name}-{uuid.uuid4().hex[:12]}@example.test"


def send(*args, env=None, **kw):
    return run_netkit("mail", "send", *args, env=env, **kw)


@pytest.fixture
def tls(pki):
    return ["--cacert", str(pki.ca_file)]


@pytest.fixture
def secret(mail_smtp):
    return {"MAIL_PW": mail_smtp.password, "MAIL_TOKEN": mail_smtp.token}


def test_builds_mime_with_starttls_and_auth(mail_smtp, tls, secret, tmp_path):
    to, cc, bcc = rcpt("to"), rcpt("cc"), rcpt("bcc")
    csv = tmp_path / "data.csv"
    csv.write_bytes(b"a,b\n1,2\n")
    blob = tmp_path / "blob.weird"
    blob.write_bytes(bytes(range(256)))
    code, out, err = send(f"smtp://user@127.0.0.1:{mail_smtp.port}", "--starttls", *tls, "--password-env", "MAIL_PW",
                          "-f", "me@example.org", "-t", to, "--cc", cc, "--bcc", bcc,
                          "--subject", "Отчёт за неделю", "--body", "Здравствуйте!\nline two\n.leading dot\n",
                          "--html", "<p>hi</p>", "--attach", str(csv), "--attach", str(blob),
                          "--attach-type", "text/csv", "-H", "X-Tag: netkit", env=secret)
    assert code == 0, err
    assert f"sent 1 message to {', '.join(sorted([to, cc, bcc]))}" in out
    [got] = mail_smtp.messages(to)
    assert got.tls and got.auth in ("CRAM-MD5", "PLAIN", "LOGIN")
    assert set(got.rcpt_tos) == {to, cc, bcc}
    msg = email.message_from_bytes(got.data, policy=email.policy.default)
    assert msg["Subject"] == "Отчёт за неделю"
    assert b"Bcc" not in got.data and bcc.encode() not in got.data
    assert msg["X-Tag"] == "netkit" and msg["Message-ID"] and msg["Date"]
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == "Здравствуйте!\nline two\n.leading dot\n"
    assert msg.get_body(("html",)).get_content().strip() == "<p>hi</p>"
    parts = {p.get_filename(): p for p in msg.iter_attachments()}
    assert parts["data.csv"].get_content_type() == "text/csv"
    assert parts["data.csv"].get_payload(decode=True) == b"a,b\n1,2\n"
    assert parts["blob.weird"].get_content_type() == "application/octet-stream"
    assert parts["blob.weird"].get_payload(decode=True) == bytes(range(256))


SEED = ("From: Student <student@mail.ru>\nTo: Lecturer <{to}>\nSubject: Привет от студента\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=Windows-1251\nContent-Transfer-Encoding: 8bit\n\n"
        "Здравствуйте! Я изучаю курс по языку Python и\nотправляю письмо его автору.\n.\n")


def test_ready_message_is_sent_byte_for_byte(mail_smtp, tmp_path):
    to = rcpt()
    raw = SEED.format(to=to).encode("cp1251")  # 8-bit cp1251 Subject and body, as the seed's
    path = tmp_path / "seed.eml"
    path.write_bytes(raw)
    code, out, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "--message", str(path))
    assert code == 0, err
    [got] = mail_smtp.messages(to)
    assert got.mail_from == "student@mail.ru"
    assert got.data.replace(b"\r\n", b"\n") == raw
    assert "BODY=8BITMIME" in got.mail_options


def test_message_from_stdin_and_charset(mail_smtp, tmp_path):
    to = rcpt()
    body = tmp_path / "body.txt"
    body.write_bytes("Здравствуйте! Я изучаю курс.\n".encode("cp1251"))  # not UTF-8: read as --charset
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "-f", "a@example.org", "-t", to, "--charset",
                        "cp1251", "--body", f"@{body}", "--subject", "Тема")
    assert code == 0, err
    [got] = mail_smtp.messages(to)
    msg = email.message_from_bytes(got.data, policy=email.policy.default)
    assert msg.get_content_charset() in ("cp1251", "windows-1251")
    assert "Здравствуйте! Я изучаю курс." in got.data.decode("cp1251")
    to2 = rcpt()
    proc = subprocess.run([sys.executable, "-m", "netkit", "mail", "send", f"smtp://127.0.0.1:{mail_smtp.port}",
                           "--message", "-", "-t", to2, "-f", "x@example.org"],
                          input=b"Subject: from stdin\n\nhello\n", capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    [got] = mail_smtp.messages(to2)
    assert got.data == b"Subject: from stdin\r\n\r\nhello\r\n"


def test_a_refused_login_quotes_the_server_once(mail_smtp, tls):
    code, _, err = send(f"smtps://user@127.0.0.1:{mail_smtp.smtps_port}", *tls, "--password-env", "MAIL_PW",
                        "--auth", "PLAIN", "-f", "a@example.org", "-t", rcpt(), "--body", "x", env={"MAIL_PW": "wrong"})
    assert code == 28 and re.search(r"AUTH PLAIN as user refused: 5\d\d ", err) and "AUTH: " not in err, err


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_auth_mechanisms_over_smtps_with_masked_transcript(mail_smtp, tls, secret, mechanism):
    to = rcpt()
    code, _, err = send(f"smtps://user@127.0.0.1:{mail_smtp.smtps_port}", *tls, "--password-env", "MAIL_PW",
                        "--auth", mechanism, "-f", "a@example.org", "-t", to, "--body", "x", "-v", env=secret)
    assert code == 0, err
    assert mail_smtp.messages(to)[0].auth == mechanism
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} > AUTH " + mechanism + r"( \*{8})?$", err, re.M), err
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} < 235 ", err, re.M)
    import base64

    for secret_form in (mail_smtp.password, base64.b64encode(mail_smtp.password.encode()).decode(),
                        base64.b64encode(f"\0user\0{mail_smtp.password}".encode()).decode()):
        assert secret_form not in err


def test_xoauth2_token_from_environment(mail_smtp, tls, secret):
    to = rcpt()
    code, _, err = send(f"smtps://user@127.0.0.1:{mail_smtp.smtps_port}", *tls, "--oauth-token-env", "MAIL_TOKEN",
                        "-f", "a@example.org", "-t", to, "--body", "x", "-v", env=secret)
    assert code == 0, err
    assert mail_smtp.messages(to)[0].auth == "XOAUTH2"
    assert mail_smtp.token not in err and "> AUTH XOAUTH2 ********" in err


def test_bad_password_is_exit_28_with_the_servers_words(mail_smtp, tls):
    code, out, err = send(f"smtps://user@127.0.0.1:{mail_smtp.smtps_port}", *tls, "--password-env", "BAD",
                          "-f", "a@example.org", "-t", rcpt(), "--body", "x", env={"BAD": "wrong"})
    assert code == 28
    assert err.count("\n") == 1 and "535 5.7.8 Authentication credentials invalid" in err


def test_password_from_netrc(mail_smtp, tls, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login user password {mail_smtp.password}\n")
    netrc.chmod(0o600)
    to = rcpt()
    code, _, err = send(f"smtps://user@127.0.0.1:{mail_smtp.smtps_port}", *tls, "-f", "a@example.org", "-t", to,
                        "--body", "x", env={"NETRC": str(netrc)})
    assert code == 0, err
    assert mail_smtp.messages(to)[0].auth is not None


def test_no_password_and_no_terminal_is_a_usage_error(mail_smtp, tmp_path):
    code, _, err = send(f"smtps://user@127.0.0.1:{mail_smtp.smtps_port}", "-f", "a@example.org", "-t", rcpt(),
                        "--body", "x", env={"NETRC": str(tmp_path / "none")})
    assert code == 2 and "password for user is needed" in err


def test_starttls_required_but_not_offered_sends_nothing(mail_smtp):
    to = rcpt()
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.plain_port}", "--starttls", "-f", "a@example.org", "-t", to,
                        "--body", "x", "-v")
    assert code == 29
    assert "does not offer STARTTLS" in err and "> MAIL" not in err
    assert mail_smtp.messages(to) == []


def test_starttls_optional_says_it_went_on_unencrypted(mail_smtp):
    to = rcpt()
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.plain_port}", "--starttls-optional", "-f", "a@example.org",
                        "-t", to, "--body", "x")
    assert code == 0
    assert "NOT encrypted" in err
    assert mail_smtp.messages(to)[0].tls is False


def test_certificate_is_verified(mail_smtp):
    to = rcpt()
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "--starttls", "-f", "a@example.org", "-t", to,
                        "--body", "x")
    assert code == 29 and "did not verify" in err
    code, _, err = send(f"smtps://127.0.0.1:{mail_smtp.smtps_port}", "-f", "a@example.org", "-t", to, "--body", "x")
    assert code == 29 and "did not verify" in err
    assert mail_smtp.messages(to) == []
    code, _, err = send(f"smtps://127.0.0.1:{mail_smtp.smtps_port}", "-k", "-f", "a@example.org", "-t", to,
                        "--body", "x")
    assert code == 0, err


def test_auth_only_after_starttls(mail_smtp, secret):
    code, _, err = send(f"smtp://user@127.0.0.1:{mail_smtp.port}", "--password-env", "MAIL_PW", "-f",
                        "a@example.org", "-t", rcpt(), "--body", "x", env=secret)
    assert code == 28 and "--starttls" in err


def test_lmtp_one_reply_per_recipient(mail_smtp):
    a, b = rcpt(), rcpt()
    code, out, err = send(f"lmtp://127.0.0.1:{mail_smtp.lmtp_port}", "-f", "a@example.org", "-t", a, "-t", b,
                          "--body", "x", "-v")
    assert code == 0, err
    assert "> LHLO " in err
    assert mail_smtp.messages(a) and mail_smtp.messages(b)
    assert err.count("delivered as") == 2


@pytest.mark.parametrize("args, code, words", [
    (["-f", "refuse@example.org", "-t", "{to}"], 23, "553 5.7.1 <refuse@example.org>: Sender address rejected"),
    (["-f", "a@example.org", "-t", "x@elsewhere.org"], 24, "550 5.1.1 <x@elsewhere.org>: Recipient address rejected"),
    (["-f", "a@example.org", "-t", "nodata@example.test"], 25, "554 5.5.1 DATA refused"),
    (["-f", "a@example.org", "-t", "{to}", "--body", "REFUSE-MESSAGE"], 26, "554 5.7.1 Message refused"),
    (["-f", "a@example.org", "-t", "{to}", "-t", "busy@example.test"], 27, "451 4.2.1 <busy@example.test>"),
])
def test_each_refusal_has_its_exit_code(mail_smtp, args, code, words):
    to = rcpt()
    args = [a.format(to=to) for a in args]
    if "--body" not in args:
        args += ["--body", "x"]
    got, out, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", *args)
    assert got == code, err
    assert words in err and err.count("\n") == 1
    assert bool(mail_smtp.messages(to)) == (code == 27)


def test_exit_codes_are_documented():
    code, out, _ = send("--help")
    assert code == 0
    for number, stage in ((20, "connect"), (21, "banner"), (22, "ehlo"), (23, "mail"), (24, "rcpt"), (25, "data"),
                          (26, "message"), (27, "partial"), (28, "auth"), (29, "starttls"), (30, "command")):
        assert re.search(rf"^  {number}  {stage}$", out, re.M), stage


@pytest.mark.parametrize("stage, last", [("connect", None), ("banner", "QUIT"), ("ehlo", "EHLO"),
                                         ("rcpt", "RCPT"), ("mail", "MAIL")])
def test_quit_after(mail_smtp, stage, last):
    to = rcpt()
    before = mail_smtp.sessions
    code, out, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "--quit-after", stage, "-f", "a@example.org",
                          "-t", to, "--body", "x", "-v")
    assert code == 0, err
    assert f"stopped after {stage} as asked" in out
    assert mail_smtp.sessions == before + 1
    assert "> DATA" not in err and mail_smtp.messages(to) == []
    if last is None:
        assert "<" not in err  # not even the banner read
    else:
        assert f"> {last}" in err.upper() or f"> {last}" in err


def test_command_etrn_as_the_seed_does(mail_smtp):
    code, out, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "--command", "ETRN rnd.abcde.ru", "-v")
    assert code == 0, err
    assert out == "ETRN rnd.abcde.ru: 250 Queuing started for rnd.abcde.ru\n"
    assert "rnd.abcde.ru" in mail_smtp.etrn
    code, out, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "--command", "XYZZY now")
    assert code == 30 and "XYZZY refused: 500" in err


def test_count_on_one_connection_pipelined(mail_smtp):
    to = rcpt()
    before = mail_smtp.sessions
    code, out, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "-f", "a@example.org", "-t", to, "--body", "x",
                          "--count", "5", "-v")
    assert code == 0, err
    assert "sent 5 messages" in out
    assert mail_smtp.sessions == before + 1
    got = mail_smtp.messages(to)
    ids = {email.message_from_bytes(m.data)["Message-ID"] for m in got}
    assert len(got) == 5 and len(ids) == 5
    sent = [line.split(" ", 2)[2] for line in err.splitlines() if " > " in line]
    i = sent.index(next(s for s in sent if s.startswith("MAIL")))
    assert sent[i + 1].startswith("RCPT") and sent[i + 2] == "DATA"  # one write: no reply between


def test_unpipelined_server_one_command_at_a_time(mail_smtp):
    to = rcpt()
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.plain_port}", "-f", "a@example.org", "-t", to, "--body", "x",
                        "-v", "--count", "2")
    assert code == 0, err
    lines = [line.split(" ", 1)[1] for line in err.splitlines()]
    i = next(k for k, line in enumerate(lines) if line.startswith("> MAIL"))
    assert lines[i + 1].startswith("< 250") and lines[i + 2].startswith("> RCPT")
    assert len(mail_smtp.messages(to)) == 2


def test_dsn_and_smtputf8(mail_smtp):
    to = rcpt()
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "-f", "a@example.org", "-t", to, "--body", "x",
                        "--dsn-notify", "success,failure", "--dsn-return", "hdrs")
    assert code == 0, err
    [got] = mail_smtp.messages(to)
    assert "RET=HDRS" in got.mail_options and got.rcpt_options == ("NOTIFY=SUCCESS,FAILURE",)
    to = f"пользователь-{uuid.uuid4().hex[:8]}@example.test"
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.port}", "-f", "отправитель@example.org", "-t", to,
                        "--body", "x")
    assert code == 0, err
    assert "SMTPUTF8" in mail_smtp.messages(to)[0].mail_options


def test_dsn_not_offered_is_said(mail_smtp):
    to = rcpt()
    code, _, err = send(f"smtp://127.0.0.1:{mail_smtp.plain_port}", "-f", "a@example.org", "-t", to, "--body", "x",
                        "--dsn-notify", "NEVER")
    assert code == 0 and "does not offer DSN" in err


def test_dump_prints_the_message_and_sends_nothing():
    code, out, err = run_netkit("mail", "send", "--dump", "-f", "a@example.org", "-t", "b@example.org",
                                "--subject", "Привет", "--body", "hi", text=False)
    assert code == 0, err
    msg = email.message_from_bytes(out, policy=email.policy.default)
    assert msg["Subject"] == "Привет" and b"=?utf-8?" in out


@pytest.mark.parametrize("args, words", [
    (["smtp://127.0.0.1:1", "-t", "b@example.org", "--body", "x"], "--from"),
    (["smtp://127.0.0.1:1", "-f", "a@example.org", "--body", "x"], "--to"),
    (["smtp://127.0.0.1:1", "-f", "a@example.org", "-t", "b@example.org\r\nRCPT TO:<c@x>"], "CR, LF or NUL"),
    (["smtp://127.0.0.1:1", "-f", "a@example.org", "-t", "b@x", "--subject", "a\nBcc: c@x"], "CR, LF or NUL"),
    (["smtp://127.0.0.1:1", "-f", "a@x.org", "-t", "b@x.org", "-H", "X-A: b\r\nBcc: c@x"], "CR, LF or NUL"),
    (["smtp://127.0.0.1:1", "--quit-after", "dessert"], "connect, banner, ehlo"),
    (["smtp://127.0.0.1:1", "--command", "ETRN a\r\nQUIT"], "CR, LF or NUL"),
    (["http://127.0.0.1:1", "--quit-after", "ehlo"], "unknown scheme"),
    (["smtps://127.0.0.1:1", "--starttls", "--quit-after", "ehlo"], "TLS from the start"),
    (["smtp://127.0.0.1:1", "-f", "a@x.org", "-t", "b@x.org", "--attach", "/nonexistent"], "no such file"),
    (["smtp://127.0.0.1:1", "-f", "a@x.org", "-t", "b@x.org", "--charset", "klingon"], "charset"),
    (["smtp://127.0.0.1:1", "-f", "a@x.org", "-t", "b@x.org", "--count", "0"], "1 or more"),
    (["-f", "a@x.org", "-t", "b@x.org"], "which server"),
    (["smtp://127.0.0.1:1", "--mx", "-f", "a@x.org", "-t", "b@x.org"], "give no URL"),
    (["--mx", "-u", "me", "-f", "a@x.org", "-t", "b@x.org"], "without AUTH"),
    (["smtp://127.0.0.1:1", "--port", "25", "-f", "a@x.org", "-t", "b@x.org"], "are for --mx"),
    (["--mx", "--dns-server", "[::1", "-f", "a@x.org", "-t", "b@x.org"], "without ']'"),
    (["--mx", "--port", "70000", "-f", "a@x.org", "-t", "b@x.org"], "expects a port, 1-65535"),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    code, out, err = send(*args)
    assert code == 2
    assert words in err and err.count("\n") == 1


@pytest.mark.parametrize("name, code, words", [
    ("banner_refused", 21, "554 5.3.2 no service for you"),
    ("banner_garbage", 21, "sent no SMTP greeting"),
    ("endless", 22, "more than 200 lines"),
    ("long_line", 22, "longer than 8192 bytes"),
    ("ehlo_refused", 22, "550 5.7.1 go away"),
    ("drop_at_mail", 23, "disconnected during MAIL"),
    ("drop_at_data", 26, "disconnected during MESSAGE"),
    ("escape_reply", 24, "no such user"),
])
def test_hostile_servers(mail_hostile_smtp, name, code, words):
    got, out, err = send(f"smtp://127.0.0.1:{mail_hostile_smtp.port(name)}", "-f", "a@example.org", "-t",
                         "b@example.org", "--body", "x", timeout=30)
    assert got == code, err
    assert words in err and err.count("\n") == 1
    assert "\x1b" not in err and "\x07" not in err and "\x00" not in err


def test_mx_delivers_to_the_first_host_that_answers(mail_smtp):
    """send_mx with a resolver that names a dead host first, then the peer."""
    from netkit.mail._compose import data_bytes
    from netkit.mail._send import Request, send_mx

    to = rcpt()
    notices = []
    tried = []

    def request_for(host, rcpts):
        tried.append(host)
        port = 1 if host == "dead.example.test" else mail_smtp.port
        return Request("127.0.0.1", port, mail_from="a@example.org", rcpts=rcpts,
                       messages=[data_bytes(b"Subject: mx\n\nx\n")], timeout=10)

    done = send_mx(request_for, [to], lambda domain: ["dead.example.test", "live.example.test"], notices.append)
    assert tried == ["dead.example.test", "live.example.test"]
    assert [(d, h) for d, h, _ in done] == [("example.test", "live.example.test")]
    assert "trying the next host" in notices[0]
    assert mail_smtp.messages(to)


def test_mx_of_a_missing_domain_is_a_connect_failure(dnsmasq):
    code, out, err = send("--mx", "--dns-server", f"127.0.0.1:{dnsmasq.port}", "-f", "a@example.org", "-t",
                          "x@nx.netkit.test", "--body", "x")
    assert code == 20 and "nx.netkit.test does not exist (NXDOMAIN)" in err


def test_mx_hosts_in_preference_order(dnsmasq):
    from netkit.mail._send import mx_hosts

    assert mx_hosts("netkit.test", ("127.0.0.1", dnsmasq.port)) == ["mx1.netkit.test", "mx2.netkit.test"]
    assert mx_hosts("www.netkit.test", ("127.0.0.1", dnsmasq.port)) == ["www.netkit.test"]  # no MX: implicit


def test_connect_failures_are_exit_20():
    code, out, err = send("smtp://127.0.0.1:1", "-f", "a@example.org", "-t", "b@example.org", "--body", "x")
    assert code == 20 and "connection refused by 127.0.0.1:1" in err and err.count("\n") == 1
    code, out, err = send("smtp://nonexistent.invalid", "--quit-after", "ehlo")
    assert code == 20 and "cannot resolve nonexistent.invalid" in err
