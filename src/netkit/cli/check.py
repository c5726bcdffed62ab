"""``netkit check``: run checks, print Nagios lines (or JSON), exit with the worst status."""

import sys

from netkit.check.options import BY_NAME
from netkit.cli.args import parse_argv
from netkit.cli.options import Option, as_given
from netkit.cli.render import nagios_line, nagios_long_text, unknown_line
from netkit.core.errors import UsageError
from netkit.core.status import UNKNOWN, worst
from netkit.core.text import is_digits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]

COMMAND = "netkit check"


def _row(name, help, *, short=None, metavar=None, example=None):
    return Option.of(BY_NAME[name], help, short=short, metavar=metavar, example=example)


def _section(title: str, *options):
    for option in options:
        option.group = title
    return options


# Each check field of netkit.check.options as typed in a shell: its spelling (-w), metavar,
# help and --help section. The fields parse and validate (one validator for the command
# line, checks files, the monitor and the typed API); this only says how each is typed and shown.
OPTIONS = (
    *_section(
        "every check",
        _row("name", "name shown for the check (Nagios service label)", metavar="NAME"),
        _row("warning", "response time range (s) outside which it is WARNING", short="w", metavar="RANGE"),
        _row("critical", "response time range (s) outside which it is CRITICAL", short="c", metavar="RANGE"),
        _row("timeout", "seconds before giving up (CRITICAL)", short="t", metavar="SECONDS"),
        _row("ipv4", "connect over IPv4 only", short="4"),
        _row("ipv6", "connect over IPv6 only", short="6"),
    ),
    *_section(
        "tcp:// and udp://",
        _row("send", "data to send (escapes like \\r\\n; repeatable)", metavar="TEXT", example="'QUIT\\r\\n'"),
        _row("expect", "string expected in the reply (repeatable; any matches)", metavar="TEXT", example="'220'"),
        _row("expect-all", "every --expect string must be in the reply"),
        _row("quit", "data to send before closing", metavar="TEXT", example="'QUIT\\r\\n'"),
        _row("refuse", "status when the port refuses: ok, warn or crit", metavar="STATE"),
        _row("mismatch", "status when the reply lacks --expect: ok, warn or crit", metavar="STATE"),
        _row("maxbytes", "stop reading the reply after this many bytes", metavar="BYTES"),
        _row("tls", "TLS after connecting (ftp: explicit FTPS, AUTH TLS)"),
    ),
    *_section(
        "TLS (tls://, https://, and tcp://, ftp://, mail with --tls/--starttls)",
        _row("insecure", "do not verify the peer's certificate", short="k"),
        _row("cacert", "CA certificates (PEM) to verify against", metavar="FILE"),
        _row("sni", "server name to send and verify (default: the URL's host)", metavar="NAME"),
        _row("cert-warn", "WARNING when a certificate expires within DAYS", metavar="DAYS"),
        _row("cert-crit", "CRITICAL when a certificate expires within DAYS", metavar="DAYS"),
    ),
    *_section(
        "http:// and https://",
        _row("method", "request method", short="X", metavar="METHOD"),
        _row("header", "request header (repeatable)", short="H", metavar="'NAME: VALUE'",
             example="'Accept: text/html'"),
        _row("data", "form field, urlencoded into the query (GET) or body (repeatable)", short="d",
             metavar="KEY=VALUE"),
        _row("user-agent", "User-Agent header", short="A", metavar="TEXT", example="'monitor/1.0'"),
        _row("status", "expected status codes (default 2xx,3xx)", metavar="CODES"),
        _row("body", "string expected in the body (repeatable)", metavar="TEXT"),
        _row("body-regex", "regular expression expected in the body", metavar="REGEX", example="'version [0-9]+'"),
        _row("invert", "CRITICAL when --body / --body-regex *do* match"),
        _row("follow", "follow redirects (else a 3xx is judged as it is)", short="L"),
        _row("max-redirects", "redirects to follow at most", metavar="N"),
        _row("max-body", "CRITICAL when the body is larger (e.g. 1M)", metavar="SIZE"),
        _row("proxy", "HTTP proxy URL (default: http_proxy/https_proxy)", metavar="URL"),
        _row("no-proxy", "ignore proxies in the environment"),
    ),
    *_section(
        "logging in: http(s)://, ftp://, mail, ssh://",
        _row("user", "user to log in as; password from --password-env, ~/.netrc or a prompt", short="u",
             metavar="USER"),
        _row("password-env", "environment variable holding the password", metavar="VAR"),
    ),
    *_section(
        "mail: smtp://, pop3://, imap:// (and their s:// forms)",
        _row("starttls", "upgrade to TLS (STARTTLS, STLS) before anything else"),
        _row("ehlo", "name to greet the server with", metavar="NAME"),
        _row("from", "sender to try with MAIL FROM (nothing is sent)", metavar="ADDRESS"),
        _row("rcpt", "recipient to try with RCPT TO (repeatable)", metavar="ADDRESS"),
        _row("mailbox", "mailbox to select", metavar="NAME"),
        _row("messages-warn", "WARNING when the message count is outside RANGE", metavar="RANGE"),
        _row("messages-crit", "CRITICAL when the message count is outside RANGE", metavar="RANGE"),
        _row("size-warn", "WARNING when the mailbox size in bytes is outside RANGE", metavar="RANGE"),
        _row("size-crit", "CRITICAL when the mailbox size in bytes is outside RANGE", metavar="RANGE"),
        _row("unseen-warn", "WARNING when the unseen count is outside RANGE", metavar="RANGE"),
        _row("unseen-crit", "CRITICAL when the unseen count is outside RANGE", metavar="RANGE"),
    ),
    *_section(
        "ssh://",
        _row("protocol", "expected SSH protocol version", metavar="VERSION"),
        _row("software", "text expected in the server's software version", metavar="TEXT"),
        _row("hostkey", "host key fingerprint the server must present (repeatable: any of them)", metavar="SHA256:..."),
        _row("identity", "private key to test authentication with", metavar="FILE"),
        _row("known-hosts", "known_hosts FILE the --identity login trusts (repeatable; default ~/.ssh/known_hosts)",
             metavar="FILE"),
        _row("accept-new", "with --identity: accept and record an unknown host key (never a changed one)"),
    ),
    *_section(
        "dns://",
        _row("type", "record type to ask for (A, AAAA, MX, TXT, ...)", metavar="TYPE"),
        _row("tcp", "ask over TCP instead of UDP"),
        _row("expect-address", "address (or CIDR) every answer must be within (repeatable)", metavar="IP[/BITS]"),
        _row("expect-nxdomain", "the name must not exist (NXDOMAIN is OK)"),
        _row("answers", "CRITICAL when the answer count is outside RANGE", metavar="RANGE"),
    ),
)


def _concurrency(value):
    text = str(value)
    if not is_digits(text) or int(text) < 1:
        raise ValueError("expects a whole number of checks, 1 or more")
    return int(text)


# Options of the command itself (not of each check).
RUN_OPTIONS = (
    Option("file", "many", as_given, None, "read checks from a TOML file (repeatable)", short="f", metavar="FILE",
           example="checks.toml"),
    Option("json", "flag", as_given, None, "print one JSON object per check instead of Nagios lines"),
    Option("verbose", "flag", as_given, None, "print the dialogue (what was sent and received)", short="v"),
    Option("concurrency", "one", _concurrency, None, "checks run at once with --file or several URLs",
           metavar="N", example="100"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
    Option("version", "flag", as_given, None, "print netkit's version", short="V"),
)
FLAGS = {f"--{o.name}": o for o in OPTIONS + RUN_OPTIONS}
FLAGS.update({f"-{o.short}": o for o in OPTIONS + RUN_OPTIONS if o.short})


def option_tables():
    """{"": (None, the options)} for completion and man pages (netkit.cli.completion)."""
    return {"": (None, RUN_OPTIONS + OPTIONS)}


def help_text() -> str:
    def row(opt):
        flag = (f"-{opt.short}, " if opt.short else "    ") + f"--{opt.name}"
        if opt.kind != "flag":
            flag += f" {opt.metavar}"
        default = ""
        if opt.default not in (None, False, ()) and opt.kind != "flag":
            default = f" (default {opt.default:g})" if isinstance(opt.default, float) else f" (default {opt.default})"
        return f"  {flag:<30} {opt.help}{default}\n"

    out = [
        "usage: netkit check [OPTIONS] URL...\n"
        "       netkit check [OPTIONS] --file checks.toml\n\n"
        "Check services and report as a Nagios plugin: one line 'SERVICE STATUS - text|perfdata'\n"
        "per check, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the worst of all checks).\n\n"
        "URLs: tcp://host:port  udp://host:port  tls://host[:port]  http(s)://host[:port]/path\n"
        "      ftp://[user@]host[:port][/dir/ or /file]  smtp(s)://host  pop3(s)://user@host\n"
        "      imap(s)://user@host  ssh://host[:port]  dns://[server[:port]]/name[?type=MX]\n"
        "      (IPv6 as [::1]; credentials as user[:pass]@host, better from --password-env)\n"
        "Ranges (-w, -c): N, N:, ~:N, N:M, @N:M in seconds, as the Nagios guidelines define.\n\n"
        "run options:\n"
    ]
    out += [row(opt) for opt in RUN_OPTIONS]
    sections: dict[str | None, list[Option]] = {}
    for opt in OPTIONS:
        sections.setdefault(opt.group, []).append(opt)
    for title, options in sections.items():
        out.append(f"\n{title}:\n")
        out += [row(opt) for opt in options]
    out.append("\nExamples:\n"
               "  netkit check tcp://127.0.0.1:22 --expect SSH-2.0\n"
               "  netkit check https://example.com/ --status 200 --body Welcome --cert-warn 30\n"
               "  netkit check udp://127.0.0.1:7 --send ping --expect ping -t 2\n"
               "  netkit check --file examples/localhost.toml --json\n")
    return "".join(out)


def parse(argv, env=None):
    """(specs, run settings) from the command line; UsageError on bad input."""
    from netkit.check.spec import make_spec, parse_check_target

    config = {}  # the config file's and NETKIT_* values, kept apart: each check takes those of its scheme
    raw, targets = parse_argv(argv, FLAGS, COMMAND, into=config)
    run = {o.name: raw.pop(o.name, None) for o in RUN_OPTIONS}
    if run["help"]:
        return None, {"help": True}
    if run["version"]:
        return None, {"version": True}
    run["concurrency"] = run["concurrency"] or config.pop("concurrency", None)
    try:
        concurrency = _concurrency(run["concurrency"][-1]) if run["concurrency"] else None
    except ValueError as exc:
        raise UsageError(f"--concurrency {exc} (got {run['concurrency'][-1]!r}), e.g. --concurrency 100") from None
    opts = _parsed(raw)
    config = _parsed(config)
    prompt = True  # asked on a terminal, when a check needs a password none of the others gives
    specs = [make_spec(t, {**{k: v for k, v in config.items() if t.scheme in FLAGS[f"--{k}"].schemes}, **opts},
                       env=env, prompt=prompt) for t in map(parse_check_target, targets)]
    for path in run["file"] or ():
        from netkit.check.file import load_checks

        specs.extend(load_checks(path, cli_opts=opts, prompt=prompt, env=env, base=config))
    if not specs:
        raise UsageError("no checks given: name URLs (netkit check tcp://host:port) or a file "
                         "(netkit check --file checks.toml); see netkit check --help")
    return specs, {"json": bool(run["json"]), "verbose": bool(run["verbose"]), "concurrency": concurrency}


def _parsed(raw) -> dict:
    """parse_argv's raw values of check options through their parse functions."""
    opts: dict[str, Any] = {}
    for name, given in raw.items():
        option = FLAGS[f"--{name}"]
        if option.kind == "flag":
            opts[name] = True
            continue
        try:
            parsed = [option.parse(v) for v in given]
        except ValueError as exc:
            bad = given[len(opts.get(name, ())) if option.kind == "many" else -1]
            raise UsageError(f"--{name} {exc} (got {bad!r}); e.g. --{name} {option.example}") from None
        opts[name] = tuple(parsed) if option.kind == "many" else parsed[-1]
    return opts


def _render(result, settings) -> str:
    if settings["json"]:
        from netkit.cli.render import json_line

        return json_line(result) + "\n"
    text = nagios_line(result) + "\n"
    if result.dialogue:
        text += nagios_long_text(result.dialogue)
    return text


def _emit(result, settings, out):
    out.write(_render(result, settings))


def main(argv, out=None) -> int:
    out = out or sys.stdout
    if out is None:  # stdout closed (>&-): writing says so with EBADF, handled below
        from netkit.cli.shell import _Closed

        out = _Closed()
    as_json = "--json" in argv
    try:
        try:
            specs, settings = parse(argv)
        except UsageError as exc:
            out.write(unknown_line(str(exc), as_json) + "\n")
            return int(UNKNOWN)
        if settings.get("help"):
            from netkit.cli.helptext import fit_help

            out.write(fit_help(help_text(), out))
            return 0
        if settings.get("version"):
            from netkit import __version__

            out.write(f"netkit {__version__}\n")
            return 0
        if len(specs) == 1:  # one dialogue, bounded, then the process ends: no collector needed
            from netkit.check.run import run_one

            result = run_one(specs[0], settings["verbose"])
            _emit(result, settings, out)
            out.flush()  # a full disk shows here, inside the handlers below, not at exit
            return int(result.status)
        import gc

        gc.enable()  # off since start-up (bin/netkit): a sweep of thousands makes cycles (asyncio)
        code = _sweep(specs, settings, out)
        out.flush()
        return code
    except KeyboardInterrupt:  # the Nagios contract: a check that did not finish is UNKNOWN (3)
        out.write(unknown_line("interrupted", as_json) + "\n")
        return int(UNKNOWN)
    except BrokenPipeError:
        # The reader went away (netkit check ... | head): stop quietly, as a C tool killed
        # by SIGPIPE would, and keep Python from complaining when it flushes at exit.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:
        from netkit.cli.shell import _OUTPUT_ERRNOS  # the same errors as every other command's

        if exc.errno not in _OUTPUT_ERRNOS:
            return _bug(exc, out, as_json)
        # The output cannot be written (a full disk or quota, a closed stdout): say so on
        # stderr, drop what is still buffered, and exit UNKNOWN as the Nagios contract has it.
        _output_lost(f"netkit check: cannot write the output: {exc.strerror or exc}\n")
        return int(UNKNOWN)
    except Exception as exc:  # a bug: still one line and UNKNOWN, never a traceback
        return _bug(exc, out, as_json)


def _output_lost(text: str) -> None:
    import os

    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, AttributeError, ValueError):
        pass
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def _bug(exc, out, as_json) -> int:
    import os

    if os.environ.get("NETKIT_DEBUG"):
        raise exc
    line = unknown_line(f"internal error: {type(exc).__name__}: {exc} (NETKIT_DEBUG=1 shows where)", as_json)
    try:
        out.write(line + "\n")
        out.flush()
    except OSError:
        _output_lost(line + "\n")
    return int(UNKNOWN)


def _sweep(specs, settings, out) -> int:
    from netkit.check.forked import worker_count
    from netkit.check.run import DEFAULT_CONCURRENCY

    concurrency = settings["concurrency"] or DEFAULT_CONCURRENCY
    workers = worker_count(len(specs))
    if workers > 1:
        return _sweep_forked(specs, settings, out, workers, concurrency)
    from netkit.check.run import run_many

    done = {}
    next_index = 0

    def on_result(index, result):
        nonlocal next_index
        done[index] = result
        while next_index in done:  # print in the order given, as soon as possible
            _emit(done.pop(next_index), settings, out)
            next_index += 1

    try:
        results = run_many(specs, concurrency=concurrency, verbose=settings["verbose"], on_result=on_result)
    except KeyboardInterrupt:
        # Ctrl-C: show every check that did finish (in order), then say how far it got.
        for index in sorted(done):
            _emit(done[index], settings, out)
        return _interrupted(next_index + len(done), len(specs), settings, out)
    out.flush()
    return int(worst(r.status for r in results))


def _interrupted(finished, total, settings, out) -> int:
    out.write(unknown_line(f"interrupted: {finished} of {total} checks finished", settings["json"]) + "\n")
    out.flush()
    return int(UNKNOWN)  # the Nagios contract (3), not the shell's 130: a monitor reads it


def _sweep_forked(specs, settings, out, workers, concurrency) -> int:
    from netkit.check.forked import run_forked
    from netkit.core.status import Status

    done = {}
    statuses = []
    next_index = 0
    interrupted: list[bool] = []
    for index, status, text in run_forked(
        specs, workers=workers, concurrency=concurrency, verbose=settings["verbose"],
        render=lambda result: _render(result, settings),
        lost=lambda message: unknown_line(message, settings["json"]) + "\n", interrupted=interrupted,
    ):
        statuses.append(Status(status))
        done[index] = text
        while next_index in done:
            out.write(done.pop(next_index))
            next_index += 1
    if interrupted:
        for index in sorted(done):
            out.write(done[index])
        return _interrupted(len(statuses), len(specs), settings, out)
    out.flush()
    return int(worst(statuses))
