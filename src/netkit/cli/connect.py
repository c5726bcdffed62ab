"""``netkit connect HOST PORT``: stdin to a socket, the socket to stdout (netcat's job,
and the stdio proxy client of the source texts)."""

from netkit.cli.args import flag_table, last_value, option_rows, parse_argv
from netkit.cli.options import Option, seconds
from netkit.core.errors import UsageError

__all__ = ["main", "help_text", "Flag", "check_output", "endpoint_from", "escape_for"]

COMMAND = "netkit connect"


def Flag(name, kind, help, metavar=None, example=None, short=None, parse=None):  # noqa: N802 -- reads as a row
    """A row of the connect/send/sockopt tables (parse None: the value as typed)."""
    return Option(name, kind, parse, None, help, short=short, metavar=metavar, example=example)


# Options shared with `netkit send`.
ENDPOINT_OPTIONS = (
    Flag("udp", "flag", "UDP: each read of input is one datagram", short="u"),
    Flag("unix", "one", "a Unix socket at PATH instead of HOST PORT", "PATH", "/run/app.sock", short="U"),
    Flag("tls", "flag", "TLS, verifying the server's certificate and name"),
    Flag("insecure", "flag", "with --tls: do not verify the certificate (say so explicitly)", short="k"),
    Flag("cafile", "one", "with --tls: trust the CA certificates in FILE", "FILE", "ca.pem"),
    Flag("crlf", "flag", "send line ends as CRLF, show CRLF as LF", short="C"),
    Flag("connect-timeout", "one", "give up connecting after SECONDS (default 10)", "SECONDS", "3",
         parse=seconds),
    Flag("wait", "one", "TLS and UDP: after input ends, wait until the server is quiet SECONDS (default 1)",
         "SECONDS", "2", parse=seconds),
    Flag("raw", "flag", "print the replies' bytes as they are even on a terminal (escape sequences too)"),
    Flag("help", "flag", "show this help", short="h"),
)


def rows(options) -> str:
    return option_rows(options, 28)


def endpoint_from(raw, positional, flags, command, extra=0):
    """(Endpoint, the positional arguments after HOST PORT)."""
    from netkit.core.target import split_hostport
    from netkit.serve.client import DEFAULT_CONNECT_TIMEOUT, Endpoint, check_cafile

    transport = "udp" if raw.get("udp") else "tcp"
    if raw.get("udp") and raw.get("tls"):
        raise UsageError("--udp and --tls do not go together: TLS runs over TCP, and DTLS is not offered; "
                         f"write {command} --tls HOST PORT, or --udp without --tls")
    if raw.get("insecure") and not raw.get("tls"):
        raise UsageError("--insecure only makes sense with --tls")
    if raw.get("cafile") and not raw.get("tls"):
        raise UsageError("--cafile only makes sense with --tls")
    timeout = last_value(raw, flags, "connect-timeout") or DEFAULT_CONNECT_TIMEOUT
    cafile = last_value(raw, flags, "cafile")
    common = dict(transport=transport, tls=bool(raw.get("tls")), insecure=bool(raw.get("insecure")),
                  cafile=cafile and check_cafile(cafile), timeout=timeout)
    path = last_value(raw, flags, "unix")
    if path:
        return Endpoint(path=path, **common), positional
    if not positional:
        raise UsageError(f"where to? e.g. {command} 127.0.0.1 7007" + (" DATA" if extra else "")
                         + " (or --unix PATH)")
    first = positional[0]
    if (first.startswith("[") and "]:" in first) or first.count(":") == 1:
        try:
            host, port_text = split_hostport(first, first)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        port_text, rest = str(port_text), positional[1:]
    else:
        if len(positional) < 2:
            raise UsageError(f"which port? give HOST PORT, e.g. {command} {first} 7007")
        host, port_text, rest = first.strip("[]"), positional[1], positional[2:]
    try:
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise UsageError(f"port {port_text!r} is not a port number 1-65535; e.g. {command} {host} 7007") from None
    return Endpoint(host, port, **common), rest


OPTIONS = ENDPOINT_OPTIONS
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    return (
        "usage: netkit connect [OPTIONS] HOST PORT\n"
        "       netkit connect [OPTIONS] --unix PATH\n\n"
        "Copy standard input to the service and its replies to standard output, until either side\n"
        "closes: on a terminal type lines (Ctrl-D ends), or pipe: echo hi | netkit connect host 7.\n"
        "Input may be a file too: netkit connect host 7 < request.txt.\n\n"
        "Replies are copied byte for byte into a pipe or a file. On a terminal, control characters\n"
        "(escape sequences that could move the cursor, retitle the window or type for you) are\n"
        "shown as \\xHH instead; --raw copies them as they are there too.\n\n"
        "options:\n" + rows(OPTIONS) +
        "\nExit status: 0 when the exchange ended normally, 1 when the connection failed, 2 on bad\n"
        "usage, 130 on Ctrl-C.\n\n"
        "Examples:\n"
        "  netkit connect 127.0.0.1 33333\n"
        "  netkit connect --crlf mail.example 25\n"
        "  echo hello | netkit connect --udp 127.0.0.1 7\n"
        "  netkit connect --tls --cafile ca.pem server.example 443\n"
    )


def parse(argv):
    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    endpoint, rest = endpoint_from(raw, positional, FLAGS, COMMAND)
    if rest:
        raise UsageError(f"unexpected {rest[0]!r}: netkit connect takes HOST PORT and reads what to send from "
                         "stdin (netkit send HOST PORT DATA sends one request)")
    from netkit.serve.client import DEFAULT_WAIT

    return {"endpoint": endpoint, "crlf": bool(raw.get("crlf")), "wait": last_value(raw, FLAGS, "wait") or DEFAULT_WAIT,
            "raw": bool(raw.get("raw"))}


def check_output(out) -> None:
    """OutputError when standard output is closed (>&-): the replies would have nowhere to go."""
    try:
        out.fileno()
    except (OSError, ValueError, AttributeError):
        from netkit.serve.client import OutputError

        raise OutputError("standard output is closed: the replies have nowhere to go (redirect it, "
                          "e.g. > /dev/null)")


def escape_for(request, out) -> bool:
    """Show the replies' control characters as escapes: on a terminal, unless --raw."""
    import os

    return not request["raw"] and os.isatty(out.fileno())


def _run(request, out, err) -> int:
    import sys

    from netkit.serve.client import open_socket, talk

    check_output(out)
    source = sys.stdin.fileno() if sys.stdin is not None else None  # closed (<&-): nothing to send
    sock = open_socket(request["endpoint"])
    try:
        out.flush()
        talk(sock, request["endpoint"], source=source, sink=out.fileno(), crlf=request["crlf"],
             wait=request["wait"], escape=escape_for(request, out))
    finally:
        sock.close()
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command
    from netkit.core.errors import NetError
    from netkit.serve.client import OutputError

    return run_command(COMMAND, argv, parse, help_text, _run, out, err, failures=(NetError, OutputError))
