"""``netkit send HOST PORT DATA``: one request, the reply printed (the palindrome client
of the source texts, for any line service)."""

from netkit.cli.args import flag_table, last_value, parse_argv
from netkit.cli.connect import ENDPOINT_OPTIONS, Flag, check_output, endpoint_from, escape_for, rows
from netkit.cli.options import seconds
from netkit.core.errors import UsageError

__all__ = ["main", "help_text"]

COMMAND = "netkit send"
# The whole exchange (connect, send, reply) may take this long.
DEFAULT_TIMEOUT = 5.0


OPTIONS = (
    Flag("timeout", "one", f"give up after SECONDS in all (default {DEFAULT_TIMEOUT:g})", "SECONDS", "2",
         short="t", parse=seconds),
    Flag("no-newline", "flag", "send DATA as it is, without a line end", short="n"),
) + ENDPOINT_OPTIONS
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    return (
        "usage: netkit send [OPTIONS] HOST PORT DATA\n"
        "       netkit send [OPTIONS] --unix PATH DATA\n\n"
        "Send DATA (escapes: \\r \\n \\t \\xNN) and a line end, then print the reply: everything the\n"
        "server sends until it closes (TCP), or until it is quiet --wait seconds (TLS, UDP). A server\n"
        "that answers and closes without reading (daytime, time) has answered: exit 0.\n"
        "On a terminal the reply's control characters are shown as \\xHH (--raw: as they are).\n\n"
        "options:\n" + rows(OPTIONS) +
        "\nExit status: 0 with a reply, 1 when the connection failed or no reply came in time, 2 on\n"
        "bad usage.\n\n"
        "Examples:\n"
        "  netkit send 127.0.0.1 33333 'a man a plan'\n"
        "  netkit send --udp 127.0.0.1 7 hello\n"
        "  netkit send --tls --insecure 127.0.0.1 37 ''\n"
    )


def parse(argv):
    from netkit.core.text import unescape

    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    endpoint, rest = endpoint_from(raw, positional, FLAGS, COMMAND, extra=1)
    if not rest:
        raise UsageError(f"what to send? e.g. {COMMAND} {endpoint.where.replace(':', ' ') if not endpoint.path else '--unix ' + endpoint.path} hello "
                         "('' sends just a line end)")
    if len(rest) > 1:
        raise UsageError(f"one DATA argument (got {len(rest)}); quote it: {COMMAND} HOST PORT 'several words'")
    try:
        data = unescape(rest[0])
    except ValueError as exc:
        raise UsageError(f"DATA: {exc}") from None
    if not raw.get("no-newline"):
        data += b"\n"
    from netkit.serve.client import DEFAULT_WAIT

    timeout = last_value(raw, FLAGS, "timeout") or DEFAULT_TIMEOUT
    endpoint.timeout = min(endpoint.timeout, timeout)
    from netkit.serve.client import MAX_UDP_PAYLOAD_V6

    if endpoint.transport == "udp" and not endpoint.path and len(data) > MAX_UDP_PAYLOAD_V6:
        raise UsageError(f"DATA is {len(data):,} bytes: too long for one UDP datagram (at most "
                         f"{MAX_UDP_PAYLOAD_V6:,} bytes over IPv6, 65,507 over IPv4)")
    return {"endpoint": endpoint, "data": data, "crlf": bool(raw.get("crlf")), "timeout": timeout,
            "wait": last_value(raw, FLAGS, "wait") or DEFAULT_WAIT, "raw": bool(raw.get("raw"))}


def _run(request, out, err) -> int:
    import time

    from netkit.serve.client import open_socket, talk

    check_output(out)
    deadline = time.monotonic() + request["timeout"]
    sock = open_socket(request["endpoint"])
    try:
        out.flush()
        received = talk(sock, request["endpoint"], data=request["data"], sink=out.fileno(), crlf=request["crlf"],
                        wait=request["wait"], deadline=deadline, escape=escape_for(request, out))
    finally:
        sock.close()
    if not received:
        from netkit.core.errors import ProtocolError, TimedOut

        endpoint = request["endpoint"]
        if endpoint.transport == "udp" or endpoint.tls:
            raise TimedOut(f"{endpoint.where}: no reply within {request['wait']:g} s of sending (--wait)")
        raise ProtocolError(f"{endpoint.where}: no reply: the server closed the connection without answering")
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command
    from netkit.core.errors import NetError
    from netkit.serve.client import OutputError

    return run_command(COMMAND, argv, parse, help_text, _run, out, err, failures=(NetError, OutputError))
