"""``netkit mail list|fetch`` against hostile POP3/IMAP servers
(tests/peers/mail_hostile_box.py): nothing outside the Maildir changes, no control
character reaches the terminal, nothing is lost, every bound holds."""

import hashlib
import json
import os

import pytest

from tests.helpers import run_netkit


def tree(top):
    """{relative path: sha256} of every file under ``top``."""
    out = {}
    for dirpath, _, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, top)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return out


@pytest.fixture
def work(tmp_path):
    """A directory with bait files around the Maildir; (cwd, maildir, env)."""
    cwd = tmp_path / "work"
    (cwd / "sub").mkdir(parents=True)
    (cwd / "x").write_text("bait")
    (cwd / "sub" / "y").write_text("bait")
    env = {"PW": "anything", "XDG_STATE_HOME": str(tmp_path / "state")}
    return cwd, cwd / "sub" / "md", env


def fetch(peers, user, dest, env, *extra, cwd=None, kind="pop3"):
    port = peers.pop3_port if kind == "pop3" else peers.imap_port
    return run_netkit("mail", "fetch", f"{kind}://{user}@127.0.0.1:{port}", str(dest), "--password-env", "PW",
                      *extra, env=env, cwd=cwd, timeout=120)


def outside(cwd, md):
    return {k: v for k, v in tree(cwd).items() if not k.startswith(os.path.relpath(md, cwd))}


def test_traversal_uidls_never_become_paths(mail_hostile_box, work):
    cwd, md, env = work
    before = outside(cwd, md)
    code, out, err = fetch(mail_hostile_box, "traversal", md, env, cwd=cwd)
    assert code == 4, err  # two messages without a usable UIDL are left
    assert outside(cwd, md) == before
    names = os.listdir(md / "new")
    assert len(names) == 4
    assert all("/" not in n and ".." not in n and "passwd" not in n for n in names)
    assert "message 5 left on the server: the server gave it no usable unique ID" in err
    assert "message 6 left on the server" in err
    [state] = (cwd.parent / "state" / "netkit" / "mail").glob("*.ids")
    assert "../../x\n" in state.read_text() and "/etc/passwd\n" in state.read_text()
    code, out, err = fetch(mail_hostile_box, "traversal", md, env, "--delete", cwd=cwd)
    assert "fetched 0 of 6" in out and "4 deleted" in out  # the strange UIDLs were kept as strings
    dele = [c for c in mail_hostile_box.commands("traversal") if c.startswith("DELE")]
    assert dele == ["DELE 1", "DELE 2", "DELE 3", "DELE 4"]
    assert outside(cwd, md) == before and len(os.listdir(md / "new")) == 4


@pytest.mark.parametrize("kind", ["pop3", "imap"])
def test_control_characters_never_reach_the_terminal(mail_hostile_box, work, kind):
    port = mail_hostile_box.pop3_port if kind == "pop3" else mail_hostile_box.imap_port
    code, out, err = run_netkit("mail", "list", f"{kind}://controls@127.0.0.1:{port}", "--password-env", "PW",
                                env=work[2])
    assert code == 0, err
    for bad in ("\x1b", "\x07", "\x00", "\r"):
        assert bad not in out + err
    assert "\\x1b]0;owned\\x07Evil" in out
    assert len(out.splitlines()) == 2  # the header row and one line: the encoded CR LF did not split it
    code, out, err = run_netkit("mail", "list", f"{kind}://controls@127.0.0.1:{port}", "--password-env", "PW",
                                "--json", env=work[2])
    row = json.loads(out)
    assert "\x1b" not in out and row["subject"].startswith("a\r\nBcc: x")


def test_absurd_size_is_left_on_the_server(mail_hostile_box, work):
    cwd, md, env = work
    code, out, err = fetch(mail_hostile_box, "absurd", md, env, "--delete", cwd=cwd)
    assert code == 4 and "99999999999999999999 bytes, more than" in err
    assert os.listdir(md / "new") == [] and os.listdir(md / "tmp") == []
    assert not any(c.startswith("DELE") for c in mail_hostile_box.commands("absurd"))


@pytest.mark.parametrize("user", ["liar", "endless"])
def test_more_bytes_than_allowed_stops_and_leaves_nothing(mail_hostile_box, work, user):
    cwd, md, env = work
    before = outside(cwd, md)
    code, out, err = fetch(mail_hostile_box, user, md, env, "--max-size", "1M", "--delete", cwd=cwd)
    assert code == 1, err
    assert "more than 1048576 bytes; stopped" in err and err.count("\n") == 1
    assert os.listdir(md / "new") == [] and os.listdir(md / "tmp") == []
    assert outside(cwd, md) == before
    assert not any(c.startswith("DELE") for c in mail_hostile_box.commands(user))


def test_reset_mid_retr_loses_nothing(mail_hostile_box, work):
    cwd, md, env = work
    code, out, err = fetch(mail_hostile_box, "reset", md, env, "--delete", cwd=cwd)
    assert code == 1 and "RETR" in err and err.count("\n") == 1
    assert len(os.listdir(md / "new")) == 1 and os.listdir(md / "tmp") == []
    assert "QUIT" not in mail_hostile_box.commands("reset")  # DELE 1 never took effect
    code, out, err = fetch(mail_hostile_box, "reset", md, env, cwd=cwd)
    assert code == 0, err
    assert "fetched 2 of 3" in out and "1 fetched before" in out
    subjects = sorted(open(md / "new" / n, "rb").read().split(b"\n")[1] for n in os.listdir(md / "new"))
    assert subjects == [b"Subject: message 1", b"Subject: message 2", b"Subject: message 3"]


def test_garbage_listing_is_a_protocol_error(mail_hostile_box, work):
    cwd, md, env = work
    code, out, err = fetch(mail_hostile_box, "badlist", md, env, cwd=cwd)
    assert code == 1 and "not 'number size'" in err


def test_literal_bomb_is_refused(mail_hostile_box, work):
    code, out, err = run_netkit("mail", "list", f"imap://bomb@127.0.0.1:{mail_hostile_box.imap_port}",
                                "--password-env", "PW", env=work[2], timeout=30)
    assert code == 1 and "99999999999 bytes, more than" in err and err.count("\n") == 1
