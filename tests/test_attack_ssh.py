"""The red team's attacks on netkit ssh (tests/peers/hostile_attack_ssh.py)."""

import json

from tests.helpers import ssh
from tests.peers.hostile_attack_ssh import BIG_SIGNAL


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
