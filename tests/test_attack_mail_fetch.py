"""Red team on ``netkit mail fetch``: a server that gives two messages one UIDL or a new
UIDL every time, bodies an mbox must quote, a line end split across two reads, an IMAP
literal far past the listed size or of another UID; a Maildir or a state file swapped
for a link by someone else."""

import os

import pytest

from tests.helpers import run_netkit
from tests.peers.attack_mail_imap import attack_imap  # noqa: F401 -- the fixture
from tests.peers.attack_mail_pop3 import attack_pop3  # noqa: F401 -- the fixture


@pytest.fixture
def env(tmp_path):
    return {"PW": "anything", "XDG_STATE_HOME": str(tmp_path / "state")}


def fetch(peers, user, dest, env, *extra):
    return run_netkit("mail", "fetch", f"pop3://{user}@127.0.0.1:{peers.port}", str(dest), "--password-env", "PW",
                      *extra, env=env, timeout=120)


def saved(md):
    return sorted(open(os.path.join(md, "new", n), "rb").read() for n in os.listdir(os.path.join(md, "new")))


def test_two_messages_under_one_uidl_are_both_kept(attack_pop3, tmp_path, env):
    md = tmp_path / "md"
    code, out, err = fetch(attack_pop3, "dupes", md, env, "--delete")
    assert code == 0, err
    got = saved(md)
    assert len(got) == 2 and b"body 1" in got[0] and b"body 2" in got[1]  # none overwrote the other
    dele = [c for c in attack_pop3.commands("dupes") if c.startswith("DELE")]
    assert sorted(dele) == ["DELE 1", "DELE 2"]


def test_a_uidl_that_changes_every_session_duplicates_but_loses_nothing(attack_pop3, tmp_path, env):
    md = tmp_path / "md"
    for _ in range(2):
        code, out, err = fetch(attack_pop3, "shifting", md, env)
        assert code == 0, err
    assert len(saved(md)) == 2  # the server said it was a new message: fetched again, never dropped


def test_mbox_quotes_from_lines_mboxrd(attack_pop3, tmp_path, env):
    box = tmp_path / "inbox.mbox"
    code, out, err = run_netkit("mail", "fetch", f"pop3://fromline@127.0.0.1:{attack_pop3.port}", "--mbox", str(box),
                                "--password-env", "PW", env=env)
    assert code == 0, err
    data = box.read_bytes()
    assert data.startswith(b"From MAILER-DAEMON ")
    assert b"\n>From the start of a line\n" in data and b"\n>>From quoted once\n" in data
    assert b"\nnot From here\n" in data
    assert data.count(b"\nFrom ") == 0  # one message: no second separator forged by its body


def test_a_crlf_split_across_reads_is_one_line_end(attack_pop3, tmp_path, env):
    md = tmp_path / "md"
    code, out, err = fetch(attack_pop3, "chunkcr", md, env)
    assert code == 0, err
    [message] = saved(md)
    assert b"\r" not in message  # every line end LF, as for every other line
    assert message.endswith(b"z" * 1000 + b"\nnext line\n")


def test_a_maildir_whose_new_is_a_link_is_refused(attack_pop3, tmp_path, env):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    md = tmp_path / "md"
    for sub in ("cur", "tmp"):
        (md / sub).mkdir(parents=True)
    os.symlink(elsewhere, md / "new")
    before = len(attack_pop3.commands("dupes"))
    code, out, err = fetch(attack_pop3, "dupes", md, env)
    assert code == 5 and "link out of" in err and err.count("\n") == 1, err  # 5: a local failure
    assert os.listdir(elsewhere) == []
    assert not any(c.startswith("RETR") for c in attack_pop3.commands("dupes")[before:])


def test_a_state_file_swapped_for_a_link_is_not_followed(attack_pop3, tmp_path, env):
    md = tmp_path / "md"
    code, out, err = fetch(attack_pop3, "fromline", md, env)
    assert code == 0, err
    [state] = (tmp_path / "state" / "netkit" / "mail").glob("*.ids")
    bait = tmp_path / "bait"
    bait.write_text("precious\n")
    state.unlink()
    os.symlink(bait, state)
    code, out, err = fetch(attack_pop3, "fromline", md, env)
    assert code == 5 and "symbolic links" in err and err.count("\n") == 1, err
    assert bait.read_text() == "precious\n" and os.path.islink(state)


# -- IMAP -------------------------------------------------------------------------------


def imap_fetch(port, user, md, env):
    return run_netkit("mail", "fetch", f"imap://{user}@127.0.0.1:{port}", str(md), "--password-env", "PW", env=env,
                      timeout=120)


def test_an_imap_literal_past_the_listed_size_is_refused(attack_imap, tmp_path, env):
    """Listed at 100 bytes, sent as 48 MiB: imaplib would hold all of it in memory (up to
    the 1 GiB hard cap); it is refused at the size the server listed, nothing saved."""
    md = tmp_path / "md"
    code, out, err = imap_fetch(attack_imap, "liar", md, env)
    assert code == 1 and "announced" in err and err.count("\n") == 1, err
    assert os.listdir(md / "new") == [] and os.listdir(md / "tmp") == []


def test_an_imap_body_of_another_uid_is_not_saved_as_this_one(attack_imap, tmp_path, env):
    md = tmp_path / "md"
    code, out, err = imap_fetch(attack_imap, "swap", md, env)
    assert code == 1 and "returned no message" in err, err
    assert os.listdir(md / "new") == []


def test_a_listing_is_bounded_in_bytes_not_only_in_lines(attack_pop3, tmp_path, env):
    """60,000 LIST lines of 2000 bytes: each line within poplib's bound, the lines far
    below the million allowed -- 120 MB held before. Stopped at MAX_LISTING_BYTES."""
    from netkit.mail._pop3 import MAX_LISTING_BYTES

    code, out, err = run_netkit("mail", "list", f"pop3://fatlist@127.0.0.1:{attack_pop3.port}", "--password-env",
                                "PW", env=env, timeout=120)
    assert code == 1 and f"a listing of more than {MAX_LISTING_BYTES >> 20} MiB" in err and err.count("\n") == 1, err
    assert out == ""


def test_an_mbox_that_is_a_link_is_not_followed(attack_pop3, tmp_path, env):
    bait = tmp_path / "bait"
    bait.write_text("precious\n")
    box = tmp_path / "inbox.mbox"
    os.symlink(bait, box)
    code, out, err = run_netkit("mail", "fetch", f"pop3://fromline@127.0.0.1:{attack_pop3.port}", "--mbox", str(box),
                                "--password-env", "PW", env=env)
    assert code == 5 and err.count("\n") == 1, err
    assert bait.read_text() == "precious\n"
