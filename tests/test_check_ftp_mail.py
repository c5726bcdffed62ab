"""ftp://, smtp(s)://, pop3(s):// and imap(s):// checks against real servers."""

import pytest

from tests.helpers import check, check_json


@pytest.fixture
def env(ftp_server, smtp_server, dovecot):
    return {"FTP_PW": ftp_server.password, "SMTP_PW": smtp_server.password, "ALICE_PW": dovecot.users["alice"],
            "BOB_PW": dovecot.users["bob"]}


def ftp_url(ftp, path="/", user=True):
    return f"ftp://{ftp.user + '@' if user else ''}127.0.0.1:{ftp.port}{path}"


# -- FTP -----------------------------------------------------------------------------------

def test_ftp_anonymous_login(ftp_server):
    code, out = check(ftp_url(ftp_server, user=False), "-v")
    assert code == 0 and out.startswith("FTP OK - ") and "logged in as anonymous" in out
    assert "220 netkit test ftp ready" in out and "> PASS ********" in out


def test_ftp_user_listing_and_retrieval(ftp_server, env):
    from tests.peers.ftp import HELLO_CONTENT

    code, out = check(ftp_url(ftp_server, "/sub/"), "--password-env", "FTP_PW", env=env)
    assert code == 0 and "listed sub/ (1 entry)" in out
    code, [r] = check_json(ftp_url(ftp_server, "/hello.txt"), "--password-env", "FTP_PW", env=env)
    assert code == 0 and r["details"]["bytes"] == len(HELLO_CONTENT) == r["details"]["size"]
    assert r["metrics"]["size"] == len(HELLO_CONTENT)
    code, out = check(ftp_url(ftp_server, user=False, path="/pub/readme.txt"))
    assert code == 0 and "retrieved pub/readme.txt" in out


def test_ftp_explicit_tls_protects_login_and_data(ftp_server, pki, env):
    code, [r] = check_json(ftp_url(ftp_server, "/big.bin"), "--password-env", "FTP_PW", "--tls", "--cacert",
                           pki.ca_file, "--cert-warn", "30", env=env)
    assert code == 0 and r["details"]["bytes"] == 1 << 20 and r["details"]["tls"]["verified"]
    assert r["timings"]["tls"] is not None and "days_left" in r["metrics"]
    code, out = check(ftp_url(ftp_server), "--password-env", "FTP_PW", "--tls", env=env)
    assert code == 2 and "did not verify" in out


def test_ftp_tls_required_server(ftp_tls_required, pki, env):
    code, out = check(ftp_url(ftp_tls_required), "--password-env", "FTP_PW", env=env)
    assert code == 2 and "login as user failed: 550" in out
    code, out = check(ftp_url(ftp_tls_required, "/sub/"), "--password-env", "FTP_PW", "--tls", "--cacert",
                      pki.ca_file, env=env)
    assert code == 0, out


def test_ftp_failures_quote_the_server(ftp_server, env):
    code, out = check(ftp_url(ftp_server, "/nope.txt"), "--password-env", "FTP_PW", env=env)
    assert code == 2 and "RETR nope.txt failed: 550" in out
    code, out = check(f"ftp://{ftp_server.user}:wrong@127.0.0.1:{ftp_server.port}/")
    assert code == 2 and "login as user failed: 530 Authentication failed." in out


# -- SMTP ----------------------------------------------------------------------------------

def test_smtp_greeting_and_extensions(smtp_server):
    code, [r] = check_json(f"smtp://127.0.0.1:{smtp_server.port}", "--ehlo", "monitor.example.test")
    assert code == 0 and r["details"]["greeting"].startswith("220 mx.example.test")
    assert "STARTTLS" in r["details"]["extensions"]


def test_smtp_starttls_auth_and_recipients(smtp_server, pki, env):
    args = [f"smtp://127.0.0.1:{smtp_server.port}", "--starttls", "--cacert", pki.ca_file, "--user",
            smtp_server.user, "--password-env", "SMTP_PW", "--from", "monitor@example.org", "--rcpt",
            "postmaster@example.test", "-v"]
    code, out = check(*args, env=env)
    assert code == 0 and "authenticated as user" in out and "recipients accepted: postmaster@example.test" in out
    assert "AUTH PLAIN ********" in out and smtp_server.password not in out
    assert smtp_server.messages(rcpt="postmaster@example.test") == []  # probed, never sent


def test_smtp_auth_only_after_starttls(smtp_server, env):
    code, out = check(f"smtp://127.0.0.1:{smtp_server.port}", "--user", smtp_server.user, "--password-env",
                      "SMTP_PW", env=env)
    assert code == 2 and "AUTH as user failed" in out


def test_smtps_and_wrong_password(smtp_server, pki, env):
    url = f"smtps://127.0.0.1:{smtp_server.smtps_port}"
    code, out = check(url, "--cacert", pki.ca_file, "--user", smtp_server.user, "--password-env", "SMTP_PW",
                      "--cert-warn", "30", env=env)
    assert code == 0 and "days_left" in out
    code, out = check(url, "--cacert", pki.ca_file, "--user", smtp_server.user, "--password-env", "BOB_PW", env=env)
    assert code == 2 and "535 5.7.8 Authentication credentials invalid" in out


def test_smtp_rejected_recipient(smtp_server):
    code, out = check(f"smtp://127.0.0.1:{smtp_server.port}", "--rcpt", "nobody@invalid.test")
    assert code == 2 and "RCPT TO:<nobody@invalid.test> failed: 550 5.1.1" in out


# -- POP3 ----------------------------------------------------------------------------------

def test_pop3_counts_and_thresholds(dovecot, env):
    url = f"pop3://alice@127.0.0.1:{dovecot.pop3_port}"
    code, [r] = check_json(url, "--password-env", "ALICE_PW", env=env)
    assert code == 0 and r["metrics"]["messages"] == dovecot.message_count
    assert r["metrics"]["size"] == dovecot.mailbox_size
    assert check(url, "--password-env", "ALICE_PW", "--messages-warn", "~:3", env=env)[0] == 1
    assert check(url, "--password-env", "ALICE_PW", "--messages-crit", "~:3", env=env)[0] == 2
    assert check(url, "--password-env", "ALICE_PW", "--size-warn", f"~:{dovecot.mailbox_size}", env=env)[0] == 0
    assert check(url, "--password-env", "ALICE_PW", "--size-crit", "~:100", env=env)[0] == 2


def test_pop3_tls_forms_and_wrong_password(dovecot, pki, env):
    code, out = check(f"pop3://alice@127.0.0.1:{dovecot.pop3_port}", "--password-env", "ALICE_PW", "--starttls",
                      "--cacert", pki.ca_file, env=env)
    assert code == 0, out
    code, out = check(f"pop3s://bob@127.0.0.1:{dovecot.pop3s_port}", "--password-env", "BOB_PW", "--cacert",
                      pki.ca_file, env=env)
    assert code == 0 and "0 messages (0 bytes) for bob" in out
    code, out = check(f"pop3://alice@127.0.0.1:{dovecot.pop3_port}", "--password-env", "BOB_PW", env=env)
    assert code == 2 and "login as alice failed: -ERR [AUTH] Authentication failed." in out


def test_pop3_apop(dovecot_apop, env):
    code, [r] = check_json(f"pop3://alice@127.0.0.1:{dovecot_apop.pop3_port}", "--password-env", "ALICE_PW",
                           env={**env, "ALICE_PW": dovecot_apop.users["alice"]})
    assert code == 0 and r["details"]["auth"] == "APOP"


# -- IMAP ----------------------------------------------------------------------------------

def test_imap_counts_unseen_and_mailbox(dovecot, pki, env):
    url = f"imap://alice@127.0.0.1:{dovecot.imap_port}"
    code, [r] = check_json(url, "--password-env", "ALICE_PW", env=env)
    assert code == 0 and r["metrics"] == {**r["metrics"], "messages": 5, "unseen": dovecot.unseen_count}
    assert check(url, "--password-env", "ALICE_PW", "--unseen-warn", "~:1", env=env)[0] == 1
    assert check(url, "--password-env", "ALICE_PW", "--unseen-crit", "~:1", env=env)[0] == 2
    code, out = check(url, "--password-env", "ALICE_PW", "--mailbox", "Nope", env=env)
    assert code == 2 and "EXAMINE Nope failed: NO" in out
    # EXAMINE is read-only: the unseen messages stay unseen for the next check
    assert check_json(url, "--password-env", "ALICE_PW", env=env)[1][0]["metrics"]["unseen"] == 2


def test_imap_tls_forms_and_wrong_password(dovecot, pki, env):
    code, out = check(f"imap://alice@127.0.0.1:{dovecot.imap_port}", "--password-env", "ALICE_PW", "--starttls",
                      "--cacert", pki.ca_file, env=env)
    assert code == 0, out
    code, out = check(f"imaps://bob@127.0.0.1:{dovecot.imaps_port}", "--password-env", "BOB_PW", "--cacert",
                      pki.ca_file, env=env)
    assert code == 0 and "0 messages, 0 unseen in INBOX for bob" in out
    code, out = check(f"imaps://alice@127.0.0.1:{dovecot.imaps_port}", "--password-env", "BOB_PW", "--cacert",
                      pki.ca_file, env=env)
    assert code == 2 and "AUTHENTICATIONFAILED" in out


# -- faults common to all of them ---------------------------------------------------------

@pytest.mark.parametrize("scheme", ["ftp", "smtp", "pop3", "imap"])
def test_faults(scheme, closed_port, silent_tcp, sshd, env):
    user = "alice@" if scheme in ("pop3", "imap") else ""
    args = ["--password-env", "ALICE_PW"] if user else []
    code, out = check(f"{scheme}://{user}127.0.0.1:{closed_port.port}", *args, env=env)
    assert code == 2 and "connection refused" in out
    code, out = check(f"{scheme}://{user}127.0.0.1:{silent_tcp.port}", "-t", "1", *args, env=env)
    assert code == 2 and "timeout after 1 s waiting for data" in out
    # An SSH server greets with SSH-2.0-...: garbage to every one of these protocols.
    code, out = check(f"{scheme}://{user}127.0.0.1:{sshd.port}", "-t", "3", *args, env=env)
    assert code == 2 and "SSH-2.0" in out and "timeout" not in out


def test_greeting_then_close(banner_tcp):
    # banner_tcp greets like SMTP/FTP, then answers anything else with 500
    code, out = check(f"ftp://127.0.0.1:{banner_tcp.port}", "-t", "3")
    assert code == 2 and "login as anonymous failed: 500 unknown command" in out


def test_both_drivers_agree(ftp_server, smtp_server, dovecot, pki, monkeypatch):
    """The asyncio driver (sweeps) runs the same dialogues, data connections included."""
    from netkit.check import build_spec, run_checks
    from netkit.check.run import run_one

    monkeypatch.setenv("FTP_PW", ftp_server.password)
    monkeypatch.setenv("ALICE_PW", dovecot.users["alice"])
    ca = str(pki.ca_file)
    specs = [
        build_spec(ftp_url(ftp_server, "/big.bin"), password_env="FTP_PW", tls=True, cacert=ca),
        build_spec(ftp_url(ftp_server, "/sub/"), password_env="FTP_PW"),
        build_spec(f"smtp://127.0.0.1:{smtp_server.port}", starttls=True, cacert=ca, rcpt="a@example.test"),
        build_spec(f"pop3s://alice@127.0.0.1:{dovecot.pop3s_port}", password_env="ALICE_PW", cacert=ca),
        build_spec(f"imap://alice@127.0.0.1:{dovecot.imap_port}", password_env="ALICE_PW", unseen_warn="~:1"),
        build_spec(ftp_url(ftp_server, "/nope"), password_env="FTP_PW"),
    ]
    many = run_checks(specs, concurrency=3)
    one = [run_one(spec) for spec in specs]
    assert [r.status.label for r in many] == [r.status.label for r in one] == [
        "OK", "OK", "OK", "OK", "WARNING", "CRITICAL"]
    assert many[0].details["bytes"] == one[0].details["bytes"] == 1 << 20
    assert many[4].details["unseen"] == one[4].details["unseen"] == 2


@pytest.fixture
def greets_then_closes():
    """A peer that sends one greeting line for the asked protocol, then hangs up."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    greeting = {"value": b"220 hello\r\n"}
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(greeting["value"])
                # Hang up our side, then take the client's command before closing: a close
                # with its command unread would answer it with a reset rather than the FIN.
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(5)
                try:
                    conn.recv(4096)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], greeting
    stop.set()
    thread.join(2)
    listener.close()


@pytest.mark.parametrize(
    "scheme, greeting, waited_for",
    [("ftp", b"220 ftp ready\r\n", "USER"), ("smtp", b"220 mx ready\r\n", "EHLO"),
     ("pop3", b"+OK ready\r\n", "USER"), ("imap", b"* OK ready\r\n", "LOGIN")],
)
def test_server_that_closes_after_the_greeting(greets_then_closes, scheme, greeting, waited_for):
    port, current = greets_then_closes
    current["value"] = greeting
    user = "u:p@" if scheme in ("pop3", "imap") else ""
    code, out = check(f"{scheme}://{user}127.0.0.1:{port}", "-t", "3")
    assert code == 2 and f"closed the connection while we waited for the reply to {waited_for}" in out, out
