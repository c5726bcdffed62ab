"""``netkit packets dns|arp|trace|sniff``: the Scapy chapter's tools as commands.

Each subcommand has its own option table; the work is in :mod:`netkit.packets`. Without
CAP_NET_RAW, arp, trace and sniff say so in one line (exit 1), never a traceback.
"""

import os

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.options import Option, as_given, positive, seconds
from netkit.cli.shell import dump_json
from netkit.core.errors import NetError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]

COMMAND = "netkit packets"


def _rate(text):
    from netkit.packets._arp import MAX_RATE

    value = float(text) if str(text).replace(".", "", 1).isdigit() and str(text).isascii() else -1
    if not 0 < value <= MAX_RATE:
        raise ValueError(f"expects packets per second, more than 0 and at most {MAX_RATE:g}")
    return value


def _at_most(module: str, name: str, what: str):
    """A parser of a whole number from 1 to ``module.name`` (read when used: the packets
    modules load only then)."""

    def parse(text):
        import importlib

        limit = getattr(importlib.import_module(module), name)
        value = positive(text)
        if value > limit:
            raise ValueError(f"expects {what} of 1 to {limit}")
        return value

    return parse


_tries = _at_most("netkit.packets._arp", "MAX_TRIES", "a number of tries")
_ttl = _at_most("netkit.packets._trace", "MAX_TTL", "a TTL")
_queries = _at_most("netkit.packets._trace", "MAX_QUERIES", "a number of probes per hop")


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
    from netkit.core.text import is_digits

    ports = []
    for part in str(text).split(","):
        if not is_digits(part) or not 1 <= int(part) <= 65535:
            raise ValueError("expects ports 1-65535, separated by commas")
        ports.append(int(part))
    return ports


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
    Option("names", "flag", as_given, None, "look up the hops' names (reverse DNS; traceroute's default, its -n off)"),
    Option("graph", "one", as_given, None, "draw the merged paths into FILE.svg, .png or .dot (graphviz)",
           short="g", metavar="FILE", example="paths.svg"),
    JSON, HELP,
)
SNIFF_OPTIONS = (
    Option("interface", "one", as_given, None, "capture on this interface (default: the default route's)",
           short="i", metavar="IFACE", example="eth0"),
    Option("count", "one", positive, None, "stop after this many packets", short="c", metavar="N", example="10"),
    Option("duration", "one", seconds, None, "stop after this many seconds", short="d", metavar="SECONDS",
           example="30"),
    Option("write", "one", as_given, None, "write the packets to a pcap file (tcpdump -r, wireshark read it)",
           short="w", metavar="FILE", example="out.pcap"),
    Option("read", "one", as_given, None, "read packets from a pcap file instead of an interface", short="r",
           metavar="FILE", example="in.pcap"),
    Option("show", "flag", as_given, None, "print each packet as scapy's layered view (show()) instead of a line"),
    HELP,
)
SUBCOMMANDS = {
    "dns": ("a hand-built DNS query and its whole decoded answer", DNS_OPTIONS),
    "arp": ("ARP ping of a subnet: IP, MAC, vendor, RTT; duplicates flagged", ARP_OPTIONS),
    "trace": ("traceroute by TCP SYN, UDP or ICMP to many hosts and ports at once; --graph", TRACE_OPTIONS),
    "sniff": ("capture packets (BPF filter in the kernel): a line each, --show, pcap files", SNIFF_OPTIONS),
}
FLAGS = {name: flag_table(options) for name, (_, options) in SUBCOMMANDS.items()}


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    return SUBCOMMANDS

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
              "and traceroute -T: per hop its address (and name with --names), the round trips, and how the\n"
              "destination answered (SYN-ACK: open, RST: closed). Unanswered probes are '*'. Each\n"
              "host and port keeps one 5-tuple, so load-balanced (ECMP) paths stay apart. Needs\n"
              "CAP_NET_RAW (root).\n\n"
              "Exit status: 0 every destination answered, 1 some did not, 2 bad input.\n\n"
              "Examples:\n  netkit packets trace example.com\n"
              "  netkit packets trace www.example.com www.example.org -p 80,443 --graph paths.svg\n"
              "  netkit packets trace 192.0.2.1 --icmp -q 1 --json\n"),
    "sniff": ("netkit packets sniff [-i IFACE] [-c N] [-w FILE | --show] [FILTER...]\n"
              "       netkit packets sniff -r FILE [FILTER...]",
              "Capture packets as tcpdump does: the FILTER (tcpdump's syntax) runs in the kernel, the\n"
              "packets come through a memory-mapped ring, and each prints as one line (or, with\n"
              "--show, as scapy's layered view); -w writes a pcap file instead. Ctrl-C, -c or -d end\n"
              "it; the packets the kernel dropped are reported. Needs CAP_NET_RAW (root) unless -r.\n\n"
              "Exit status: 0 done, 1 a damaged pcap file or a failure, 2 bad input.\n\n"
              "Examples:\n  netkit packets sniff -i eth0 tcp port 80\n"
              "  netkit packets sniff -i eth0 -c 1000 -w web.pcap 'host 192.0.2.1 and tcp'\n"
              "  netkit packets sniff -r web.pcap --show 'tcp[tcpflags] & tcp-syn != 0'\n"),
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
    from netkit.packets import _trace

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
        from netkit.core.fs import check_output_file
        from netkit.packets._graph import graph_format

        graph_format(graph)
        problem = check_output_file(graph)
        if problem:
            raise UsageError(f"--graph {problem}")
    ports = [p for group in values.get("port") or [] for p in group]
    return {"sub": "trace", "targets": positional, "ports": ports, "method": method, "first_ttl": first,
            "max_ttl": last, "queries": values.get("queries") or _trace.DEFAULT_QUERIES,
            "wait": values.get("wait") or _trace.DEFAULT_WAIT, "names": bool(values.get("names")), "graph": graph,
            "json": bool(values.get("json"))}


def _parse_sniff(values, positional):
    from netkit.core.fs import check_output_file
    from netkit.core.text import check_line_field

    text = " ".join(positional)
    try:
        check_line_field(text, "the filter")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if values.get("read") and (values.get("interface") or values.get("duration")):
        raise UsageError("-r FILE reads a file: -i and --duration are for a live capture")
    if values.get("write"):
        problem = check_output_file(values["write"])
        if problem:
            raise UsageError(f"-w {problem}")
        if values.get("show"):
            raise UsageError("-w writes the packets to a file; --show prints them: choose one")
        if values.get("read") and os.path.abspath(values["read"]) == os.path.abspath(values["write"]):
            raise UsageError("-r and -w name the same file")
    return {"sub": "sniff", "filter": text, "interface": values.get("interface"), "count": values.get("count"),
            "duration": values.get("duration"), "write": values.get("write"), "read": values.get("read"),
            "show": bool(values.get("show"))}


# --- work ------------------------------------------------------------------------------


def _dns(request, out, err) -> int:
    from netkit.packets._dns import dns_query

    reply = dns_query(request["name"], request["qtype"], request["server"], request["port"],
                      timeout=request["timeout"], tcp=request["tcp"], recurse=request["recurse"],
                      show=request["show"])
    if request["json"]:
        out.write(dump_json(reply.to_dict()))
    else:
        out.write(reply.to_text())
    return 0 if reply.rcode == "NOERROR" else 1


def _arp(request, out, err) -> int:
    from netkit.cli.progress import open_display
    from netkit.packets._arp import arp_sweep

    with open_display(err, not request["json"], transient=True) as display:
        task = display.task("arp", None, "sent")
        progress = (lambda sent, found, total: task(sent, total, note=f"{found:,} answered")) if task else None
        sweep = arp_sweep(request["specs"], request["interface"], timeout=request["timeout"], tries=request["tries"],
                          rate=request["rate"], vendors=request["vendors"], progress=progress)
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
        out.write("".join(flow.to_text(request["max_ttl"]) for flow in result.flows))
    return 0 if all(f.reached for f in result.flows) else 1


def _sniff(request, out, err) -> int:
    from netkit.packets import _sniff as sniff

    # The -w file is made only once the capture can run (the interface, the filter and the
    # privilege all good): a mistake leaves no empty file behind.
    opened: dict[str, Any] = {}
    try:
        if request["read"]:
            return _sniff_file(request, out, err, opened)
        from netkit.packets._raw import interface_info

        interface = interface_info(request["interface"] or sniff.default_interface()).name
        linktype = sniff.interface_linktype(interface)

        def ready():
            opened["emit"] = _emitter(request, out, linktype, opened)
            err.write(f"{COMMAND} sniff: listening on {interface}\n")
            err.flush()

        def frames(view, block):  # -w: a block at a time, no object per packet
            opened["writer"].write_frames(view, block)

        result = sniff.capture(interface, request["filter"], on_packet=lambda p: opened["emit"](p),
                               on_frames=frames if request["write"] else None, count=request["count"],
                               duration=request["duration"], ready=ready)
    finally:
        if "file" in opened:
            opened["file"].close()
    out.flush()
    err.write(f"{COMMAND} sniff: {result.captured} packets captured, {result.received} received by filter, "
              f"{result.dropped} dropped by kernel\n")
    return 0


def _emitter(request, out, linktype, opened):
    """What is done with each packet: written to the pcap file (opened now, kept in
    ``opened["file"]``), shown layered, or a line."""
    from netkit.packets._sniff import PcapWriter, open_output
    from netkit.packets._summary import summary, timestamp

    if request["write"]:
        opened["file"] = open_output(request["write"])
        writer = opened["writer"] = PcapWriter(opened["file"], linktype)
        return lambda p: writer.write(p.seconds, p.nanos, p.length, p.data)
    if request["show"]:
        return lambda p: out.write(f"{timestamp(p.seconds, p.nanos)} {len(p.data)} bytes\n"
                                   f"{_layered(p.data, linktype)}")
    return lambda p: out.write(f"{timestamp(p.seconds, p.nanos)} {summary(p.data, linktype)}\n")


def _layered(data: bytes, linktype: int) -> str:
    """scapy's show() of a frame, escaped; a frame scapy cannot take says so in one line."""
    import logging

    from netkit.core.text import for_terminal

    logging.getLogger("scapy").setLevel(logging.ERROR)
    try:
        import scapy.layers.inet6  # noqa: F401 - binds IPv6 (and, through inet, IPv4, TCP, UDP, ICMP) to Ether
        from scapy.layers.inet import IP
        from scapy.layers.l2 import Ether

        layer = Ether if linktype == 1 else IP
        return for_terminal(layer(data).show(dump=True), keep_newlines=True)
    except Exception as exc:  # noqa: BLE001 - scapy on a peer's bytes: this packet's failure only
        return f"malformed packet: scapy could not dissect it ({type(exc).__name__})\n"


def _sniff_file(request, out, err, opened) -> int:
    from netkit.core.text import for_terminal
    from netkit.packets._raw import compile_filter, filter_matcher
    from netkit.packets._sniff import _DLT_FOR, read_pcap

    path = request["read"]
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"-r {for_terminal(path)}: {exc.strerror or exc}") from None
    with file:
        linktype, records = read_pcap(file)
        matches = filter_matcher(compile_filter(request["filter"], _DLT_FOR[linktype])) if request["filter"] else None
        emit = _emitter(request, out, linktype, opened)
        shown = 0
        try:
            for packet in records:
                if matches is not None and not matches(packet.data, packet.length):
                    continue
                emit(packet)
                shown += 1
                if request["count"] and shown >= request["count"]:
                    break
        except UsageError as exc:  # damaged past some record: what came before is kept
            out.flush()
            err.write(f"{COMMAND} sniff: {for_terminal(path)}: {exc}\n")
            return 1
    return 0


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
