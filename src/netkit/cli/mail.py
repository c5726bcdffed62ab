"""``netkit mail send|list|fetch``: send mail as swaks does (and test servers with it),
list a POP3/IMAP mailbox without marking anything seen, fetch it into a Maildir or mbox.

Exit codes of ``send`` name the stage that failed (:data:`netkit.mail._smtp.STAGES`),
those of ``list`` and ``fetch`` are 0 done, 1 a failure (one line, the server's words),
2 bad input, 130 Ctrl-C.
"""

import os
import sys

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.core.errors import UsageError
from netkit.cli.options import Option, as_given, port, positive, seconds

__all__ = ["main", "help_text"]

COMMAND = "netkit mail"
SUBCOMMANDS = ("send", "list", "fetch")
SEND_PORTS = {"smtp": 25, "smtps": 465, "lmtp": 24}
DEFAULT_TIMEOUT = 30.0
# --count's ceiling: a load test of one's own server, not a spam cannon.
MAX_COUNT = 1_000_000


def _address(text):
    """An address for MAIL FROM/RCPT TO and the headers: one line, no <, > or spaces."""
    from netkit.core.text import check_line_field

    text = check_line_field(str(text).strip(), "an address")
    if any(c in text for c in "<> \t") or (text and "@" not in text):
        raise ValueError("expects an address like alice@example.org")
    return text


def _one_line(text):
    from netkit.core.text import check_line_field

    return check_line_field(str(text), "the value")


def _header(text):
    from netkit.core.text import check_line_field

    name, colon, value = str(text).partition(":")
    name = name.strip()
    if not colon or not name or not all(33 <= ord(c) <= 126 for c in name):
        raise ValueError("is not a header; write 'Name: value'")
    check_line_field(value, "a header value")
    return name, value.strip()


def _stage(text):
    from netkit.mail._smtp import QUIT_AFTER

    text = str(text).lower()
    if text not in QUIT_AFTER:
        raise ValueError(f"expects one of {', '.join(QUIT_AFTER)}")
    return text


def _mechanism(text):
    from netkit.mail._send import MECHANISMS

    text = str(text).upper()
    if text not in MECHANISMS:
        raise ValueError(f"expects one of {', '.join(MECHANISMS)}")
    return text


def _notify(text):
    words = str(text).upper().replace(" ", "").split(",")
    if words == ["NEVER"] or (words and set(words) <= {"SUCCESS", "FAILURE", "DELAY"}):
        return ",".join(words)
    raise ValueError("expects NEVER, or SUCCESS, FAILURE and DELAY joined by commas")


def _dsn_return(text):
    text = str(text).upper()
    if text not in ("FULL", "HDRS"):
        raise ValueError("expects FULL or HDRS")
    return text


def _count(text):
    n = positive(text)
    if n > MAX_COUNT:
        raise ValueError(f"expects at most {MAX_COUNT}")
    return n


def _file(text):
    path = os.path.expanduser(str(text))
    if not os.path.isfile(path):
        raise ValueError("no such file" if not os.path.exists(path) else "not a regular file")
    return path


def _charset(text):
    import codecs

    try:
        codecs.lookup(str(text))
    except LookupError:
        raise ValueError("is not a charset Python knows (utf-8, cp1251, koi8-r, iso-8859-1, ...)") from None
    return str(text)


# Options send, list and fetch share: TLS, login, time, transcript.
CONNECTION = (
    Option("insecure", "flag", as_given, None, "do not verify the server's certificate", short="k"),
    Option("cacert", "one", _file, None, "trust the CAs of this PEM file", metavar="FILE", example="ca.pem"),
    Option("user", "one", _one_line, None, "log in as USER (or in the URL: smtp://USER@host)", short="u",
           metavar="USER", example="alice"),
    Option("password-env", "one", as_given, None, "read the password from this environment variable (else "
           "the URL, ~/.netrc, a prompt on a terminal)", metavar="VAR", example="MAIL_PASSWORD"),
    Option("timeout", "one", seconds, None, f"connect and reply timeout (default {DEFAULT_TIMEOUT:g} s)",
           metavar="SECONDS", example="10", default=DEFAULT_TIMEOUT),
    Option("verbose", "flag", as_given, None, "print the dialogue on standard error ('>' sent, '<' received, "
           "timestamps; passwords masked)", short="v"),
    Option("json", "flag", as_given, None, "print the result as JSON"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)

SEND_OPTIONS = (
    Option("from", "one", _address, None, "the sender (From: and MAIL FROM)", short="f", metavar="ADDRESS",
           example="me@example.org"),
    Option("to", "many", _address, None, "a recipient (repeatable)", short="t", metavar="ADDRESS",
           example="you@example.org"),
    Option("cc", "many", _address, None, "a Cc recipient (repeatable)", metavar="ADDRESS", example="boss@example.org"),
    Option("bcc", "many", _address, None, "a hidden recipient (repeatable; in no header)", metavar="ADDRESS",
           example="archive@example.org"),
    Option("mail-from", "one", _address, None, "the envelope sender when it differs from --from ('' for <>)",
           metavar="ADDRESS", example="bounces@example.org"),
    Option("subject", "one", _one_line, None, "the Subject (any language: RFC 2047 encoded)", metavar="TEXT",
           example="'Report'"),
    Option("body", "one", as_given, None, "the text: TEXT, @FILE, or - for standard input", metavar="TEXT",
           example="@body.txt"),
    Option("html", "one", as_given, None, "an HTML alternative: TEXT or @FILE", metavar="HTML",
           example="@body.html"),
    Option("attach", "many", _file, None, "attach FILE (repeatable; its type guessed from the name)",
           metavar="FILE", example="report.pdf"),
    Option("attach-type", "many", as_given, None, "the type of each --attach, in order (e.g. text/csv)",
           metavar="TYPE", example="text/csv"),
    Option("header", "many", _header, None, "add (or replace) a header", short="H", metavar="'NAME: VALUE'",
           example="'X-Tag: test'"),
    Option("charset", "one", _charset, None, "the body's charset (default utf-8)", metavar="CHARSET",
           example="cp1251", default="utf-8"),
    Option("message", "one", as_given, None, "send this ready message (FILE, - for standard input) byte for byte",
           metavar="FILE", example="message.eml"),
    Option("dump", "flag", as_given, None, "print the message that would be sent, and send nothing"),
    Option("starttls", "flag", as_given, None, "smtp://: STARTTLS, and fail when it is not offered (exit 29)"),
    Option("starttls-optional", "flag", as_given, None, "smtp://: STARTTLS when offered; when not, say so "
           "on standard error and go on unencrypted"),
    Option("auth", "one", _mechanism, None, "this AUTH mechanism (default: the best offered of CRAM-MD5, "
           "PLAIN, LOGIN; PLAIN and LOGIN only over TLS unless named here)", metavar="MECH", example="PLAIN"),
    Option("oauth-token-env", "one", as_given, None, "AUTH XOAUTH2 with the bearer token in this environment "
           "variable", metavar="VAR", example="MAIL_TOKEN"),
    Option("dsn-notify", "one", _notify, None, "ask for delivery status notifications (RFC 3461)",
           metavar="WHEN", example="SUCCESS,FAILURE"),
    Option("dsn-return", "one", _dsn_return, None, "what a DSN returns: FULL or HDRS", metavar="WHAT",
           example="HDRS"),
    Option("ehlo", "one", _one_line, None, "the name said in EHLO (default: this host's name)", metavar="NAME",
           example="client.example.org"),
    Option("quit-after", "one", _stage, None, "stop after this stage: connect, banner, ehlo, starttls, auth, "
           "mail, rcpt", short="q", metavar="STAGE", example="rcpt"),
    Option("command", "many", _one_line, None, "send this command after EHLO/AUTH and print the reply "
           "(repeatable)", short="c", metavar="'VERB ARGS'", example="'ETRN example.org'"),
    Option("mx", "flag", as_given, None, "no server URL: deliver to each recipient domain's MX hosts in "
           "order (the next one when a host cannot be reached)"),
    Option("port", "one", port, None, "--mx: the port of the MX hosts (default 25)", metavar="PORT",
           example="2525"),
    Option("dns-server", "one", as_given, None, "--mx: ask this DNS server, not the system's resolver",
           metavar="HOST[:PORT]", example="127.0.0.1:5353"),
    Option("count", "one", _count, None, "send the message N times on the one connection (load tests of "
           "your own server)", short="n", metavar="N", example="1000"),
) + CONNECTION

FLAGS = {"send": flag_table(SEND_OPTIONS)}


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    from netkit.cli._mail_read import FETCH_OPTIONS, LIST_OPTIONS

    return {"send": ("send a message over SMTP, SMTPS or LMTP; test a server", SEND_OPTIONS),
            "list": ("list a POP3 or IMAP mailbox", LIST_OPTIONS),
            "fetch": ("copy new messages into a Maildir or mbox", FETCH_OPTIONS)}


def _send_help() -> str:
    from netkit.mail._smtp import STAGES

    codes = "".join(f"  {code}  {stage}\n" for stage, code in sorted(STAGES.items(), key=lambda kv: kv[1]))
    return (
        "usage: netkit mail send [OPTIONS] smtp://[USER@]HOST[:PORT] --from ADDRESS --to ADDRESS ...\n"
        "       netkit mail send smtps://HOST | lmtp://HOST:PORT ...\n"
        "       netkit mail send smtp://HOST --quit-after ehlo | --command 'ETRN example.org'\n\n"
        "Build a MIME message (or take a ready one with --message) and send it, as swaks does: one\n"
        "connection for every recipient and every --count copy, PIPELINING when offered, SMTPUTF8\n"
        "when an address needs it. smtps:// is TLS from the start; --starttls upgrades smtp:// and\n"
        "never falls back to plain text. Certificates are verified (--insecure to skip).\n"
        "Passwords: the URL, --password-env VAR, ~/.netrc ($NETRC), or a prompt on a terminal.\n\n"
        "options:\n" + option_rows(SEND_OPTIONS, 34) +
        "\nExit status: 0 sent (or stopped at --quit-after), 1 another failure, 2 bad input, 130\n"
        "interrupted, and for a failure in one stage of the session (with the server's own words):\n"
        + codes +
        "\nExamples:\n"
        "  netkit mail send smtp://mx.example.org --quit-after rcpt -f me@example.org -t you@example.org\n"
        "  netkit mail send smtp://alice@mail.example.org:587 --starttls -f alice@example.org \\\n"
        "      -t bob@example.org --subject 'Отчёт' --body @report.txt --attach report.pdf\n"
        "  netkit mail send smtp://mx.abcde.ru -v --command 'ETRN rnd.abcde.ru'\n"
        "  netkit mail send smtp://127.0.0.1:2525 -f a@test -t b@test --count 1000\n"
    )


def help_text() -> str:
    return (
        "usage: netkit mail send|list|fetch [OPTIONS] URL\n\n"
        "  send    send a message over SMTP, SMTPS or LMTP; test a server stage by stage\n"
        "  list    list a POP3 or IMAP mailbox (number, size, UIDL/UID, From, To, Subject, Date)\n"
        "  fetch   copy new messages into a Maildir (or mbox); --delete them once safely written\n\n"
        "Run 'netkit mail SUBCOMMAND --help' for its options.\n"
    )


def login(target, values, command):
    """(user, password) as every netkit login resolves them (:mod:`netkit.core.credentials`):
    --user or the URL's user; the password from the URL, --password-env, ~/.netrc or a
    prompt. No user: (None, None), mail sent without AUTH."""
    from netkit.core.credentials import resolve

    return tuple(resolve(target, values.get("user") or None, None, values.get("password-env"),
                         prompt=True, netrc_login=False, spell=lambda name: f"--{name}"))


def tls_context(values, command):
    from netkit.drivers._tls import context_for
    from netkit.proto.actions import TLSParams

    if values.get("insecure") and values.get("cacert"):
        raise UsageError(f"{command}: --insecure and --cacert exclude each other; give one")
    return context_for(TLSParams("", verify=not values.get("insecure"), cafile=values.get("cacert")))


def _text_value(text, what, stdin):
    """TEXT, @FILE (UTF-8, else --charset) or - (standard input) as str."""
    if text == "-":
        from netkit.mail._compose import MAX_MESSAGE_BYTES

        data = stdin.read(MAX_MESSAGE_BYTES + 1)  # `< /dev/zero` or `yes |` would fill the memory
        if len(data) > MAX_MESSAGE_BYTES:
            raise UsageError(f"{what} on standard input is larger than {MAX_MESSAGE_BYTES >> 20} MiB")
    elif text.startswith("@"):
        from netkit.mail._compose import _read_file

        data = _read_file(os.path.expanduser(text[1:]), what)
    else:
        return text
    return data


def _decode(data, charset, what):
    if isinstance(data, str):
        return data
    for name in ("utf-8", charset):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    raise UsageError(f"{what} is neither UTF-8 nor {charset}; say which with --charset")


def parse_send(argv, stdin=None):
    from netkit.core.target import parse_target

    values, positional = parse_values(argv, FLAGS["send"], f"{COMMAND} send")
    if values.get("help"):
        return {"help": True}
    cmd = f"{COMMAND} send"
    stdin = stdin or sys.stdin.buffer
    if len(positional) > 1:
        raise UsageError(f"one server URL (got {len(positional)}): {cmd} smtp://host[:port] ...")
    request = {"values": values, "dump": bool(values.get("dump"))}
    if values.get("mx"):
        if positional:
            raise UsageError(f"{cmd}: --mx finds the servers itself; give no URL")
        if values.get("user") or values.get("password-env") or values.get("oauth-token-env"):
            raise UsageError(f"{cmd}: --mx delivers as a mail server does, without AUTH; drop --user")
        if values.get("dns-server"):
            from netkit.info.dns import parse_server

            values["dns-server"] = parse_server(values["dns-server"])
        positional = ["smtp://mx"]
    elif values.get("port") or values.get("dns-server"):
        raise UsageError(f"{cmd}: --port and --dns-server are for --mx; put the port in the URL")
    if not positional and not values.get("dump"):
        raise UsageError(f"which server? e.g. {cmd} smtp://mail.example.org:587 --starttls ...")
    target = None
    if positional:
        try:
            target = parse_target(positional[0], SEND_PORTS)
        except ValueError as exc:
            raise UsageError(f"{exc}; e.g. smtp://mail.example.org:587") from None
        if target.path not in ("", "/"):
            raise UsageError(f"{target.text}: a mail server URL has no path; write {target.scheme}://host[:port]")
    request["target"] = target
    if values.get("starttls") and values.get("starttls-optional"):
        raise UsageError(f"{cmd}: --starttls and --starttls-optional exclude each other; give one")
    if target is not None and target.scheme == "smtps" and (values.get("starttls") or values.get("starttls-optional")):
        raise UsageError(f"{cmd}: smtps:// is TLS from the start; --starttls is for smtp://")
    quit_after = values.get("quit-after")
    rcpts = list(values.get("to", [])) + list(values.get("cc", [])) + list(values.get("bcc", []))
    sending = quit_after not in ("connect", "banner", "ehlo", "starttls", "auth") and not (
        values.get("command") and not rcpts and not values.get("message"))
    message = None
    if sending or values.get("dump"):
        message, rcpts, sender = _message(values, rcpts, stdin, cmd)
        request["sender"] = values.get("mail-from", sender)
        if not rcpts:
            raise UsageError(f"{cmd}: whom to? give --to ADDRESS (or a --message with To/Cc headers)")
        if request["sender"] is None:
            raise UsageError(f"{cmd}: from whom? give --from ADDRESS")
    request.update(message=message, rcpts=rcpts, sending=sending, quit_after=quit_after)
    return request


def _message(values, rcpts, stdin, cmd):
    from netkit.mail import _compose

    if values.get("message") is not None:
        built = ("subject", "body", "html", "attach", "header")
        given = [f"--{name}" for name in built if values.get(name)]
        if given:
            raise UsageError(f"{cmd}: --message sends a ready message; {', '.join(given)} would change it")
        data = _compose.read_message(values["message"], stdin)
        sender, listed = _compose.envelope_from_headers(data)
        if not rcpts:
            rcpts = listed
        return _compose.without_bcc(data), rcpts, values.get("from", sender)
    if not values.get("from"):
        raise UsageError(f"{cmd}: from whom? give --from ADDRESS")
    types = list(values.get("attach-type", []))
    attachments = list(values.get("attach", []))
    if len(types) > len(attachments):
        raise UsageError(f"{cmd}: more --attach-type ({len(types)}) than --attach ({len(attachments)})")
    for kind in types:
        if kind.count("/") != 1 or not all(part and part.isascii() for part in kind.split("/")):
            raise UsageError(f"--attach-type {kind!r}: expects a MIME type like text/csv")
    charset = values.get("charset", "utf-8")
    body = values.get("body")
    body = None if body is None else _decode(_text_value(body, "--body", stdin), charset, "--body")
    html = values.get("html")
    html = None if html is None else _decode(_text_value(html, "--html", stdin), "utf-8", "--html")
    draft = _compose.Draft(values["from"], values.get("to", ()), values.get("cc", ()), (), values.get("subject"),
                           body, html, list(zip(attachments, types + [None] * len(attachments))),
                           values.get("header", ()), charset)
    return _compose.build(draft), rcpts, values["from"]


def run_send(request, out, err) -> int:
    from netkit.mail import _compose
    from netkit.mail._send import Request, send
    from netkit.mail._smtp import StageError, Transcript, exit_code

    values = request["values"]
    if request["dump"]:
        out.buffer.write(request["message"]) if hasattr(out, "buffer") else out.write(
            request["message"].decode("utf-8", "replace"))
        return 0
    target = request["target"]
    cmd = f"{COMMAND} send"
    if values.get("mx"):
        return _run_mx(request, out, err)
    token = None
    if values.get("oauth-token-env"):
        user, password = values.get("user") or target.user, None
        from netkit.core.credentials import env_secret

        token = env_secret(values["oauth-token-env"], "--oauth-token-env")
        if user is None:
            raise UsageError(f"{cmd}: XOAUTH2 needs a user: --user NAME or {target.scheme}://NAME@host")
    else:
        user, password = login(target, values, cmd)
    tls = "implicit" if target.scheme == "smtps" else "required" if values.get("starttls") else (
        "optional" if values.get("starttls-optional") else None)
    context = tls_context(values, cmd) if tls else None
    data = _compose.data_bytes(request["message"]) if request["message"] is not None else b".\r\n"
    messages = _copies(data, values.get("count", 1), request["message"])
    ehlo = values.get("ehlo") or _hostname()

    def notice(text):
        err.write(f"{cmd}: warning: {text}\n")

    transport = Request(
        target.host, target.port, lmtp=target.scheme == "lmtp", tls=tls, context=context, ehlo=ehlo, user=user,
        password=password, auth=values.get("auth") or ("XOAUTH2" if token else None), oauth_token=token,
        commands=values.get("command", ()), quit_after=request["quit_after"], mail_from=request.get("sender") or "",
        rcpts=request["rcpts"] if request["sending"] else (), messages=messages,
        dsn_notify=values.get("dsn-notify"), dsn_return=values.get("dsn-return"), timeout=values["timeout"],
        transcript=Transcript(err) if values.get("verbose") else None, notice=notice)
    try:
        report = send(transport)
    except StageError as exc:
        _render_failure(exc, target, values, out, err)
        return exit_code(exc.stage)
    return _render_report(report, target, values, out, err)


def _run_mx(request, out, err) -> int:
    from netkit.mail import _compose
    from netkit.mail._send import Request, mx_hosts, send_mx
    from netkit.mail._smtp import StageError, Transcript, exit_code

    values = request["values"]
    cmd = f"{COMMAND} send"
    tls = "required" if values.get("starttls") else "optional" if values.get("starttls-optional") else None
    context = tls_context(values, cmd) if tls else None
    data = _compose.data_bytes(request["message"])

    def notice(text):
        err.write(f"{cmd}: warning: {text}\n")

    def request_for(host, rcpts):
        return Request(host, values.get("port", 25), tls=tls, context=context, ehlo=values.get("ehlo") or _hostname(),
                       quit_after=request["quit_after"], mail_from=request.get("sender") or "", rcpts=rcpts,
                       messages=_copies(data, values.get("count", 1), request["message"]),
                       dsn_notify=values.get("dsn-notify"), dsn_return=values.get("dsn-return"),
                       timeout=values["timeout"], transcript=Transcript(err) if values.get("verbose") else None,
                       notice=notice)

    try:
        done = send_mx(request_for, request["rcpts"],
                       lambda domain: mx_hosts(domain, values.get("dns-server"), values["timeout"]), notice)
    except StageError as exc:
        err.write(f"{cmd}: {exc.stage} failed: {exc}\n")
        return exit_code(exc.stage)
    code = 0
    for domain, host, report in done:
        from netkit.core.target import Target

        code = max(code, _render_report(report, Target("smtp", host, values.get("port", 25)), values, out, err))
    return code


def _hostname():
    import socket

    name = socket.gethostname()
    return name if name and name.isascii() and " " not in name else "localhost"


def _copies(data, count, message):
    """``count`` copies of DATA, each with its own Message-ID (generated as sent)."""
    if count == 1 or message is None:
        return [data] * count
    from netkit.mail._compose import with_message_id

    import re

    found = re.search(rb"(?im)^message-id:[ \t]*(<[^>\r\n]*>)", data.split(b"\r\n\r\n", 1)[0])
    if found is None:
        return (data for _ in range(count))
    old = found.group(1)
    domain = old.rpartition(b"@")[2].rstrip(b">").decode("ascii", "replace") or "localhost"
    return (data if i == 0 else with_message_id(data, old, domain) for i in range(count))


def _render_failure(exc, target, values, out, err):
    from netkit.core.secrets import mask_url

    where = mask_url(target.text)
    if values.get("json"):
        from netkit.cli.shell import dump_json
        from netkit.mail._smtp import exit_code

        out.write(dump_json({"server": where, "ok": False, "stage": exc.stage, "exit": exit_code(exc.stage),
                             "error": str(exc)}))
    err.write(f"{COMMAND} send: {where}: {exc.stage} failed: {exc}\n")


def _render_report(report, target, values, out, err) -> int:
    from netkit.core.secrets import mask_url
    from netkit.core.text import for_terminal
    from netkit.mail._smtp import exit_code

    where = mask_url(target.text)
    refused = {}
    for sent in report.sent:
        refused.update(sent.refused)
    if values.get("json"):
        from netkit.cli.shell import dump_json

        out.write(dump_json({
            "server": where, "ok": not refused, "tls": report.tls, "auth": report.authenticated,
            "pipelining": report.pipelining, "stopped_after": report.stopped_after,
            "messages": len(report.sent) if report.stopped_after is None else 0,
            "accepted": sorted({a for s in report.sent for a in s.accepted}), "refused": refused,
            "last_reply": report.sent[-1].reply if report.sent else None,
            "commands": [{"command": c, "reply": r} for c, r in report.commands]}))
    else:
        for command, reply in report.commands:
            out.write(f"{for_terminal(command)}: {reply}\n")
        if report.stopped_after:
            extra = ""
            if report.sent:
                extra = f"; recipients accepted: {', '.join(report.sent[-1].accepted) or 'none'}"
            out.write(f"{where}: stopped after {report.stopped_after} as asked{extra}\n")
        elif report.sent:
            count = len(report.sent)
            accepted = sorted({a for s in report.sent for a in s.accepted})
            noun = "message" if count == 1 else "messages"
            out.write(f"{where}: sent {count} {noun} to {', '.join(accepted)}: {report.sent[-1].reply}\n")
    for address, reply in refused.items():
        err.write(f"{COMMAND} send: {where}: recipient <{address}> refused: {reply}\n")
    return exit_code("partial") if refused else 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        return run_command(COMMAND, [], lambda a: {"help": True}, help_text, None, out, err)
    sub, rest = argv[0], argv[1:]
    if sub not in SUBCOMMANDS:
        from netkit.cli.args import suggest
        from netkit.core.text import for_terminal

        def bad(_argv):
            raise UsageError(f"unknown subcommand {for_terminal(repr(sub))}{suggest(sub, SUBCOMMANDS)}; "
                             f"use send, list or fetch (see {COMMAND} --help)")

        return run_command(COMMAND, rest, bad, help_text, None, out, err)
    from netkit.core.errors import NetkitError

    if sub == "send":
        return run_command(f"{COMMAND} send", rest, parse_send, _send_help, run_send, out, err,
                           failures=(NetkitError,))
    from netkit.cli import _mail_read

    return _mail_read.main(sub, rest, out, err)
