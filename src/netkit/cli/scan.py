"""``netkit scan``: which TCP ports of which hosts are open, as fast as nmap -sT."""


from netkit.cli.args import flag_table, last_value, option_rows, parse_argv
from netkit.cli.options import Option, as_given, seconds
from netkit.core.errors import UsageError

__all__ = ["main", "help_text"]

COMMAND = "netkit scan"
# The ports scanned when none are named: nmap's default, its 1,000 most common.
DEFAULT_TOP_PORTS = 1000
# nmap spellings with two letters after one dash, turned into ours before parsing.
_NMAP_SPELLINGS = {"-iL": "--input-list", "-oG": "--grepable", "-oX": "--xml", "-oJ": "--json",
                   "-p-": "--all-ports"}
# nmap options that change nothing here, accepted so nmap habits do not fail: netkit
# never pings first (-Pn), never looks up reverse names (-n) and only connect-scans (-sT).
_NO_OPS = frozenset(("-Pn", "-n", "-sT"))


def _count(what, low=1):
    def parse(value):
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"expects a whole number of {what}") from None
        if n < low:
            raise ValueError(f"expects a whole number of {what}, {low} or more")
        return n

    return parse


OPTIONS = (
    Option("ports", "one", as_given, None, "ports: 22,80,443 or 1-1024 or - for all (-p-)", short="p",
           metavar="PORTS", example="1-1024"),
    Option("top-ports", "one", _count("ports"), None, f"the N most common ports (default {DEFAULT_TOP_PORTS})",
           metavar="N", example="100"),
    Option("all-ports", "flag", as_given, None, "all 65,535 ports (nmap's -p-)"),
    Option("input-list", "many", as_given, None, "read targets from a file (-iL; # comments)", metavar="FILE",
           example="hosts.txt"),
    Option("exclude", "many", as_given, None, "leave these targets out (repeatable, comma lists)",
           metavar="TARGETS", example="192.0.2.1"),
    Option("open", "flag", as_given, None, "list only open ports"),
    Option("banner", "flag", as_given, None, "read what open ports say (or answer to an HTTP HEAD)", short="b"),
    Option("json", "flag", as_given, None, "print JSON Lines: one object per port, then a summary"),
    Option("grepable", "one", as_given, None, "also write nmap's grepable format to FILE (- for stdout) (-oG)",
           metavar="FILE", example="scan.gnmap"),
    Option("xml", "one", as_given, None, "also write nmap-compatible XML to FILE (- for stdout) (-oX)",
           metavar="FILE", example="scan.xml"),
    Option("rate", "one", _count("probes a second"), None, "at most N probes a second", metavar="N",
           example="1000"),
    Option("timeout", "one", seconds, None,
           "wait for one probe's answer: where to start and the most (default 0.5, adapting up to 1.25)",
           metavar="SECONDS", example="2"),
    Option("retries", "one", _count("retries", 0), None, "probes sent again before a port is filtered (default 5)",
           metavar="N", example="1"),
    Option("max-time", "one", seconds, None, "stop the whole scan after SECONDS", metavar="SECONDS",
           example="60"),
    Option("host-timeout", "one", seconds, None, "give up on a host SECONDS after its first probe",
           metavar="SECONDS", example="30"),
    Option("concurrency", "one", _count("connections"), None, "connects in flight at once (default 2048)",
           metavar="N", example="500"),
    Option("ipv4", "flag", as_given, None, "resolve names to IPv4 only", short="4"),
    Option("ipv6", "flag", as_given, None, "resolve names to IPv6 only", short="6"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    rows = option_rows(OPTIONS, 28)
    return (
        "usage: netkit scan [OPTIONS] TARGET...\n\n"
        "TCP connect scan: every port open (it connected), closed (refused) or filtered (no\n"
        "answer after the retries). Targets: names, addresses (192.0.2.1, ::1), CIDR blocks\n"
        "(192.0.2.0/24), octet ranges (192.0.2.1-20); each address once.\n\n"
        "options:\n" + rows +
        "\nnmap spellings work too: -p-, -iL FILE, -oG FILE, -oX FILE; -Pn, -n and -sT are accepted\n"
        "and change nothing (netkit never pings first, never resolves reverse names).\n\n"
        "Examples:\n"
        "  netkit scan 127.0.0.1 --banner\n"
        "  netkit scan 192.0.2.0/24 -p 22,80,443 --open\n"
        "  netkit scan host.example -p- -oX scan.xml\n"
    )


def parse(argv):
    from netkit.scan.ports import parse_ports, top_ports
    from netkit.scan.targets import expand_targets, read_target_file

    command = " ".join(["netkit", "scan", *argv])
    argv = [_NMAP_SPELLINGS.get(a, a) for a in argv if a not in _NO_OPS]
    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}

    def one(name):
        return last_value(raw, FLAGS, name)

    if raw.get("ipv4") and raw.get("ipv6"):
        raise UsageError("-4 and -6 exclude each other; give one")
    family = 4 if raw.get("ipv4") else 6 if raw.get("ipv6") else 0
    chosen = [n for n in ("ports", "top-ports", "all-ports") if raw.get(n)]
    if len(chosen) > 1:
        raise UsageError(f"--{chosen[0]} and --{chosen[1]} both choose the ports; give one")
    if raw.get("all-ports"):
        ports = parse_ports("-")
    elif raw.get("ports"):
        ports = parse_ports(raw["ports"][-1])
    else:
        ports = top_ports(one("top-ports") or DEFAULT_TOP_PORTS)
    specs = list(positional)
    for path in raw.get("input-list", ()):
        specs.extend(read_target_file(path))
    if not specs:
        raise UsageError("no targets: name hosts, addresses or blocks, e.g. netkit scan 127.0.0.1 "
                         "(or -iL hosts.txt)")
    targets = expand_targets(specs, raw.get("exclude", ()), family)  # UsageErrors name a bad one
    if not targets:
        raise UsageError("every target was excluded; nothing to scan")
    _check_outputs(one("grepable"), one("xml"))
    return {
        "targets": targets, "ports": ports, "open": bool(raw.get("open")), "banner": bool(raw.get("banner")),
        "json": bool(raw.get("json")), "grepable": one("grepable"), "xml": one("xml"), "rate": one("rate"),
        "timeout": one("timeout"), "retries": one("retries"), "max_time": one("max-time"),
        "host_timeout": one("host-timeout"),
        "concurrency": one("concurrency"), "command": command,
    }


def _check_outputs(grepable, xml):
    """Before the scan, not after it: each report file can be written where it is named."""
    import os

    from netkit.core.fs import check_output_file

    for flag, path in (("-oG", grepable), ("-oX", xml)):
        if path and path != "-":
            problem = check_output_file(path)
            if problem:
                raise UsageError(f"{flag} {path}: {problem}")
    if grepable and grepable != "-" and xml and os.path.realpath(grepable) == os.path.realpath(xml):
        raise UsageError(f"-oG and -oX both name {xml}; give each report its own file")


def _write(path, text, out):
    if path == "-":
        out.write(text)
        return
    from netkit.core.fs import write_whole

    # Whole or not at all, through a new unpredictable name: a planted PATH.part link
    # cannot redirect the report (netkit scan often runs as root).
    write_whole(path, text.encode("utf-8"))


def _run(request, out, err) -> int:
    from netkit.cli.progress import open_display
    from netkit.core.timeout import Timeout
    from netkit.scan import output
    from netkit.scan.engine import DEFAULT_CONCURRENCY, DEFAULT_RETRIES
    from netkit.scan.run import scan

    with open_display(err, transient=True) as display:
        task = display.task("scan", len(request["targets"]) * len(request["ports"]), "ports")
        report = scan(
            request["targets"], request["ports"], banners=request["banner"],
            on_progress=(lambda done, opened: task(done, note=f"{opened:,} open")) if task else None,
            concurrency=request["concurrency"] or DEFAULT_CONCURRENCY,
            retries=DEFAULT_RETRIES if request["retries"] is None else request["retries"],
            rate=request["rate"], timeout=Timeout(request["max_time"], connect=request["timeout"]),
            host_timeout=request["host_timeout"],
            command=request["command"])
    only_open = request["open"]
    if request["json"]:
        names = {h.address: h.hostname for h in report.hosts}
        for host in report.hosts:
            for port in (host.select(("open",)) if only_open else host.ports):
                out.write(output.json_line(port, names[host.address]) + "\n")
        out.write(output.json_summary(report) + "\n")
    elif request["grepable"] != "-" and request["xml"] != "-":
        width = None
        if out.isatty():
            import shutil

            width = shutil.get_terminal_size().columns
        out.write(output.table(report, only_open=only_open, width=width))
    if request["grepable"]:
        _write(request["grepable"], output.grepable(report, only_open=only_open), out)
    if request["xml"]:
        _write(request["xml"], output.nmap_xml(report, only_open=only_open), out)
    # Ctrl-C: what was found is printed above (each format says the results are partial).
    return 130 if report.interrupted else 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command
    from netkit.core.fs import LocalError

    return run_command(COMMAND, argv, parse, help_text, _run, out, err, failures=(LocalError,))
