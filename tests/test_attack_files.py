"""The red team's attacks on get/mirror/put/scan (tests/peers/hostile_attack_ftp.py): names
made to attack a terminal or a log, lying facts, secrets in reports. Defects in files the
`files` helper owns are marked xfail(strict) and routed to it."""

import json
import re

import pytest

from tests.helpers import run_netkit
from tests.peers.hostile_attack_ftp import NAMES

# What must never reach a terminal raw: C0 (but newline), DEL, C1, bidi overrides.
RAW_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_mirror_shows_hostile_names_escaped(attack_ftp, tmp_path):
    code, out, err = run_netkit("mirror", attack_ftp.url(), tmp_path / "m")
    assert "plain.txt" in out
    assert not RAW_CONTROLS.search(out + err)
    assert (tmp_path / "m" / "plain.txt").read_bytes() == b"content of plain.txt"
    assert (tmp_path / "m" / NAMES[0]).exists()  # a local name may hold what the server's did


@pytest.mark.parametrize("upload", [False, True])
def test_mirror_json_does_not_print_the_password(attack_ftp, tmp_path, upload):
    local = tmp_path / "m"
    local.mkdir()
    (local / "plain.txt").write_bytes(b"content of plain.txt")
    args = (local, attack_ftp.url("/up/")) if upload else (attack_ftp.url(), local)
    code, out, err = run_netkit("mirror", "--json", "--dry-run", *args)
    report = json.loads(out.splitlines()[-1])
    assert "secret" not in out + err
    assert report["dest" if upload else "source"].startswith("ftp://tester")


def _hostile_tree(root):
    """Files whose names attack a terminal, plus one whose name holds a newline that forges
    a second output line, on the local disk a real sshd serves."""
    root.mkdir(parents=True)
    for name in (*NAMES, "plain.txt"):
        if "/" not in name:
            (root / name).write_bytes(b"x")
    return root


def test_sftp_mirror_and_ssh_get_show_hostile_names_escaped(sshd, ssh_fleet, tmp_path):
    from tests.helpers import ssh_auth

    remote = _hostile_tree(tmp_path / "remote")
    outputs = []
    code, out, err = run_netkit("mirror", f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{remote}", tmp_path / "m",
                                "--identity", sshd.client_key, "--known-hosts", sshd.known_hosts, timeout=60)
    outputs.append((code, out, err))
    host = ssh_fleet.host_args()[0]
    code, out, err = run_netkit("ssh", "get", *ssh_auth(ssh_fleet), host, remote, tmp_path / "s", timeout=60)
    outputs.append((code, out, err))
    code, out, err = run_netkit("ssh", "get", *ssh_auth(ssh_fleet), host, f"{remote}/*.txt", tmp_path / "g",
                                timeout=60)
    outputs.append((code, out, err))
    for code, out, err in outputs:
        assert code == 0, err
        assert not RAW_CONTROLS.search(out + err), out + err
        assert not any(line.startswith("Host: forged") for line in (out + err).splitlines())
