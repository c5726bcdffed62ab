"""The red team's attacks on issue 15's config defaults (netkit.cli.defaults): a config file
someone else can write is someone else's settings. On a shared machine another user who can
write ~/.config/netkit/config.toml (or the file NETKIT_CONFIG names) sets ``proxy`` and reads
every request (Basic credentials of http:// URLs included), ``cacert`` and intercepts TLS, or
``[ssh] config`` and runs a ProxyCommand as us. OpenSSH refuses such a ~/.ssh/config ("Bad
owner or permissions"); so does netkit for its config file."""

import os
import socket

import pytest

from tests.helpers import run_netkit

NOBODY = 65534


@pytest.fixture
def home(config_home):
    """A temp HOME with an empty config directory (conftest's config_home)."""
    return config_home


def others_can_change(path, how):
    """Make ``path`` what another user of the machine could change: theirs ("other-owner"),
    or ours but writable by everyone ("world-writable") or by our group ("group-writable")."""
    if how == "other-owner":
        os.chown(path, NOBODY, NOBODY)
        path.chmod(0o644)
    else:
        path.chmod(0o666 if how == "world-writable" else 0o620)


@pytest.fixture
def attacker_proxy():
    """A listening socket on loopback: the proxy another user points our config at."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def connections(sock) -> int:
    """How many connections reached ``sock`` (the command has exited: they are queued)."""
    n = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


@pytest.mark.parametrize("how", ["other-owner", "world-writable", "group-writable"])
def test_a_config_file_others_can_write_is_refused(home, attacker_proxy, closed_port, how):
    path = home / ".config" / "netkit" / "config.toml"
    path.write_text(f'[get]\nproxy = "http://127.0.0.1:{attacker_proxy.getsockname()[1]}"\n')
    others_can_change(path, how)
    code, _out, err = run_netkit("get", f"http://127.0.0.1:{closed_port.port}/secret", "-o", home / "out", "--timeout", "2", "--retry", "0",
                                 "--password-env", "PW", "-u", "alice", env={"PW": "hunter2"})
    assert connections(attacker_proxy) == 0
    assert code == 2, err
    assert str(path) in err and len(err.strip().splitlines()) == 1
    assert ("chmod" in err) if how != "other-owner" else ("uid" in err)


def test_a_named_config_file_others_can_write_is_refused(home, tmp_path, attacker_proxy, closed_port):
    path = tmp_path / "shared.toml"
    path.write_text(f'[check]\nproxy = "http://127.0.0.1:{attacker_proxy.getsockname()[1]}"\n')
    path.chmod(0o666)
    code, out, err = run_netkit("check", "-t", "2", f"http://127.0.0.1:{closed_port.port}/", env={"NETKIT_CONFIG": str(path)})
    assert connections(attacker_proxy) == 0
    assert code == 3 and str(path) in out and "chmod" in out, out + err


def test_our_own_config_is_read(home):
    """The refusal is for files others can change: ours, 0644 or 0600, is read."""
    path = home / ".config" / "netkit" / "config.toml"
    path.write_text('[get]\nuser-agent = "mine"\n')
    for mode in (0o644, 0o600):
        path.chmod(mode)
        code, out, err = run_netkit("config", "show", "get")
        assert code == 0 and "get.user-agent=mine" in out, err


@pytest.mark.parametrize("var", ["NETKIT_TIMEOUT", "NETKIT_GET_QUIET", "NETKIT_GET_USER_AGENT"])
def test_a_huge_netkit_variable_is_one_short_line(home, var):
    """A NETKIT_ variable of 100 KB (a script's mistake) was quoted whole in the error: one
    line of 100 KB on the terminal. The error quotes a bounded part of it."""
    value = "9" * 50_000 + "\x1b[2J" + "9" * 50_000 if var != "NETKIT_GET_USER_AGENT" else "a\n" * 50_000
    code, _out, err = run_netkit("get", "http://127.0.0.1:9/", "-o", home / "out", env={var: value})
    assert code == 2 and var in err, err[:300]
    assert len(err.strip().splitlines()) == 1 and len(err) < 1000, len(err)
    assert "\x1b" not in err
