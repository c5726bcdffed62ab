"""``netkit mail list`` and ``fetch`` against a real dovecot (tests/peers/mail_dovecot.py):
decoded listings that mark nothing seen, Maildir and mbox, state across runs, --max-size,
--delete, the cp1251 round trip send -> dovecot-lda -> fetch, and a fetch killed mid-run."""

import email
import email.policy
import imaplib
import json
import mailbox
import os
import pty
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import clean_env, read_pty, run_netkit

MESSAGES = [
    "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\nTo: {user}@example.test\n"
    "Subject: =?utf-8?b?0J/RgNC40LLQtdGCLCDQvNC40YAh?=\nDate: Tue, 14 Nov 2023 22:13:01 +0000\n"
    "Message-ID: <1@netkit.test>\n\nutf-8 body\n",
    "From: =?koi8-r?b?8MXU0s/X?= <p@example.org>\nTo: {user}@example.test\n"
    "Subject: =?koi8-r?q?=F0=D2=C9=D7=C5=D4?=\nDate: Tue, 14 Nov 2023 22:13:02 +0000\n"
    "Message-ID: <2@netkit.test>\n\nkoi8 body\n",
    "From: =?iso-8859-1?q?Fran=E7ois?= <f@example.org>\nTo: {user}@example.test\n"
    "Subject: =?windows-1251?b?z/Do4uXy?=\nDate: Tue, 14 Nov 2023 22:13:03 +0000\n"
    "Message-ID: <3@netkit.test>\n\nFrom the start of a line\n>From quoted\n",
]
SUBJECTS = ["Привет, мир!", "Привет", "Привет"]
FROMS = ["Jürgen Müller <jm@example.org>", "Петров <p@example.org>", "François <f@example.org>"]
RAW_CP1251 = ("From: student@mail.ru\nTo: {user}@example.test\nSubject: Привет из cp1251\nMessage-ID: <4@netkit.test>\n"
              "Content-Type: text/plain; charset=windows-1251\n\nЗдравствуйте!\n")


def mail(*args, env=None, **kw):
    return run_netkit("mail", *args, env=env, **kw)


@pytest.fixture
def account(mail_dovecot, tmp_path):
    """A user with the four messages above delivered by dovecot-lda, and a private state dir."""
    user, password = mail_dovecot.new_user()
    for text in MESSAGES:
        mail_dovecot.deliver(user, text.format(user=user).encode())
    mail_dovecot.deliver(user, RAW_CP1251.format(user=user).encode("cp1251"))
    env = {"PW": password, "XDG_STATE_HOME": str(tmp_path / "state")}
    return user, env


def url(mail_dovecot, user, kind="pop3"):
    return f"{kind}://{user}@127.0.0.1:{getattr(mail_dovecot, kind + '_port')}"


def server_files(mail_dovecot, user):
    md = mail_dovecot.maildir(user)
    return sorted((p for sub in ("new", "cur") for p in (md / sub).iterdir()), key=lambda p: p.name)


def seen_flags(mail_dovecot, user, password):
    with imaplib.IMAP4("127.0.0.1", mail_dovecot.imap_port) as imap:
        imap.login(user, password)
        imap.select("INBOX", readonly=True)
        _, data = imap.fetch("1:*", "(FLAGS)")
    return [b"\\Seen" in d for d in data]


@pytest.mark.parametrize("kind", ["pop3", "imap"])
def test_list_decodes_every_charset_and_marks_nothing(mail_dovecot, account, kind):
    user, env = account
    code, out, err = mail("list", url(mail_dovecot, user, kind), "--password-env", "PW", "--json", env=env)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["subject"] for r in rows] == SUBJECTS + ["Привет из cp1251"]
    assert [r["from"] for r in rows[:3]] == FROMS
    assert rows[0]["date"] == "Tue, 14 Nov 2023 22:13:01 +0000" and rows[0]["to"] == f"{user}@example.test"
    files = server_files(mail_dovecot, user)
    sizes = [len(f.read_bytes()) + f.read_bytes().count(b"\n") for f in files]  # CRLF on the wire
    assert sorted(r["size"] for r in rows) == sorted(sizes)
    assert [r["number"] for r in rows] == [1, 2, 3, 4]
    assert len({r["uid"] for r in rows}) == 4
    assert seen_flags(mail_dovecot, user, env["PW"]) == [False] * 4
    code, out, err = mail("list", url(mail_dovecot, user, kind), "--password-env", "PW", env=env)
    assert code == 0 and "Jürgen Müller <jm@example.org> -> " in out and "Привет, мир!" in out


def test_list_over_tls_both_ways(mail_dovecot, account, pki):
    user, env = account
    ca = ["--cacert", str(pki.ca_file)]
    for target, extra in ((url(mail_dovecot, user, "pop3s"), []), (url(mail_dovecot, user, "imaps"), []),
                          (url(mail_dovecot, user, "pop3"), ["--starttls"]),
                          (url(mail_dovecot, user, "imap"), ["--starttls"])):
        code, out, err = mail("list", target, "--password-env", "PW", *ca, *extra, "-v", env=env)
        assert code == 0, err
        assert "Привет, мир!" in out
        assert env["PW"] not in err and ("PASS ********" in err or "LOGIN " + user + " ********" in err)
    code, out, err = mail("list", url(mail_dovecot, user, "pop3s"), "--password-env", "PW", env=env)
    assert code == 1 and "did not verify" in err


def test_fetch_maildir_then_only_new_ones(mail_dovecot, account, tmp_path):
    user, env = account
    dest = tmp_path / "Maildir"
    code, out, err = mail("fetch", url(mail_dovecot, user), str(dest), "--password-env", "PW", env=env)
    assert code == 0, err
    assert "fetched 4 of 4 messages" in out
    got = sorted(p.read_bytes() for p in (dest / "new").iterdir())
    assert got == sorted(p.read_bytes() for p in server_files(mail_dovecot, user))
    assert sorted(os.listdir(dest)) == ["cur", "new", "tmp"] and not os.listdir(dest / "tmp")
    code, out, err = mail("fetch", url(mail_dovecot, user), str(dest), "--password-env", "PW", env=env)
    assert code == 0 and "fetched 0 of 4" in out and "4 fetched before" in out
    mail_dovecot.deliver(user, b"Subject: fifth\n\nfive\n")
    code, out, err = mail("fetch", url(mail_dovecot, user), str(dest), "--password-env", "PW", "--json", env=env)
    assert code == 0 and json.loads(out)["fetched"] == 1
    assert len(os.listdir(dest / "new")) == 5
    states = list((tmp_path / "state" / "netkit" / "mail").glob("*.ids"))
    assert len(states) == 1 and states[0].read_text().count("\n") == 3 + 5
    assert server_files(mail_dovecot, user) and seen_flags(mail_dovecot, user, env["PW"]) == [False] * 5


def test_fetch_imap_into_mbox(mail_dovecot, account, tmp_path):
    user, env = account
    box = tmp_path / "inbox.mbox"
    code, out, err = mail("fetch", url(mail_dovecot, user, "imap"), "--mbox", str(box), "--password-env", "PW",
                          env=env)
    assert code == 0, err
    messages = list(mailbox.mbox(str(box)))
    assert [m["Message-ID"] for m in messages] == ["<1@netkit.test>", "<2@netkit.test>", "<3@netkit.test>",
                                                    "<4@netkit.test>"]
    raw = box.read_bytes()  # mboxrd: every ">*From " line quoted once more
    assert b"\n>From the start of a line\n>>From quoted\n" in raw
    assert raw.count(b"\nFrom MAILER-DAEMON ") + raw.startswith(b"From MAILER-DAEMON ") == 4
    assert seen_flags(mail_dovecot, user, env["PW"]) == [False] * 4


@pytest.mark.parametrize("kind", ["pop3", "imap"])
def test_max_size_leaves_large_ones_and_shows_their_headers(mail_dovecot, kind, tmp_path):
    user, password = mail_dovecot.new_user()
    mail_dovecot.deliver(user, b"Subject: small\n\nx\n")
    mail_dovecot.deliver(user, b"From: big@example.org\nSubject: =?utf-8?q?gro=C3=9F?=\n\n" + b"y" * 76 * 1000 + b"\n")
    env = {"PW": password, "XDG_STATE_HOME": str(tmp_path / "state")}
    code, out, err = mail("fetch", url(mail_dovecot, user, kind), str(tmp_path / "md"), "--password-env", "PW",
                          "--max-size", "32000", "--delete", env=env)
    assert code == 4, err
    assert "message 2 left on the server" in err and "Subject: groß" in err and "From: big@example.org" in err
    assert len(os.listdir(tmp_path / "md" / "new")) == 1
    assert len(server_files(mail_dovecot, user)) == 1  # the small one deleted, the big one kept


@pytest.mark.parametrize("kind", ["pop3", "imap"])
def test_delete_after_the_message_is_safe(mail_dovecot, account, tmp_path, kind):
    user, env = account
    dest = tmp_path / "md"
    code, out, err = mail("fetch", url(mail_dovecot, user, kind), str(dest), "--password-env", "PW", env=env)
    assert code == 0
    mail_dovecot.deliver(user, b"Subject: later\n\nlater\n")
    code, out, err = mail("fetch", url(mail_dovecot, user, kind), str(dest), "--password-env", "PW", "--delete",
                          env=env)
    assert code == 0, err
    assert "fetched 1 of 5" in out and "5 deleted" in out
    assert server_files(mail_dovecot, user) == []
    assert len(os.listdir(dest / "new")) == 5


SEED = ("From: Student <student@mail.ru>\nTo: Lecturer <{to}>\nSubject: Здравствуйте, это студент курса\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=Windows-1251\nContent-Transfer-Encoding: 8bit\n\n"
        "Здравствуйте! Я изучаю курс по языку Python и\nотправляю письмо его автору.\n")


@pytest.mark.parametrize("kind", ["pop3", "imap"])
def test_cp1251_round_trip_byte_exact(mail_dovecot, tmp_path, kind):
    user, password = mail_dovecot.new_user()
    raw = SEED.format(to=f"{user}@example.test").encode("cp1251")
    seed = tmp_path / "seed.eml"
    seed.write_bytes(raw)
    code, out, err = mail("send", f"smtp://127.0.0.1:{mail_dovecot.smtp_port}", "--message", str(seed))
    assert code == 0, err
    env = {"PW": password, "XDG_STATE_HOME": str(tmp_path / "state")}
    code, out, err = mail("fetch", url(mail_dovecot, user, kind), str(tmp_path / "md"), "--password-env", "PW",
                          env=env)
    assert code == 0, err
    [got] = list((tmp_path / "md" / "new").iterdir())
    assert got.read_bytes() == raw
    code, out, err = mail("list", url(mail_dovecot, user, kind), "--password-env", "PW", "--json", env=env)
    assert json.loads(out)["subject"] == "Здравствуйте, это студент курса"


def test_built_cp1251_message_round_trip(mail_dovecot, tmp_path):
    user, password = mail_dovecot.new_user()
    code, _, err = mail("send", f"smtp://127.0.0.1:{mail_dovecot.smtp_port}", "-f", "student@mail.ru", "-t",
                        f"{user}@example.test", "--subject", "Курс Python", "--charset", "cp1251", "--body",
                        "Здравствуйте! Я изучаю курс.\n")
    assert code == 0, err
    env = {"PW": password, "XDG_STATE_HOME": str(tmp_path / "state")}
    code, out, err = mail("fetch", url(mail_dovecot, user, "imap"), str(tmp_path / "md"), "--password-env", "PW",
                          env=env)
    assert code == 0, err
    [got] = list((tmp_path / "md" / "new").iterdir())
    msg = email.message_from_bytes(got.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Курс Python"
    assert msg.get_content_charset() in ("cp1251", "windows-1251")
    assert msg.get_content() == "Здравствуйте! Я изучаю курс.\n"
    assert "Здравствуйте!".encode("cp1251") in got.read_bytes()  # 8bit, not re-encoded


def test_fetch_killed_mid_run_loses_nothing(mail_dovecot, tmp_path):
    """SIGKILL a fetch --delete at several moments; then let one finish: every message is
    in the Maildir, at most one more copy per kill, and the server is empty."""
    user, password = mail_dovecot.new_user()
    count = 120
    mail_dovecot.fill(user, [f"Subject: m{i}\nMessage-ID: <{i}@kill.test>\n\n{'x' * 2000}\n".encode()
                             for i in range(count)])
    env = clean_env({"PW": password, "XDG_STATE_HOME": str(tmp_path / "state")})
    dest = tmp_path / "md"
    argv = [sys.executable, "-m", "netkit", "mail", "fetch", url(mail_dovecot, user), str(dest), "--password-env",
            "PW", "--delete", "-q"]
    kills = 0
    for target in (10, 40, 75):
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (dest / "new").is_dir() and len(os.listdir(dest / "new")) >= target:
                break
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    code, out, err = mail("fetch", url(mail_dovecot, user), str(dest), "--password-env", "PW", "--delete", env=env)
    assert code == 0, err
    ids = [email.message_from_bytes(p.read_bytes())["Message-ID"] for p in (dest / "new").iterdir()]
    assert set(ids) == {f"<{i}@kill.test>" for i in range(count)}
    assert len(ids) - count <= kills
    assert server_files(mail_dovecot, user) == []
    assert not os.listdir(dest / "tmp") or all(p.stat().st_size >= 0 for p in (dest / "tmp").iterdir())


def test_progress_line_on_a_terminal(mail_dovecot, account, tmp_path):
    user, env = account
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "mail", "fetch", url(mail_dovecot, user),
                             str(tmp_path / "md"), "--password-env", "PW"], stdin=child, stdout=child, stderr=child,
                            env=clean_env(env))
    os.close(child)
    seen = read_pty(main)
    proc.wait(30)
    os.close(main)
    assert b"4/4 messages" in seen and "━".encode() in seen
    assert proc.returncode == 0


@pytest.mark.parametrize("args, code, words", [
    (["list", "pop3://127.0.0.1:1"], 2, "log in as whom"),
    (["list", "pop3://u@127.0.0.1:1/INBOX"], 2, "no path"),
    (["list", "pop3s://u@127.0.0.1:1", "--starttls"], 2, "TLS from the start"),
    (["fetch", "pop3://u@127.0.0.1:1", "--delete", "--keep"], 2, "exclude each other"),
    (["fetch", "pop3://u@127.0.0.1:1", "d", "--mbox", "m"], 2, "not both"),
    (["fetch", "pop3://u@127.0.0.1:1", "--max-size", "big"], 2, "--max-size"),
    (["list", "imap://u@127.0.0.1:1/a%0D%0Ab"], 2, "CR, LF or NUL"),
    (["list", "pop3://u@127.0.0.1:1"], 2, "password for u is needed"),
    (["list", "ftp://u@127.0.0.1:1"], 2, "unknown scheme"),
    (["frobnicate"], 2, "unknown subcommand"),
])
def test_bad_input(args, code, words, tmp_path):
    got, out, err = mail(*args, env={"NETRC": str(tmp_path / "none")})
    assert got == code and words in err and err.count("\n") == 1


def test_wrong_password_and_refused_connection(mail_dovecot, account):
    user, env = account
    code, out, err = mail("list", url(mail_dovecot, user), "--password-env", "BAD", env={**env, "BAD": "nope"})
    assert code == 3 and "Authentication failed" in err
    code, out, err = mail("list", url(mail_dovecot, user, "imap"), "--password-env", "BAD", env={**env, "BAD": "no"})
    assert code == 3 and "AUTHENTICATIONFAILED" in err
    code, out, err = mail("list", f"pop3://{user}@127.0.0.1:1", "--password-env", "PW", env=env)
    assert code == 1 and "refused" in err.lower()


def test_state_file_named_by_the_user(mail_dovecot, account, tmp_path):
    user, env = account
    code, out, err = run_netkit("mail", "fetch", url(mail_dovecot, user), "md", "--password-env", "PW", "--state",
                                "alice.ids", env=env, cwd=tmp_path)
    assert code == 0, err
    text = (tmp_path / "alice.ids").read_text()
    assert text.startswith("netkit-mail-state 1\naccount pop3://") and text.count("\n") == 3 + 4
    assert len(os.listdir(tmp_path / "md" / "new")) == 4
    code, out, err = run_netkit("mail", "fetch", url(mail_dovecot, user), "md", "--password-env", "PW", "--state",
                                "alice.ids", env=env, cwd=tmp_path)
    assert code == 0 and "fetched 0 of 4" in out


def test_apop_when_the_server_offers_it(dovecot_apop):
    """The shared APOP dovecot, read only: the password never crosses the wire."""
    code, out, err = run_netkit("mail", "list", f"pop3://alice@127.0.0.1:{dovecot_apop.pop3_port}", "-v",
                                "--password-env", "PW", env={"PW": dovecot_apop.users["alice"]})
    assert code == 0, err
    assert "> APOP alice ********" in err and "PASS" not in err
    assert dovecot_apop.users["alice"] not in err
    assert all(subject in out for subject in dovecot_apop.subjects)


def test_password_asked_on_a_terminal(mail_dovecot, account):
    user, env = account
    pid, fd = pty.fork()
    if pid == 0:  # the child: netkit on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "netkit", "mail", "list", url(mail_dovecot, user)],
                  clean_env({"XDG_STATE_HOME": env["XDG_STATE_HOME"]}))
    seen = read_pty(fd, answer=(b"Password for", env["PW"].encode() + b"\n"))
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert "Привет, мир!".encode() in seen and env["PW"].encode() not in seen
