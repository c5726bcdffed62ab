"""``netkit rpc serve`` over XML-RPC and JSON-RPC, driven by the texts' clients
(xmlrpc.client.ServerProxy) and by ``netkit rpc call``; every attack refused, and the
server still serving the next client."""

import gzip
import http.client
import json
import xmlrpc.client

import pytest

from tests.helpers import run_netkit
from tests.peers.rpc_server import make_root, rpc_server, wait_for_log, write_module


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    top = tmp_path_factory.mktemp("rpc")
    return make_root(top), write_module(top), top


@pytest.fixture(scope="module")
def server(files, tmp_path_factory):
    root, module, _ = files
    with rpc_server(tmp_path_factory.mktemp("log"), "--root", root, "--module", module, "--call-timeout", "1") as s:
        yield s


def proxy(server):
    return xmlrpc.client.ServerProxy(server.url)


def post(server, body: bytes, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("POST", "/", body, {"Content-Type": "text/xml", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def fault_of(data: bytes):
    try:
        xmlrpc.client.loads(data)
    except xmlrpc.client.Fault as fault:
        return fault
    raise AssertionError(f"no fault in {data[:200]!r}")


def still_serves(server):
    assert proxy(server).add(3, 4) == 7
    assert server.alive()


# -- the texts' behaviour ----------------------------------------------------------------

def test_ls_hides_errors_and_ls_boom_sends_them(server):
    x = proxy(server)
    assert x.ls(".") == ["app.log", "out", "sub"]
    assert x.ls_boom("sub") == ["f.txt", "passwd"]
    assert x.ls("/foo") == []
    with pytest.raises(xmlrpc.client.Fault) as caught:
        x.ls_boom("/foo")
    assert caught.value.faultCode == -32000
    assert "No such file or directory" in caught.value.faultString and "'/foo'" in caught.value.faultString
    assert "Traceback" not in caught.value.faultString and str(server.log_file.parent) not in caught.value.faultString


def test_cb_gets_a_dict_over_xmlrpc(server, files):
    """Example 5.8: XML-RPC turns the object into a struct; cb says so in a typed fault."""
    import importlib
    import sys

    sys.path.insert(0, str(files[2]))
    try:
        psacb = importlib.import_module("psacb")
        with pytest.raises(xmlrpc.client.Fault) as caught:
            proxy(server).cb(psacb.PSACB())
    finally:
        sys.path.remove(str(files[2]))
    assert caught.value.faultCode == -32602
    assert "dict {'some_attribute': 1}" in caught.value.faultString


def test_pow_add_and_admin_set(server):
    x = proxy(server)
    assert x.add(3, 4) == 7 and x.pow(2, 10) == 1024
    assert x.tail("app.log", 3) == ["line 48", "line 49", "line 50"]
    assert x.stat("sub")["type"] == "directory"
    assert x.stat("out")["type"] == "link"  # described, not followed
    df = x.df(".")
    assert df["total"] > 2**31 or df["total"] > 0  # big numbers travel as <i8>
    assert x.du("sub")["files"] == 2
    assert len(x.uptime()["load"]) == 3


def test_introspection_and_multicall(server):
    x = proxy(server)
    names = x.system.listMethods()
    assert {"ls", "ls_boom", "cb", "add", "pow", "system.multicall"} <= set(names)
    assert "not_exposed" not in names and "helper" not in names
    assert "errors hidden" in x.system.methodHelp("ls")
    assert x.system.methodSignature("tail") == "(path, lines=10)"
    multi = xmlrpc.client.MultiCall(x)
    multi.add(1, 2)
    multi.ls_boom("nope")
    results = multi()
    assert results[0] == 3
    with pytest.raises(xmlrpc.client.Fault):
        results[1]


def test_deadline_and_server_bug(server):
    x = proxy(server)
    with pytest.raises(xmlrpc.client.Fault) as caught:
        x.sleep(3)
    assert caught.value.faultCode == -32003
    with pytest.raises(xmlrpc.client.Fault) as caught:
        x.crash()
    assert caught.value.faultCode == -32603
    assert "do-not-leak" not in caught.value.faultString and "Traceback" not in caught.value.faultString
    still_serves(server)


def test_wrong_arguments_are_invalid_params(server):
    with pytest.raises(xmlrpc.client.Fault) as caught:
        proxy(server).add(1)
    assert caught.value.faultCode == -32602


# -- attacks -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["../../etc", "sub/../../etc", "/../etc", "out", "out/passwd", "sub/passwd",
                                  ])
def test_paths_leaving_the_root_are_refused(server, path):
    for method in ("ls_boom", "stat", "tail", "du"):
        if method == "stat" and path in ("out", "sub/passwd"):
            assert proxy(server).stat(path)["type"] == "link"  # described, not followed
            continue
        with pytest.raises(xmlrpc.client.Fault) as caught:
            getattr(proxy(server), method)(path)
        assert caught.value.faultCode == -32001, (method, caught.value)
    assert proxy(server).ls(path) == []  # ls hides its errors, as the text's


@pytest.mark.parametrize("name", ["not_exposed", "helper", "helper.data", "add.__globals__", "__class__",
                                  "ls.__code__", "system.listMethods.__self__", "_private"])
def test_dotted_names_and_attributes_are_unreachable(server, name):
    status, data = post(server, xmlrpc.client.dumps((), name).encode())
    assert fault_of(data).faultCode == -32601


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<methodCall><methodName>ls</methodName><params><param><value>&lol9;</value></param></params></methodCall>"""


def quadratic_blowup() -> bytes:
    entity = "A" * 50_000
    return (f'<?xml version="1.0"?><!DOCTYPE kaboom [<!ENTITY a "{entity}">]>'
            f'<methodCall><methodName>ls</methodName><params><param><value>{"&a;" * 15_000}</value></param>'
            f'</params></methodCall>').encode()


def test_billion_laughs_is_refused(server):
    status, data = post(server, BILLION_LAUGHS)
    assert status == 200 and fault_of(data).faultCode == -32700
    assert "DTD" in fault_of(data).faultString
    still_serves(server)


def test_quadratic_blowup_is_refused(server):
    body = quadratic_blowup()
    assert len(body) < (1 << 20)
    status, data = post(server, body)
    assert fault_of(data).faultCode == -32700
    still_serves(server)


def test_external_entity_is_refused(server):
    body = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<methodCall><methodName>ls</methodName><params><param><value>&e;</value></param></params></methodCall>")
    status, data = post(server, body)
    assert fault_of(data).faultCode == -32700 and "root:" not in data.decode()
    still_serves(server)


def test_deep_nesting_is_refused(server):
    depth = 5000
    value = "<value><array><data>" * depth + "</data></array></value>" * depth
    body = f"<methodCall><methodName>ls</methodName><params><param>{value}</param></params></methodCall>".encode()
    status, data = post(server, body)
    assert fault_of(data).faultCode == -32004
    still_serves(server)


def test_huge_request_is_refused(server):
    body = b"<methodCall><methodName>ls</methodName><params><param><value>" + b"A" * (2 << 20) + b"</value>" \
        + b"</param></params></methodCall>"
    status, _ = post(server, body)
    assert status == 413
    still_serves(server)


def test_gzip_bomb_is_refused(server):
    inner = b"<methodCall><methodName>ls</methodName><params><param><value>" + b"A" * (64 << 20) + b"</value>" \
        + b"</param></params></methodCall>"
    bomb = gzip.compress(inner, 9)
    assert len(bomb) < (1 << 20)
    status, _ = post(server, bomb, {"Content-Encoding": "gzip"})
    assert status == 413
    status, data = post(server, gzip.compress(xmlrpc.client.dumps((2, 3), "add").encode()),
                        {"Content-Encoding": "gzip"})
    assert xmlrpc.client.loads(data)[0] == (5,)  # a small gzip body is fine
    still_serves(server)


def test_garbage_is_a_parse_fault(server):
    for body in (b"", b"\xff\xfe<<<", b"<methodCall><methodName>ls</methodName><params><param><value><int>x</int>"
                 b"</value></param></params></methodCall>", b"<methodResponse><fault/></methodResponse>"):
        status, data = post(server, body)
        assert status == 200 and fault_of(data).faultCode in (-32700, -32600)
    still_serves(server)


def test_a_client_outside_allow_is_closed(files, tmp_path):
    """The verify_request of text 003: only 127.0.0.2 allowed, so 127.0.0.1 is closed."""
    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module, "--bind", "0.0.0.0", "--allow", "127.0.0.2/32") as s:
        with pytest.raises((xmlrpc.client.ProtocolError, ConnectionError, http.client.HTTPException, OSError)):
            xmlrpc.client.ServerProxy(f"http://127.0.0.1:{s.port}/").add(1, 2)
        assert wait_for_log(s, "127.0.0.1 refused: not in --allow")
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10, source_address=("127.0.0.2", 0))
        conn.request("POST", "/", xmlrpc.client.dumps((1, 2), "add"), {"Content-Type": "text/xml"})
        assert xmlrpc.client.loads(conn.getresponse().read())[0] == (3,)  # an allowed peer is served
        assert s.alive()


# -- JSON-RPC ----------------------------------------------------------------------------

def json_post(port, payload):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", payload if isinstance(payload, bytes) else json.dumps(payload),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def test_jsonrpc(files, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--protocol", "jsonrpc", "--root", root, "--module", module) as s:
        _, reply = json_post(s.port, {"jsonrpc": "2.0", "method": "ls", "params": ["."], "id": 7})
        assert reply == {"jsonrpc": "2.0", "result": ["app.log", "out", "sub"], "id": 7}
        _, reply = json_post(s.port, {"jsonrpc": "2.0", "method": "ls_boom", "params": ["../../etc"], "id": 1})
        assert reply["error"]["code"] == -32001
        _, reply = json_post(s.port, {"jsonrpc": "2.0", "method": "cb", "params": [{"some_attribute": 1}], "id": 2})
        assert reply["error"]["code"] == -32602 and "dict" in reply["error"]["message"]
        _, reply = json_post(s.port, [{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1},
                                      {"jsonrpc": "2.0", "method": "add", "params": [1, 2]},
                                      {"jsonrpc": "2.0", "method": "helper.data", "id": 3}])
        assert reply[0]["result"] == 3 and reply[1]["error"]["code"] == -32601 and len(reply) == 2
        status, reply = json_post(s.port, {"jsonrpc": "2.0", "method": "add", "params": [1, 2]})
        assert status == 204 and reply is None  # a notification
        _, reply = json_post(s.port, b"[" * 100_000 + b"]" * 100_000)
        assert reply["error"]["code"] in (-32004, -32700)
        _, reply = json_post(s.port, b"{not json")
        assert reply["error"]["code"] == -32700
        code, out, err = run_netkit("rpc", "call", "--protocol", "jsonrpc", f"http://127.0.0.1:{s.port}/", "pow", "2", "8")
        assert (code, out) == (0, "256\n")
        assert s.alive()


# -- netkit rpc call -----------------------------------------------------------------------

def test_call_prints_a_table_and_json(server):
    code, out, _ = run_netkit("rpc", "call", server.url, "stat", "sub")
    assert code == 0 and out.splitlines()[1].split() == ["type", "directory"]
    code, out, _ = run_netkit("rpc", "call", "--json", server.url, "ls", ".")
    assert code == 0 and json.loads(out) == ["app.log", "out", "sub"]
    code, out, _ = run_netkit("rpc", "call", server.url, "add", "str:1", "str:2")
    assert (code, out) == (0, "12\n")
    code, out, _ = run_netkit("rpc", "call", "--list", server.url)
    assert code == 0 and any(line.startswith("ls_boom ") for line in out.splitlines())


def test_call_reports_a_fault_in_one_line(server):
    code, out, err = run_netkit("rpc", "call", server.url, "ls_boom", "../../etc")
    assert code == 1 and out == ""
    assert err.startswith("netkit rpc call: fault -32001: ") and err.count("\n") == 1


def test_call_usage_errors():
    for args in (["call"], ["call", "http://127.0.0.1:1/"], ["frob"], ["serve", "--protocol", "soap"],
                 ["call", "ftp://x/", "ls"], ["serve", "--root", "/nonexistent-dir"],
                 ["serve", "--tls-cert", "/etc/hostname"], ["call", "http://127.0.0.1:1/", "add", "int:x"],
                 ["serve", "--bind", "0.0.0.0", "--token-env", "HOME"], ["serve", "-p", "pyro", "--basic-env", "HOME"],
                 ["serve", "-p", "pb", "--workers", "2"], ["serve", "--workers", "0"]):
        code, out, err = run_netkit("rpc", *args)
        assert code == 2 and err.startswith("netkit rpc") and err.count("\n") == 1, (args, err)
        assert "netkit rpc: netkit rpc" not in err, err


def test_debug_names_the_exception(files, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module, "--debug") as s:
        with pytest.raises(xmlrpc.client.Fault) as caught:
            xmlrpc.client.ServerProxy(s.url).crash()
        assert "KeyError" in caught.value.faultString
        assert wait_for_log(s, "Traceback")  # in the server's log, not on the wire
        assert "Traceback" not in caught.value.faultString
