import pytest

from netkit.core.text import parse_seconds, parse_size, preview, unescape


@pytest.mark.parametrize(
    "text, data",
    [("QUIT\\r\\n", b"QUIT\r\n"), ("a\\tb", b"a\tb"), ("\\\\", b"\\"), ("\\x00\\xff", b"\x00\xff"),
     ("plain", b"plain"), ("é", "é".encode())],
)
def test_unescape(text, data):
    assert unescape(text) == data


@pytest.mark.parametrize("text", ["\\q", "\\", "\\x1", "\\xzz"])
def test_unknown_escapes_are_errors(text):
    with pytest.raises(ValueError, match="escape"):
        unescape(text)


@pytest.mark.parametrize("text, n", [("1024", 1024), ("64k", 65536), ("10M", 10 << 20), ("1G", 1 << 30),
                                     ("1.5k", 1536), (5, 5)])
def test_sizes(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "k", "10Q", "-1", True])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("text", ["0", "-1", "abc", "nan", "inf", True])
def test_bad_seconds(text):
    with pytest.raises(ValueError):
        parse_seconds(text)


def test_preview_is_one_printable_line():
    assert preview(b"220 ready\r\nmore") == "220 ready"
    assert preview(b"\x00\x01abc") == "..abc"
    assert len(preview(b"x" * 500, 60)) == 60
