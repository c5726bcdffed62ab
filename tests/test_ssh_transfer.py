"""``netkit ssh get|put`` (SFTP) against real sshd hosts: trees, globs, only changed files,
kept times, atomic renames, and a transfer cut in the middle that resumes."""

import json
import os

from tests.helpers import ssh
from tests.helpers import ssh_auth as auth
from tests.peers.sshd_hosts import cut_relay


def by_host(out):
    return {o["host"]: o for o in map(json.loads, out.splitlines()) if "host" in o}


def make_tree(root):
    (root / "logs" / "old").mkdir(parents=True)
    files = {
        "logs/syslog": b"line one\nline two\n",
        "logs/auth.log": os.urandom(300_000),
        "logs/old/syslog.1": b"yesterday\n",
        "logs/empty": b"",
    }
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    os.utime(root / "logs/syslog", (1_600_000_000, 1_600_000_000))
    return files


def test_get_tree_then_only_changes(ssh_fleet, tmp_path):
    remote = tmp_path / "remote"
    files = make_tree(remote)
    local = tmp_path / "local"
    hosts = ssh_fleet.host_args()[:3]
    code, out, err = ssh("get", *auth(ssh_fleet), "--json", *hosts, remote / "logs", local)
    assert code == 0, err
    results = by_host(out)
    for host in hosts:
        assert results[host]["files"] == len(files) and results[host]["error"] is None
        for rel, data in files.items():
            got = local / host / rel
            assert got.read_bytes() == data
            assert int(got.stat().st_mtime) == int((remote / rel).stat().st_mtime)
        assert not list((local / host).rglob("*.part"))
    assert int((local / hosts[0] / "logs/syslog").stat().st_mtime) == 1_600_000_000
    # Again: nothing changed, nothing moves. Then one file changes on the "hosts".
    code, out, _ = ssh("get", *auth(ssh_fleet), "--json", *hosts, remote / "logs", local)
    assert code == 0 and all(r["files"] == 0 and r["unchanged"] == len(files) for r in by_host(out).values())
    (remote / "logs/syslog").write_bytes(b"line one\nline two\nline three\n")
    code, out, _ = ssh("get", *auth(ssh_fleet), "--json", *hosts, remote / "logs", local)
    assert code == 0
    for host, r in by_host(out).items():
        assert (r["files"], r["unchanged"]) == (1, len(files) - 1)
        assert (local / host / "logs/syslog").read_bytes().endswith(b"line three\n")


def test_get_glob_and_missing_path(ssh_fleet, tmp_path, closed_port):
    remote = tmp_path / "remote"
    make_tree(remote)
    local = tmp_path / "local"
    good = ssh_fleet.host_args()[0]
    down = f"127.0.0.1:{closed_port.port}"
    code, _, err = ssh("get", *auth(ssh_fleet), good, down, f"{remote}/logs/sys*", local)
    assert code == 1
    assert sorted(p.name for p in (local / good).iterdir()) == ["syslog"]
    assert f"connection refused by {down}" in err and "1 of 2 hosts failed" in err
    code, _, err = ssh("get", *auth(ssh_fleet), good, f"{remote}/no/such/file", local)
    assert code == 1 and "no such file" in err


def test_put_tree_atomic_and_unchanged(ssh_fleet, tmp_path):
    local = tmp_path / "local"
    files = make_tree(local)
    remote = tmp_path / "remote"
    hosts = ssh_fleet.host_args()[:2]
    for host in hosts:  # each "host" gets a directory of its own (they share this machine)
        code, out, err = ssh("put", *auth(ssh_fleet), "--json", host, local / "logs", remote / host.split("@")[1])
        assert code == 0, err
        assert by_host(out)[host]["files"] == len(files)
        for rel, data in files.items():
            put = remote / host.split("@")[1] / rel
            assert put.read_bytes() == data
            assert int(put.stat().st_mtime) == int((local / rel).stat().st_mtime)
    code, out, _ = ssh("put", *auth(ssh_fleet), "--json", hosts[0], local / "logs", remote / hosts[0].split("@")[1])
    assert code == 0 and by_host(out)[hosts[0]]["unchanged"] == len(files)
    assert not list(remote.rglob("*.part"))


def test_cut_connection_resumes(ssh_fleet, tmp_path):
    """The relay cuts the connection after 12 MiB: that host fails with a clear error and
    leaves a .part (a prefix of the file), its destination untouched, while the other host
    completes; the next run resumes from the .part. The host is an ssh config alias, so its
    name (and directory) stays while the address behind it changes."""
    remote = tmp_path / "remote"
    remote.mkdir()
    data = os.urandom(24 * 1024 * 1024)
    (remote / "big.bin").write_bytes(data)
    local = tmp_path / "local"
    address, port = ssh_fleet.endpoints[0]
    other = ssh_fleet.host_args()[1]
    config = tmp_path / "config"
    with cut_relay(address, port, after=12 * 1024 * 1024) as relay:
        known = tmp_path / "known_hosts"
        known.write_text(ssh_fleet.known_hosts.read_text() + "".join(
            f"[127.0.0.1]:{relay.port} {' '.join(k.split()[:2])}\n" for k in ssh_fleet.instances[0].host_keys.values()))
        config.write_text(f"Host cut-host\n  HostName 127.0.0.1\n  Port {relay.port}\n  User {ssh_fleet.user}\n")
        args = ["-i", ssh_fleet.client_key, "--known-hosts", known, "-F", config, "--no-agent", "--json"]
        code, out, err = ssh("get", *args, "cut-host", other, remote / "big.bin", local)
        assert code == 1 and relay.cuts
    results = by_host(out)
    assert "during the transfer" in results["cut-host"]["error"]
    assert results[other]["error"] is None and (local / other / "big.bin").read_bytes() == data
    part = local / "cut-host" / "big.bin.part"
    assert not (local / "cut-host" / "big.bin").exists()
    kept = part.read_bytes()
    assert 0 < len(kept) < len(data) and data.startswith(kept)
    config.write_text(f"Host cut-host\n  HostName {address}\n  Port {port}\n  User {ssh_fleet.user}\n")
    code, out, err = ssh("get", *args, "cut-host", remote / "big.bin", local)
    assert code == 0, err
    r = by_host(out)["cut-host"]
    assert r["resumed"] == 1 and r["bytes"] == len(data) - len(kept)
    assert (local / "cut-host" / "big.bin").read_bytes() == data and not part.exists()


def test_resume_from_part(ssh_fleet, tmp_path):
    remote = tmp_path / "remote"
    remote.mkdir()
    data = os.urandom(5 * 1024 * 1024 + 123)
    source = remote / "big.bin"
    source.write_bytes(data)
    host = ssh_fleet.host_args()[0]
    local = tmp_path / "local" / host
    local.mkdir(parents=True)
    part = local / "big.bin.part"
    part.write_bytes(data[:2_000_000])
    mtime = int(source.stat().st_mtime)
    os.utime(part, (mtime, mtime))
    code, out, err = ssh("get", *auth(ssh_fleet), "--json", host, source, tmp_path / "local")
    assert code == 0, err
    r = by_host(out)[host]
    assert r["resumed"] == 1 and r["bytes"] == len(data) - 2_000_000
    assert (local / "big.bin").read_bytes() == data and not part.exists()
    # A .part of another version of the file (other mtime) is not trusted: copied whole.
    (local / "big.bin").unlink()
    part.write_bytes(b"x" * 1000)
    os.utime(part, (mtime - 100, mtime - 100))
    code, out, _ = ssh("get", *auth(ssh_fleet), "--json", host, source, tmp_path / "local")
    assert code == 0 and by_host(out)[host]["resumed"] == 0
    assert (local / "big.bin").read_bytes() == data


def test_put_resumes_from_remote_part(ssh_fleet, tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    data = os.urandom(3 * 1024 * 1024 + 7)
    source = local / "image.bin"
    source.write_bytes(data)
    host = ssh_fleet.host_args()[0]
    remote = tmp_path / "remote"
    remote.mkdir()
    part = remote / "image.bin.part"
    part.write_bytes(data[:1_000_000])
    mtime = int(source.stat().st_mtime)
    os.utime(part, (mtime, mtime))
    code, out, err = ssh("put", *auth(ssh_fleet), "--json", host, source, remote)
    assert code == 0, err
    r = by_host(out)[host]
    assert (r["files"], r["resumed"], r["bytes"]) == (1, 1, len(data) - 1_000_000)
    assert (remote / "image.bin").read_bytes() == data and not part.exists()
    assert int((remote / "image.bin").stat().st_mtime) == mtime
