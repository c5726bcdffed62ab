"""netkit.core.credentials: the one resolver's order, each source, its refusals, and that
no secret shows in a message or a repr. ~/.netrc is a real file in a temporary HOME."""

import os

import pytest

from netkit.core.credentials import Credentials, netrc_entry, resolve
from netkit.core.errors import UsageError

SECRET = "s3cret-XYZ"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME of the test's own, no $NETRC: ~/.netrc is ``home / ".netrc"``."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NETRC", raising=False)
    return tmp_path


def write_netrc(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return path


def asked(answer=SECRET):
    questions = []

    def prompt(text):
        questions.append(text)
        return answer

    prompt.questions = questions
    return prompt


def test_the_order_each_source_beats_the_next(home):
    write_netrc(home / ".netrc", "machine h.test login alice password from-netrc\n")
    env = {"PW": "from-env"}
    url = "ftp://alice:from-url@h.test/"
    prompt = asked("from-prompt")
    assert resolve(url, password="given", password_env="PW", env=env, prompt=prompt) == \
        Credentials("alice", "given", "argument")
    assert resolve(url, password_env="PW", env=env, prompt=prompt) == Credentials("alice", "from-url", "url")
    assert resolve("ftp://alice@h.test/", password_env="PW", env=env, prompt=prompt) == \
        Credentials("alice", "from-env", "env")
    assert resolve("ftp://alice@h.test/", prompt=prompt) == Credentials("alice", "from-netrc", "netrc")
    assert resolve("ftp://bob@h.test/", prompt=prompt) == Credentials("bob", "from-prompt", "prompt")
    assert prompt.questions == ["Password for bob at h.test: "]
    assert resolve(url, prompt=prompt, netrc=False).source == "url"


def test_a_named_user_wins_over_the_urls_and_drops_its_password(home):
    got = resolve("ftp://alice:pw@h.test/", "bob", prompt=asked())
    assert got == Credentials("bob", SECRET, "prompt")
    assert resolve("ftp://alice:pw@h.test/", "alice").source == "url"


def test_netrc_gives_the_login_when_none_is_named(home):
    write_netrc(home / ".netrc", f"machine h.test login alice password {SECRET}\ndefault login anon password x\n")
    assert resolve("http://h.test/") == Credentials("alice", SECRET, "netrc")
    assert resolve("http://other.test/") == Credentials("anon", "x", "netrc")
    # A check or mail without a user logs in as nobody: netrc only completes a named user.
    assert resolve("http://h.test/", netrc_login=False) == Credentials()
    assert resolve("http://h.test/", netrc=False) == Credentials()
    # Another login's entry is not this user's password.
    with pytest.raises(UsageError, match="the password for bob is needed"):
        resolve("ftp://bob@h.test/")


def test_netrc_file_named_by_the_environment(tmp_path, home):
    path = write_netrc(tmp_path / "elsewhere", f"machine h.test login alice password {SECRET}\n")
    assert resolve("pop3://alice@h.test/", env={"NETRC": str(path)}).password == SECRET
    assert netrc_entry("h.test", {"NETRC": str(path)}) == ("alice", SECRET)
    assert netrc_entry("h.test", {"NETRC": str(tmp_path / "none")}) is None


@pytest.mark.parametrize("mode", [0o644, 0o620])
def test_a_netrc_others_can_read_or_change_is_refused(home, mode):
    path = write_netrc(home / ".netrc", f"machine h.test login alice password {SECRET}\n")
    path.chmod(mode)
    with pytest.raises(UsageError, match="chmod 600") as caught:
        resolve("ftp://alice@h.test/")
    assert SECRET not in str(caught.value)


def test_curls_empty_password_for_a_user_alone_in_an_http_url(home):
    assert resolve("http://admin@h.test/") == Credentials("admin", "", "empty")
    # ... but a user named apart from the URL is asked for, as curl -u asks.
    with pytest.raises(UsageError, match="the password for admin is needed: pass password="):
        resolve("http://h.test/", "admin")


def test_key_schemes_need_no_password(home):
    assert resolve("sftp://alice@h.test/x") == Credentials("alice")


def test_usage_errors_name_the_fix(home):
    spell = lambda name: f"--{name}"
    with pytest.raises(UsageError) as caught:
        resolve("ftp://alice@h.test/", spell=spell)
    assert str(caught.value) == ("the password for alice is needed: set --password-env VAR, put it in ~/.netrc, "
                                 "or run on a terminal to be asked")
    with pytest.raises(UsageError, match=r"--password-env needs a user: --user NAME or ftp://NAME@host/"):
        resolve("ftp://h.test/", password_env="PW", env={"PW": "x"}, spell=spell)
    with pytest.raises(UsageError, match=r"--password-env PW: the environment has no PW; export PW=\.\.\. first"):
        resolve("ftp://alice@h.test/", password_env="PW", env={}, spell=spell)

    def ctrl_d(text):
        raise EOFError

    with pytest.raises(UsageError, match="no password given for alice; type it at the prompt"):
        resolve("ftp://alice@h.test/", prompt=ctrl_d, spell=spell)


@pytest.mark.parametrize("bad", ["a\r\nDELE 1", "a\nb", "a\0b"])
def test_line_breakers_refused_for_line_protocols_only(home, bad):
    for source in ({"password": bad}, {"password_env": "PW", "env": {"PW": bad}}, {"prompt": asked(bad)}):
        for scheme in ("ftp", "smtp", "pop3", "imap"):
            with pytest.raises(UsageError, match="CR, LF or NUL") as caught:
                resolve(f"{scheme}://alice@h.test/", **source)
            assert bad not in str(caught.value)
    write_netrc(home / ".netrc", "machine h.test login alice password " + bad.replace("\n", "\\n") + "\n")
    assert resolve("http://alice@h.test/", password=bad).password == bad  # base64 in a header


def test_no_secret_in_reprs_or_messages(home):
    creds = resolve("ftp://alice:" + SECRET + "@h.test/")
    assert SECRET not in repr(creds) and "***" in repr(creds) and "alice" in repr(creds)
    assert creds.password == SECRET and tuple(creds) == ("alice", SECRET)
    with pytest.raises(UsageError) as caught:
        resolve("ftp://alice:" + SECRET + "@h.test:99999/")
    assert SECRET not in str(caught.value)
    with pytest.raises(UsageError) as caught:
        resolve("ftp://alice:" + SECRET + "%0D%0A@h.test/")
    assert SECRET not in str(caught.value)


def test_a_target_is_taken_as_it_is(home):
    from netkit.core.target import Target

    assert resolve(Target("imap", "h.test", 143, "", "bob", SECRET)) == Credentials("bob", SECRET, "url")
    assert resolve(Target("imap", "h.test", 143)) == Credentials()
    assert os.environ["HOME"] == str(home)


def test_prompt_true_asks_only_on_a_terminal(home):
    """Under pytest standard input is no terminal: nobody to ask, so the fix is named."""
    with pytest.raises(UsageError, match="or run on a terminal to be asked"):
        resolve("imap://bob@h.test/", prompt=True, spell=lambda name: f"--{name}")


def test_the_monitors_probe_never_completes_a_login_from_its_netrc(home):
    """A /probe module's own user with the monitor's ~/.netrc ``default`` entry would send
    that password to whichever host the caller names: make_spec(netrc=False) there."""
    from netkit.check.options import BY_NAME
    from netkit.monitor._config import Module

    write_netrc(home / ".netrc", f"default login admin password {SECRET}\n")
    module = Module("web", "http", {"user": BY_NAME["user"].parse("admin")})
    with pytest.raises(UsageError, match="the password for admin is needed") as caught:
        module.spec("http://attacker.test/")
    assert SECRET not in str(caught.value)
    from netkit.check.spec import make_spec, parse_check_target

    spec = make_spec(parse_check_target("http://h.test/"), {"user": "admin"}, spell=lambda name: name)
    assert spec.password == SECRET  # the library's default: netrc, as curl and requests read it


def test_env_secret_is_the_one_reader_of_secrets_from_the_environment():
    from netkit.core.credentials import env_secret

    assert env_secret("PW", "--password-env", {"PW": SECRET}) == SECRET
    with pytest.raises(UsageError) as caught:
        env_secret("NOPE", "store-password-env", {"PW": SECRET}, hint=" (or leave it out)")
    assert str(caught.value) == ("store-password-env NOPE: the environment has no NOPE; export NOPE=... first "
                                 "(or leave it out)")


def test_a_url_without_a_scheme_is_named_as_such():
    with pytest.raises(UsageError, match=r"'example.com' is not a URL; credentials are for scheme://"):
        resolve("example.com")
