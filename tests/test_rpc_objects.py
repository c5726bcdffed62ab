"""``netkit rpc serve --protocol pyro`` and ``--protocol pb``, driven by the texts' clients
(Pyro5.api.Proxy; twisted.spread.pb's callback chains): the same ls/ls_boom/cb, the class
of example 5.8 kept, and the attacks aimed at object RPC refused (pickle and marshal
payloads, unknown classes, deep nesting, outsiders)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import clean_env, run_netkit
from tests.peers.rpc_server import make_root, rpc_server, wait_for_log, write_module

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    top = tmp_path_factory.mktemp("rpcobj")
    return make_root(top), write_module(top), top


@pytest.fixture(scope="module")
def pyro(files, tmp_path_factory):
    root, module, _ = files
    with rpc_server(tmp_path_factory.mktemp("log"), "--protocol", "pyro", "--object", "psaexample", "--root", root,
                    "--module", module, "--call-timeout", "1", "--max-request", "64k") as s:
        yield s


@pytest.fixture(scope="module")
def pbserver(files, tmp_path_factory):
    root, module, _ = files
    with rpc_server(tmp_path_factory.mktemp("log"), "--protocol", "pb", "--root", root, "--module", module,
                    "--call-timeout", "1") as s:
        yield s


def proxy(server):
    import Pyro5.api

    p = Pyro5.api.Proxy(f"PYRO:psaexample@localhost:{server.port}")
    p._pyroTimeout = 10
    return p


def still_serves_pyro(server):
    with proxy(server) as p:
        assert p.add(3, 4) == 7
    assert server.alive()


# -- Pyro: the texts' behaviour ------------------------------------------------------------

def test_pyro_ls_and_ls_boom(pyro):
    with proxy(pyro) as psa:
        assert psa.ls(".") == ["app.log", "out", "sub"]
        assert psa.ls_boom("sub") == ["f.txt", "passwd"]
        assert psa.ls("/foo") == []
        with pytest.raises(OSError) as caught:
            psa.ls_boom("/foo")
        assert "No such file or directory" in str(caught.value)
        with pytest.raises(PermissionError):
            psa.ls_boom("../../etc")
        with pytest.raises(PermissionError):
            psa.tail("out/passwd")


def test_pyro_keeps_the_class(pyro, files):
    """Example 5.8: over Pyro, cb(obj) runs the object's own cb(); XML-RPC gave a dict."""
    sys.path.insert(0, str(files[2]))
    try:
        from psacb import PSACB

        with proxy(pyro) as psa:
            assert psa.cb(PSACB()) == "PSA callback"
    finally:
        sys.path.remove(str(files[2]))


def test_pyro_refuses_a_class_it_does_not_know(pyro):
    class Other:
        def __init__(self):
            self.x = 1

    from Pyro5.errors import SecurityError, SerializeError

    with proxy(pyro) as psa, pytest.raises((SecurityError, SerializeError, TypeError)):
        psa.cb(Other())
    still_serves_pyro(pyro)


def test_pyro_fault_has_no_server_traceback(pyro):
    with proxy(pyro) as psa:
        with pytest.raises(RuntimeError) as caught:
            psa.crash()
        assert "do-not-leak" not in str(caught.value)
        assert not getattr(caught.value, "_pyroTraceback", None)
        with pytest.raises(TimeoutError):
            psa.sleep(3)
        with pytest.raises(AttributeError):
            psa.not_exposed()
        assert "listMethods" not in psa.listMethods() and "ls" in psa.listMethods()


def test_pyro_deep_nesting_and_huge_requests_are_refused(pyro):
    from Pyro5.errors import CommunicationError

    deep = []
    for _ in range(60):
        deep = [deep]
    with proxy(pyro) as psa:
        with pytest.raises(ValueError) as caught:
            psa.ls_boom(deep)
        assert "TooBig" in str(caught.value)
    with proxy(pyro) as psa:
        with pytest.raises(CommunicationError):  # over --max-request 64k: disconnected
            psa.ls_boom("A" * (200 << 10))
    still_serves_pyro(pyro)


PICKLE_BOMB = b"cos\nsystem\n(S'touch /tmp/netkit-rpc-pwned'\ntR."


def test_pickle_payload_to_the_pyro_port_is_refused(pyro):
    """Raw pickle bytes (os.system), and a proper Pyro message claiming the marshal
    serializer: both disconnected, nothing run, the next client served."""
    if os.path.exists("/tmp/netkit-rpc-pwned"):
        os.unlink("/tmp/netkit-rpc-pwned")
    with socket.create_connection(("127.0.0.1", pyro.port), timeout=5) as sock:
        sock.sendall(PICKLE_BOMB * 10)
        assert sock.recv(100) == b""  # closed
    from Pyro5 import protocol, serializers

    marshal = serializers.serializers["marshal"]
    data = marshal.dumps({"handshake": "hello", "object": "psaexample"})
    message = protocol.SendingMessage(protocol.MSG_CONNECT, 0, 0, marshal.serializer_id, data)
    with socket.create_connection(("127.0.0.1", pyro.port), timeout=5) as sock:
        sock.sendall(message.data)
        assert sock.recv(100) == b""  # refused before its bytes were decoded
    assert not os.path.exists("/tmp/netkit-rpc-pwned")
    assert wait_for_log(pyro, "a serializer other than serpent")
    still_serves_pyro(pyro)


def test_configuring_pickle_is_refused(files):
    root, _, _ = files
    code, out, err = run_netkit("rpc", "serve", "--protocol", "pyro", "--port", "0", "--root", root,
                                env={"PYRO_SERIALIZER": "pickle"})
    assert code == 2 and "serpent only" in err and err.count("\n") == 1


def test_pyro_token_and_allow(files, tmp_path):
    import Pyro5.api
    from Pyro5.errors import CommunicationError

    root, module, _ = files
    with rpc_server(tmp_path, "--protocol", "pyro", "--root", root, "--module", module, "--token-env", "RPC_TOKEN",
                    env={"RPC_TOKEN": "s3cret"}) as s:
        with Pyro5.api.Proxy(s.url) as p, pytest.raises(CommunicationError):
            p.add(1, 2)
        with Pyro5.api.Proxy(s.url) as p:
            p._pyroHandshake = "s3cret"
            assert p.add(1, 2) == 3
        code, out, _ = run_netkit("rpc", "call", "--token-env", "RPC_TOKEN", s.url, "add", "2", "3",
                                  env={"RPC_TOKEN": "s3cret"})
        assert (code, out) == (0, "5\n")
    with rpc_server(tmp_path, "--protocol", "pyro", "--root", root, "--bind", "0.0.0.0", "--allow", "10.0.0.0/8") as s:
        with Pyro5.api.Proxy(f"PYRO:netkit@127.0.0.1:{s.port}") as p:
            with pytest.raises(CommunicationError):
                p.ls(".")
        assert wait_for_log(s, "127.0.0.1 refused: not in --allow") and s.alive()


def test_netkit_rpc_call_over_pyro(pyro):
    url = f"PYRO:psaexample@127.0.0.1:{pyro.port}"
    code, out, _ = run_netkit("rpc", "call", "--json", url, "ls", ".")
    assert code == 0 and json.loads(out) == ["app.log", "out", "sub"]
    code, _, err = run_netkit("rpc", "call", url, "ls_boom", "../../etc")
    assert code == 1 and "fault -32001" in err


# -- PB ------------------------------------------------------------------------------------

def pb_client(server, files, *args, token=None):
    env = clean_env({"PYTHONPATH": os.pathsep.join([str(files[2]), str(REPO)])})
    extra = ["--token", token] if token else []
    proc = subprocess.run([sys.executable, "-m", "tests.peers.rpc_pb_client", *extra, "127.0.0.1", str(server.port),
                           *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    return proc.stdout.strip()


def test_pb_ls_and_ls_boom(pbserver, files):
    assert pb_client(pbserver, files, "ls", '"."') == 'RESULT ["app.log", "out", "sub"]'
    assert pb_client(pbserver, files, "ls", '"/foo"') == "RESULT []"
    out = pb_client(pbserver, files, "ls_boom", '"/foo"')
    assert out.startswith("ERROR CallFailed: '/foo': No such file or directory")  # not "Traceback unavailable"
    assert pb_client(pbserver, files, "ls_boom", '"../../etc"').startswith("ERROR OutsideRoot: ")
    out = pb_client(pbserver, files, "crash")
    assert out.startswith("ERROR InternalFault: ") and "do-not-leak" not in out
    assert "Peer will receive" not in pbserver.log()


def test_pb_keeps_registered_classes_and_refuses_others(pbserver, files):
    assert pb_client(pbserver, files, "cb", "--psacb") == 'RESULT "PSA callback"'
    out = pb_client(pbserver, files, "cb", "--unlisted")
    assert out.startswith("ERROR") and ("not allowed" in out.lower() or "insecure" in out.lower()), out
    assert pb_client(pbserver, files, "add", "1", "2") == "RESULT 3"


def test_pb_deep_nesting_and_dotted_names(pbserver, files):
    deep = "[" * 300 + "]" * 300  # jelly recursion on the sending side stops near 400
    assert pb_client(pbserver, files, "ls", deep).startswith("ERROR TooBig")
    assert pb_client(pbserver, files, "not_exposed").startswith("ERROR")
    assert pb_client(pbserver, files, "ls.__globals__").startswith("ERROR")
    assert pb_client(pbserver, files, "add", "1", "2") == "RESULT 3"
    assert pbserver.alive()


def test_pb_token_and_netkit_call(files, tmp_path, pbserver):
    root, module, _ = files
    with rpc_server(tmp_path, "--protocol", "pb", "--root", root, "--module", module, "--token-env", "T",
                    env={"T": "pbtoken"}) as s:
        assert pb_client(s, files, "add", "1", "2").startswith("ERROR")  # no login
        assert pb_client(s, files, "add", "1", "2", token="wrong").startswith("ERROR Unauthorized")
        assert pb_client(s, files, "add", "1", "2", token="pbtoken") == "RESULT 3"
    code, out, _ = run_netkit("rpc", "call", "--json", f"pb://127.0.0.1:{pbserver.port}", "tail", "app.log", "2")
    assert code == 0 and json.loads(out) == ["line 49", "line 50"]


def test_pb_refuses_a_client_outside_allow(files, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--protocol", "pb", "--root", root, "--module", module, "--bind", "0.0.0.0",
                    "--allow", "10.0.0.0/8") as s:
        assert pb_client(s, files, "add", "1", "2").startswith("ERROR")
        assert wait_for_log(s, "127.0.0.1 refused: not in --allow") and s.alive()


def test_a_client_that_never_reads_is_not_buffered_forever(pyro):
    """Thousands of Pyro pings whose replies are never read: the server stops reading
    that client (flow control) instead of queueing replies without bound."""
    from Pyro5 import protocol

    ping = protocol.SendingMessage(protocol.MSG_PING, 0, 0, 1, b"ping").data
    with socket.create_connection(("127.0.0.1", pyro.port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sent = 0
        sock.settimeout(2)
        try:
            while sent < (64 << 20):
                sent += sock.send(ping * 1000)
        except (TimeoutError, socket.timeout):
            pass
        assert sent < (64 << 20)  # the server stopped taking requests
        still_serves_pyro(pyro)
