"""The red team's attacks on netkit ssh (tests/peers/hostile_attack_ssh.py)."""

import json
import os

import pytest

from tests.helpers import run_netkit, ssh
from tests.peers.hostile_attack_ssh import BIG_SIGNAL, BINARY


def hostile(server, *args):
    return ["--known-hosts", server.known_hosts, "-F", "none", "--no-agent", *args]


def test_a_huge_signal_name_is_cut(attack_ssh):
    """A host that says its command died of a 100 KB signal name made every row of the
    summary table 100 KB wide (and the error line as long); names are cut to a few dozen
    characters, escaped, and the banner full of sequences is never shown raw."""
    code, out, err = ssh("run", *hostile(attack_ssh), attack_ssh.label, "--", "bigsignal")
    assert code == 1
    assert "the command was killed by signal AAAA" in err
    assert max(len(line) for line in (out + err).splitlines()) < 300
    assert "\x1b" not in out + err and "\a" not in out + err
    code, out, _ = ssh("run", *hostile(attack_ssh, "--json"), attack_ssh.label, "--", "bigsignal")
    result = json.loads(out.splitlines()[0])
    assert BIG_SIGNAL[:20] in result["exit_signal"] and len(result["exit_signal"]) < 100


@pytest.mark.parametrize("option", ["-i", "-F", "--known-hosts"])
@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_key_and_config_files_must_be_regular(tmp_path, option, kind):
    """-i /dev/zero read the device until the memory was gone, -F /dev/zero too (known_hosts:
    256 MiB of it), and a FIFO nobody writes blocked the run: one line naming the file, exit
    2, before any host."""
    path = {"device": "/dev/zero", "directory": str(tmp_path)}.get(kind)
    if kind == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    code, out, err = ssh("run", option, path, "127.0.0.1:1", "--", "true", timeout=30)
    assert code == 2, out + err
    assert path in err and ("not a regular file" in err or "Is a directory" in err)
    assert len(err.strip().splitlines()) == 1


def test_get_identity_that_is_a_device_is_not_missing(tmp_path):
    code, _, err = run_netkit("get", "-i", "/dev/zero", "sftp://127.0.0.1:1/x", "-o", tmp_path / "x")
    assert code == 2 and "not a regular file" in err


def test_output_that_is_not_utf8_stays_text_and_json(attack_ssh, tmp_path):
    code, out, err = ssh("run", *hostile(attack_ssh), attack_ssh.label, "--", "binary")
    assert code == 0 and "\\xff\\xfe ok \\xc0\\x80" in out
    code, out, _ = ssh("run", *hostile(attack_ssh, "--json", "-o", tmp_path / "o"), attack_ssh.label, "--",
                       "binary")
    assert code == 0 and " ok " in json.loads(out.splitlines()[0])["stdout"]
    assert (tmp_path / "o" / f"{attack_ssh.label}.stdout").read_bytes() == BINARY  # the bytes, as sent
