"""netkit.remote as a library against real sshd "hosts" (tests.peers.sshd_hosts): a Fleet owns
its connections (and the jump host's), concurrent calls share them and never close each
other's; a signalled command has returncode -signal; check_returncode raises CommandError."""

import asyncio
import re

import pytest

from netkit.core.errors import CommandError, CommandTimeout, UnknownHostKey, UsageError
from netkit.core.timeout import Timeout
from netkit.remote import Credentials, Fleet, HostKeyPolicy, Settings, connect, parse_host, run

# Rounds of 50 ms a test waits for a host's command to start (or to be let go): 30 s at most.
WAIT_ROUNDS = 600


def settings_for(fleet, *known_hosts, jump=None):
    """Settings that log in with the test fleet's key, trusting only ``known_hosts``."""
    files = [str(fleet.known_hosts), *map(str, known_hosts)]
    return Settings(Credentials([str(fleet.client_key)], agent=False), HostKeyPolicy(files), config=[], jump=jump)


def connections(log, start, endpoints):
    """{(address, port): connections sshd accepted there} since offset ``start`` of ``log``."""
    text = log.read_bytes()[start:].decode(errors="replace")
    return {(a, p): len(re.findall(rf"Connection from \S+ port \d+ on {re.escape(a)} port {p}\b", text))
            for a, p in endpoints}


async def overlapping(quick_run, slow_run, tmp_path, hosts):
    """``slow_run(cmd)`` is running its command on every host when ``quick_run(cmd)`` ends;
    only then is the slow command let go. (quick results, slow results)."""
    release = tmp_path / "go"
    # Each host's command marks that it runs (a file named for the host's address), then
    # waits for the release (bounded: a failing test does not leave it for ever).
    slow_command = (f"touch {tmp_path}/started-$(echo $SSH_CONNECTION | cut -d' ' -f3); i=0; "
                    f"while [ ! -e {release} ] && [ $i -lt {WAIT_ROUNDS} ]; do sleep 0.05; i=$((i+1)); done; "
                    f"echo slow")
    slow = asyncio.ensure_future(slow_run(slow_command))
    try:
        for _ in range(WAIT_ROUNDS):
            if len(list(tmp_path.glob("started-*"))) >= len(hosts) or slow.done():
                break
            await asyncio.sleep(0.05)
        assert len(list(tmp_path.glob("started-*"))) == len(hosts), "the slow command did not start everywhere"
        quick = await quick_run("echo quick")
        release.touch()
        return quick, await slow
    finally:
        release.touch()
        await asyncio.wait({slow})


@pytest.fixture
def jump_host(ssh_fleet, tmp_path):
    """An sshd of its own that the fleet's client key logs in to: the jump host."""
    from tests.peers.sshd import running_sshd

    with running_sshd(tmp_path / "jump") as jump:
        with open(jump.directory / "authorized_keys", "a") as f:
            f.write(ssh_fleet.instances[0].client_pubkey + "\n")
        yield jump


def test_two_one_shot_runs_with_one_settings_keep_their_jump(ssh_fleet, jump_host, tmp_path):
    """Issue 15's bug: Settings owned the jump host's connection, and the first run() to end
    closed it under the other run's hosts (their commands died: connection lost)."""
    hosts = ssh_fleet.host_args()[:2]
    settings = settings_for(ssh_fleet, jump_host.known_hosts,
                            jump=parse_host(f"{jump_host.user}@{jump_host.host}:{jump_host.port}"))
    quick, slow = asyncio.run(overlapping(lambda cmd: run(hosts, cmd, settings),
                                          lambda cmd: run(hosts, cmd, settings), tmp_path, hosts))
    assert [(r.error, r.stdout) for r in quick] == [(None, "quick\n")] * 2
    assert [(r.error, r.stdout) for r in slow] == [(None, "slow\n")] * 2


def test_a_fleet_shares_its_connections_between_concurrent_calls(ssh_fleet, jump_host, tmp_path):
    """Two runs at once, a get, a third run: one connection per host and one to the jump host,
    opened by the fleet, used by every call, closed at its end and by no call."""
    hosts = ssh_fleet.host_args()[:2]
    endpoints = ssh_fleet.endpoints[:2]
    log, jump_log = ssh_fleet.instances[0].log_file, jump_host.log_file
    start, jump_start = log.stat().st_size, jump_log.stat().st_size
    (tmp_path / "file.txt").write_text("fleet\n")
    settings = settings_for(ssh_fleet, jump_host.known_hosts,
                            jump=f"{jump_host.user}@{jump_host.host}:{jump_host.port}")

    async def main():
        async with Fleet(hosts, settings=settings) as fleet:
            quick, slow = await overlapping(fleet.run, fleet.run, tmp_path, hosts)
            copied = await fleet.get(str(tmp_path / "file.txt"), str(tmp_path / "got"))
            again = await fleet.run("echo again")
        return fleet, quick, slow, copied, again

    fleet, quick, slow, copied, again = asyncio.run(main())
    assert [(r.error, r.stdout) for r in quick] == [(None, "quick\n")] * 2
    assert [(r.error, r.stdout) for r in slow] == [(None, "slow\n")] * 2
    assert [(r.error, r.files) for r in copied] == [(None, 1)] * 2
    assert all((tmp_path / "got" / h / "file.txt").read_text() == "fleet\n" for h in hosts)
    assert [r.stdout for r in again] == ["again\n"] * 2
    assert connections(log, start, endpoints) == {e: 1 for e in endpoints}
    assert jump_log.read_text()[jump_start:].count("Accepted publickey") == 1
    with pytest.raises(UsageError, match="this Fleet is closed"):
        asyncio.run(fleet.run("true"))


def test_signalled_command_has_minus_signal_and_check_raises(ssh_fleet):
    """``kill -TERM $$``: returncode -15 as subprocess has it, no error (the command ran to
    its end: a signal ended it); check_returncode raises CommandError naming the signal."""
    host = ssh_fleet.host_args()[0]

    async def main():
        async with connect(host, settings=settings_for(ssh_fleet)) as session:
            killed = await session.run("kill -TERM $$")
            failed = await session.run("exit 3")
            with pytest.raises(CommandError) as caught:
                await session.run("exit 4", check=True)
            fine = await session.run("echo fine", check=True)
        return killed, failed, caught.value, fine

    killed, failed, raised, fine = asyncio.run(main())
    assert (killed.returncode, killed.exit_signal, killed.error, killed.ok) == (-15, "TERM", None, False)
    with pytest.raises(CommandError, match=f"{re.escape(host)}: .* killed by signal TERM") as caught:
        killed.check_returncode()
    assert caught.value.returncode == -15 and caught.value.result is killed
    assert failed.returncode == 3 and failed.error is None
    assert raised.returncode == 4 and raised.result.host == host
    assert fine.stdout == "fine\n"


def test_timeout_phases_and_typed_errors(ssh_fleet, tmp_path):
    """Timeout(total) stops the command (CommandTimeout in ``error``, phase total); a read
    phase is refused; a host whose key is unknown fails on entering the session."""
    host = ssh_fleet.host_args()[0]
    settings = settings_for(ssh_fleet)

    async def main():
        async with Fleet([host, "bad host"], settings=settings, timeout=Timeout(1, connect=10)) as fleet:
            return await fleet.run("sleep 60")

    stopped, bad = asyncio.run(main())
    assert isinstance(stopped.error, CommandTimeout) and stopped.error.phase == "total"
    assert str(stopped.error).startswith(f"{host}: the command ran longer than 1 s")
    assert isinstance(bad.error, UsageError) and str(bad.error).startswith("bad host: ")
    with pytest.raises(UsageError, match="read does not apply"):
        Fleet([host], settings=settings, timeout=Timeout(read=5))
    with pytest.raises(UsageError, match="not both"):
        Fleet([host], settings=settings, user="root")
    empty = tmp_path / "known_hosts"
    empty.write_text("")

    async def unknown():
        async with connect(host, credentials=Credentials([str(ssh_fleet.client_key)], agent=False),
                           host_keys=HostKeyPolicy([str(empty)]), config=[]):
            raise AssertionError("the session opened with an unknown host key")

    with pytest.raises(UnknownHostKey, match=f"^{re.escape(host)}: .*not in known_hosts"):
        asyncio.run(unknown())


def test_a_cancelled_run_stops_its_command(ssh_fleet, tmp_path):
    """A run cancelled mid-command (alone on its connection, as root: sshd refuses root's
    signal requests) has its command killed on the host, not left to run to its end; the
    fleet's connection stays usable."""
    host = ssh_fleet.host_args()[0]
    started, survived = tmp_path / "started", tmp_path / "survived"

    async def main():
        async with Fleet([host], settings=settings_for(ssh_fleet)) as fleet:
            doomed = asyncio.ensure_future(fleet.run(f"touch {started}; sleep 3; touch {survived}"))
            for _ in range(WAIT_ROUNDS):
                if started.exists() or doomed.done():
                    break
                await asyncio.sleep(0.05)
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed
            after = (await fleet.run("echo after"))[0]
            await asyncio.sleep(4)  # past the doomed command's end, had it run on
        return after

    after = asyncio.run(main())
    assert started.exists() and not survived.exists(), "the cancelled command ran on to its end"
    assert (after.error, after.stdout) == (None, "after\n")
