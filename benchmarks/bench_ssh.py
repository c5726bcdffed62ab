#!/usr/bin/env python3
"""`netkit ssh` beside pssh and OpenSSH's sftp, on the same sshd "hosts" (issue 7, "Bar").

Hosts are the test harness's sshd (tests/peers/sshd.py, ``running_sshd_fleet``): one
loopback address per host (127.0.B.1, 127.0.B.2, ...), 16 per sshd instance, key login
(ed25519, no passphrase), one known_hosts file naming every host. Three benchmarks:

1. run50: `true` on 50 hosts (the bar: netkit's median wall time <= 0.4 x pssh's)

       VENV/bin/python -m netkit ssh run -P 50 -f HOSTS -i KEY --known-hosts KH -F none --no-agent -q -- true
       parallel-ssh -p 50 -h HOSTS -t 0 -x "-F none -i KEY -o UserKnownHostsFile=KH ..." true

2. run200: the same on 200 hosts (-P 200, -p 200): reported, not judged.

3. sftp: a 100 MiB directory (SFTP_FILES files) collected from 10 hosts

       VENV/bin/python -m netkit ssh get -P 10 -f HOSTS ... REMOTE_DIR OUT/netkit
       sftp -q -b BATCH -F none -i KEY ... -P PORT root@ADDRESS   (10 of them at once;
                                                                   BATCH: get -r REMOTE_DIR OUT/sftp/HOST)

   Each round starts from an empty OUT; both tools' copies are checked (byte count of every
   host's tree). Reported, not judged.

Every round of every benchmark runs both tools once, who goes first alternating; each
run's result is checked (every host succeeded) or the benchmark stops. Median wall time of
ROUNDS rounds after one untimed warm-up round; the ratio is netkit / the other tool.

The remote side's cost is the same for both tools and is part of what is measured: sshd
forks and re-executes itself per connection and runs the user's login shell for every
command (bash -c, which reads ~/.bashrc when started by sshd). By default the hosts are
logged into as a user made for the benchmark (``useradd``, shell /bin/bash, no home, so
no rc files: what a fresh account on a server looks like), removed at the end; needs
root. ``--user NAME`` logs in as an existing user instead: ``--user root`` on a machine
whose root ~/.bashrc is heavy (pyenv init costs ~150 ms of CPU per command here) adds
that to every host for both tools, and the ratio moves toward 1.

    python benchmarks/bench_ssh.py [--rounds N] [--skip run50,run200,sftp] [--user NAME]
                                   [--json] [--rebuild]

Exit status: 0 the bar passes, 1 it fails, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    REPO,
    BenchError,
    add_common_options,
    bench_main,
    bench_venv,
    child_env,
    median,
    need_tool,
    ratio,
    table,
    verdict,
)

from tests.peers.sshd import running_sshd_fleet
from tests.peers.sshd_hosts import temporary_user

DEFAULT_ROUNDS = 5
BAR = 0.4  # netkit / pssh, median wall time, `true` on 50 hosts
SFTP_HOSTS = 10
SFTP_FILES = 20
SFTP_TOTAL = 100 * 1024 * 1024
CHILD_TIMEOUT = 600
# Address blocks of the fleets (127.0.B.0/24), away from the test suite's 127.0.7.0/24.
BLOCKS = {"run50": 21, "run200": 22, "sftp": 23}


class NetkitCommand:
    """``PYTHON -m netkit``, usable where the argv starts with the netkit command."""

    def __init__(self, python: Path):
        self.argv = [str(python), "-m", "netkit"]


def _ssh_options(fleet) -> list[str]:
    from tests.peers.sshd import openssh_options

    return openssh_options(fleet.client_key, fleet.known_hosts)


def _timed(argv, **kw):
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=child_env(), check=False,
                          **kw)
    return time.perf_counter() - start, proc


def _check(name, proc, ok):
    if not ok:
        raise BenchError(f"{name} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def _host_lines(fleet, user):
    return "\n".join(f"{user}@{address}:{port}" for address, port in fleet.endpoints) + "\n"


def _readable(fleet):
    """Let the benchmark user's sshd session read authorized_keys (sshd reads it as the user)."""
    for instance in fleet.instances:
        os.chmod(instance.directory / "authorized_keys", 0o644)


def _run_bench(label, hosts, netkit, rounds, log, workdir, user):
    pssh = need_tool("parallel-ssh", "pssh")
    with running_sshd_fleet(workdir / label, hosts, block=BLOCKS[label]) as fleet:
        _readable(fleet)
        hosts_file = workdir / f"{label}.hosts"
        hosts_file.write_text(_host_lines(fleet, user))
        ours = [*netkit.argv, "ssh", "run", "-P", str(hosts), "-f", str(hosts_file), "-i", str(fleet.client_key),
                "--known-hosts", str(fleet.known_hosts), "-F", "none", "--no-agent", "-q", "--", "true"]
        theirs = [pssh, "-p", str(hosts), "-h", str(hosts_file), "-t", "0", "-x", " ".join(_ssh_options(fleet)),
                  "true"]

        def run_ours():
            took, proc = _timed(ours)
            _check("netkit ssh run", proc, proc.returncode == 0 and f"{hosts} hosts: {hosts} ok" in proc.stdout)
            return took

        def run_theirs():
            took, proc = _timed(theirs)
            _check("parallel-ssh", proc, proc.returncode == 0 and proc.stdout.count("[SUCCESS]") == hosts)
            return took

        return _rounds(label, run_ours, run_theirs, rounds, log, "pssh")


def _sftp_bench(netkit, rounds, log, workdir, user):
    sftp = need_tool("sftp", "openssh-client")
    remote = workdir / "remote" / "data"
    remote.mkdir(parents=True)
    size = SFTP_TOTAL // SFTP_FILES
    for i in range(SFTP_FILES):
        (remote / f"part{i:02d}.bin").write_bytes(os.urandom(size))
    with running_sshd_fleet(workdir / "sftp", SFTP_HOSTS, block=BLOCKS["sftp"]) as fleet:
        _readable(fleet)
        hosts_file = workdir / "sftp.hosts"
        hosts_file.write_text(_host_lines(fleet, user))
        out = workdir / "out"

        def fresh(name):
            target = out / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            return target

        def tree_bytes(root):
            return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

        def run_ours():
            target = fresh("netkit")
            took, proc = _timed([*netkit.argv, "ssh", "get", "-P", str(SFTP_HOSTS), "-f", str(hosts_file), "-i",
                                 str(fleet.client_key), "--known-hosts", str(fleet.known_hosts), "-F", "none",
                                 "--no-agent", str(remote), str(target)])
            _check("netkit ssh get", proc, proc.returncode == 0 and tree_bytes(target) == SFTP_TOTAL * SFTP_HOSTS)
            return took

        def run_theirs():
            target = fresh("sftp")
            procs = []
            start = time.perf_counter()
            for address, port in fleet.endpoints:
                dest = target / f"{address}_{port}"
                dest.mkdir()
                batch = f"get -r {remote} {dest}/\n"
                procs.append(subprocess.Popen([sftp, "-q", "-b", "-", *_ssh_options(fleet), "-P", str(port),
                                               f"{user}@{address}"], stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env()))
                procs[-1].stdin.write(batch.encode())
                procs[-1].stdin.close()
            codes = [p.wait(timeout=CHILD_TIMEOUT) for p in procs]
            took = time.perf_counter() - start
            for p in procs:
                p.stdout.close()
                p.stderr.close()
            if any(codes) or tree_bytes(target) != SFTP_TOTAL * SFTP_HOSTS:
                raise BenchError(f"sftp failed: exit codes {codes}, {tree_bytes(target)} bytes copied")
            return took

        return _rounds("sftp", run_ours, run_theirs, rounds, log, "sftp")


def _rounds(label, run_ours, run_theirs, rounds, log, other):
    log(f"{label}: warm-up")
    run_ours()
    run_theirs()
    ours, theirs = [], []
    for i in range(rounds):
        first, second = (run_ours, run_theirs) if i % 2 == 0 else (run_theirs, run_ours)
        a = first()
        b = second()
        (ours if first is run_ours else theirs).append(a)
        (theirs if first is run_ours else ours).append(b)
        log(f"{label}: round {i + 1}/{rounds}: netkit {ours[-1]:.2f} s, {other} {theirs[-1]:.2f} s")
    return {"netkit": ours, other: theirs, "netkit_median": median(ours), f"{other}_median": median(theirs),
            "ratio": ratio(median(ours), median(theirs)), "against": other}


def measure(args):
    def run(log):
        venv = bench_venv(args.rebuild, log)
        skip = set(filter(None, (args.skip or "").split(",")))
        results = {}
        with tempfile.TemporaryDirectory(prefix="netkit-bench-ssh-") as tmp, contextlib.ExitStack() as stack:
            workdir = Path(tmp)
            os.chmod(workdir, 0o755)
            netkit = NetkitCommand(venv / "bin" / "python")
            user = args.user or stack.enter_context(temporary_user(password=False, shell="/bin/bash"))[0]
            log(f"logging in as {user}")
            if "run50" not in skip:
                results["run50"] = _run_bench("run50", 50, netkit, args.rounds, log, workdir, user)
            if "run200" not in skip:
                results["run200"] = _run_bench("run200", 200, netkit, args.rounds, log, workdir, user)
            if "sftp" not in skip:
                results["sftp"] = _sftp_bench(netkit, args.rounds, log, workdir, user)
        passed = "run50" not in results or results["run50"]["ratio"] <= BAR
        return {"results": results, "bar": BAR, "pass": passed, "cpus": os.cpu_count(), "user": user,
                "load_before": os.getloadavg()}

    return run


def print_report(result):
    rows = []
    for label, r in result["results"].items():
        other = r["against"]
        rows.append((label, f"{r['netkit_median']:.2f} s", f"{r[f'{other}_median']:.2f} s ({other})",
                     f"{r['ratio']:.2f} x", (f"<= {BAR} {verdict(r['ratio'] <= BAR)}" if label == "run50"
                                            else "reported")))
    print(f"logged in as {result['user']}; medians of wall time")
    print(table(("benchmark", "netkit", "other", "ratio", "bar"), rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--skip", help="comma list of run50, run200, sftp")
    parser.add_argument("--user", help="log in as this existing user (default: one made for the benchmark)")
    add_common_options(parser)
    args = parser.parse_args()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return bench_main("bench_ssh", args, measure(args), print_report, "sshd")


if __name__ == "__main__":
    sys.exit(main())
