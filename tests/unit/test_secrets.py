"""Masking of credential headers and URL passwords (netkit.core.secrets, Transcript)."""

import pytest

from netkit.core.secrets import MASK, is_secret_header, mask_line, mask_url
from netkit.drivers._common import Transcript


@pytest.mark.parametrize("name", ["Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Api-Key",
                                  "X-Auth-Token", "X-Session-Id", "X-Amz-Security-Token", "Private-Token",
                                  "X-Client-Secret", "X-Password"])
def test_credential_names(name):
    assert is_secret_header(name)


@pytest.mark.parametrize("name", ["Accept", "Content-Type", "WWW-Authenticate", "Keep-Alive", "Server", "Host"])
def test_plain_names(name):
    assert not is_secret_header(name)


def test_mask_line_keeps_the_scheme_word_and_masks_continuations():
    assert mask_line("Authorization: Basic YWxpY2U6aHVudGVyMg==") == (f"Authorization: Basic {MASK}", True)
    assert mask_line(" folded-secret", True) == (f" {MASK}", True)
    assert mask_line("Accept: */*") == ("Accept: */*", False)


def test_mask_url():
    assert mask_url("see http://alice:pw@h/x and ftp://bob@h/ or https://c:d@e:1/") == \
        f"see http://alice:{MASK}@h/x and ftp://bob@h/ or https://c:{MASK}@e:1/"
    # parse_target reads a raw '@' in a password (the userinfo ends at the last one)
    assert mask_url("ftp://u:p@ss@host/x a@b") == f"ftp://u:{MASK}@host/x a@b"


def test_transcript_masks_a_header_split_across_reads():
    t = Transcript()
    t.data(">", b"GET / HTTP/1.1\r\nAuthorization: Bearer abc")
    t.data(">", b"def\r\n\r\n")
    t.data("<", b"HTTP/1.1 200 OK\r\nSet-Coo")
    t.data("<", b"kie: sid=s3cret\r\n  more\r\n\r\n")
    t.note("redirect to http://alice:pw@example.com/")
    shown = "\n".join(t.lines())
    assert "abc" not in shown and "s3cret" not in shown and "more" not in shown and "pw@" not in shown
    assert f"> Authorization: Bearer {MASK}" in shown and f"< Set-Cookie: {MASK}" in shown
