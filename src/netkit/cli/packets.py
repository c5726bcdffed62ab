"""``netkit packets dns|arp|trace|sniff``: the Scapy chapter's tools as commands.

Each subcommand has its own option table; the work is in :mod:`netkit.packets`. Without
CAP_NET_RAW, arp, trace and sniff say so in one line (exit 1), never a traceback.
"""

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.shell import dump_json
from netkit.core.errors import NetError, UsageError
from netkit.core.options import Option, as_given, positive, seconds

__all__ = ["main"]

COMMAND = "netkit packets"


def _rate(text):
    from netkit.packets._arp import MAX_RATE

    value = float(text) if str(text).replace(".", "", 1).isdigit() and str(text).isascii() else -1
    if not 0 < value <= MAX_RATE:
        raise ValueError(f"expects packets per second, more than 0 and at most {MAX_RATE:g}")
    return value


def _tries(text):
    from netkit.packets._arp import MAX_TRIES

    value = positive(text)
    if value > MAX_TRIES:
        raise ValueError(f"expects 1 to {MAX_TRIES} tries")
    return value


HELP = Option("help", "flag", as_given, None, "show this help", short="h")
JSON = Option("json", "flag", as_given, None, "print the result as JSON")

DNS_OPTIONS = (
    Option("type", "one", as_given, None, "record type to ask for (default A): A AAAA MX TXT NS SOA SRV PTR ANY, "
           "TYPEnnn", short="t", metavar="TYPE", example="MX"),
    Option("server", "one", as_given, None, "ask this server (also written @HOST[:PORT]; default: the first of "
           "/etc/resolv.conf)", short="s", metavar="HOST[:PORT]", example="127.0.0.1:5353"),
    Option("tcp", "flag", as_given, None, "ask over TCP (UDP first otherwise, then TCP when the reply is truncated)"),
    Option("norecurse", "flag", as_given, None, "clear the RD flag: ask the server only what it knows itself"),
    Option("timeout", "one", seconds, None, "seconds to wait for the answer, 3 tries over UDP (default 5)",
           metavar="SECONDS", example="2"),
    Option("show", "flag", as_given, None, "also print scapy's layered view of the reply (show())"),
    JSON, HELP,
)
ARP_OPTIONS = (
    Option("interface", "one", as_given, None, "the interface to ask on (default: the route to the first address)",
           short="i", metavar="IFACE", example="eth0"),
    Option("timeout", "one", seconds, None, "seconds to wait for each reply before asking again (default 0.5)",
           short="t", metavar="SECONDS", example="1"),
    Option("retry", "one", _tries, None, "how many times each address is asked at most (default 2, as arp-scan)",
           short="r", metavar="N", example="3"),
    Option("rate", "one", _rate, None, "requests per second (default 2000)", metavar="PPS", example="500"),
    Option("no-vendor", "flag", as_given, None, "do not look MAC vendors up (the IEEE OUI registry)"),
    JSON, HELP,
)
def _ports(text):
    ports = []
    for part in str(text).split(","):
        if not (part.isascii() and part.isdigit()) or not 1 <= int(part) <= 65535:
            raise ValueError("expects ports 1-65535, separated by commas")
        ports.append(int(part))
    return ports


def _ttl(text):
    from netkit.packets._trace import MAX_TTL

    value = positive(text)
    if value > MAX_TTL:
        raise ValueError(f"expects a TTL of 1 to {MAX_TTL}")
    return value


def _queries(text):
    from netkit.packets._trace import MAX_QUERIES

    value = positive(text)
    if value > MAX_QUERIES:
        raise ValueError(f"expects 1 to {MAX_QUERIES} probes per hop")
    return value


TRACE_OPTIONS = (
    Option("port", "many", _ports, None, "destination ports, e.g. 80,443 (default 80; UDP 33434)", short="p",
           metavar="PORTS", example="80,443"),
    Option("udp", "flag", as_given, None, "probe with UDP datagrams (the answer: ICMP port unreachable)"),
    Option("icmp", "flag", as_given, None, "probe with ICMP echo requests (the answer: echo reply)"),
    Option("first-ttl", "one", _ttl, None, "start at this TTL (default 1)", short="f", metavar="TTL", example="3"),
    Option("max-ttl", "one", _ttl, None, "give up after this many hops (default 30)", short="m", metavar="TTL",
           example="20"),
    Option("queries", "one", _queries, None, "probes per hop (default 3)", short="q", metavar="N", example="1"),
    Option("wait", "one", seconds, None, "seconds a probe waits at most (default 3; less once a later hop answered)",
           short="w", metavar="SECONDS", example="1"),
    Option("names", "flag", as_given, None, "look up the hops' names (reverse DNS)", short="n"),
    Option("graph", "one", as_given, None, "draw the merged paths into FILE.svg, .png or .dot (graphviz)",
           short="g", metavar="FILE", example="paths.svg"),
    JSON, HELP,
)
SUBCOMMANDS = {
    "dns": ("a hand-built DNS query and its whole decoded answer", DNS_OPTIONS),
    "arp": ("ARP ping of a subnet: IP, MAC, vendor, RTT; duplicates flagged", ARP_OPTIONS),
    "trace": ("traceroute by TCP SYN, UDP or ICMP to many hosts and ports at once; --graph", TRACE_OPTIONS),
}
FLAGS = {name: flag_table(options) for name, (_, options) in SUBCOMMANDS.items()}

USAGE = {
    "dns": ("netkit packets dns NAME [@SERVER[:PORT]] [-t TYPE] [--tcp] [--show] [--json]",
            "Build the query by hand (DNS(rd=1, qd=DNSQR(...))), send it, and print the whole answer\n"
            "as dig does: header flags and status, then every section with its TTLs. An IP address\n"
            "as NAME asks for its PTR record.\n\n"
            "Exit status: 0 answered NOERROR, 1 another status or no usable answer, 2 bad input.\n\n"
            "Examples:\n  netkit packets dns www.example.com @192.0.2.53\n"
            "  netkit packets dns example.com -t MX --show\n  netkit packets dns 192.0.2.1 --json\n"),
    "arp": ("netkit packets arp CIDR|RANGE|ADDRESS... [-i IFACE] [-t SECONDS] [-r N] [--json]",
            "Ask every address who has it (ARP), as arp-scan and scapy's arping(): one line per\n"
            "address that answered -- IP, MAC, vendor, round trip. Two machines answering for one\n"
            "address are flagged DUPLICATE. Needs CAP_NET_RAW (root).\n\n"
            "Exit status: 0 some address answered, 1 none did, 2 bad input.\n\n"
            "Examples:\n  netkit packets arp 192.168.1.0/24\n  netkit packets arp 10.0.0.1-20 -i eth1 --json\n"),
    "trace": ("netkit packets trace HOST... [-p PORTS] [--udp|--icmp] [-m TTL] [-q N] [--graph FILE] [--json]",
              "Trace the route to every host and port at once, as scapy's traceroute([...], dport=[80,443])\n"
              "and traceroute -T: per hop its address (and name with -n), the round trips, and how the\n"
              "destination answered (SYN-ACK: open, RST: closed). Unanswered probes are '*'. Each\n"
              "host and port keeps one 5-tuple, so load-balanced (ECMP) paths stay apart. Needs\n"
              "CAP_NET_RAW (root).\n\n"
              "Exit status: 0 every destination answered, 1 some did not, 2 bad input.\n\n"
              "Examples:\n  netkit packets trace example.com\n"
              "  netkit packets trace www.example.com www.example.org -p 80,443 --graph paths.svg\n"
              "  netkit packets trace 192.0.2.1 --icmp -q 1 --json\n"),
}


def help_text(sub=None) -> str:
    if sub is None:
        rows = "".join(f"  {name:<6} {text}\n" for name, (text, _) in SUBCOMMANDS.items())
        return ("usage: netkit packets SUBCOMMAND [OPTIONS] ...\n\nThe Scapy tools: DNS by hand, ARP sweep, TCP "
                "traceroute with a graph, sniffing.\n\nsubcommands:\n" + rows +
                "\nRun 'netkit packets SUBCOMMAND --help' for its options.\n")
    usage, text = USAGE[sub]
    return f"usage: {usage}\n\n{text}\noptions:\n" + option_rows(SUBCOMMANDS[sub][1], 28)


def parse(argv):
    from netkit.cli.args import suggest

    if not argv or argv[0] in ("-h", "--help", "help"):
        if not argv:
            raise UsageError(f"a subcommand is needed: {', '.join(SUBCOMMANDS)} (see {COMMAND} --help)")
        return {"help": True, "sub": None}
    sub = argv[0]
    if sub not in SUBCOMMANDS:
        raise UsageError(f"unknown subcommand {sub!r}{suggest(sub, SUBCOMMANDS)}; the subcommands are "
                         f"{', '.join(SUBCOMMANDS)}")
    values, positional = parse_values(argv[1:], FLAGS[sub], f"{COMMAND} {sub}")
    if values.get("help"):
        return {"help": True, "sub": sub}
    return globals()[f"_parse_{sub}"](values, positional)


def _parse_dns(values, positional):
    import ipaddress

    from netkit.info.dns import check_name, parse_server
    from netkit.packets._dns import DEFAULT_TIMEOUT, parse_type, system_server

    servers = [values["server"]] if values.get("server") else []
    names = []
    for word in positional:
        if word.startswith("@"):
            servers.append(word[1:])
        else:
            names.append(word)
    if len(names) != 1:
        raise UsageError("give one name: netkit packets dns NAME [@SERVER] [-t TYPE], e.g. netkit packets dns "
                         "example.com -t MX" if not names else f"one name at a time (got {len(names)})")
    qtype = parse_type(values.get("type") or "A")
    name = names[0]
    try:
        name = ipaddress.ip_address(name).reverse_pointer + "."
        if not values.get("type"):
            qtype = 12  # PTR
    except ValueError:
        name = check_name(name)
    host, port = parse_server(servers[-1]) if servers else (system_server(), 53)
    return {"sub": "dns", "name": name, "qtype": qtype, "server": host, "port": port, "tcp": bool(values.get("tcp")),
            "recurse": not values.get("norecurse"), "timeout": values.get("timeout") or DEFAULT_TIMEOUT,
            "show": bool(values.get("show")), "json": bool(values.get("json"))}


def _parse_arp(values, positional):
    from netkit.packets import _arp

    if not positional:
        raise UsageError("give the addresses to ask: netkit packets arp 192.168.1.0/24 (or 192.168.1.1-20)")
    return {"sub": "arp", "specs": positional, "interface": values.get("interface"),
            "timeout": values.get("timeout") or _arp.DEFAULT_TIMEOUT, "tries": values.get("retry") or _arp.DEFAULT_TRIES,
            "rate": values.get("rate") or _arp.DEFAULT_RATE, "vendors": not values.get("no-vendor"),
            "json": bool(values.get("json"))}


def _parse_trace(values, positional):
    from netkit.core.fs import check_output_file
    from netkit.packets import _trace
    from netkit.packets._graph import graph_format

    if not positional:
        raise UsageError("give the hosts to trace: netkit packets trace HOST... (e.g. example.com -p 80,443)")
    if values.get("udp") and values.get("icmp"):
        raise UsageError("--udp and --icmp exclude each other; TCP SYN is the default")
    method = "udp" if values.get("udp") else "icmp" if values.get("icmp") else "tcp"
    if method == "icmp" and values.get("port"):
        raise UsageError("ICMP echo has no port; drop -p, or trace with TCP (the default) or --udp")
    first, last = values.get("first-ttl") or 1, values.get("max-ttl") or _trace.DEFAULT_MAX_TTL
    if first > last:
        raise UsageError(f"--first-ttl {first} is past --max-ttl {last}")
    graph = values.get("graph")
    if graph:
        graph_format(graph)
        problem = check_output_file(graph)
        if problem:
            raise UsageError(f"--graph {problem}")
    ports = [p for group in values.get("port") or [] for p in group]
    return {"sub": "trace", "targets": positional, "ports": ports, "method": method, "first_ttl": first,
            "max_ttl": last, "queries": values.get("queries") or _trace.DEFAULT_QUERIES,
            "wait": values.get("wait") or _trace.DEFAULT_WAIT, "names": bool(values.get("names")), "graph": graph,
            "json": bool(values.get("json"))}


# --- work ------------------------------------------------------------------------------


def _dns(request, out, err) -> int:
    from netkit.packets._dns import SECTIONS, dns_query

    reply = dns_query(request["name"], request["qtype"], request["server"], request["port"],
                      timeout=request["timeout"], tcp=request["tcp"], recurse=request["recurse"],
                      show=request["show"])
    if request["json"]:
        out.write(dump_json(reply.to_dict()))
    else:
        counts = reply.counts
        lines = [f";; ->>HEADER<<- opcode: {reply.opcode}, status: {reply.rcode}, id: {reply.id}",
                 f";; flags: {' '.join(reply.flags)}; QUERY: {counts['question']}, ANSWER: {counts['answer']}, "
                 f"AUTHORITY: {counts['authority']}, ADDITIONAL: {counts['additional']}"]
        for section in SECTIONS:
            records = reply.sections[section]
            if records:
                lines += ["", f";; {section.upper()} SECTION:"] + [r.to_text() for r in records]
        lines += ["", f";; SERVER: {reply.server}#{reply.port} ({reply.transport}) in {reply.rtt * 1000:.2f} ms, "
                      f"{reply.size} bytes"]
        if reply.layered:
            lines += ["", reply.layered.rstrip("\n")]
        out.write("\n".join(lines) + "\n")
    return 0 if reply.rcode == "NOERROR" else 1


def _arp(request, out, err) -> int:
    from netkit.cli.shell import StatusLine
    from netkit.packets._arp import arp_sweep

    status = StatusLine(err, on=not request["json"])
    progress = (lambda sent, found, total: status.write(f"sent {sent}, {found} of {total} answered")) \
        if status.on else None
    try:
        sweep = arp_sweep(request["specs"], request["interface"], timeout=request["timeout"], tries=request["tries"],
                          rate=request["rate"], vendors=request["vendors"], progress=progress)
    finally:
        status.clear()
    if request["json"]:
        out.write(dump_json(sweep.to_dict()))
    else:
        from netkit.core.text import for_terminal

        rows = []
        for h in sweep.hosts:
            row = f"{h.address:<15}  {h.mac}  {h.rtt * 1000:7.2f} ms  {for_terminal(h.vendor) or '-'}"
            if h.duplicate:
                row += f"  DUPLICATE: {', '.join(h.macs[1:])} also answered"
            elif h.replies > 1:
                row += f"  (DUP: {h.replies})"
            rows.append(row + "\n")
        out.write("".join(rows))
        out.write(f"{len(sweep.hosts)} of {sweep.targets} addresses answered on {sweep.interface} "
                  f"({sweep.sent} requests, {sweep.elapsed:.2f} s)\n")
    return 0 if sweep.hosts else 1


def _trace(request, out, err) -> int:
    from netkit.packets._trace import lookup_names, trace

    result = trace(request["targets"], request["ports"], method=request["method"], first_ttl=request["first_ttl"],
                   max_ttl=request["max_ttl"], queries=request["queries"], wait=request["wait"])
    if request["names"]:
        lookup_names(result)
    if request["graph"]:
        from netkit.packets._graph import write_graph

        write_graph(result, request["graph"])
    if request["json"]:
        out.write(dump_json(result.to_dict()))
    else:
        out.write("".join(_flow_text(flow, request) for flow in result.flows))
    return 0 if all(f.reached for f in result.flows) else 1


_MEANING = {"SYN-ACK": "open", "RST": "closed"}


def _flow_text(flow, request) -> str:
    from netkit.core.text import for_terminal

    where = f"{request['method']} port {flow.port}" if request["method"] != "icmp" else "icmp echo"
    lines = [f"trace to {for_terminal(flow.target)} ({flow.address}), {where}, {request['max_ttl']} hops max\n"]
    for hop in flow.hops:
        parts, last = [], None
        for address, rtt, _ in hop.probes:
            if address is None:
                parts.append("*")
                continue
            if address != last:
                name = flow.names.get(address)
                parts.append(f"{name} ({address})" if name else address)
                last = address
            parts.append(f"{rtt * 1000:.3f} ms")
        line = f"{hop.ttl:2d}  " + "  ".join(parts)
        if flow.address in hop.addresses and hop is flow.hops[-1]:
            meaning = _MEANING.get(flow.final)
            line += f"  [{flow.final}{': ' + meaning if meaning else ''}]"
        lines.append(line + "\n")
    if not flow.reached:
        lines.append(f"    {flow.address} not reached ({flow.final})\n")
    return "".join(lines)


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command
    from netkit.core.fs import LocalError
    from netkit.packets._raw import NeedsPrivilege

    argv = list(argv)
    sub = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    command = f"{COMMAND} {sub}" if sub else COMMAND  # every message names the subcommand

    def work(request, out, err) -> int:
        return globals()[f"_{request['sub']}"](request, out, err)

    return run_command(command, argv, parse, lambda: help_text(sub), work, out, err,
                       failures=(NetError, NeedsPrivilege, LocalError))
