"""``netkit dns``: the records of a name, a reverse look-up, or this machine's names.

Exit 0 when records were found, 1 when the look-up failed (NXDOMAIN, no records of the
types asked for, a server that does not answer or refuses), 2 on bad input.
"""


from netkit.cli.args import flag_table, option_rows, parse_argv
from netkit.cli.options import Option, as_given
from netkit.cli.shell import dump_json
from netkit.core.errors import NetError, UsageError

__all__ = ["help_text", "main"]

COMMAND = "netkit dns"


OPTIONS = (
    Option("server", "one", as_given, None, "ask this server, not the system's resolver (also written @HOST[:PORT])",
           metavar="HOST[:PORT]", example="127.0.0.1:5353"),
    Option("reverse", "one", as_given, None, "reverse look-up: the PTR records of an IP address", short="x",
           metavar="IP", example="192.0.2.1"),
    Option("tcp", "flag", as_given, None, "ask over TCP instead of UDP"),
    Option("timeout", "one", as_given, None, "seconds to wait for each answer, retries included (default 5, as dig)",
           short="t", metavar="SECONDS", example="2"),
    Option("hostname", "flag", as_given, None, "print this machine's host name, FQDN and addresses"),
    Option("json", "flag", as_given, None, "print the result as one JSON object"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    from netkit.info.dns import RECORD_TYPES

    rows = option_rows(OPTIONS, 28)
    return (
        "usage: netkit dns NAME [TYPE...] [--server HOST[:PORT]] [--tcp] [--timeout S] [--json]\n"
        "       netkit dns -x IP [--server HOST[:PORT]]\n"
        "       netkit dns --hostname\n\n"
        "Look up the records of NAME (default: A and AAAA) and print them as dig +noall +answer\n"
        "does: name, TTL, class, type, data, one record a line, grouped by type. An IP address\n"
        "as NAME is looked up in reverse, as with -x.\n\n"
        f"types: {' '.join(RECORD_TYPES)}\n\n"
        "options:\n" + rows +
        "\nExit status: 0 records found, 1 the look-up failed (no such name, no records of\n"
        "those types, no answer), 2 bad input.\n\n"
        "Examples:\n"
        "  netkit dns example.com\n"
        "  netkit dns example.com MX TXT --server 1.1.1.1\n"
        "  netkit dns _sip._tcp.example.com SRV @127.0.0.1:5353 --tcp\n"
        "  netkit dns -x 192.0.2.1\n"
        "  netkit dns --hostname --json\n"
    )


def _timeout(given):
    from netkit.core.text import parse_seconds
    from netkit.info.dns import DEFAULT_TIMEOUT

    if not given:
        return DEFAULT_TIMEOUT
    try:
        return parse_seconds(given[-1])
    except ValueError as exc:
        raise UsageError(f"--timeout {exc} (got {given[-1]!r}), e.g. --timeout 2") from None


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse(argv):
    """The request from the command line: a dict, or UsageError."""
    from netkit.info.dns import RECORD_TYPES, parse_record_type, parse_server

    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    servers = list(raw.get("server") or ())
    words = []
    for word in positional:
        if word == "@":
            raise UsageError("'@' needs a server after it, as in @127.0.0.1 or @[::1]:5353")
        if word.startswith("@"):
            servers.append(word[1:])
        else:
            words.append(word)
    request = {"json": bool(raw.get("json")), "tcp": bool(raw.get("tcp")), "timeout": _timeout(raw.get("timeout")),
               "server": parse_server(servers[-1]) if servers else None}
    if raw.get("hostname"):
        if words or raw.get("reverse") or servers or raw.get("tcp"):
            raise UsageError("--hostname takes no name, server or other look-up options; "
                             "write just netkit dns --hostname")
        request["mode"] = "hostname"
        return request
    if raw.get("reverse"):
        address = raw["reverse"][-1]
        if not _is_ip(address):
            raise UsageError(f"-x expects an IP address like 192.0.2.1 or 2001:db8::1 (got {address!r})")
        if any(parse_record_type(w) != "PTR" for w in words):
            raise UsageError("-x IP looks up PTR records only; write netkit dns -x IP, or netkit dns NAME TYPE...")
        request.update(mode="reverse", address=address)
        return request
    if not words:
        raise UsageError("no name given; the form is netkit dns NAME [TYPE...], e.g. netkit dns example.com MX "
                         "(or -x IP, or --hostname)")
    name, type_words = words[0], words[1:]
    if name.upper() in RECORD_TYPES and type_words and type_words[0].upper() not in RECORD_TYPES:
        raise UsageError(f"the name comes first: netkit dns {type_words[0]} {name.upper()}")
    types = tuple(dict.fromkeys(parse_record_type(w) for w in type_words))
    if _is_ip(name) and set(types) <= {"PTR"}:
        request.update(mode="reverse", address=name)
        return request
    if _is_ip(name):
        raise UsageError(f"{name!r} is an IP address: its {'/'.join(types)} records make no sense; "
                         f"for its name write netkit dns -x {name}")
    from netkit.info.dns import check_name

    request.update(mode="lookup", name=check_name(name), types=types, explicit=bool(types))
    return request


def _hostname(request, out, err) -> int:
    from netkit.info.dns import host_names

    names = host_names()
    if request["json"]:
        out.write(dump_json(names.to_dict()))
    else:
        rows = [("hostname", names.hostname), ("fqdn", names.fqdn)]
        if names.aliases:
            rows.append(("aliases", " ".join(names.aliases)))
        rows.append(("addresses", " ".join(names.addresses) or "-"))
        out.write("".join(f"{k:<10} {v}\n" for k, v in rows))
    if names.error:
        err.write(f"{COMMAND}: {names.error}\n")
        return 1
    return 0


def _lookup(request, out, err) -> int:
    from netkit.info.dns import DEFAULT_TYPES, lookup_records, reverse_lookup

    options = {"server": request["server"], "tcp": request["tcp"], "timeout": request["timeout"]}
    if request["mode"] == "reverse":
        result = reverse_lookup(request["address"], **options)
    else:
        result = lookup_records(request["name"], request["types"] or DEFAULT_TYPES, **options)
    if request["json"]:
        out.write(dump_json(result.to_dict()))
    else:
        out.write("".join(r.to_text() + "\n" for r in result.records))
    where = f"({result.server}, {result.transport})"
    if result.status == "NXDOMAIN":
        err.write(f"{COMMAND}: {result.name} does not exist (NXDOMAIN from {result.server})\n")
        return 1
    if result.status == "NODATA":
        err.write(f"{COMMAND}: {result.name} has no {' or '.join(result.types)} records {where}\n")
        return 1
    if request.get("explicit"):
        missing = [a.rdtype for a in result.answers if a.status != "NOERROR"]
        if missing:
            err.write(f"{COMMAND}: note: {result.name} has no {' or '.join(missing)} records\n")
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    def work(request, out, err) -> int:
        if request["mode"] == "hostname":
            return _hostname(request, out, err)
        try:
            return _lookup(request, out, err)
        except NetError as exc:
            if request["json"]:
                out.write(dump_json({"name": request.get("name") or request.get("address"), "error": str(exc)}))
            raise

    return run_command(COMMAND, argv, parse, help_text, work, out, err, failures=NetError)
