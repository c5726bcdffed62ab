#!/usr/bin/env python3
"""File transfer: throughput and peak memory of `netkit get` beside curl and OpenSSH's
sftp, on the same 1 GiB file from loopback peers (issue 5, "Bar").

Four benchmarks (VENV is the user's install, see _common.bench_venv):

1. http-null: nginx -> /dev/null
       curl -s -o /dev/null http://127.0.0.1:PORT/data
       VENV/bin/netkit get http://127.0.0.1:PORT/data -o /dev/null -q
2. http-file: nginx -> a file in /tmp (removed after every run; sync before each run, so
   that no run pays for the writeback of the previous one's gigabyte)
       curl -s -o OUT URL                    VENV/bin/netkit get URL -o OUT -q
3. ftp: pyftpdlib (tests/peers/ftp.py) -> /dev/null, logged in as the test user
       curl -s -o /dev/null ftp://user:PW@127.0.0.1:PORT/data
       VENV/bin/netkit get ftp://user@127.0.0.1:PORT/data --password-env PW -o /dev/null -q
4. sftp: OpenSSH sshd (tests/peers/sshd.py, internal-sftp) -> /dev/null, key login
       sftp -q -b BATCH -i KEY -P PORT -o UserKnownHostsFile=... user@127.0.0.1
           (BATCH: get /tmp/.../data /dev/null)
       VENV/bin/netkit get sftp://user@127.0.0.1:PORT/tmp/.../data -i KEY --known-hosts ... -o /dev/null -q

The servers must not be the limit, or both tools run at the server's speed and the ratio
only measures start-up: nginx runs with `sendfile on` (as Debian's shipped nginx.conf; the
test harness uses it too), and pyftpdlib sends FTP_SEND_BLOCK bytes per sendfile() call
instead of its 64 KiB (at 64 KiB its Python event loop tops out near curl's speed).

The data is DATA_SIZE bytes of random data in /tmp/netkit-bench-transfer (made once, kept
for later runs; never in the repository). Every run's exit code must be 0, and in the last
round each file written (http-file) is compared with the source by SHA-256.

Method: one untimed warm-up round, then ROUNDS rounds; a round runs each tool once per
benchmark, who goes first alternating. Wall time is measured around the process (start-up
included, for both tools); throughput = DATA_SIZE / wall. Peak memory is GNU time's %M
(maxrss of the tool's process).

Bars (medians): http-null netkit/curl >= 1.0, http-file >= 0.9, ftp >= 1.0, sftp netkit/sftp
>= 1.0; netkit's peak memory < 100 MiB in every run.

Exit status: 0 all bars pass, 1 a bar fails, 2 the benchmark could not run.

    python benchmarks/bench_transfer.py [--rounds N] [--size BYTES] [--only NAME ...] [--json] [--rebuild]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BenchError,
    add_common_options,
    bench_main,
    bench_venv,
    child_env,
    median,
    need_tool,
    nginx_peer,
    ratio,
    table,
    verdict,
)

DATA_DIR = Path("/tmp/netkit-bench-transfer")
DATA_SIZE = 1 << 30
ROUNDS = 5
GNU_TIME = "/usr/bin/time"
# A run that takes longer than this is broken, not slow (1 GiB at 20 MB/s).
RUN_TIMEOUT = 60
MEMORY_BAR_KIB = 100 * 1024
BARS = {"http-null": 1.0, "http-file": 0.9, "ftp": 1.0, "sftp": 1.0}
NAMES = tuple(BARS)
FTP_SEND_BLOCK = 1 << 20  # pyftpdlib's ac_out_buffer_size for data connections


def data_file(size: int) -> Path:
    """DATA_DIR/data-SIZE: random bytes, made once and kept."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"data-{size}"
    if not path.exists() or path.stat().st_size != size:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            left = size
            while left:
                block = os.urandom(min(left, 1 << 24))
                f.write(block)
                left -= len(block)
        tmp.replace(path)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


def run_timed(argv, env):
    """(wall seconds, maxrss KiB) of one run; BenchError when it fails."""
    with tempfile.NamedTemporaryFile(prefix="netkit-time-") as memory, tempfile.TemporaryFile() as err:
        # Popen.wait(timeout) polls with sleeps of up to 50 ms, which would round the times
        # of a half-second download to 50 ms steps: wait in the kernel, with a timer to kill.
        start = time.perf_counter()
        proc = subprocess.Popen([GNU_TIME, "-o", memory.name, "-f", "%M", *argv], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
        timer = threading.Timer(RUN_TIMEOUT, proc.kill)
        timer.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        if proc.returncode != 0:
            raise BenchError(f"{' '.join(map(str, argv))} failed ({proc.returncode}): "
                             f"{err.read().decode(errors='replace')[-500:]}")
        rss = Path(memory.name).read_text().split()
        return wall, int(rss[-1]) if rss and rss[-1].isdigit() else 0


def alternating(runs, rounds, env, log, show, before=None, after=None):
    """Time every (who, argv) of ``runs`` once per round, the order reversed every other
    round; round 0 warms the page cache and the peers and is not kept. ``before(who)`` and
    ``after(who, last_round)`` run around each run (outside the timing); ``log(round,
    text)`` hears each round's times as ``show(wall)`` writes them. Returns ({who: walls},
    {who: peak KiB})."""
    walls = {who: [] for who, _ in runs}
    rss = {who: [] for who, _ in runs}
    for rnd in range(rounds + 1):
        order = list(runs) if rnd % 2 == 0 else list(reversed(runs))
        for who, argv in order:
            if before is not None:
                before(who)
            wall, peak = run_timed(argv, env)
            if after is not None:
                after(who, rnd == rounds)
            if rnd:
                walls[who].append(wall)
                rss[who].append(peak)
        log(rnd, ", ".join(f"{w} {show(walls[w][-1])}" for w in walls if rnd and walls[w]))
    return walls, rss


@contextlib.contextmanager
def peers(names, data: Path):
    """Every peer the chosen benchmarks need, with the data file in place; yields a dict."""
    from tests.peers.certs import make_pki
    from tests.peers.ftp import running_ftp
    from tests.peers.sshd import running_sshd

    with contextlib.ExitStack() as stack:
        found = {}
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netkit-bench-transfer-")))
        if {"http-null", "http-file"} & set(names):
            nginx = stack.enter_context(nginx_peer())
            os.symlink(data, nginx.root / "data")
            found["http"] = nginx.url("/data")
        if "ftp" in names:
            (tmp / "pki").mkdir()
            ftp = stack.enter_context(running_ftp(tmp / "ftp", make_pki(tmp / "pki"), send_block=FTP_SEND_BLOCK))
            os.link(data, ftp.home / "data")  # pyftpdlib refuses symlinks out of the home
            found["ftp"] = ftp
        if "sftp" in names:
            found["sshd"] = stack.enter_context(running_sshd(tmp / "sshd"))
        found["tmp"] = tmp
        yield found


def commands(name, venv: Path, p, data: Path):
    """(reference argv, netkit argv, output file or None, extra env) of one benchmark."""
    netkit = [str(venv / "bin" / "python"), str(venv / "bin" / "netkit")]
    curl = need_tool("curl", "curl")
    if name == "http-null":
        return ([curl, "-s", "-o", "/dev/null", p["http"]],
                [*netkit, "get", p["http"], "-o", "/dev/null", "-q"], None, {})
    if name == "http-file":
        out = p["tmp"] / "out"
        return ([curl, "-s", "-o", str(out), p["http"]], [*netkit, "get", p["http"], "-o", str(out), "-q"], out, {})
    if name == "ftp":
        ftp = p["ftp"]
        return ([curl, "-s", "-o", "/dev/null", f"ftp://{ftp.user}:{ftp.password}@127.0.0.1:{ftp.port}/data"],
                [*netkit, "get", f"ftp://{ftp.user}@127.0.0.1:{ftp.port}/data", "--password-env", "BENCH_FTP_PW",
                 "-o", "/dev/null", "-q"], None, {"BENCH_FTP_PW": ftp.password})
    sshd = p["sshd"]
    return (sftp_batch(sshd, p["tmp"] / "sftp-batch", f"get {data} /dev/null"),
            [*netkit, "get", f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{data}", "-i", str(sshd.client_key),
             "--known-hosts", str(sshd.known_hosts), "-o", "/dev/null", "-q"], None, {})


def sftp_batch(sshd, batch: Path, command: str) -> list[str]:
    """OpenSSH's sftp running ``command`` from the file ``batch`` against the test sshd,
    logged in with its key and trusting only its host key."""
    from tests.peers.sshd import openssh_options

    batch.write_text(command + "\n")
    return [need_tool("sftp", "openssh-client"), "-q", "-b", str(batch), *openssh_options(sshd.client_key,
            sshd.known_hosts), "-P", str(sshd.port), f"{sshd.user}@{sshd.host}"]


def measure(args, log):
    need_tool("time", "time", "/usr/bin")
    names = args.only or list(NAMES)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    venv = bench_venv(args.rebuild, log)
    log(f"data: {args.size} bytes in {DATA_DIR} ...")
    data = data_file(args.size)
    digest = sha256_of(data) if "http-file" in names else None
    results = {}
    with peers(names, data) as p:
        for name in names:
            ref_argv, nk_argv, out, extra = commands(name, venv, p, data)
            env = {**child_env(), **extra}
            def before(_who, out=out):
                if out is not None:
                    os.sync()  # neither tool pays for the writeback of the other's gigabyte

            def after(who, last, out=out, name=name):
                if out is not None:
                    if last and sha256_of(out) != digest:
                        raise BenchError(f"{who} wrote a file that differs from the source ({name})")
                    out.unlink()

            walls, rss = alternating([("reference", ref_argv), ("netkit", nk_argv)], args.rounds, env,
                                     lambda rnd, text, name=name: log(f"  {name} round {rnd}: {text}"),
                                     lambda wall: f"{args.size / wall / 1e9:.2f} GB/s", before, after)
            ref = args.size / median(walls["reference"]) / 1e9
            nk = args.size / median(walls["netkit"]) / 1e9
            r = ratio(nk, ref)
            results[name] = {"reference_gbps": round(ref, 3), "netkit_gbps": round(nk, 3), "ratio": round(r, 3),
                             "bar": BARS[name], "reference_maxrss_kib": max(rss["reference"]),
                             "netkit_maxrss_kib": max(rss["netkit"]),
                             "pass": r >= BARS[name] and max(rss["netkit"]) < MEMORY_BAR_KIB}
    return {"size": args.size, "rounds": args.rounds, "benchmarks": results,
            "pass": all(r["pass"] for r in results.values())}


def print_report(result):
    rows = []
    for name, r in result["benchmarks"].items():
        rows.append([name, f"{r['reference_gbps']:.2f}", f"{r['netkit_gbps']:.2f}", f"{r['ratio']:.2f}x",
                     f">= {r['bar']:.1f}x", f"{r['reference_maxrss_kib'] / 1024:.1f}",
                     f"{r['netkit_maxrss_kib'] / 1024:.1f}", verdict(r["pass"])])
    print(f"\n{result['size']} bytes, median of {result['rounds']} rounds (GB/s = 1e9 bytes/s; "
          f"reference: curl, or OpenSSH sftp for sftp)")
    print(table(["benchmark", "reference GB/s", "netkit GB/s", "ratio", "bar", "ref MiB", "netkit MiB", ""], rows))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--size", type=int, default=DATA_SIZE)
    parser.add_argument("--only", action="append", choices=NAMES)
    add_common_options(parser)
    args = parser.parse_args(argv)
    return bench_main("bench_transfer", args, lambda log: measure(args, log), print_report,
                      "nginx, pyftpdlib and sshd")


if __name__ == "__main__":
    sys.exit(main())
