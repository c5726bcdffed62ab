"""``netkit serve SERVICE``: small hardened services in the foreground, logging one line
per event to stderr, until SIGTERM or SIGINT."""

from netkit.cli.args import flag_table, option_rows, parse_argv
from netkit.core.errors import UsageError

__all__ = ["main", "help_text"]

COMMAND = "netkit serve"


# Each field of netkit.serve._options as typed in a shell: name -> (help, metavar, short,
# example where the shell needs quotes the file does not).
_HELP = {
    "tcp": ("serve over TCP (the default)",),
    "udp": ("serve over UDP: one reply per datagram",),
    "unix": ("serve on a Unix socket at PATH", "PATH"),
    "tls": ("TLS with a certificate and key, or auto: self-signed (fingerprint logged)", "CERT KEY|auto"),
    "bind": ("address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)", "ADDR", "b"),
    "port": ("port (default: the service's own: echo 7, discard 9, chargen 19, time 37, reverse 33333)", "PORT",
             "p"),
    "allow": ("serve only clients in this network (repeatable); others are refused at accept", "CIDR"),
    "max-connections": ("connections open at once, all --workers together (default 1000); more are refused",
                        "N"),
    "max-line": ("longest line in bytes (default 64k); a longer one closes the connection", "SIZE"),
    "idle-timeout": ("close a connection after SECONDS without a complete request (default 300)", "SECONDS"),
    "max-output": (("replies buffered for a client that does not read (default 1M): reading stops there, the "
                    "connection closes at twice"), "SIZE"),
    "sockopt": ("set a socket option (repeatable; netkit sockopt list shows them)", "NAME=VALUE"),
    "prefix": ("echo: put TEXT before each line (\\t, \\xNN escapes)", "TEXT", None, "'You said: '"),
    "raw": ("echo: bytes back as they come, no lines",),
    "iso": ("time: RFC 3339 in UTC instead of ctime",),
    "name": ("the service's name in log lines", "NAME"),
    "grace": ("after SIGTERM/SIGINT, SECONDS for open connections to finish (default {grace:g})", "SECONDS"),
    "user": ("after binding, run as USER (bind a low port as root, then drop it)", "USER"),
    "pidfile": ("write the process id to FILE while serving", "FILE"),
    "workers": (("serve in N processes sharing the sockets (default 1; auto: one per usable core); "
                 "--max-connections holds across all of them"), "N|auto"),
    "config": ("serve every [[service]] of a TOML file (like inetd)", "FILE"),
}


def _options(fields):
    """The command-line options of serve's ``fields``."""
    from netkit.cli.options import Option
    from netkit.serve._spec import DEFAULT_GRACE

    options = []
    for field in fields:
        text, metavar, short, example = (*_HELP[field.name], None, None, None)[:4]
        options.append(Option.of(field, text.format(grace=DEFAULT_GRACE), short=short, metavar=metavar,
                                 example=example))
    return tuple(options)


def _tables():
    """(the per-service options, the process-wide ones)."""
    from netkit.serve._options import GLOBAL, OPTIONS

    return _options(OPTIONS), _options(GLOBAL)


def _flags():
    from netkit.cli.options import Option

    service, process = _tables()
    flags = flag_table(service + process)
    flags["-h"] = flags["--help"] = Option("help", "flag", None, None, "show this help")
    return flags


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    from netkit.proto.services import SERVICES

    options = tuple(dict.fromkeys(_flags().values()))
    return {"": (None, options)} | {name: (what, options) for name, what in SERVICES.items()}


def help_text() -> str:
    from netkit.proto.services import SERVICES
    from netkit.serve._ratelimit import SOURCE_BURST, SOURCE_RATE

    service, process = _tables()

    def rows(options):
        return option_rows(options, 30)

    services = "".join(f"  {name:<9} {what}\n" for name, what in SERVICES.items())
    return (
        "usage: netkit serve SERVICE [OPTIONS]\n"
        "       netkit serve --config services.toml\n\n"
        "Serve a small network service in the foreground: one log line per event on stderr,\n"
        "SIGTERM or SIGINT stops it gracefully, systemd is told when it is ready (NOTIFY_SOCKET).\n"
        "Safe by default: listens on 127.0.0.1 only, with limits on connections, line length,\n"
        f"idle time and unread output. Over UDP, replies to one address are limited ({SOURCE_RATE >> 10} KiB/s\n"
        f"after a {SOURCE_BURST >> 10} KiB burst): a forged source address cannot make it an amplifier.\n"
        "Peers' text in log lines has its control characters escaped.\n\n"
        "services:\n" + services + "\noptions:\n" + rows(service) + "\nprocess:\n" + rows(process) +
        "\nExamples:\n"
        "  netkit serve echo --port 7007 --prefix 'You said: '\n"
        "  netkit serve reverse --port 2323 --tls auto\n"
        "  netkit serve echo --udp --port 7007\n"
        "  netkit serve time --bind 0.0.0.0 --port 37 --allow 192.168.0.0/24 --user nobody\n"
        "  netkit serve echo --port 7007 --workers auto --max-connections 10000\n"
        "  netkit serve --config services.toml --pidfile /run/netkit-serve.pid\n"
    )


def _expand_tls(argv):
    """``--tls CERT KEY`` takes two words; the table parser takes one, so pair them."""
    out = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--tls":
            if i + 1 >= len(argv):
                raise UsageError("--tls needs a certificate and a key (--tls cert.pem key.pem) or auto")
            first = argv[i + 1]
            if first == "auto":
                out.append("--tls=auto")
                i += 2
                continue
            if i + 2 >= len(argv) or argv[i + 2].startswith("-"):
                raise UsageError(f"--tls {first}: give the key too: --tls cert.pem key.pem (or --tls auto)")
            out.append("--tls=" + "\0".join((first, argv[i + 2])))
            i += 3
            continue
        out.append(arg)
        i += 1
    return out


def parse(argv):
    from netkit.serve._options import GLOBAL, build_service, load_config

    flags = _flags()
    raw, positional = parse_argv(_expand_tls(argv), flags, COMMAND)
    if raw.get("help"):
        return {"help": True}
    values = {}
    for name, given in raw.items():
        option = flags[f"--{name}"]
        if option.kind == "flag":
            values[name] = True
            continue
        parsed = []
        for text in given if option.kind == "many" else given[-1:]:
            value = text.split("\0") if name == "tls" and "\0" in text else text
            try:
                parsed.append(option.parse(value))
            except ValueError as exc:
                shown = " ".join(value) if isinstance(value, list) else value
                raise UsageError(f"--{name} {exc} (got {shown!r}); e.g. --{name} {option.example}") from None
        values[name] = parsed if option.kind == "many" else parsed[0]
    settings = {o.name: values.pop(o.name) for o in GLOBAL if o.name in values}
    config = settings.pop("config", None)
    if config:
        if positional or values:
            extra = positional[0] if positional else f"--{next(iter(values))}"
            raise UsageError(f"--config {config} says what to serve; {extra} belongs in the file "
                             "(only --grace, --user, --pidfile and --workers go with --config)")
        services, from_file = load_config(config)
        return {"services": services, **from_file, **settings}
    if not positional:
        raise UsageError("which service? e.g. netkit serve echo --port 7007 "
                         "(services: echo, reverse, time, discard, chargen)")
    if len(positional) > 1:
        raise UsageError(f"one service at a time (got {' '.join(positional)}); "
                         "serve several with --config services.toml")
    try:
        service = build_service(positional[0], values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return {"services": [service], **settings}


def _run(request, out, err) -> int:
    from netkit.serve import run
    from netkit.serve._spec import DEFAULT_GRACE
    from netkit.serve._system import Log

    log = Log(err)
    try:
        return run(request["services"], grace=request.get("grace", DEFAULT_GRACE), user=request.get("user"),
                   pidfile=request.get("pidfile"), log=log, workers=request.get("workers", 1))
    except ValueError as exc:  # a certificate, a pid file, a user
        raise UsageError(str(exc)) from None
    except OSError as exc:
        where = ", ".join(f"{s.label} {s.path or f'{s.bind}:{s.listen_port}'}" for s in request["services"])
        hint = ""
        if exc.errno == 98:
            unix = any(s.path for s in request["services"])
            hint = f" (another server listens there: stop it or choose {'another --unix path' if unix else '--port'})"
        elif exc.errno == 13:
            hint = " (ports below 1024 need root; bind as root with --user to drop it, or pick a higher --port)"
        elif exc.errno == 99:
            hint = " (that address is not on this machine; --bind one it has)"
        err.write(f"{COMMAND}: cannot listen on {where}: {exc.strerror or exc}{hint}\n")
        return 1


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, _run, out, err)
