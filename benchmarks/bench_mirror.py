#!/usr/bin/env python3
"""Mirroring a directory of many small files: `netkit mirror` beside lftp (FTP) and
OpenSSH's sftp (SFTP), from loopback peers (issue 5's mirror; figures reported, no bar).

Three benchmarks (VENV is the user's install, see _common.bench_venv), each copying a tree
of files of FILE_SIZE bytes in DIRS directories into an empty directory:

1. ftp: pyftpdlib (tests/peers/ftp.py), logged in as the test user
       lftp -c 'set ftp:ssl-allow no; open -u user,PW -p PORT 127.0.0.1; mirror --parallel=4 tree OUT'
       VENV/bin/netkit mirror ftp://user@127.0.0.1:PORT/tree/ OUT --password-env PW -P 4 -q
2. sftp: OpenSSH sshd (tests/peers/sshd.py, internal-sftp), key login
       sftp -q -b BATCH ... user@127.0.0.1      (BATCH: get -r TREE OUT; one file at a time,
                                                 OpenSSH's sftp has no parallel files)
       VENV/bin/netkit mirror sftp://user@127.0.0.1:PORT/TREE/ OUT -i KEY ... -P 4 -q
3. sftp-wan: the same, WAN_FILES files, from an sshd in a network namespace behind a
   WAN_DELAY_MS ms one-way delay (tests/peers/netns.py's relay: RTT 2 x WAN_DELAY_MS), as
   a server in another building; also netkit with -P 1, to show what -P is for.

ftp and sftp copy FILES files over loopback.

Both tools run with 4 files at once where they can (lftp --parallel=4, netkit -P 4, its
default). Every run's exit code must be 0; after the last round each tool's copy is compared
with the source (names and bytes). Method as bench_transfer: one untimed warm-up round, then
ROUNDS rounds alternating who goes first; wall time of the whole process; the ratio is
netkit's median time over the reference's (below 1.0: netkit is faster).

    python benchmarks/bench_mirror.py [--rounds N] [--files N] [--only ftp|sftp|sftp-wan] [--json] [--rebuild]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
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
    ratio,
    table,
)
from bench_transfer import DATA_DIR, alternating, sftp_batch

ROUNDS = 5
FILES = 1000
DIRS = 10
FILE_SIZE = 16 * 1024
PARALLEL = 4
WAN_FILES = 200
WAN_DELAY_MS = 10
NAMES = ("ftp", "sftp", "sftp-wan")


def make_tree(files: int) -> Path:
    """DATA_DIR/tree-FILES: FILES random files in DIRS directories, made once and kept."""
    top = DATA_DIR / f"tree-{files}"
    done = top / ".complete"
    if not done.exists():
        shutil.rmtree(top, ignore_errors=True)
        for i in range(files):
            path = top / f"d{i % DIRS:02}" / f"f{i:05}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(FILE_SIZE))
        done.write_text("")
    return top


def digest(top: Path) -> str:
    """One SHA-256 over every file's relative name and bytes (the marker file aside)."""
    h = hashlib.sha256()
    for path in sorted(p for p in top.rglob("*") if p.is_file() and p.name != ".complete"):
        h.update(str(path.relative_to(top)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@contextlib.contextmanager
def peers(names, tree: Path):
    from tests.peers.certs import make_pki
    from tests.peers.ftp import running_ftp
    from tests.peers.netns import testnet
    from tests.peers.sshd import running_sshd

    with contextlib.ExitStack() as stack:
        found = {}
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netkit-bench-mirror-")))
        if "ftp" in names:
            (tmp / "pki").mkdir()
            ftp = stack.enter_context(running_ftp(tmp / "ftp", make_pki(tmp / "pki")))
            shutil.copytree(tree, ftp.home / "tree", copy_function=os.link,
                            ignore=shutil.ignore_patterns(".complete"))
            found["ftp"] = ftp
        if "sftp" in names:
            found["sshd"] = stack.enter_context(running_sshd(tmp / "sshd"))
        if "sftp-wan" in names:
            far = stack.enter_context(testnet(hosts=1, loss=0, delay=WAN_DELAY_MS)).hosts[0]
            found["far-sshd"] = stack.enter_context(running_sshd(tmp / "far", addresses=[far.address],
                                                                 netns=far.namespace))
        found["tmp"] = tmp
        yield found


def commands(name, venv: Path, p, tree: Path, out: Path):
    """(reference argv, netkit argv, extra env) of one benchmark; sftp-wan's netkit argv
    has -P last, for the -P 1 run."""
    netkit = [str(venv / "bin" / "python"), str(venv / "bin" / "netkit")]
    if name == "ftp":
        ftp = p["ftp"]
        lftp = need_tool("lftp", "lftp")
        script = (f"set ftp:ssl-allow no; set net:max-retries 1; open -u {ftp.user},{ftp.password} -p {ftp.port} "
                  f"127.0.0.1; mirror --parallel={PARALLEL} tree {out}")
        return ([lftp, "-c", script],
                [*netkit, "mirror", f"ftp://{ftp.user}@127.0.0.1:{ftp.port}/tree/", str(out), "--password-env",
                 "BENCH_FTP_PW", "-P", str(PARALLEL), "-q"], {"BENCH_FTP_PW": ftp.password})
    sshd = p["far-sshd" if name == "sftp-wan" else "sshd"]
    return (sftp_batch(sshd, p["tmp"] / "sftp-batch", f"get -r {tree} {out}"),
            [*netkit, "mirror", f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{tree}/", str(out), "-i",
             str(sshd.client_key), "--known-hosts", str(sshd.known_hosts), "--exclude", ".complete", "-P",
             str(PARALLEL), "-q"], {})


def measure(args, log):
    need_tool("time", "time", "/usr/bin")
    names = args.only or list(NAMES)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    venv = bench_venv(args.rebuild, log)
    log(f"tree: {args.files} files of {FILE_SIZE} bytes in {DATA_DIR} ...")
    trees = {args.files: make_tree(args.files)}
    if "sftp-wan" in names:
        trees[WAN_FILES] = make_tree(WAN_FILES)
    wants = {n: digest(t) for n, t in trees.items()}
    results = {}
    with peers(names, trees[args.files]) as p:
        out = p["tmp"] / "out"
        for name in names:
            files = WAN_FILES if name == "sftp-wan" else args.files
            tree, want = trees[files], wants[files]
            ref_argv, nk_argv, extra = commands(name, venv, p, tree, out)
            env = {**child_env(), **extra}
            runs = [("reference", ref_argv), ("netkit", nk_argv)]
            if name == "sftp-wan":
                runs.append(("netkit -P 1", [*nk_argv[:-2], "1", "-q"]))
            def after(who, last, want=want, name=name):
                if last:
                    (out / ".complete").unlink(missing_ok=True)  # sftp -r copies the marker too
                    if digest(out) != want:
                        raise BenchError(f"{who}'s copy differs from the source ({name})")

            walls, rss = alternating(runs, args.rounds, env, lambda rnd, text, name=name: log(
                f"  {name} round {rnd}: {text}"), lambda wall: f"{wall:.2f} s",
                lambda _who: shutil.rmtree(out, ignore_errors=True), after)
            shutil.rmtree(out, ignore_errors=True)
            ref, nk = median(walls["reference"]), median(walls["netkit"])
            results[name] = {"files": files, "reference_s": round(ref, 3), "netkit_s": round(nk, 3),
                             "ratio": round(ratio(nk, ref), 3), "reference_maxrss_kib": max(rss["reference"]),
                             "netkit_maxrss_kib": max(rss["netkit"])}
            if "netkit -P 1" in walls:
                results[name]["netkit_p1_s"] = round(median(walls["netkit -P 1"]), 3)
    return {"file_size": FILE_SIZE, "rounds": args.rounds, "benchmarks": results, "pass": True}


def print_report(result):
    refs = {"ftp": f"lftp mirror --parallel={PARALLEL}", "sftp": "sftp get -r", "sftp-wan": "sftp get -r"}
    rows = [[name, r["files"], refs[name], f"{r['reference_s']:.2f}", f"{r['netkit_s']:.2f}", f"{r['ratio']:.2f}x",
             f"{r['netkit_p1_s']:.2f}" if "netkit_p1_s" in r else "",
             f"{r['reference_maxrss_kib'] / 1024:.1f}", f"{r['netkit_maxrss_kib'] / 1024:.1f}"]
            for name, r in result["benchmarks"].items()]
    print(f"\nfiles of {result['file_size']} bytes, median of {result['rounds']} rounds (netkit -P {PARALLEL}; "
          f"ratio: netkit's time / the reference's; sftp-wan: {2 * WAN_DELAY_MS} ms RTT)")
    print(table(["benchmark", "files", "reference", "reference s", "netkit s", "ratio", "netkit -P 1 s", "ref MiB",
                 "netkit MiB"], rows))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--files", type=int, default=FILES)
    parser.add_argument("--only", action="append", choices=NAMES)
    add_common_options(parser)
    args = parser.parse_args(argv)
    return bench_main("bench_mirror", args, lambda log: measure(args, log), print_report, "pyftpdlib and sshd")


if __name__ == "__main__":
    sys.exit(main())
