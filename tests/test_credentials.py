"""The one credentials resolver (netkit.core.credentials) on the wire: library callers get
~/.netrc as curl and requests give it (transfer, check, mail), the CLI asks on a terminal,
a redirect to another origin carries none of it, and no transcript shows a password.
~/.netrc is a real file in a temporary HOME; the peers are real (nginx, dovecot, aiosmtpd,
the recording HTTP servers)."""

import base64
import os
import pty
import sys
import urllib.parse
import uuid

import pytest

from tests.helpers import clean_env, read_pty, run_netkit
from tests.peers.nginx import SECRET_BODY


@pytest.fixture
def home(netrc_home):
    """A HOME of the test's own (conftest's netrc_home)."""
    return netrc_home


def netrc(home, text):
    path = home / ".netrc"
    path.write_text(text)
    path.chmod(0o600)
    return {"HOME": str(home), "NETRC": ""}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_library_download_reads_netrc(nginx, home, tmp_path):
    from netkit.core.errors import HTTPStatusError
    from netkit.transfer import Options, download

    netrc(home, f"machine 127.0.0.1 login admin password {nginx.password}\n")
    dest = tmp_path / "secret.html"
    result = download(nginx.url("/auth/"), dest)
    assert dest.read_bytes() == SECRET_BODY and result.status == 200
    # netrc=False: nothing but the URL, so nginx refuses; the old file stays as it was.
    with pytest.raises(HTTPStatusError) as caught:
        download(nginx.url("/auth/"), tmp_path / "refused.html", Options(netrc=False, retries=0))
    assert caught.value.status == 401 and not (tmp_path / "refused.html").exists()
    assert nginx.password not in str(caught.value) and nginx.password not in repr(caught.value)


def test_library_check_of_a_pop3_login_from_netrc(dovecot, home):
    from netkit.check import check_target

    netrc(home, f"machine 127.0.0.1 login alice password {dovecot.users['alice']}\n")
    result = check_target(f"pop3://alice@127.0.0.1:{dovecot.pop3_port}")
    assert result.status.label == "OK", result.summary
    # bob has no entry (alice's is not his): the library says how to give one, no secret.
    from netkit.core.errors import UsageError

    with pytest.raises(UsageError, match="the password for bob is needed") as caught:
        check_target(f"pop3://bob@127.0.0.1:{dovecot.pop3_port}")
    assert dovecot.users["alice"] not in str(caught.value)


def test_mail_fetch_and_send_with_netrc_only(mail_dovecot, mail_smtp, pki, home, tmp_path):
    user, password = mail_dovecot.new_user()
    mail_dovecot.deliver(user, f"From: a@example.org\nTo: {user}@example.test\nSubject: netrc\n\nhi\n".encode())
    env = netrc(home, f"machine 127.0.0.1 login {user} password {password}\n")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    code, out, err = run_netkit("mail", "fetch", f"pop3://{user}@127.0.0.1:{mail_dovecot.pop3_port}",
                                tmp_path / "md", "-v", env=env)
    assert code == 0, err
    assert len(os.listdir(tmp_path / "md" / "new")) == 1
    assert password not in out + err and "PASS" in err  # the transcript masks it
    # The mail library: a user without a password gets the host's from ~/.netrc.
    from netkit.mail import Request, data_bytes, send

    netrc(home, f"machine 127.0.0.1 login user password {mail_smtp.password}\n")
    to = f"r-{uuid.uuid4().hex[:12]}@example.test"
    report = send(Request("127.0.0.1", mail_smtp.smtps_port, tls="implicit", context=pki.client_context(),
                          user="user", mail_from="a@example.org", rcpts=[to],
                          messages=[data_bytes(b"Subject: x\r\n\r\nbody\r\n")]))
    assert report is not None and mail_smtp.messages(to)[0].auth is not None


def test_get_asks_on_a_terminal_and_never_echoes(nginx, tmp_path):
    """-u USER without a password: asked on the terminal (as curl -u asks), not echoed."""
    env = clean_env({"NETRC": str(tmp_path / "none")})
    pid, fd = pty.fork()
    if pid == 0:  # the child: netkit on a terminal
        os.execve(sys.executable, [sys.executable, "-m", "netkit", "get", nginx.url("/auth/"), "-u", "admin", "-"],
                  env)
    seen = read_pty(fd, answer=(b"Password for admin at 127.0.0.1", nginx.password.encode() + b"\n"))
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert SECRET_BODY in seen.replace(b"\r\n", b"\n") and nginx.password.encode() not in seen


def test_no_terminal_no_password_is_one_line_naming_the_fix(nginx, tmp_path):
    code, _, err = run_netkit("get", nginx.url("/auth/"), "-u", "admin", "-o", tmp_path / "x",
                                env={"NETRC": str(tmp_path / "none")})
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "x").exists()
    assert "the password for admin is needed: set --password-env VAR, put it in ~/.netrc" in err


@pytest.mark.parametrize("where", ["other-port", "other-name"])
def test_a_redirect_to_another_origin_carries_no_netrc_credential(hostile_http, hostile_http_other, home,
                                                                  tmp_path, where):
    """netrc has no ports: 127.0.0.1's entry would fit the other port too, yet the
    credential read for the first origin stays with it (as curl drops it), and a host
    name with no entry gets nothing."""
    from netkit.transfer import download

    netrc(home, "machine 127.0.0.1 login alice password hunter2\n")
    key = f"netrc-{where}-{uuid.uuid4().hex[:8]}"
    to = hostile_http_other.url(f"/ok/{key}")
    if where == "other-name":
        to = to.replace("127.0.0.1", "localhost")
    start = hostile_http.url(f"/redirect/302/{key}?to={urllib.parse.quote(to, safe='')}")
    download(start, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"ok\n"
    [first] = hostile_http.seen_for(key)
    assert first.header("Authorization") == basic("alice", "hunter2")
    [second] = hostile_http_other.seen_for(key)
    assert second.header("Authorization") is None
    assert "hunter2" not in repr(second.headers)


def test_verbose_transcripts_mask_a_netrc_password(nginx, tmp_path, home):
    env = netrc(home, f"machine 127.0.0.1 login admin password {nginx.password}\n")
    code, out, err = run_netkit("get", nginx.url("/auth/"), "-v", "-", env=env, text=False)
    assert code == 0 and out == SECRET_BODY
    assert nginx.password not in err
    assert basic("admin", nginx.password).split()[1] not in err and "Authorization" in err


def test_rpc_call_completes_a_named_user_from_netrc(home, tmp_path):
    """rpc call (CLI and library): --user / user= with the password from ~/.netrc; no user,
    no login (netrc lends nothing to a call that named nobody)."""
    from tests.peers.rpc_server import make_root, rpc_server, write_module

    root, module = make_root(tmp_path / "top"), write_module(tmp_path)
    env = netrc(home, "machine 127.0.0.1 login admin password pw-from-netrc\n")
    with rpc_server(tmp_path, "--root", root, "--module", module, "--basic-env", "B",
                    env={"B": "admin:pw-from-netrc"}) as server:
        code, out, err = run_netkit("rpc", "call", "-u", "admin", server.url, "ls", ".", env=env)
        assert (code, out) == (0, "app.log\nout\nsub\n"), err
        code, _, err = run_netkit("rpc", "call", server.url, "ls", ".", env=env)
        assert code == 1 and "HTTP 401" in err
        code, _, err = run_netkit("rpc", "call", "-u", "bob", server.url, "ls", ".", env=env)
        assert code == 2 and "the password for bob is needed" in err and "pw-from-netrc" not in err
        from netkit.rpc import call

        assert call(server.url, "ls", ["."], user="admin") == ["app.log", "out", "sub"]
