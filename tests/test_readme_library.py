"""README.md's "The library" section runs as written: every ```python block, against the
real peers of tests/peers (the names the section says stand for your servers are bound
here), and prints what its comments say."""

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

from tests.peers.rpc_server import make_root, rpc_server

README = Path(__file__).resolve().parents[1] / "README.md"


def library_blocks():
    """The ```python blocks of the section, in order."""
    text = README.read_text()
    start = text.index("\n## The library\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.DOTALL)


BLOCKS = library_blocks()


def test_every_feature_has_its_lines():
    text = "\n".join(BLOCKS)
    for package in ("check", "scan", "transfer", "remote", "mail", "rpc", "serve", "info", "packets", "monitor",
                    "testing"):
        assert f"from netkit.{package} import" in text, package


@pytest.fixture(scope="module")
def rpc_url(tmp_path_factory):
    top = tmp_path_factory.mktemp("readme-rpc")
    with rpc_server(tmp_path_factory.mktemp("log"), "--root", make_root(top)) as server:
        yield server.url


@pytest.fixture
def names(nginx, ftp_server, smtp_server, sshd, dnsmasq, rpc_url, tmp_path, monkeypatch):
    """The servers the section names, and a netrc with the FTP login (as a user's would be)."""
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {ftp_server.host} login {ftp_server.user} password {ftp_server.password}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return {
        "web": f"{nginx.host}:{nginx.http_port}",
        "ftp": f"{ftp_server.host}:{ftp_server.port}",
        "mail": f"{smtp_server.host}:{smtp_server.port}",
        "dns": f"{dnsmasq.host}:{dnsmasq.port}",
        "ssh": f"{sshd.user}@{sshd.host}:{sshd.port}",
        "key": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "rpc": rpc_url,
    }


def run_block(code: str, names: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), dict(names))  # noqa: S102 -- the README's own code
    return out.getvalue()


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[re.findall(r"from netkit\.(\w+)", b)[-1]
                                                             for b in BLOCKS])
def test_block_runs_and_prints_what_it_says(index, names, nginx, ftp_server, smtp_server):
    code = BLOCKS[index]
    printed = run_block(code, names)
    # A trailing "# X" on a print line says what it prints ("..." for what varies): it does.
    for line in code.splitlines():
        said = re.match(r"\s*print\(.*\)\s+# (.+)$", line)
        if said:
            shape = ".*?".join(re.escape(part) for part in said.group(1).strip().split("..."))
            assert re.search(shape, printed), (line, printed)
    assert printed.strip(), "every block shows something"
    if "download(" in code:
        assert Path("index.html").read_bytes() == (nginx.root / "index.html").read_bytes()
        assert (ftp_server.home / "index.html").read_bytes() == (nginx.root / "index.html").read_bytes()
    if "send(Request" in code:
        assert any("backup done" in m.data.decode() for m in smtp_server.messages("ops@example.test"))
    assert os.getcwd().endswith("work")
