"""``netkit ssh run`` with one host far away: sshd in a network namespace behind a delay
relay (tests/peers/netns.py), beside loopback hosts. Lines are streamed as they arrive, so
the near hosts' output comes first, and the far host still completes."""

from tests.peers import netns
from tests.peers.sshd import running_sshd
from tests.test_ssh_run import ssh, summary_rows

# One-way delay of the far host, ms: a login takes several round trips, so about 2 s.
DELAY_MS = 150


def test_far_host_behind_delay(ssh_fleet, tmp_path):
    with netns.testnet(hosts=1, loss=0, delay=DELAY_MS) as net:
        far = net.hosts[0]
        with running_sshd(tmp_path / "far", addresses=[far.address], netns=far.namespace) as sshd:
            with open(sshd.directory / "authorized_keys", "a") as f:
                f.write(ssh_fleet.instances[0].client_pubkey + "\n")
            far_host = f"{sshd.user}@{far.address}:{sshd.port}"
            near = ssh_fleet.host_args()[:2]
            code, out, err = ssh("run", "-i", ssh_fleet.client_key, "--known-hosts", ssh_fleet.known_hosts,
                                 "--known-hosts", sshd.known_hosts, "-F", "none", "--no-agent", far_host, *near,
                                 "--", "echo reached")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.endswith(": reached")]
    assert lines[-1] == f"{far_host}: reached"  # listed first, finished last
    assert set(lines[:-1]) == {f"{h}: reached" for h in near}
    assert all(status == "0" for status, _ in summary_rows(out).values())
