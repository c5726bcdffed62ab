"""URL targets: schemes, hosts, IPv6, ports, credentials, and every malformed form."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netkit.check.options import SCHEMES
from netkit.core.target import parse_target, percent_decode, percent_encode


def t(url):
    return parse_target(url, SCHEMES)


def test_tcp():
    x = t("tcp://Example.COM:22")
    assert (x.scheme, x.host, x.port, x.path) == ("tcp", "example.com", 22, "")


def test_ipv6_and_defaults():
    x = t("https://[::1]/health?x=1")
    assert (x.host, x.port, x.path) == ("::1", 443, "/health?x=1")
    assert x.netloc == "[::1]:443"
    assert t("tls://host").port == 443
    assert t("http://h?q").path == "/?q"


def test_credentials_are_percent_decoded_and_kept_out_of_text():
    x = t("http://us%40er:p%3Ass@h:8080/")
    assert (x.user, x.password) == ("us@er", "p:ss")
    assert "p:ss" not in x.text and "us" not in x.text
    assert x.url(credentials=True) == "http://us%40er:p%3Ass@h:8080/"


def test_idn_host():
    assert t("http://bücher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url, words",
    [
        ("tcp://h:0", "out of range"),
        ("tcp://h:70000", "out of range"),
        ("tcp://h:http", "not a number"),
        ("tcp://h", "needs a port"),
        ("tcp://h:", "no port"),
        ("gopher://h:70", "unknown scheme"),
        ("h:80", "no scheme"),
        ("tcp://:80", "no host"),
        ("tcp://::1:80", "brackets"),
        ("tcp://[::1:80", "without ']'"),
        ("tcp://[zz]:80", "not an IPv6"),
        ("tcp://[::1]x:80", "unexpected"),
        ("tcp://a b:80", "not a valid host"),
    ],
)
def test_bad_targets(url, words):
    with pytest.raises(ValueError) as info:
        t(url)
    assert words in str(info.value)


@given(st.text(max_size=30))
def test_percent_round_trip(text):
    assert percent_decode(percent_encode(text)) == text


@given(st.integers(1, 65535), st.sampled_from(["127.0.0.1", "[::1]", "host.example"]))
def test_any_valid_port(port, host):
    assert t(f"tcp://{host}:{port}").port == port
