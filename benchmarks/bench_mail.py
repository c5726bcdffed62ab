#!/usr/bin/env python3
"""Mail: `netkit mail send` beside swaks and a plain smtplib loop, and `netkit mail fetch`
beside fetchmail (and getmail6) on the same mailbox (issue 16, "Bars").

1. send: MESSAGES messages of the same small text to aiosmtpd (tests/peers/smtp.py: a child
   process spooling each message to a file), one recipient, plain SMTP:
       swaks --server 127.0.0.1:PORT --from ... --to ... --data @MSG --silent 2   (one process a message)
       python -c '<smtplib: one connection, sendmail() MESSAGES times, quit()>'
       VENV/bin/netkit mail send smtp://127.0.0.1:PORT --message MSG -f ... -t ... --count MESSAGES
2. fetch: FETCH_MESSAGES messages (~600 bytes each) in one dovecot mailbox
   (tests/peers/mail_dovecot.py), POP3 and IMAP, each run into an empty Maildir with no state:
       fetchmail -f RC -i IDS --nodetach   (keep, fetchall, uidl; mda: sh -c 'cat > $(mktemp -p MAILDIR/new)',
                                             the usual way fetchmail fills a Maildir: it cannot write one itself)
       VENV/bin/netkit mail fetch pop3://USER@127.0.0.1:PORT MAILDIR --password-env PW -q
   getmail6 (SimplePOP3Retriever -> Maildir) is run once per protocol with a time cap: it forks a
   child per message and loses the child's exit now and then (getmail6 issues #52, #226), then
   waits its timeout; its time and how many messages it delivered are reported.

Every run must exit 0 and deliver all its messages (spool files, Maildir files counted).
Method: one untimed warm-up (dovecot indexes the mailbox), then ROUNDS rounds; in each round
every tool runs once, the order alternating. Wall time around the whole process.

Bars (medians): send netkit <= 1.0 x swaks and <= 1.2 x smtplib; fetch netkit <= 1.0 x fetchmail
for POP3 and for IMAP.

Exit status: 0 all bars pass, 1 a bar fails, 2 the benchmark could not run.

    python benchmarks/bench_mail.py [--rounds N] [--messages N] [--fetch-messages N] [--only send|fetch] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
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

ROUNDS = 3
MESSAGES = 1000
FETCH_MESSAGES = 10_000
# getmail6 is given this long per protocol before it is stopped (see the docstring).
GETMAIL_CAP = 120
SENDER = "bench@example.org"
RCPT = "rcpt@example.test"
MESSAGE = (f"From: {SENDER}\nTo: {RCPT}\nSubject: netkit mail benchmark\nMessage-ID: <bench@example.org>\n\n"
           + "A line of the benchmark message's body.\n" * 10)
SMTPLIB = """
import smtplib, sys
port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
data = open(path, 'rb').read()
s = smtplib.SMTP('127.0.0.1', port, local_hostname='bench')
for _ in range(count):
    s.sendmail(%r, [%r], data)
s.quit()
""" % (SENDER, RCPT)


def timed(argv, env=None, cwd=None, timeout=3600):
    start = time.perf_counter()
    proc = subprocess.run(argv, env={**child_env(), **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=timeout, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-400:]}")
    return elapsed


def count(path: Path) -> int:
    return len(os.listdir(path)) if path.is_dir() else 0


def measure_send(args, venv, tmp, log):
    from tests.peers.certs import make_pki
    from tests.peers.smtp import running_smtp

    swaks = need_tool("swaks", "swaks")
    msg = tmp / "message.eml"
    msg.write_text(MESSAGE)
    (tmp / "pki").mkdir()
    netkit = [str(venv / "bin" / "python"), str(venv / "bin" / "netkit")]
    times = {"swaks": [], "smtplib": [], "netkit": []}
    with running_smtp(tmp / "smtp", make_pki(tmp / "pki")) as smtp:
        runs = {
            "swaks": lambda: sum(timed([swaks, "--server", f"127.0.0.1:{smtp.port}", "--from", SENDER, "--to", RCPT,
                                        "--data", f"@{msg}", "--silent", "2"]) for _ in range(args.messages)),
            "smtplib": lambda: timed([sys.executable, "-c", SMTPLIB, str(smtp.port), str(args.messages), str(msg)]),
            "netkit": lambda: timed([*netkit, "mail", "send", f"smtp://127.0.0.1:{smtp.port}", "--message", str(msg),
                                     "-f", SENDER, "-t", RCPT, "--count", str(args.messages)]),
        }
        order = list(runs)
        for r in range(args.rounds):
            for name in (order if r % 2 == 0 else order[::-1]):
                before = count(smtp.spool)
                times[name].append(runs[name]())
                got = count(smtp.spool) - before
                if got != args.messages:
                    raise BenchError(f"send: {name} delivered {got} of {args.messages} messages")
                log(f"  send round {r + 1}: {name} {times[name][-1]:.2f} s")
    med = {name: median(values) for name, values in times.items()}
    return {"messages": args.messages, "seconds": med, "runs": times,
            "ratio_swaks": ratio(med["netkit"], med["swaks"]), "ratio_smtplib": ratio(med["netkit"], med["smtplib"]),
            "pass": med["netkit"] <= med["swaks"] and med["netkit"] <= 1.2 * med["smtplib"]}


def fetchmail_rc(path, port, kind, user, password, maildir):
    mda = f"/bin/sh -c 'exec cat > $(mktemp -p {maildir}/new fm.XXXXXXXXXX)'"
    path.write_text(f'set no syslog\nset no bouncemail\npoll 127.0.0.1 port {port} protocol {kind.upper()}'
                    f'{" uidl" if kind == "pop3" else ""}\n  user "{user}" password "{password}" keep fetchall '
                    f"sslproto ''\n  mda \"{mda}\"\n")
    path.chmod(0o600)


def getmail_rc(path, port, kind, user, password, maildir):
    retriever = "SimplePOP3Retriever" if kind == "pop3" else "SimpleIMAPRetriever"
    path.write_text(f"[retriever]\ntype = {retriever}\nserver = 127.0.0.1\nport = {port}\nusername = {user}\n"
                    f"password = {password}\n[destination]\ntype = Maildir\npath = {maildir}/\nuser = nobody\n"
                    f"[options]\nread_all = true\ndelete = false\nverbose = 0\n")


def fresh_maildir(path: Path, owner=None) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
        if owner is not None:
            os.chown(path / sub, owner, -1)
    if owner is not None:
        os.chown(path, owner, -1)
    return path


def measure_fetch(args, venv, tmp, log):
    import pwd

    from tests.peers.certs import make_pki
    from tests.peers.mail_dovecot import running_mail_dovecot

    fetchmail = need_tool("fetchmail", "fetchmail")
    getmail = need_tool("getmail", "getmail6")
    (tmp / "pki2").mkdir()
    netkit = [str(venv / "bin" / "python"), str(venv / "bin" / "netkit")]
    results = {}
    with running_mail_dovecot(tmp / "dovecot", make_pki(tmp / "pki2")) as box:
        user, password = box.new_user()
        body = "A line of the benchmark message's body.\n" * 12
        box.fill(user, [f"From: s{i}@example.org\nTo: {user}@example.test\nSubject: message {i}\n"
                        f"Message-ID: <{i}@bench>\n\n{body}".encode() for i in range(args.fetch_messages)])
        md = tmp / "md"
        env = {"BENCH_PW": password, "XDG_STATE_HOME": str(tmp / "state")}
        for kind in ("pop3", "imap"):
            port = getattr(box, f"{kind}_port")

            def run_netkit():
                shutil.rmtree(tmp / "state", ignore_errors=True)
                fresh_maildir(md)
                return timed([*netkit, "mail", "fetch", f"{kind}://{user}@127.0.0.1:{port}", str(md),
                              "--password-env", "BENCH_PW", "-q"], env=env)

            def run_fetchmail():
                fresh_maildir(md)
                home = tmp / "fetchmail"
                shutil.rmtree(home, ignore_errors=True)
                home.mkdir()
                fetchmail_rc(home / "rc", port, kind, user, password, md)
                return timed([fetchmail, "-f", str(home / "rc"), "-i", str(home / "ids"), "--nodetach", "-s"],
                             env={"HOME": str(home)})

            runs = {"fetchmail": run_fetchmail, "netkit": run_netkit}
            if kind == "pop3":
                log(f"  fetch warm-up: dovecot indexes {args.fetch_messages} messages ...")
                run_netkit()
            times = {name: [] for name in runs}
            for r in range(args.rounds):
                for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                    times[name].append(runs[name]())
                    got = count(md / "new")
                    if got != args.fetch_messages:
                        raise BenchError(f"fetch {kind}: {name} delivered {got} of {args.fetch_messages}")
                    log(f"  fetch {kind} round {r + 1}: {name} {times[name][-1]:.2f} s")
            med = {name: median(values) for name, values in times.items()}
            nobody = pwd.getpwnam("nobody").pw_uid
            fresh_maildir(md, owner=nobody)
            gm = tmp / "getmail"
            shutil.rmtree(gm, ignore_errors=True)
            gm.mkdir()
            getmail_rc(gm / "rc", port, kind, user, password, md)
            start = time.perf_counter()
            try:
                proc = subprocess.run([getmail, "--getmaildir", str(gm), "--rcfile", "rc"], env=child_env(),
                                      capture_output=True, timeout=GETMAIL_CAP, check=False)
                status = f"exit {proc.returncode}"
            except subprocess.TimeoutExpired:
                status = f"stopped after {GETMAIL_CAP} s"
            getmail_s = time.perf_counter() - start
            results[kind] = {"seconds": med, "runs": times, "ratio_fetchmail": ratio(med["netkit"], med["fetchmail"]),
                             "getmail": {"seconds": getmail_s, "delivered": count(md / "new"), "status": status},
                             "pass": med["netkit"] <= med["fetchmail"]}
            log(f"  getmail6 {kind}: {count(md / 'new')} of {args.fetch_messages} in {getmail_s:.1f} s ({status})")
    return {"messages": args.fetch_messages, "protocols": results, "pass": all(r["pass"] for r in results.values())}


def measure(args, log):
    venv = bench_venv(args.rebuild, log)
    result = {"rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="netkit-bench-mail-") as name:
        tmp = Path(name)
        os.chmod(tmp, 0o755)  # getmail delivers as nobody
        if args.only in (None, "send"):
            log(f"send: {args.messages} messages, {args.rounds} rounds ...")
            result["send"] = measure_send(args, venv, tmp, log)
        if args.only in (None, "fetch"):
            log(f"fetch: {args.fetch_messages} messages, {args.rounds} rounds ...")
            result["fetch"] = measure_fetch(args, venv, tmp, log)
    result["pass"] = all(part["pass"] for key, part in result.items() if isinstance(part, dict))
    return result


def print_report(result):
    rows = []
    if "send" in result:
        s = result["send"]
        rows.append([f"send {s['messages']} (swaks)", f"{s['seconds']['swaks']:.2f}", f"{s['seconds']['netkit']:.2f}",
                     f"{s['ratio_swaks']:.3f}x", "<= 1.0"])
        rows.append([f"send {s['messages']} (smtplib loop)", f"{s['seconds']['smtplib']:.2f}",
                     f"{s['seconds']['netkit']:.2f}", f"{s['ratio_smtplib']:.2f}x", "<= 1.2"])
    if "fetch" in result:
        for kind, r in result["fetch"]["protocols"].items():
            rows.append([f"fetch {result['fetch']['messages']} {kind} (fetchmail)", f"{r['seconds']['fetchmail']:.2f}",
                         f"{r['seconds']['netkit']:.2f}", f"{r['ratio_fetchmail']:.2f}x", "<= 1.0"])
            g = r["getmail"]
            rows.append([f"fetch {kind} (getmail6, once)", f"{g['seconds']:.2f}", "", "",
                         f"{g['delivered']} delivered, {g['status']}"])
    print(f"\nmedian of {result['rounds']} interleaved rounds; ratio = netkit's time / the reference's")
    print(table(["benchmark", "reference s", "netkit s", "ratio", "bar"], rows))
    print("PASS" if result["pass"] else "FAIL")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--fetch-messages", type=int, default=FETCH_MESSAGES)
    parser.add_argument("--only", choices=("send", "fetch"))
    add_common_options(parser)
    args = parser.parse_args(argv)
    return bench_main("bench_mail", args, lambda log: measure(args, log), print_report, "aiosmtpd and dovecot")


if __name__ == "__main__":
    sys.exit(main())
