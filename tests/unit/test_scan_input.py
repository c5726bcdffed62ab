"""Scan targets and ports: every form, every bad form (no network needed)."""

import pytest

from netkit.core.errors import UsageError
from netkit.scan.ports import parse_ports, top_ports
from netkit.scan.targets import MAX_ADDRESSES, expand_targets, read_target_file


def fake_resolve(name, family):
    if name == "known.test":
        return "192.0.2.7"
    raise ValueError(f"cannot resolve {name!r}: Name or service not known")


def expand(*specs, exclude=(), family=0):
    return [a for a, _ in expand_targets(list(specs), exclude, family, resolve=fake_resolve)]


def test_ports_forms():
    assert parse_ports("22,80,443") == [22, 80, 443]
    assert parse_ports("1-3,2,5") == [1, 2, 3, 5]
    assert len(parse_ports("-")) == 65535 and parse_ports("65534-") == [65534, 65535]
    assert parse_ports("-3") == [1, 2, 3] and parse_ports("T:22") == [22]


@pytest.mark.parametrize("spec, words", [("0", "out of range"), ("70000", "out of range"), ("http", "not a port"),
                                         ("10-1", "backwards"), ("", "empty"), ("1,,2", "empty item")])
def test_bad_ports(spec, words):
    with pytest.raises(UsageError, match=words):
        parse_ports(spec)


def test_top_ports_are_most_common_first():
    top = top_ports(10)
    assert len(top) == 10 == len(set(top)) and top[0] == 80 and 22 in top
    assert len(top_ports(65535)) == 65535


def test_target_forms_and_dedupe():
    assert expand("192.0.2.1", "192.0.2.0/30", "192.0.2.1-2", "known.test") == [
        "192.0.2.1", "192.0.2.0", "192.0.2.2", "192.0.2.3", "192.0.2.7"]
    assert expand("10.0.0-1.1") == ["10.0.0.1", "10.0.1.1"]
    assert expand("[::1]", "2001:db8::/126") == ["::1", "2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"]
    assert expand("192.0.2.0/29", exclude=["192.0.2.0,192.0.2.7", "192.0.2.2-3"]) == [
        "192.0.2.1", "192.0.2.4", "192.0.2.5", "192.0.2.6"]
    assert expand("192.0.2.1", "::1", family=6) == ["::1"]
    assert expand_targets(["known.test"], resolve=fake_resolve) == [("192.0.2.7", "known.test")]


@pytest.mark.parametrize("spec, words", [
    ("10.0.0.0/33", "prefix length is at most 32"), ("::/129", "at most 128"), ("10.0.0.0/x", "not a number"),
    ("10.0.0.300", "is not a host name"), ("10.0.0.5-1", "backwards"), ("10.0.0.1-300", "at most 255"),
    ("unknown.test", "cannot resolve 'unknown.test'"), ("10.0.0.0/8", f"more than {MAX_ADDRESSES}"),
    ("a b", "is not a host name"), ("-x", "is not a host name"),
])
def test_bad_targets(spec, words):
    with pytest.raises(UsageError, match=words):
        expand(spec)


def test_target_file(tmp_path):
    path = tmp_path / "hosts.txt"
    path.write_text("# office\n192.0.2.1 192.0.2.2\n\n192.0.2.3  # printer\n")
    assert read_target_file(str(path)) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    with pytest.raises(UsageError, match="cannot read the target file"):
        read_target_file(str(tmp_path / "missing.txt"))
