"""The red team's attacks on issue 15's error messages: the name netkit writes a download to
comes from the peer (the URL's last segment for -O, a listing for mirror), and the errors
about that local file (core.fs.local_error and its neighbours) named it raw. A name holding
ESC ] 0 ; ... BEL (a terminal title), ESC [ 2 J (clear screen) or U+202E (right-to-left
override) reached the terminal through "File name too long looking at NAME"."""

import re

import pytest

from tests.helpers import run_netkit

# What must never reach a terminal raw: C0 (but newline and tab), DEL, C1, bidi overrides.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "%1b%5d0%3bPWNED%07%e2%80%ae"  # ESC ] 0 ; PWNED BEL, U+202E


@pytest.mark.parametrize("case", ["name-too-long", "a-directory-there"])
def test_a_hostile_download_name_reaches_no_terminal_through_its_error(hostile_http, tmp_path, case):
    name = HOSTILE + ("A" * 300 if case == "name-too-long" else "x") + "%1b%5b2J"
    if case == "a-directory-there":
        (tmp_path / "\x1b]0;PWNED\x07\u202ex\x1b[2J").mkdir()
    code, out, err = run_netkit("get", hostile_http.url(f"/ok/{name}"), "-O", "--retry", "0", cwd=tmp_path)
    assert code != 0 and "PWNED" in err, err
    assert not RAW_CONTROLS.search(out + err), err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("--cacert", "/etc/hostname"), ("--cacert", "/nonexistent/ca.pem"),
                                  ("--cert", "/etc/hostname", "--key", "/etc/hostname")],
                         ids=["ca-not-pem", "ca-missing", "cert-not-pem"])
def test_rpc_call_with_a_wrong_tls_file_is_one_line_naming_it(closed_port, args):
    """netkit rpc call --cacert FILE that is not PEM (or missing): "internal error: SSLError"
    and the library's ssl.SSLError, outside netkit's tree; now a UsageError naming the file."""
    code, _out, err = run_netkit("rpc", "call", *args, f"https://127.0.0.1:{closed_port.port}/", "ping")
    assert code == 2 and args[1] in err and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1


def test_rpc_call_pb_over_tls_reaches_the_network(pki, closed_port):
    code, _out, err = run_netkit("rpc", "call", "--cacert", pki.ca_file, f"pb://127.0.0.1:{closed_port.port}", "ping")
    assert "internal error" not in err and code == 1, err
