"""netkit.transfer.Options: a typed, immutable value checked when made (no network)."""

import threading

import pytest

from netkit.core.errors import UsageError
from netkit.core.timeout import Timeout
from netkit.transfer import Options
from netkit.transfer._options import DEFAULT_WAIT


def test_defaults_and_a_timeout_spread_over_its_phases():
    plain = Options()
    assert (plain.timeout, plain.connect_timeout, plain.max_time) == (DEFAULT_WAIT, DEFAULT_WAIT, None)
    spread = Options(timeout=Timeout(600, connect=5, read=20))
    assert (spread.timeout, spread.connect_timeout, spread.max_time) == (20.0, 5.0, 600.0)
    total = Options(timeout=45)  # a number is the total, as everywhere in netkit
    assert (total.timeout, total.connect_timeout, total.max_time) == (DEFAULT_WAIT, DEFAULT_WAIT, 45.0)
    assert Options(max_time=45) == total


def test_forms_callers_write():
    options = Options(checksum="SHA256=" + "A" * 64, headers={"Accept": "text/csv"}, proxy="http://proxy:3128",
                      data="a=1", method="post", identity="~/key")
    assert options.checksum == ("sha256", "a" * 64)
    assert options.headers == (("Accept", "text/csv"),)
    assert (options.proxy.host, options.proxy.port) == ("proxy", 3128)
    assert (options.data, options.method) == (b"a=1", "POST")
    assert not options.identity.startswith("~")
    assert Options(checksum=("md5", "0" * 32)).checksum == ("md5", "0" * 32)


@pytest.mark.parametrize("fields, words", [
    ({"retries": -1}, r"Options\(retries=-1\): a whole number, 0 or more"),
    ({"retries": True}, r"Options\(retries=True\)"),
    ({"retry_delay": -1}, r"Options\(retry_delay=-1\): seconds"),
    ({"limit_rate": 0}, r"Options\(limit_rate=0\)"),
    ({"max_redirects": "ten"}, r"Options\(max_redirects='ten'\)"),
    ({"timeout": 0}, "more than 0"),
    ({"timeout": "30"}, "timeout expects seconds"),
    ({"timeout": Timeout(10), "max_time": 20}, "both bound the whole transfer"),
    ({"checksum": "sha256=xyz"}, "a sha256 checksum is 64 hexadecimal digits"),
    ({"checksum": "crc=1"}, "is not a checksum"),
    ({"headers": [("Bad Name", "x")]}, r"Options\(headers="),
    ({"headers": "Accept: x"}, r"\(name, value\) pairs"),
    ({"proxy": 3128}, "a proxy URL"),
    ({"insecure": True, "cacert": "ca.pem"}, "give one"),
    ({"speed_time": 10}, "give speed_limit too"),
    ({"cancel": True}, "a threading.Event"),
    ({"user": 1}, r"Options\(user=1\): a string"),
])
def test_bad_values_are_usage_errors_in_python_names(fields, words):
    with pytest.raises(UsageError, match=words):
        Options(**fields)


def test_unknown_fields_are_type_errors():
    with pytest.raises(TypeError):
        Options(retry=3)
    with pytest.raises(TypeError, match="unknown field 'retry'"):
        Options().replace(retry=3)


def test_immutable_replace_checks_and_repr_hides_the_password():
    options = Options(retries=5, user="me", password="s3cret", timeout=Timeout(60, connect=3))
    with pytest.raises(AttributeError, match=r"options.replace\(retries=...\)"):
        options.retries = 1
    changed = options.replace(resume=True, cancel=threading.Event())
    assert changed.resume and changed.retries == 5 and (changed.connect_timeout, changed.max_time) == (3.0, 60.0)
    assert not options.resume and options.cancel is None
    assert options.replace(timeout=Timeout(read=7)).timeout == 7.0
    assert options.replace(timeout=Timeout(read=7)).max_time is None  # timeout replaces all three phases
    assert options.replace(max_time=9).max_time == 9.0 and options.replace(connect_timeout=2).connect_timeout == 2.0
    with pytest.raises(UsageError, match=r"Options\(retries=-2\)"):
        options.replace(retries=-2)
    shown = repr(options)
    assert "s3cret" not in shown and "password=***" in shown and "retries=5" in shown
    assert options == Options(retries=5, user="me", password="s3cret", timeout=Timeout(60, connect=3))
