"""``netkit rpc call`` against a hostile server (tests/peers/rpc_hostile.py): every attack
is one line on stderr and exit 1, never a traceback, a hang or a terminal escape."""

import pytest

from tests.helpers import run_netkit
from tests.peers.rpc_hostile import hostile_rpc_server


@pytest.fixture(scope="module")
def port():
    with hostile_rpc_server() as p:
        yield p


@pytest.mark.parametrize("path,words", [("bomb", "DTD"), ("deep", "nested deeper"), ("garbage", "not well-formed"),
                                        ("huge", "over 64 MiB")])
def test_hostile_xmlrpc_replies(port, path, words):
    code, out, err = run_netkit("rpc", "call", f"http://127.0.0.1:{port}/{path}", "ls", ".", timeout=60)
    assert code == 1 and out == ""
    assert words in err and err.count("\n") == 1, err


def test_hostile_json_reply(port):
    code, out, err = run_netkit("rpc", "call", "--protocol", "jsonrpc", f"http://127.0.0.1:{port}/json-deep", "ls")
    assert code == 1 and out == "" and ("not JSON" in err or "not a JSON-RPC" in err), err


def test_terminal_escapes_are_shown_not_sent(port):
    code, out, _ = run_netkit("rpc", "call", "--protocol", "jsonrpc", f"http://127.0.0.1:{port}/ansi", "ls", ".")
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "\\u001b[2J" in out and "pwned" in out  # shown escaped, as JSON writes it


def test_a_silent_server_times_out(port):
    code, out, err = run_netkit("rpc", "call", "--timeout", "1", f"http://127.0.0.1:{port}/silent", "ls")
    assert code == 1 and "no answer within 1 s" in err


def test_nothing_listening(port):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    for url in (f"http://127.0.0.1:{free}/", f"PYRO:netkit@127.0.0.1:{free}", f"pb://127.0.0.1:{free}"):
        code, out, err = run_netkit("rpc", "call", url, "ls")
        assert code == 1 and err.startswith("netkit rpc call: ") and err.count("\n") == 1, (url, err)
