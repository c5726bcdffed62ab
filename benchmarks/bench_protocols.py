#!/usr/bin/env python3
"""Protocol checks: whole-process wall time of each `netkit check` for ftp, smtp, pop3, imap,
ssh and dns, beside the matching monitoring-plugins check against the same real peer, and
`python -c pass` from the same venv.

The peers are the test harness's (tests/peers), all on loopback, started once:

    pyftpdlib (anonymous login)   aiosmtpd          dovecot (POP3, IMAP; user alice)
    OpenSSH's sshd                dnsmasq, authoritative for netkit.test

and the commands, timed interleaved (P is the peer's port, VENV the user's install):

    VENV/bin/python -c pass                                   the floor
    VENV/bin/netkit check ftp://127.0.0.1:P                   check_ftp -H 127.0.0.1 -p P
    VENV/bin/netkit check smtp://127.0.0.1:P                  check_smtp -H 127.0.0.1 -p P
    VENV/bin/netkit check pop3://alice@127.0.0.1:P --password-env NETKIT_BENCH_PASSWORD
                                                              check_pop -H 127.0.0.1 -p P
    VENV/bin/netkit check imap://alice@127.0.0.1:P --password-env NETKIT_BENCH_PASSWORD
                                                              check_imap -H 127.0.0.1 -p P
    VENV/bin/netkit check ssh://127.0.0.1:P                   check_ssh -H 127.0.0.1 -p P
    VENV/bin/netkit check dns://127.0.0.53:53/www.netkit.test
                                                   check_dns -H www.netkit.test -s 127.0.0.53

NETKIT_BENCH_PASSWORD (alice's password) is set in the environment of those two commands
only. The work is not the same on both sides for every pair (WORK below, also in the
report): netkit logs in to POP3 and IMAP where check_pop and check_imap only read the
greeting, and logs in to FTP (anonymous) where check_ftp only reads the greeting.

check_dns runs nslookup, which can only ask port 53, so the dns pair runs against a second
dnsmasq of the harness's zone on DNS_ADDRESS (default 127.0.0.53) port 53, made here from
tests.peers.dns's config (its `running_dnsmasq` always picks 127.0.0.1 and a free port). When
that address's port 53 cannot be had (taken, or no privilege to bind it), netkit is timed
against the harness's own dnsmasq and check_dns is left out, with the reason in the report.

Method: as bench_start.py (its Command, verify, spawn_timed and time_interleaved): every
command runs once and must exit 0; then WARMUP untimed and RUNS timed rounds, each running
every command once in an order rotated from round to round; a run is posix_spawn + wait4
with the standard streams on /dev/null.

Bar (issue 3, "Bar"), on medians: netkit check / python -c pass <= 3.0 x for ftp, smtp,
pop3, imap and ssh (no third-party library on their path). dns (dnspython) and every
netkit / plugin ratio are reported, not judged.

Exit status: 0 all bars pass, 1 a bar fails, 2 the benchmark could not run.

    python benchmarks/bench_protocols.py [--runs N] [--warmup N] [--skip PROTO]
                                         [--dns-address ADDR] [--json] [--rebuild]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _common import (
    PLUGIN_DIR,
    BenchError,
    add_common_options,
    bench_main,
    bench_venv,
    child_env,
    mean,
    median,
    need_tool,
    python_version,
    ratio,
    table,
)
from bench_start import (
    DEFAULT_WARMUP,
    MIN_RUNS,
    Command,
    make_command,
    print_bars,
    print_commands,
    time_interleaved,
    verify,
)

from tests.peers import dns as dns_peer
from tests.peers._base import ServerProcess, ServerStartError, can_connect, need_binary
from tests.peers.certs import make_pki

DEFAULT_RUNS = 60
HOST = "127.0.0.1"
PROTOCOLS = ("ftp", "smtp", "pop3", "imap", "ssh", "dns")
# The checks whose path imports no third-party library: they carry the bar.
BARRED = ("ftp", "smtp", "pop3", "imap", "ssh")
BAR = 3.0
PASSWORD_VAR = "NETKIT_BENCH_PASSWORD"
MAIL_USER = "alice"  # tests.peers.dovecot.ALICE: 5 messages in INBOX
DNS_NAME = dns_peer.WWW
DNS_PORT = 53  # the only port check_dns (nslookup) asks
DEFAULT_DNS_ADDRESS = "127.0.0.53"
# protocol -> (plugin, Debian package)
PLUGINS = {
    "ftp": ("check_ftp", "monitoring-plugins-basic"),
    "smtp": ("check_smtp", "monitoring-plugins-basic"),
    "pop3": ("check_pop", "monitoring-plugins-basic"),
    "imap": ("check_imap", "monitoring-plugins-basic"),
    "ssh": ("check_ssh", "monitoring-plugins-basic"),
    "dns": ("check_dns", "monitoring-plugins-standard"),
}
# protocol -> (what netkit does, what the plugin does), as seen with -v on both sides.
WORK = {
    "ftp": ("greeting, USER anonymous + PASS, QUIT", "greeting, QUIT"),
    "smtp": ("greeting, EHLO, QUIT", "greeting, HELO, QUIT"),
    "pop3": ("greeting, USER + PASS, STAT, QUIT", "greeting, QUIT"),
    "imap": ("greeting, LOGIN, EXAMINE INBOX, SEARCH UNSEEN, LOGOUT", "greeting, LOGOUT"),
    "ssh": ("identification lines both ways", "identification lines both ways"),
    "dns": ("one A query over UDP (dnspython)", "runs nslookup: A and AAAA queries"),
}
SAME_WORK = {"smtp": "about the same", "ssh": "same", "ftp": "netkit also logs in",
             "pop3": "netkit also logs in", "imap": "netkit also logs in",
             "dns": "different clients"}


# --- the peers ----------------------------------------------------------------------------

@dataclass
class Peers:
    """Where each protocol's peer listens; ``dns_plugin_skipped`` says why check_dns is out."""

    endpoints: dict[str, tuple[str, int]]
    password: str = ""
    dns_plugin_skipped: str | None = None


def _port_53_problem(address: str) -> str | None:
    """Why ``address`` port 53 cannot be bound for UDP and TCP now (None when it can)."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((address, DNS_PORT))
            except OSError as exc:
                return f"{'UDP' if kind == socket.SOCK_DGRAM else 'TCP'} bind: {exc.strerror}"
    return None


@contextlib.contextmanager
def dnsmasq_at(directory: Path, address: str, port: int = DNS_PORT) -> Iterator[dns_peer.DnsServer]:
    """The harness's dnsmasq (same zone, same config) on ``address``:``port``.

    tests.peers.dns.running_dnsmasq always listens on 127.0.0.1 and a free port; this takes
    its config and moves the two lines that name the address (listen-address, and the
    auth-server line, without which queries on the new address are not answered
    authoritatively).
    """
    binary = need_binary(dns_peer.DNSMASQ, dns_peer.DEBIAN_PACKAGE)
    directory.mkdir(parents=True, exist_ok=True)
    hosts_file = directory / "hosts"
    hosts_file.write_text(dns_peer.hosts_text())
    log_file = directory / "dnsmasq.log"
    conf = directory / "dnsmasq.conf"
    text = dns_peer.render_config(port, hosts_file, log_file)
    for old, new in ((f"listen-address={dns_peer.HOST}\n", f"listen-address={address}\n"),
                     (f"auth-server={dns_peer.NS_NAME},{dns_peer.HOST}\n",
                      f"auth-server={dns_peer.NS_NAME},{address}\n")):
        if text.count(old) != 1:
            raise BenchError(f"tests/peers/dns.py's dnsmasq config has changed: no line {old!r}")
        text = text.replace(old, new)
    conf.write_text(text)
    server = ServerProcess(
        "dnsmasq",
        [binary, "--keep-in-foreground", f"--conf-file={conf}"],
        log_file=directory / "stderr.log",
        ready=lambda: can_connect(address, port),
        extra_logs=[log_file],
        cwd=directory,
    )
    with server:
        yield dns_peer.DnsServer(host=address, port=port, zone=dns_peer.ZONE,
                                 records=dns_peer.RECORDS, log_file=log_file, directory=directory)


def start_peers(stack: contextlib.ExitStack, tmp: Path, wanted: list[str], dns_address: str,
                log) -> Peers:
    """Start the peers of the ``wanted`` protocols; ``stack`` stops them."""
    from tests.peers.dns import running_dnsmasq
    from tests.peers.dovecot import running_dovecot
    from tests.peers.ftp import running_ftp
    from tests.peers.smtp import running_smtp
    from tests.peers.sshd import running_sshd

    peers = Peers({})
    pki = None
    if {"ftp", "smtp", "pop3", "imap"} & set(wanted):
        (tmp / "pki").mkdir()
        pki = make_pki(tmp / "pki")
    if "ftp" in wanted:
        log("starting pyftpdlib ...")
        ftp = stack.enter_context(running_ftp(tmp / "ftp", pki))
        peers.endpoints["ftp"] = (ftp.host, ftp.port)
    if "smtp" in wanted:
        log("starting aiosmtpd ...")
        smtp = stack.enter_context(running_smtp(tmp / "smtp", pki))
        peers.endpoints["smtp"] = (smtp.host, smtp.port)
    if {"pop3", "imap"} & set(wanted):
        log("starting dovecot ...")
        dovecot = stack.enter_context(running_dovecot(tmp / "dovecot", pki))
        peers.password = dovecot.users[MAIL_USER]
        peers.endpoints["pop3"] = (dovecot.host, dovecot.pop3_port)
        peers.endpoints["imap"] = (dovecot.host, dovecot.imap_port)
    if "ssh" in wanted:
        log("starting sshd ...")
        sshd = stack.enter_context(running_sshd(tmp / "sshd"))
        peers.endpoints["ssh"] = (sshd.host, sshd.port)
    if "dns" in wanted:
        log(f"starting dnsmasq on {dns_address}:{DNS_PORT} ...")
        problem = _port_53_problem(dns_address)
        if problem is None:
            try:
                server = stack.enter_context(dnsmasq_at(tmp / "dnsmasq-53", dns_address))
            except ServerStartError as exc:
                problem = str(exc).splitlines()[0]
        if problem is None:
            peers.endpoints["dns"] = (server.host, server.port)
        else:
            peers.dns_plugin_skipped = (
                f"nslookup only asks port 53, and dnsmasq could not have {dns_address}:{DNS_PORT} "
                f"({problem}); try --dns-address")
            log(f"check_dns left out: {peers.dns_plugin_skipped}; netkit is timed against the "
                f"harness's dnsmasq")
            server = stack.enter_context(running_dnsmasq(tmp / "dnsmasq"))
            peers.endpoints["dns"] = (server.host, server.port)
    return peers


# --- the commands -------------------------------------------------------------------------

@dataclass
class Pair:
    protocol: str
    netkit: Command
    plugin: Command | None


def pairs_for(peers: Peers, venv: Path, plugins: dict[str, str]) -> list[Pair]:
    netkit = str(venv / "bin" / "netkit")
    secret = {PASSWORD_VAR: peers.password}
    pairs = []
    for proto, (host, port) in peers.endpoints.items():
        plugin = [plugins[proto], "-H", host, "-p", str(port)]
        extra = None
        if proto in ("ftp", "smtp", "ssh"):
            url = f"{proto}://{host}:{port}"
            args = []
        elif proto in ("pop3", "imap"):
            url = f"{proto}://{MAIL_USER}@{host}:{port}"
            args = ["--password-env", PASSWORD_VAR]
            extra = secret
        else:  # dns
            url = f"dns://{host}:{port}/{DNS_NAME}"
            args = []
            plugin = None if peers.dns_plugin_skipped else [plugins[proto], "-H", DNS_NAME,
                                                            "-s", host]
        pairs.append(Pair(
            proto,
            make_command(f"netkit-{proto}", [netkit, "check", url, *args], venv, extra),
            make_command(PLUGINS[proto][0], plugin, venv) if plugin else None,
        ))
    return pairs


# --- the report ---------------------------------------------------------------------------

def report(base: Command, pairs: list[Pair], args, python: str, skipped: dict[str, str]) -> dict:
    floor_median, floor_mean = median(base.wall), mean(base.wall)
    rows, bars = [], []
    for p in pairs:
        nk_median, nk_mean = median(p.netkit.wall), mean(p.netkit.wall)
        row = {
            "protocol": p.protocol,
            "netkit_median_ms": nk_median * 1e3,
            "netkit_mean_ms": nk_mean * 1e3,
            "netkit_vs_python_median": round(ratio(nk_median, floor_median), 3),
            "netkit_vs_python_mean": round(ratio(nk_mean, floor_mean), 3),
            "work_netkit": WORK[p.protocol][0],
            "work_plugin": WORK[p.protocol][1],
            "same_work": SAME_WORK[p.protocol],
        }
        if p.plugin is not None:
            pl_median, pl_mean = median(p.plugin.wall), mean(p.plugin.wall)
            row |= {
                "plugin": p.plugin.key,
                "plugin_median_ms": pl_median * 1e3,
                "plugin_mean_ms": pl_mean * 1e3,
                "netkit_vs_plugin_median": round(ratio(nk_median, pl_median), 3),
                "netkit_vs_plugin_mean": round(ratio(nk_mean, pl_mean), 3),
            }
        rows.append(row)
        if p.protocol in BARRED:
            value = row["netkit_vs_python_median"]
            bars.append({"name": f"netkit-{p.protocol} / python-pass (median)", "value": value,
                         "limit": BAR, "pass": value <= BAR})
    cmds = [base, *(c for p in pairs for c in (p.netkit, p.plugin) if c is not None)]
    return {
        "benchmark": "protocols",
        "date": dt.date.today().isoformat(),
        "python": python,
        "method": "interleaved",
        "runs": args.runs,
        "warmup": args.warmup,
        "commands": [c.summary() for c in cmds],
        "pairs": rows,
        "bars": bars,
        "skipped": skipped,
        "pass": all(b["pass"] for b in bars),
    }


def print_report(result: dict) -> None:
    print_commands(result)
    print()
    rows = []
    for r in result["pairs"]:
        has_plugin = "plugin" in r
        rows.append([
            r["protocol"],
            f"{r['netkit_median_ms']:.2f}",
            f"{r['plugin_median_ms']:.2f}" if has_plugin else "-",
            f"{r['netkit_vs_python_median']:.2f}x",
            f"{r['netkit_vs_python_mean']:.2f}x",
            f"{r['netkit_vs_plugin_median']:.2f}x" if has_plugin else "-",
            f"{r['netkit_vs_plugin_mean']:.2f}x" if has_plugin else "-",
            r["same_work"],
        ])
    print(table(["protocol", "netkit ms", "plugin ms", "/pass med", "/pass mean", "/plugin med",
                 "/plugin mean", "work"], rows))
    print("\n(ms are medians; /pass = netkit / python -c pass, /plugin = netkit / the plugin)\n")
    print_bars(result)
    for proto, why in result["skipped"].items():
        print(f"SKIP  {proto}: {why}")
    print("\nwhat each side does on the wire:")
    for r in result["pairs"]:
        print(f"  {r['protocol']:5} netkit: {r['work_netkit']}")
        print(f"  {'':5} plugin: {r['work_plugin']}")


# --- main ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"timed runs per command (default {DEFAULT_RUNS}, at least {MIN_RUNS})")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                        help=f"untimed runs per command first (default {DEFAULT_WARMUP})")
    parser.add_argument("--skip", action="append", default=[], choices=PROTOCOLS,
                        metavar="PROTO", help=f"leave a protocol out (repeatable; {', '.join(PROTOCOLS)})")
    parser.add_argument("--dns-address", default=DEFAULT_DNS_ADDRESS,
                        help=f"loopback address whose port 53 the dns pair's dnsmasq takes "
                             f"(default {DEFAULT_DNS_ADDRESS})")
    add_common_options(parser)
    args = parser.parse_args(argv)
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    wanted = [p for p in PROTOCOLS if p not in args.skip]
    if not wanted:
        parser.error("every protocol is skipped")

    def measure(log):
        import pytest  # the harness reports a missing peer binary with pytest.fail

        plugins = {p: need_tool(PLUGINS[p][0], PLUGINS[p][1], PLUGIN_DIR) for p in wanted}
        venv = bench_venv(args.rebuild, log)
        python = python_version(venv / "bin" / "python")
        env = child_env()
        skipped = {p: "--skip" for p in args.skip}
        with tempfile.TemporaryDirectory(prefix="netkit-bench-") as tmp, \
                contextlib.ExitStack() as stack:
            try:
                peers = start_peers(stack, Path(tmp), wanted, args.dns_address, log)
            except pytest.fail.Exception as exc:
                raise BenchError(str(exc)) from None
            if peers.dns_plugin_skipped:
                skipped["check_dns"] = peers.dns_plugin_skipped
            cwd = stack.enter_context(tempfile.TemporaryDirectory(prefix="netkit-cwd-"))
            stack.enter_context(contextlib.chdir(cwd))
            base = make_command("python-pass", [str(venv / "bin" / "python"), "-c", "pass"], venv)
            pairs = pairs_for(peers, venv, plugins)
            cmds = [base, *(c for p in pairs for c in (p.netkit, p.plugin) if c is not None)]
            log("peers up; each command once (must exit 0):")
            try:
                verify(cmds, env, log)
            except BenchError as exc:
                raise BenchError(f"{exc}\n(a check that cannot pass yet can be left out with "
                                 f"--skip PROTO)") from None
            log(f"timing {len(cmds)} commands x {args.runs} runs (+{args.warmup} warm-up) ...")
            time_interleaved(cmds, args.runs, args.warmup, env)
        return report(base, pairs, args, python, skipped)

    return bench_main("bench_protocols", args, measure, print_report,
                      "pyftpdlib, aiosmtpd, dovecot, sshd and dnsmasq")


if __name__ == "__main__":
    sys.exit(main())
