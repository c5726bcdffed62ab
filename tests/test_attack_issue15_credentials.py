"""The red team's attacks on issue 15's credentials in the library: the typed check specs
(netkit.check's HttpCheck ...) and transfer.Options are values programs log (``%r``); their
repr showed the password of the URL (``ftp://bob:PASSWORD@host/``), a proxy's, and an
Authorization or API key header whole, where Credentials, CheckSpec and Options' own
password= are masked."""

import pytest

from netkit import check, transfer

SECRETS = ("hunter2", "PROXYPW", "SECRETTOKEN", "K3YVALUE")


@pytest.mark.parametrize("spec", [
    lambda: check.FtpCheck("ftp://bob:hunter2@127.0.0.1:21/"),
    lambda: check.HttpCheck("http://bob:hunter2@127.0.0.1/", proxy="http://u:PROXYPW@127.0.0.1:3128",
                            header={"Authorization": "Bearer SECRETTOKEN", "X-Api-Key": "K3YVALUE"}),
    lambda: check.HttpCheck("https://127.0.0.1/", header=["Authorization: Basic SECRETTOKEN", ("X-Api-Key", "K3YVALUE")]),
    lambda: check.ImapCheck("imap://bob:hunter2@127.0.0.1/"),
    lambda: check.HttpCheck("http://127.0.0.1/", user="bob", password="hunter2"),
], ids=["ftp-url", "http-url-proxy-headers", "header-lines", "imap-url", "password"])
def test_a_typed_check_repr_shows_no_secret(spec):
    shown = repr(spec()) + str(spec())
    assert not [s for s in SECRETS if s in shown], shown
    assert "127.0.0.1" in shown and "bob" in shown or "Authorization" in shown


def test_transfer_options_repr_shows_no_secret_header():
    options = transfer.Options(user="bob", password="hunter2",
                               headers={"Authorization": "Bearer SECRETTOKEN", "X-Api-Key": "K3YVALUE",
                                        "Accept": "text/csv"})
    shown = repr(options)
    assert not [s for s in SECRETS if s in shown], shown
    assert "Accept" in shown and "text/csv" in shown and "bob" in shown


# --- ~/.netrc as a shared machine's other users could shape it ---------------------------------

NOBODY = 65534


def test_a_netrc_link_to_another_users_file_is_refused(netrc_home, tmp_path):
    """~/.netrc a symbolic link to a file someone else owns (and can rewrite to send our
    logins where they like): refused, naming the file, as an unlinked one of theirs is."""
    from netkit.core.credentials import resolve
    from netkit.core.errors import UsageError

    theirs = tmp_path / "theirs"
    theirs.write_text("machine 127.0.0.1 login bob password THEIRPW\n")
    theirs.chmod(0o600)
    import os

    os.chown(theirs, NOBODY, NOBODY)
    (netrc_home / ".netrc").symlink_to(theirs)
    with pytest.raises(UsageError, match="belongs to uid") as caught:
        resolve("ftp://bob@127.0.0.1/")
    assert "THEIRPW" not in str(caught.value)


@pytest.mark.parametrize("scheme", ["ftp", "pop3", "imap", "smtp"])
def test_a_quoted_netrc_password_with_a_line_break_never_reaches_a_line_protocol(netrc_home, scheme):
    """Python's netrc reads quoted tokens: password "pw<CR><LF>DELE 1" is one token holding
    a line break, which would end PASS and start DELE 1. Refused, the password not shown."""
    from netkit.core.credentials import resolve
    from netkit.core.errors import UsageError

    netrc = netrc_home / ".netrc"
    netrc.write_text('machine 127.0.0.1 login bob password "SECRETpw\r\nDELE 1"\n')
    netrc.chmod(0o600)
    with pytest.raises(UsageError, match="CR, LF") as caught:
        resolve(f"{scheme}://bob@127.0.0.1/")
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_netrc_that_is_no_file_is_not_read(netrc_home, tmp_path, monkeypatch, kind):
    """$NETRC naming a FIFO nobody writes (the open would block), /dev/zero (read for ever)
    or a directory: no netrc, the command goes on (and asks for the password as without one)."""
    import os

    from netkit.core.credentials import netrc_entry

    path = {"device": "/dev/zero", "directory": str(tmp_path)}.get(kind) or str(tmp_path / "fifo")
    if kind == "fifo":
        os.mkfifo(path)
    monkeypatch.setenv("NETRC", path)
    assert netrc_entry("127.0.0.1") is None


@pytest.mark.parametrize("kwargs", [
    {"proxy": "http://pu:PROXYPW@127.0.0.1:1:2"},
    {"password": b"hunter2"},
    {"headers": [("Authorization", "Bearer SECRETTOKEN\r\n")]},
    {"headers": {"X-Api-Key": "K3YVALUE", "Bad Name": "x"}},
    {"headers": [("Authorization", "Bearer SECRETTOKEN", "extra")]},
], ids=["proxy", "password-bytes", "header-crlf", "header-name", "header-shape"])
def test_a_wrong_transfer_option_names_itself_without_its_secret(kwargs):
    """Options(...) refuses a wrong value in a message quoting it: the proxy URL's password,
    a password of the wrong type and credential headers were quoted whole."""
    from netkit.core.errors import UsageError

    with pytest.raises(UsageError) as caught:
        transfer.Options(**kwargs)
    shown = str(caught.value)
    assert not [s for s in SECRETS if s in shown], shown
    assert f"Options({next(iter(kwargs))}=" in shown


def test_a_user_name_with_escape_sequences_reaches_no_terminal_through_the_prompt(netrc_home):
    """A URL from a checks or URL file names its user %-encoded: ftp://%1b%5b2J...@host/
    decodes to ESC [ 2 J (clear the screen) and U+202E, which the password prompt and the
    "password is needed" error printed raw."""
    import re

    from netkit.core.credentials import resolve
    from netkit.core.errors import UsageError

    raw = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e]")
    url = "ftp://%1b%5b2J%e2%80%aebob@127.0.0.1/"
    asked = []
    resolve(url, prompt=lambda text: asked.append(text) or "pw")
    assert asked and not raw.search(asked[0]) and "bob" in asked[0], asked
    with pytest.raises(UsageError) as caught:
        resolve(url)
    assert not raw.search(str(caught.value)) and "bob" in str(caught.value)
