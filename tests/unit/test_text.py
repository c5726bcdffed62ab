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


# -- issue 12: ASCII grammar and bounds for every number a user or a peer writes ----------------

NON_ASCII = ["\u00b2", "\u0661\u0662", "\u09e9", "1\u00b2"]  # '²'.isdigit() is True; int() refuses it


@pytest.mark.parametrize("text", ["1e308", "86401", "inf", *NON_ASCII])
def test_seconds_are_ascii_and_at_most_a_day(text):
    from netkit.core.text import MAX_SECONDS

    with pytest.raises(ValueError, match="at most 86400"):
        parse_seconds(text)
    assert parse_seconds(str(int(MAX_SECONDS))) == MAX_SECONDS == 86400
    assert parse_seconds("0", allow_zero=True) == 0


@pytest.mark.parametrize("text", ["1e999", *NON_ASCII])
def test_sizes_are_ascii_and_finite(text):
    with pytest.raises(ValueError, match="expects a size"):
        parse_size(text)


@pytest.mark.parametrize("text", NON_ASCII)
def test_whole_numbers_are_ascii(text):
    from netkit.check.options import BY_NAME
    from netkit.cli.options import positive, whole
    from netkit.core.text import is_digits

    assert not is_digits(text)
    for parse in (whole, positive, BY_NAME["cert-warn"].parse, BY_NAME["max-redirects"].parse,
                  BY_NAME["maxbytes"].parse):
        with pytest.raises(ValueError, match="expects a whole number"):
            parse(text)
    assert whole("12") == 12 and positive("3") == 3 and BY_NAME["cert-warn"].parse(30) == 30


def test_ip_literals_and_perfdata_are_ascii():
    from netkit.core.perfdata import parse_perfdata
    from netkit.core.target import is_ip_literal

    assert not is_ip_literal("\u00b9.2.3.4") and is_ip_literal("1.2.3.4")
    for bad in ("a=\u0661\u0662s", "a=1\u00b2", "a=1e999", "'open=1"):
        with pytest.raises(ValueError, match="perfdata|unit"):
            parse_perfdata(bad)


def test_nagios_lines_escape_what_peers_said():
    from netkit.check.result import CheckResult
    from netkit.cli.render import nagios_line, unknown_line
    from netkit.core.status import CRITICAL

    result = CheckResult(name=None, label="SMTP", target="smtp://h", status=CRITICAL,
                         summary="greeting failed: 554 \x1b]0;owned\x07\x1b[2J|x\r\ny")
    line = nagios_line(result)
    assert line == "SMTP CRITICAL - greeting failed: 554 \\x1b]0;owned\\x07\\x1b[2J/x  y"
    assert "\x1b" not in unknown_line("bad \x1b[2J")
