"""``netkit rpc serve`` with TLS, client certificates, tokens and basic auth; several
worker processes; and another language's XML-RPC client (Ruby, Debian's ruby-xmlrpc)."""

import ssl
import subprocess
import xmlrpc.client
from pathlib import Path

import pytest

from tests.helpers import run_netkit
from tests.peers._base import need_binary
from tests.peers.certs import make_pki
from tests.peers.rpc_server import make_root, rpc_server, write_module

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    top = tmp_path_factory.mktemp("rpcsec")
    return make_root(top), write_module(top), top


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_proxy(url, pki, user=None, cert=None):
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    if user:
        url = url.replace("https://", f"https://{user}@")
    return xmlrpc.client.ServerProxy(url, context=ctx)


def test_https_with_a_token(files, pki, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module, "--tls-cert", pki.good.cert, "--tls-key",
                    pki.good.key, "--token-env", "RPC_TOKEN", env={"RPC_TOKEN": "t0ken"}) as s:
        url = f"https://localhost:{s.port}/"
        assert s.url.startswith("https://")
        with pytest.raises(xmlrpc.client.ProtocolError) as caught:
            tls_proxy(url, pki).add(1, 2)
        assert caught.value.errcode == 401
        assert tls_proxy(url, pki, user="anyone:t0ken").add(1, 2) == 3  # the token as a basic password
        code, out, _ = run_netkit("rpc", "call", "--cacert", pki.ca_file, "--token-env", "T", url, "ls", ".",
                                  env={"T": "t0ken"})
        assert (code, out) == (0, "app.log\nout\nsub\n")
        code, _, err = run_netkit("rpc", "call", "--cacert", pki.ca_file, url, "ls", ".")
        assert code == 1 and "HTTP 401" in err
        code, _, err = run_netkit("rpc", "call", "--token-env", "T", url, "ls", ".", env={"T": "t0ken"})
        assert code == 1 and "certificate" in err.lower()  # not the system's CAs' certificate


def test_basic_auth_and_a_client_certificate(files, pki, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module, "--tls-cert", pki.good.cert, "--tls-key",
                    pki.good.key, "--client-ca", pki.ca_file, "--basic-env", "B", env={"B": "admin:pw"}) as s:
        url = f"https://localhost:{s.port}/"
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            tls_proxy(url, pki, user="admin:pw").add(1, 2)  # no client certificate: no handshake
        assert tls_proxy(url, pki, user="admin:pw", cert=pki.alt).add(1, 2) == 3
        with pytest.raises(xmlrpc.client.ProtocolError):
            tls_proxy(url, pki, user="admin:wrong", cert=pki.alt).add(1, 2)
        assert s.alive()


def test_secrets_stay_off_the_wire_in_clear(files):
    root, _, _ = files
    code, _, err = run_netkit("rpc", "serve", "--root", root, "--bind", "0.0.0.0", "--token-env", "T", env={"T": "x"})
    assert code == 2 and "clear text" in err


def test_pyro_over_tls(files, pki, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--protocol", "pyro", "--root", root, "--module", module, "--tls-cert", pki.good.cert,
                    "--tls-key", pki.good.key) as s:
        code, out, _ = run_netkit("rpc", "call", "--cacert", pki.ca_file, f"PYRO:netkit@localhost:{s.port}", "add",
                                  "1", "2")
        assert (code, out) == (0, "3\n")
        code, _, err = run_netkit("rpc", "call", "--timeout", "5", f"PYRO:netkit@localhost:{s.port}", "add", "1", "2")
        assert code == 1  # plain Pyro to a TLS port: no answer it can read


def test_workers_share_the_port(files, tmp_path):
    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module, "--workers", "2") as s:
        proxies = [xmlrpc.client.ServerProxy(s.url) for _ in range(8)]
        assert [p.add(i, 1) for i, p in enumerate(proxies)] == list(range(1, 9))
        children = Path(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read_text().split()
        assert len(children) == 2
    assert s.proc.returncode == 0
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()


def test_a_ruby_client(files, tmp_path):
    """Cross-language: Ruby's XML-RPC client gets lists, structs with 64-bit numbers,
    typed faults, introspection and multicall."""
    ruby = need_binary("ruby", "ruby")
    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module) as s:
        out = subprocess.run([ruby, str(HERE / "peers" / "rpc_ruby_client.rb"), s.url], capture_output=True,
                             text=True, timeout=60, check=True).stdout.splitlines()
    assert out[0] == 'ls ["app.log","out","sub"]'
    assert out[1] == "add 7"
    assert out[2] == "df.total true"
    assert out[3].startswith("ls_boom false -32001 '../../etc'")
    assert out[4] == "methods true"
    assert out[5] == "multicall 3 -32601"


def test_check_runs_the_operators_checks_only(files, tmp_path):
    """check(name) runs a check of the --checks file (here: a TCP check of a port that
    listens and one that does not); a client cannot name a URL of its own."""
    import socket

    root, module, _ = files
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))
        checks = tmp_path / "checks.toml"
        checks.write_text(f'[defaults]\ntimeout = 3\n\n[[check]]\nname = "up"\n'
                          f'url = "tcp://127.0.0.1:{listening.getsockname()[1]}"\n\n'
                          f'[[check]]\nname = "down"\nurl = "tcp://127.0.0.1:{closed.getsockname()[1]}"\n')
        with rpc_server(tmp_path, "--root", root, "--checks", checks) as s:
            x = xmlrpc.client.ServerProxy(s.url)
            up, down = x.check("up"), x.check("down")
            assert (up["name"], up["status"], up["code"]) == ("up", "OK", 0)
            assert (down["status"], down["code"]) == ("CRITICAL", 2)
            with pytest.raises(xmlrpc.client.Fault) as caught:
                x.check("tcp://10.0.0.1:22")
            assert caught.value.faultCode == -32602 and "down, up" in caught.value.faultString
            code, out, _ = run_netkit("rpc", "call", s.url, "check", "up")
            assert code == 0 and any(line.split()[:2] == ["status", "OK"] for line in out.splitlines())


def test_a_token_header_that_is_not_utf8_is_refused_as_wrong(files, tmp_path):
    """An Authorization header of bytes that are no UTF-8 is a 401 like any wrong token,
    not a server error."""
    import socket

    root, module, _ = files
    with rpc_server(tmp_path, "--root", root, "--module", module, "--token-env", "RPC_TOKEN",
                    env={"RPC_TOKEN": "t0ken"}) as s:
        body = b"<?xml version='1.0'?><methodCall><methodName>add</methodName><params/></methodCall>"
        for value in (b"Bearer \xff\xfe\x80", b"Basic \xff\xfe\x80"):
            request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nAuthorization: " + value
                       + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
                sock.sendall(request)
                reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 401"), reply[:80]
        assert s.alive()
