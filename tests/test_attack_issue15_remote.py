"""The red team's attacks on issue 15's remote Fleet/Session (netkit.remote) and netkit ssh.

An ssh config someone else can write runs commands as us: asyncssh honours ProxyCommand
and, unlike OpenSSH, never checks who owns the file. On a shared machine another user who
can write ~/.ssh/config, the file -F names, or the one ``[ssh] config`` in netkit's config
names, runs their command as us (root, often) at our next connection."""

import asyncio
import os

import pytest

from netkit.core.errors import UsageError
from tests.helpers import run_netkit

NOBODY = 65534


def hostile_config(tmp_path, how):
    """An ssh config whose ProxyCommand leaves a file behind when it runs."""
    mark = tmp_path / "pwned"
    path = tmp_path / "ssh_config"
    path.write_text(f"Host *\n  ProxyCommand touch {mark}\n")
    if how == "other-owner":
        os.chown(path, NOBODY, NOBODY)
        path.chmod(0o644)
    else:
        path.chmod(0o666 if how == "world-writable" else 0o620)
    return path, mark


@pytest.mark.parametrize("how", ["other-owner", "world-writable", "group-writable"])
def test_netkit_ssh_refuses_an_ssh_config_others_can_write(tmp_path, how):
    path, mark = hostile_config(tmp_path, how)
    code, _out, err = run_netkit("ssh", "run", "-F", path, "--known-hosts", tmp_path / "kh", "--no-agent",
                                 "--connect-timeout", "3", "evilhost", "--", "true")
    assert not mark.exists(), "the other user's ProxyCommand ran as us"
    assert code == 2 and str(path) in err and "permissions" in err, err


def test_fleet_refuses_a_default_ssh_config_others_can_write(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    path, mark = hostile_config(tmp_path, "world-writable")
    path.rename(home / ".ssh" / "config")
    (tmp_path / "kh").write_text("")
    from netkit.remote import Fleet, HostKeyPolicy

    async def attempt():
        async with Fleet(["evilhost"], host_keys=HostKeyPolicy([str(tmp_path / "kh")]), timeout=3) as fleet:
            return await fleet.run("true")

    with pytest.raises(UsageError, match="permissions"):
        asyncio.run(attempt())
    assert not mark.exists(), "the other user's ProxyCommand ran as us"


def test_our_own_ssh_config_is_still_read(tmp_path):
    """The refusal is for files others can change: ours (0644) is read, its ProxyCommand runs."""
    path, mark = hostile_config(tmp_path, "world-writable")
    path.chmod(0o644)
    run_netkit("ssh", "run", "-F", path, "--known-hosts", tmp_path / "kh", "--no-agent", "--connect-timeout", "3",
               "evilhost", "--", "true")
    assert mark.exists()
