"""``netkit sockopt list|get``: the socket options this platform has, their defaults on a
fresh socket and what each means; or their values on a live connection."""

from netkit.cli.args import flag_table, parse_argv
from netkit.cli.connect import Flag, endpoint_from, rows
from netkit.core.errors import UsageError

__all__ = ["main", "help_text"]

COMMAND = "netkit sockopt"
_LEVELS = ("socket", "tcp", "ip", "ipv6")

OPTIONS = (
    Flag("level", "one", "only options of LEVEL: socket, tcp, ip or ipv6", "LEVEL", "tcp", short="l"),
    Flag("json", "flag", "one JSON object per option"),
    Flag("udp", "flag", "list: defaults of a UDP socket; get: connect over UDP", short="u"),
    Flag("help", "flag", "show this help", short="h"),
)
FLAGS = flag_table(OPTIONS)


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    return {"list": ("every socket option of this platform, its default and meaning", OPTIONS),
            "get": ("the values on a live connection to HOST PORT", OPTIONS)}


def help_text() -> str:
    return (
        "usage: netkit sockopt list [--level socket|tcp|ip|ipv6] [--json]\n"
        "       netkit sockopt get HOST PORT [--level LEVEL] [--json]\n\n"
        "list: every socket option this platform has, its value on a fresh socket and what it means.\n"
        "get: the values on a live connection to HOST PORT (what the kernel chose for it).\n"
        "Set them on a server with: netkit serve echo --sockopt TCP_NODELAY=1.\n\n"
        "options:\n" + rows(OPTIONS) +
        "\nExamples:\n"
        "  netkit sockopt list --level tcp\n"
        "  netkit sockopt get example.com 443 --json\n"
    )


def parse(argv):
    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    if not positional or positional[0] not in ("list", "get"):
        got = f" (got {positional[0]!r})" if positional else ""
        raise UsageError(f"list or get?{got} e.g. netkit sockopt list --level tcp, netkit sockopt get HOST PORT")
    level = (raw.get("level") or [None])[-1]
    if level is not None and level.lower() not in _LEVELS:
        raise UsageError(f"--level {level!r} is not a level; one of {', '.join(_LEVELS)}")
    request = {"action": positional[0], "level": level and level.lower(), "json": bool(raw.get("json")),
               "udp": bool(raw.get("udp"))}
    if positional[0] == "get":
        endpoint, rest = endpoint_from(raw, positional[1:], FLAGS, f"{COMMAND} get")
        if rest:
            raise UsageError(f"unexpected {rest[0]!r} after HOST PORT")
        request["endpoint"] = endpoint
    elif len(positional) > 1:
        raise UsageError(f"sockopt list takes no arguments (got {positional[1]!r}); --level tcp narrows it")
    return request


def _values(sock, options):
    from netkit.serve.sockopts import read

    for opt in options:
        try:
            yield opt, read(sock, opt)
        except OSError as exc:
            yield opt, f"n/a ({exc.strerror})"


def _render(pairs, as_json, out):
    from netkit.cli.shell import dump_json

    pairs = list(pairs)
    if as_json:
        for opt, value in pairs:
            out.write(dump_json({"level": opt.level_name, "name": opt.name, "value": value,
                                 "meaning": opt.meaning}))
        return
    width = max(len(opt.name) for opt, _ in pairs)
    for opt, value in pairs:
        shown = "on" if value is True else "off" if value is False else ("''" if value == "" else str(value))
        out.write(f"{opt.level_name:<6} {opt.name:<{width}}  {shown:<10} {opt.meaning}\n")


def _run(request, out, err) -> int:
    import socket

    from netkit.serve.sockopts import available

    levels = [request["level"]] if request["level"] else list(_LEVELS)
    socktype = socket.SOCK_DGRAM if request["udp"] else socket.SOCK_STREAM
    pairs = []
    if request["action"] == "list":
        for level in levels:
            family = socket.AF_INET6 if level == "ipv6" else socket.AF_INET
            options = [o for o in available(level) if not (request["udp"] and o.level_name == "tcp")]
            with socket.socket(family, socktype) as sock:
                pairs.extend(_values(sock, options))
    else:
        from netkit.serve.client import open_socket

        sock = open_socket(request["endpoint"])
        try:
            family = sock.family
            for level in levels:
                if (level == "ipv6") != (family == socket.AF_INET6) and level in ("ip", "ipv6"):
                    continue
                if level == "tcp" and sock.type != socket.SOCK_STREAM:
                    continue
                pairs.extend(_values(sock, available(level)))
        finally:
            sock.close()
    if not pairs:
        raise UsageError(f"no {request['level']} options apply to this socket")
    _render(pairs, request["json"], out)
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command
    from netkit.core.errors import NetError

    return run_command(COMMAND, argv, parse, help_text, _run, out, err, failures=(NetError,))
