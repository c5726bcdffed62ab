"""``netkit service``: a service name to its port, or a port to its name.

Exit 0 when found, 1 when neither the system's services database nor netkit's built-in
table knows it, 2 on bad input.
"""


from netkit.cli.args import flag_table, option_rows, parse_argv
from netkit.cli.options import Option, as_given
from netkit.core.errors import UsageError

__all__ = ["help_text", "main"]

COMMAND = "netkit service"


OPTIONS = (
    Option("udp", "flag", as_given, None, "look up the udp entry (default: tcp, then udp)", short="u"),
    Option("tcp", "flag", as_given, None, "look up the tcp entry only"),
    Option("json", "flag", as_given, None, "print the result as one JSON object (with its source)"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    rows = option_rows(OPTIONS, 16)
    return (
        "usage: netkit service NAME|PORT[/PROTO] [--udp] [--json]\n\n"
        "Map a service name to its port and back, as /etc/services does: the system's services\n"
        "database answers first (getservbyname/getservbyport), then netkit's built-in table of\n"
        "common services. Prints an /etc/services line: name port/protocol aliases.\n\n"
        "options:\n" + rows +
        "\nExit status: 0 found, 1 unknown service or port, 2 bad input.\n\n"
        "Examples:\n"
        "  netkit service https\n"
        "  netkit service 5432\n"
        "  netkit service 53/udp\n"
        "  netkit service ntp --json\n"
    )


def parse(argv):
    from netkit.info.services import parse_service_query

    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    if raw.get("udp") and raw.get("tcp"):
        raise UsageError("--udp and --tcp exclude each other; give one (or neither: tcp, then udp)")
    protocol = "udp" if raw.get("udp") else "tcp" if raw.get("tcp") else None
    if len(positional) != 1:
        raise UsageError("give one service name or port, e.g. netkit service https or netkit service 443"
                         + (f" (got {len(positional)}: {' '.join(positional)})" if positional else ""))
    parse_service_query(positional[0], protocol)  # bad input fails here, before any look-up
    return {"query": positional[0], "protocol": protocol, "json": bool(raw.get("json"))}


def _run(request, out, err) -> int:
    from netkit.cli.shell import dump_json
    from netkit.info.services import lookup_service

    found = lookup_service(request["query"], request["protocol"])
    if found is None:
        protocols = request["protocol"] or "tcp or udp"
        message = (f"no service {request['query']!r} for {protocols} in the system's services database "
                   "or netkit's built-in table")
        if request["json"]:
            out.write(dump_json({"query": request["query"], "error": message}))
        err.write(f"{COMMAND}: {message}\n")
        return 1
    if request["json"]:
        out.write(dump_json(found.to_dict()))
    else:  # a services database is text someone wrote: no control characters to the terminal
        from netkit.core.text import for_terminal

        out.write(for_terminal(found.to_text()) + "\n")
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, _run, out, err)
