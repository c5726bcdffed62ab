"""Red team on ``netkit rpc``: a hostile server against ``netkit rpc call`` (a reply that
trickles forever, a redirect to another host, controls XML-RPC can carry), and hostile
clients and careless trees against ``netkit rpc serve`` (a du of a deep or wide tree, a
smuggling request whose complaint must stay one log line)."""

import os
import socket
import xmlrpc.client

import pytest

from tests.helpers import run_netkit
from tests.peers.attack_rpc import CONTROLS, attack_rpc_server
from tests.peers.rpc_server import make_root, rpc_server, wait_for_log


@pytest.fixture(scope="module")
def hostile():
    with attack_rpc_server() as peers:
        yield peers


# -- netkit rpc call against a hostile server ---------------------------------------------

@pytest.mark.parametrize("path", ["trickle", "trickle-head"])
def test_a_trickling_reply_is_bounded_by_the_timeout(hostile, path):
    """Each byte comes well within the socket timeout; the whole would take days (a
    reply of 1 MB at 5 bytes a second). --timeout bounds the exchange, not each read."""
    code, out, err = run_netkit("rpc", "call", "--timeout", "2", f"http://127.0.0.1:{hostile.port}/{path}", "ls",
                                timeout=40)
    assert code == 1 and out == ""
    assert "no answer within 2 s" in err and err.count("\n") == 1, err


def test_a_redirect_is_not_followed_and_the_token_stays(hostile):
    code, out, err = run_netkit("rpc", "call", "--token-env", "RPC_TOKEN", f"http://127.0.0.1:{hostile.port}/redirect",
                                "ls", env={"RPC_TOKEN": "s3cret-token"})
    assert code == 1 and out == "" and "HTTP 307" in err, err
    assert "s3cret-token" not in err
    assert hostile.seen_elsewhere == []  # nobody else got a request, let alone the token


def test_controls_xmlrpc_can_carry_are_escaped(hostile):
    """XML cannot carry ESC, but it carries C1's CSI (U+009B, a terminal's ESC [), a bidi
    override and a line separator: in a fault and in a table they are shown escaped."""
    code, out, err = run_netkit("rpc", "call", f"http://127.0.0.1:{hostile.port}/fault-c1", "ls")
    assert code == 1 and "fault 7: boom" in err and err.count("\n") == 1
    assert not any(c in err for c in CONTROLS if not c.isalnum())
    for extra in ([], ["--json"]):
        code, out, err = run_netkit("rpc", "call", *extra, f"http://127.0.0.1:{hostile.port}/table-c1", "ls")
        assert code == 0, err
        assert "evil" in out and not any(c in out for c in "\u009b\u202e\u2028"), (extra, out)


# -- netkit rpc serve against hostile clients and trees ----------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    top = tmp_path_factory.mktemp("attack-rpc")
    root = make_root(top)
    deep = root / "deep"
    path = str(deep)
    for _ in range(200):  # deeper than MAX_DU_DEPTH, and far deeper than a real tree
        path = os.path.join(path, "d")
    os.makedirs(path)
    with open(os.path.join(path, "bottom.txt"), "wb") as f:
        f.write(b"x" * 5000)
    with rpc_server(tmp_path_factory.mktemp("log"), "--root", root) as server:
        yield server


def test_du_of_a_deep_tree_stops_at_its_depth(served):
    from netkit.rpc._admin import MAX_DU_DEPTH

    got = xmlrpc.client.ServerProxy(served.url).du("deep")
    assert got["complete"] is False  # 200 levels: not walked to the bottom
    assert got["files"] == 0  # bottom.txt lies below MAX_DU_DEPTH levels
    assert MAX_DU_DEPTH < 200
    assert xmlrpc.client.ServerProxy(served.url).du("sub")["complete"] is True


def test_du_counts_directories_toward_its_bound(tmp_path, monkeypatch):
    """A tree of empty directories has no files: bounding files alone walked it whole."""
    from netkit.rpc import _admin

    monkeypatch.setattr(_admin, "MAX_DU_ENTRIES", 50)
    for i in range(40):
        os.makedirs(tmp_path / f"a{i}" / "b" / "c")
    got = _admin.admin_functions(_admin.Root(str(tmp_path)))["du"](".")
    assert got["complete"] is False and got["files"] == 0


def test_a_smuggling_request_is_refused_in_one_log_line(served):
    """Content-Length with Transfer-Encoding: aiohttp answers 400 itself; its complaint
    is one line of the server's log, not a traceback a client can repeat at will."""
    with socket.create_connection((served.host, served.port), timeout=10) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"0\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.") and b" 400 " in reply.split(b"\r\n")[0]
    assert wait_for_log(served, "Transfer-Encoding")
    log = served.log()
    assert "Traceback" not in log and "aiohttp/" not in log
    assert next(line for line in log.splitlines() if "Transfer-Encoding" in line).startswith("20")  # a stamped line
    assert xmlrpc.client.ServerProxy(served.url).ls("sub") == ["f.txt", "passwd"]


# -- JSON-RPC batches and numbers JSON has not ---------------------------------------------

@pytest.fixture(scope="module")
def json_served(tmp_path_factory):
    from tests.peers.rpc_server import write_module

    top = tmp_path_factory.mktemp("attack-jsonrpc")
    with rpc_server(tmp_path_factory.mktemp("log"), "--protocol", "jsonrpc", "--root", make_root(top),
                    "--module", write_module(top)) as server:
        yield server


def post_json(server, body: bytes):
    import http.client
    import json

    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("POST", "/", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 200
    return json.loads(data)  # strict enough: NaN would parse, so the tests look for it


def test_a_batch_of_multicalls_is_not_10000_calls(json_served):
    """Each level is bounded at 100 calls; a batch of 100 multicalls of 100 calls each was
    10,000 calls for one request of 400 KiB."""
    import json

    inner = [{"methodName": "add", "params": [1, 2]}] * 100
    batch = [{"jsonrpc": "2.0", "method": "system.multicall", "params": [inner], "id": i} for i in range(100)]
    replies = post_json(json_served, json.dumps(batch).encode())
    assert len(replies) == 100
    assert all(r["error"]["code"] == -32600 and "batch" in r["error"]["message"] for r in replies)
    one = post_json(json_served, json.dumps({"jsonrpc": "2.0", "method": "system.multicall", "params": [inner[:3]],
                                             "id": 1}).encode())
    assert one["result"] == [[3], [3], [3]]  # alone, a multicall still works


@pytest.mark.parametrize("word", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(json_served, word):
    reply = post_json(json_served, b'{"jsonrpc": "2.0", "method": "add", "params": [' + word + b', 1], "id": 1}')
    assert reply["error"]["code"] == -32700 and "not a JSON number" in reply["error"]["message"]


def test_a_result_that_overflows_is_a_fault_not_invalid_json(json_served):
    import json

    conn_reply = post_json(json_served, b'{"jsonrpc": "2.0", "method": "add", "params": [1e308, 1e308], "id": 7}')
    assert conn_reply["id"] == 7 and "cannot be sent as JSON" in conn_reply["error"]["message"]
    assert "Infinity" not in json.dumps(conn_reply["error"]["code"])


@pytest.mark.parametrize("word", ["nan", "inf", "-inf"])
def test_xmlrpc_refuses_doubles_it_has_not(served, word):
    import http.client

    body = (b"<?xml version='1.0'?><methodCall><methodName>ls</methodName><params><param><value><double>"
            + word.encode() + b"</double></value></param></params></methodCall>")
    conn = http.client.HTTPConnection(served.host, served.port, timeout=30)
    conn.request("POST", "/", body, {"Content-Type": "text/xml"})
    data = conn.getresponse().read()
    conn.close()
    with pytest.raises(xmlrpc.client.Fault) as caught:
        xmlrpc.client.loads(data)
    assert caught.value.faultCode == -32700 and "not an XML-RPC double" in caught.value.faultString


def test_an_xmlrpc_result_of_infinity_is_a_fault(served_module):
    """add(1e308, 1e308) is inf: written as <double>inf</double> before, which the
    caller's own xmlrpc.client (and every other language's) cannot read."""
    with pytest.raises(xmlrpc.client.Fault) as caught:
        xmlrpc.client.ServerProxy(served_module.url).add(1e308, 1e308)
    assert "cannot be sent as XML-RPC" in caught.value.faultString and "not an XML-RPC double" in caught.value.faultString
    assert xmlrpc.client.ServerProxy(served_module.url).pow(2, 40) == 2**40  # i8 still written


def test_ls_of_a_huge_directory_stops_at_its_bound(tmp_path, monkeypatch):
    from netkit.rpc import _admin
    from netkit.rpc._faults import CallFailed

    monkeypatch.setattr(_admin, "MAX_LISTING", 20)
    for i in range(21):
        (tmp_path / f"f{i}").touch()
    functions = _admin.admin_functions(_admin.Root(str(tmp_path)))
    with pytest.raises(CallFailed, match="more than the 20 entries"):
        functions["ls_boom"](".")
    assert functions["ls"](".") == []
    (tmp_path / "f0").unlink()
    assert len(functions["ls_boom"](".")) == 20


@pytest.fixture(scope="module")
def served_module(tmp_path_factory):
    from tests.peers.rpc_server import write_module

    top = tmp_path_factory.mktemp("attack-xmlrpc-module")
    with rpc_server(tmp_path_factory.mktemp("log"), "--root", make_root(top), "--module", write_module(top)) as server:
        yield server


@pytest.mark.parametrize("allow, mapped_ok", [("127.0.0.1/32", True), ("10.0.0.0/8", False)])
def test_allow_reads_ipv4_mapped_peers_as_ipv4(tmp_path, allow, mapped_ok):
    """On a dual-stack socket (--bind ::) a 127.0.0.1 client arrives as
    ::ffff:127.0.0.1: --allow 127.0.0.1/32 takes it, --allow 10.0.0.0/8 refuses it and
    ::1 too (loopback is not allowed unless --allow says so)."""
    with rpc_server(tmp_path, "--bind", "::", "--allow", allow, "--root", make_root(tmp_path)) as server:
        def ls(host):
            try:
                return xmlrpc.client.ServerProxy(f"http://{host}:{server.port}/").ls("sub")
            except (OSError, xmlrpc.client.ProtocolError):
                return None

        assert (ls("127.0.0.1") == ["f.txt", "passwd"]) is mapped_ok
        assert ls("[::1]") is None
        assert wait_for_log(server, "::1 refused: not in --allow")


# -- the root under a racing attacker, and names a terminal would obey -------------------------

def test_a_directory_swapped_for_a_link_while_calls_run_never_leads_out(tmp_path):
    """A thread flips ``flip`` between a real directory and a link to a directory outside
    the root while a client lists it: every answer is the inside one, or a refusal."""
    import threading

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "SECRET_MARK").write_text("x")
    root = make_root(tmp_path)
    stop = threading.Event()

    def flip():
        real, link = root / "flip", root / "flip.link"
        while not stop.is_set():
            real.mkdir(exist_ok=True)
            (real / "inside").touch()
            os.symlink(outside, link)
            os.rename(link, root / "spare")  # a link ready to be swapped in
            (real / "inside").unlink()
            real.rmdir()
            os.rename(root / "spare", real)  # now flip is the link
            os.unlink(real)

    with rpc_server(tmp_path, "--root", root) as server:
        flipper = threading.Thread(target=flip, daemon=True)
        flipper.start()
        proxy = xmlrpc.client.ServerProxy(server.url)
        seen = set()
        try:
            for _ in range(300):
                for name in ("flip", "flip/SECRET_MARK"):
                    try:
                        got = proxy.ls_boom(name) if name == "flip" else proxy.stat(name)
                    except xmlrpc.client.Fault as fault:
                        seen.add(fault.faultCode)
                        continue
                    assert "SECRET_MARK" not in str(got), got
                    seen.add("ok")
        finally:
            stop.set()
            flipper.join(10)
    assert "ok" in seen  # the race was run: some calls found the real directory


def test_names_with_newlines_and_escapes_print_on_one_line_each(tmp_path):
    root = make_root(tmp_path)
    (root / "sub" / "two\nlines").touch()
    (root / "sub" / "esc\x1b[2Jape").touch()
    with rpc_server(tmp_path, "--protocol", "jsonrpc", "--root", root) as server:
        code, out, err = run_netkit("rpc", "call", "--protocol", "jsonrpc", server.url, "ls", "sub")
        assert code == 0, err
        assert out.splitlines() == ["esc\\x1b[2Jape", "f.txt", "passwd", "two\\x0alines"]
        code, out, err = run_netkit("rpc", "call", "--protocol", "jsonrpc", server.url, "ls_boom", "json:\"a\\u0000b\"")
        assert code == 1 and "fault -32001" in err and "a NUL byte in a name" in err, err
        assert "\x00" not in err and err.count("\n") == 1


@pytest.mark.parametrize("prefix, depth", [("json:", 50_000), ("", 50_000), ("json:", 500)])
def test_a_deeply_nested_argument_is_a_usage_error(prefix, depth):
    """A careless (or generated) argument nested 500 levels passed json.loads and then
    blew the XML-RPC marshaller's recursion; 50,000 blew json's: 'internal error' both."""
    arg = prefix + "[" * depth + "]" * depth
    code, out, err = run_netkit("rpc", "call", "http://127.0.0.1:1/", "ls", arg)
    assert code == 2 and "nested deeper than 64 levels" in err and err.count("\n") == 1, err
    assert "internal error" not in err


def test_a_batch_whose_answers_grow_past_the_bound_stops_running(tmp_path):
    """100 ls of a directory of 2,000 names of 200 bytes: 40 MB of answers for a request
    of 6 KB. Past MAX_BATCH_REPLY the rest are answered 'too big' without being run."""
    import json

    from netkit.rpc._http import MAX_BATCH_REPLY

    root = make_root(tmp_path)
    wide = root / "wide"
    wide.mkdir()
    for i in range(2000):
        (wide / f"{i:05d}{'n' * 195}").touch()
    batch = [{"jsonrpc": "2.0", "method": "ls", "params": ["wide"], "id": i} for i in range(100)]
    with rpc_server(tmp_path, "--protocol", "jsonrpc", "--root", root) as server:
        replies = post_json(server, json.dumps(batch).encode())
    assert [r["id"] for r in replies] == list(range(100))  # every call answered, in order
    full = [r for r in replies if "result" in r]
    refused = [r for r in replies if "error" in r]
    assert full and refused and all(len(r["result"]) == 2000 for r in full)
    assert all(r["error"]["code"] == -32004 and "passed 16 MiB" in r["error"]["message"] for r in refused)
    assert len(json.dumps(replies)) < MAX_BATCH_REPLY + (1 << 20)


def test_a_multicall_whose_answers_grow_past_the_bound_stops_running(tmp_path):
    from netkit.rpc._registry import MAX_MULTICALL_REPLY

    root = make_root(tmp_path)
    wide = root / "wide"
    wide.mkdir()
    for i in range(2000):
        (wide / f"{i:05d}{'n' * 195}").touch()
    with rpc_server(tmp_path, "--root", root) as server:
        multi = xmlrpc.client.MultiCall(xmlrpc.client.ServerProxy(server.url))
        for _ in range(100):
            multi.ls_boom("wide")
        answers = multi()
        got = []
        while True:
            try:
                got.append(len(answers[len(got)]))
            except IndexError:
                break
            except xmlrpc.client.Fault as fault:
                assert fault.faultCode == -32004 and "passed 16 MiB" in fault.faultString
                got.append("refused")
    assert len(got) == 100 and got[0] == 2000 and got[-1] == "refused"
    assert got.count(2000) * 2000 * 216 < MAX_MULTICALL_REPLY + 2000 * 216 * 2
