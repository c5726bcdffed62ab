"""``netkit mail list`` and ``netkit mail fetch`` (see netkit.cli.mail)."""

import os

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.mail import CONNECTION, COMMAND, login, tls_context
from netkit.core.errors import UsageError
from netkit.cli.options import Option, as_given

__all__ = ["main"]

READ_PORTS = {"pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993}
# Exit codes of list and fetch.
EXIT = {"ok": 0, "server": 1, "login": 3, "skipped": 4, "local": 5}


def _size(text):
    from netkit.core.text import parse_size

    value = parse_size(text)
    if value < 1:
        raise ValueError("expects a size of 1 byte or more like 100k or 10M")
    return value


COMMON = (
    Option("starttls", "flag", as_given, None, "pop3://, imap://: STLS/STARTTLS, and fail when it is not offered"),
) + CONNECTION
LIST_OPTIONS = COMMON
FETCH_OPTIONS = (
    Option("mbox", "one", as_given, None, "append to this mbox file instead of a Maildir", metavar="FILE",
           example="inbox.mbox"),
    Option("max-size", "one", _size, None, "leave messages larger than SIZE on the server (their headers are "
           "shown)", metavar="SIZE", example="10M"),
    Option("delete", "flag", as_given, None, "delete each message from the server once it is written and "
           "fsynced here"),
    Option("keep", "flag", as_given, None, "leave the messages on the server (the default)"),
    Option("state", "one", as_given, None, "keep the IDs of fetched messages in FILE (default "
           "$XDG_STATE_HOME/netkit/mail/, one file per account)", metavar="FILE", example="alice.ids"),
    Option("quiet", "flag", as_given, None, "no progress display", short="q"),
) + COMMON
FLAGS = {"list": flag_table(LIST_OPTIONS), "fetch": flag_table(FETCH_OPTIONS)}

_CODES = ("\nExit status: 0 done, 1 the server or the network failed (what was fetched is kept), 2 bad\n"
          "input, 3 the login was refused, 4 some messages were left (--max-size, no usable UIDL),\n"
          "5 a local failure (disk full, the Maildir unusable, another fetch of the account running),\n"
          "130 interrupted.\n")


def help_text(sub) -> str:
    if sub == "list":
        return (
            "usage: netkit mail list [OPTIONS] pop3://USER@HOST[:PORT] | imap://USER@HOST[:PORT][/MAILBOX]\n\n"
            "List a mailbox: number, size, UIDL (POP3) or UID (IMAP), From, To, Subject and Date, decoded\n"
            "from any charset. Headers are read with TOP n 0 (POP3) and BODY.PEEK (IMAP, mailbox EXAMINEd):\n"
            "nothing is marked read or changed. pop3s:// and imaps:// are TLS from the start; --starttls\n"
            "upgrades the plain ones and never falls back. Passwords: the URL, --password-env VAR,\n"
            "~/.netrc ($NETRC), or a prompt on a terminal.\n\n"
            "options:\n" + option_rows(LIST_OPTIONS, 30) + _CODES +
            "\nExamples:\n"
            "  netkit mail list pop3s://alice@mail.example.org\n"
            "  netkit mail list imap://alice@mail.example.org/Archive --starttls --json\n")
    return (
        "usage: netkit mail fetch [OPTIONS] URL [MAILDIR]      (default MAILDIR: ~/Maildir)\n"
        "       netkit mail fetch [OPTIONS] URL --mbox FILE\n\n"
        "Copy the messages not fetched before into a Maildir (made if missing) or an mbox file. Each is\n"
        "written under a name of netkit's, fsynced, then its UIDL/UID is recorded (fsynced): killed at\n"
        "any moment, fetch loses no message and fetches at most one again. --delete deletes a message\n"
        "from the server only after that (and those fetched by earlier runs). The IDs are kept per\n"
        "account under $XDG_STATE_HOME (~/.local/state)/netkit/mail, so they survive reboots.\n"
        "URLs as for netkit mail list.\n\n"
        "options:\n" + option_rows(FETCH_OPTIONS, 30) + _CODES +
        "\nExamples:\n"
        "  netkit mail fetch pop3s://alice@mail.example.org ~/Maildir --delete\n"
        "  netkit mail fetch imaps://alice@mail.example.org/INBOX --mbox inbox.mbox --max-size 20M\n")


def parse(sub, argv):
    from netkit.core.target import parse_target

    cmd = f"{COMMAND} {sub}"
    values, positional = parse_values(argv, FLAGS[sub], cmd)
    if values.get("help"):
        return {"help": True}
    most = 2 if sub == "fetch" else 1
    if not positional or len(positional) > most:
        raise UsageError(f"{cmd}: give a mailbox URL{' and at most a Maildir' if sub == 'fetch' else ''}, e.g. "
                         f"{cmd} pop3s://alice@mail.example.org")
    try:
        target = parse_target(positional[0], READ_PORTS)
    except ValueError as exc:
        raise UsageError(f"{exc}; e.g. pop3s://alice@mail.example.org") from None
    kind = target.scheme.rstrip("s")
    mailbox = "INBOX"
    if kind == "pop3" and target.path not in ("", "/"):
        raise UsageError(f"{cmd}: a POP3 URL has no path (one mailbox per account); write {target.scheme}://user@host")
    if kind == "imap" and target.path not in ("", "/"):
        from netkit.core.target import percent_decode

        mailbox = percent_decode(target.path.lstrip("/"))
        from netkit.core.text import check_line_field
        from netkit.mail._imap import quote_mailbox

        try:
            quote_mailbox(check_line_field(mailbox, "a mailbox name"))
        except ValueError as exc:
            raise UsageError(f"{cmd}: {exc}") from None
    if target.scheme.endswith("s") and values.get("starttls"):
        raise UsageError(f"{cmd}: {target.scheme}:// is TLS from the start; --starttls is for {kind}://")
    if values.get("delete") and values.get("keep"):
        raise UsageError(f"{cmd}: --delete and --keep exclude each other; give one")
    user = values.get("user") or target.user
    if user is None:
        raise UsageError(f"{cmd}: log in as whom? write {target.scheme}://USER@{target.host} or --user USER")
    request = {"sub": sub, "values": values, "target": target, "kind": kind, "mailbox": mailbox}
    if sub == "fetch":
        if values.get("mbox") and len(positional) > 1:
            raise UsageError(f"{cmd}: a Maildir or --mbox FILE, not both")
        request["dest"] = os.path.expanduser(values.get("mbox") or (positional[1] if len(positional) > 1
                                                                    else "~/Maildir"))
    return request


def _account(request, err):
    from netkit.core.secrets import mask_url
    from netkit.mail._box import Account
    from netkit.mail._smtp import Transcript

    values, target = request["values"], request["target"]
    cmd = f"{COMMAND} {request['sub']}"
    user, password = login(target, values, cmd)
    tls = "implicit" if target.scheme.endswith("s") else "required" if values.get("starttls") else None
    return Account(request["kind"], target.host, target.port, user, password, tls=tls,
                   context=tls_context(values, cmd) if tls else None, mailbox=request["mailbox"],
                   timeout=values["timeout"], transcript=Transcript(err) if values.get("verbose") else None,
                   where=mask_url(target.text))


def _code(exc) -> int:
    from netkit.core.fs import LocalError
    from netkit.mail._box import LoginError

    if isinstance(exc, LoginError):
        return EXIT["login"]
    if isinstance(exc, LocalError):
        return EXIT["local"]
    return EXIT["server"]


def run_list(request, out, err) -> int:
    from netkit.core.errors import NetkitError
    from netkit.core.text import for_terminal
    from netkit.mail._fetch import listing

    account = _account(request, err)
    try:
        rows = listing(account)
    except NetkitError as exc:
        err.write(f"{COMMAND} list: {exc}\n")
        return _code(exc)
    if request["values"].get("json"):
        from netkit.cli.shell import dump_json

        for row in rows:
            out.write(dump_json(row))
        return 0
    width = max([len(str(r["uid"] or "-")) for r in rows] + [3])
    out.write(f"{'#':>5} {'SIZE':>9}  {'UID':<{width}}  DATE | FROM -> TO | SUBJECT\n")
    for r in rows:
        out.write(f"{r['number']:>5} {r['size'] if r['size'] is not None else '?':>9}  "
                  f"{for_terminal(r['uid'] or '-'):<{width}}  {for_terminal(r['date'])} | {for_terminal(r['from'])} -> "
                  f"{for_terminal(r['to'])} | {for_terminal(r['subject'])}\n")
    return 0


def run_fetch(request, out, err) -> int:
    from netkit.cli.progress import open_display
    from netkit.core.errors import NetkitError
    from netkit.core.text import for_terminal, format_size
    from netkit.mail._fetch import fetch
    from netkit.mail._store import Maildir, Mbox, State, state_path

    values = request["values"]
    account = _account(request, err)
    # --verbose prints the dialogue on standard error: no rows among its lines.
    display = open_display(err, not values.get("quiet") and not values.get("verbose"), transient=True)
    task = display.task("fetch", None, "messages")

    store = None
    try:
        store = Mbox(request["dest"]) if values.get("mbox") else Maildir(request["dest"])
        path = os.path.abspath(os.path.expanduser(values["state"])) if values.get("state") else \
            state_path(account.key)
        report = fetch(account, store, lambda scope: State(path, account.key, scope), max_size=values.get("max-size"),
                       delete=bool(values.get("delete")),
                       progress=(lambda done, total, size: task(done, total, note=format_size(size))) if task else None)
    except NetkitError as exc:
        display.close()
        err.write(f"{COMMAND} fetch: {exc}\n")
        return _code(exc)
    finally:
        display.close()
        if isinstance(store, Mbox):
            store.close()
    if report.reset:
        err.write(f"{COMMAND} fetch: {account.where}: the mailbox's UIDVALIDITY changed: every message was new\n")
    for entry, why, head in report.skipped:
        shown = f" (From: {for_terminal(head['from'])}; Subject: {for_terminal(head['subject'])})" if head else ""
        err.write(f"{COMMAND} fetch: message {entry.number} left on the server: {why}{shown}\n")
    summary = {"server": account.where, "fetched": len(report.fetched), "bytes": report.bytes,
               "known": report.known, "deleted": report.deleted, "skipped": len(report.skipped),
               "total": report.total, "destination": request["dest"]}
    if values.get("json"):
        from netkit.cli.shell import dump_json

        out.write(dump_json(summary))
    else:
        out.write(f"{account.where}: fetched {len(report.fetched)} of {report.total} messages "
                  f"({format_size(report.bytes)}) into {request['dest']}; {report.known} fetched before, "
                  f"{report.deleted} deleted, {len(report.skipped)} left\n")
    return EXIT["skipped"] if report.skipped else 0


def main(sub, argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    work = run_list if sub == "list" else run_fetch
    return run_command(f"{COMMAND} {sub}", argv, lambda a: parse(sub, a), lambda: help_text(sub), work, out, err)
