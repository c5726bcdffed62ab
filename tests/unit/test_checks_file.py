"""Checks files: precedence of [defaults], the command line and each check; every mistake."""

import pytest

from netkit.check.file import load_checks
from netkit.core.errors import UsageError


def write(tmp_path, text):
    path = tmp_path / "checks.toml"
    path.write_text(text)
    return str(path)


def test_precedence(tmp_path):
    path = write(tmp_path, """
[defaults]
timeout = 5
status = "200"

[[check]]
name = "a"
url = "http://h/"

[[check]]
url = "http://h/x"
timeout = 2

[[check]]
url = "tcp://h:22"
expect = ["SSH-2.0"]
""")
    specs = load_checks(path, cli_opts={"timeout": 7.0})
    assert [s.get("timeout") for s in specs] == [7.0, 2, 7.0]
    assert specs[0].name == "a" and 200 in specs[0].get("status") and 301 not in specs[0].get("status")
    assert "status" not in specs[2].opts  # a default a scheme does not take is skipped
    assert specs[2].get("expect") == (b"SSH-2.0",)


@pytest.mark.parametrize(
    "text, words",
    [
        ("[[check]]\nurl = 'tcp://h:1'\ntimout = 3\n", "unknown option 'timout'; did you mean 'timeout'?"),
        ("[[check]]\nname = 'x'\n", "has no url"),
        ("[[check]]\nurl = 'tcp://h:99999'\n", "port 99999"),
        ("[[check]]\nurl = 'tcp://h:1'\ntimeout = 'soon'\n", "timeout expects a number of seconds"),
        ("[[check]]\nurl = 'udp://h:1'\n", "udp:// checks need send and expect"),
        ("[[check]]\nurl = 'http://h/'\nsend = 'x'\n", "send does not apply to http://"),
        ("[[check]\nurl = 'x'\n", "not valid TOML"),
        ("[defaults]\ntimeout = 1\n", "no checks"),
        ("[[checks]]\nurl = 'tcp://h:1'\n", "unknown top-level key 'checks'; did you mean 'check'?"),
        ("[[check]]\nurl = 5\n", "url must be a string"),
        ("[[check]]\nurl = 'tcp://h:1'\nwarning = '5:1'\n", "warning expects a range"),
        ("[[check]]\nurl = 'tcp://h:1'\ninsecure = 'yes'\n", "insecure expects true or false"),
        ("[[check]]\nurl = 'tcp://h:1'\ntimeout = 1e308\n", "at most 86400 (a day) (got 1e+308); e.g. timeout = 5"),
        ("[[check]]\nurl = 'tcp://h:1'\nwarning = {x = 1}\n", "a range is text or a number"),
        ("[[check]]\nurl = 'smtp://h'\nrcpt = ['a@b', \"c@d>\\r\\nDATA\"]\n", "rcpt expects one line of text"),
        ("[[check]]\nurl = 'pop3://u%0D%0AQUIT@h'\n", "the user name in"),
    ],
)
def test_mistakes_name_file_check_and_key(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_checks(path)
    message = str(info.value)
    assert words in message, message
    assert message.startswith(path)


@pytest.mark.parametrize(
    "line, shown, secret",
    [
        ("proxy = 'http://u:s3cret@[bad'", "(got 'http://u:********@[bad')", "s3cret"),
        ('header = ["X-Custom: s3cret\\u0000"]', "(got ['X-Custom: ********'])", "s3cret"),
    ],
)
def test_a_bad_value_is_quoted_with_its_secrets_masked(tmp_path, line, shown, secret):
    """The "(got ...)" of a mistake masks a URL's password and a header's value, as -v's
    transcript does: a monitor's log of the mistake holds no credential."""
    path = write(tmp_path, f"[[check]]\nurl = 'http://h/'\n{line}\n")
    with pytest.raises(UsageError) as info:
        load_checks(path)
    message = str(info.value)
    assert shown in message and secret not in message, message


def test_example_files_load():
    from pathlib import Path

    for example in (Path(__file__).parents[2] / "examples").glob("*.toml"):
        if example.name != "monitor.toml":   # a monitor config (tests/unit/test_monitor_config.py)
            assert load_checks(str(example))
