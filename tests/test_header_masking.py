"""-v transcripts and --json of check and get mask the value of every -H header that is not
on the redirect policy's allowlist (core.secrets.SAFE_HEADERS), whichever side shows it:
``-H 'X-Custom: SECRET'`` may be a credential (issue 12). The server still receives it."""

import json

from tests.helpers import run_netkit

SECRET = "S3CRET-VALUE"
HEADERS = ("-H", f"X-Custom: {SECRET}", "-H", "Accept: text/plain", "-H", f"X-Trace: t-{SECRET}")


def test_check_v_masks_the_callers_own_headers(echo_http):
    code, out, err = run_netkit("check", echo_http.url(), "-v", *HEADERS)
    assert code == 0, out + err
    assert SECRET not in out + err
    assert "> X-Custom: ********" in out and "< X-Custom: ********" in out and "> X-Trace: ********" in out
    assert "> Accept: text/plain" in out and "< Accept: text/plain" in out  # on the allowlist: shown
    assert echo_http.sent("X-Custom") == [SECRET]


def test_check_json_masks_them_in_headers_and_dialogue(echo_http):
    code, out, err = run_netkit("check", echo_http.url(), "--json", "-v", *HEADERS)
    assert code == 0, out + err
    assert SECRET not in out + err
    record = json.loads(out)
    headers = dict(record["details"]["headers"])
    assert headers["X-Custom"] == "********" and headers["Accept"] == "text/plain"
    assert any("X-Custom: ********" in line for line in record["dialogue"])


def test_get_v_masks_them(echo_http, tmp_path):
    code, out, err = run_netkit("get", echo_http.url(), "-o", tmp_path / "out", "-v", *HEADERS)
    assert code == 0, err
    assert SECRET not in out + err
    assert "> X-Custom: ********" in err and "< X-Trace: ********" in err and "> Accept: text/plain" in err
    assert (tmp_path / "out").read_bytes() == b"echo\n" and echo_http.sent("X-Trace") == [f"t-{SECRET}"]


def test_a_virtual_host_is_shown(echo_http):
    """-H 'Host: …' stays with its origin on a redirect, but it is no secret: a transcript
    that hid it would hide the usual reason a virtual-host check fails."""
    code, out, err = run_netkit("check", echo_http.url(), "-v", "-H", "Host: vhost.example", *HEADERS)
    assert code == 0, out + err
    assert "> Host: vhost.example" in out and SECRET not in out + err
