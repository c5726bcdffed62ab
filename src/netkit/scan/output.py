"""What a scan found, as text: a table for people, JSON Lines for programs, and nmap's
grepable (``-oG``) and XML (``-oX``) formats for the tools that read nmap's.

Pure functions over netkit.scan.model: each returns text and the CLI writes it. Documents
(``table``, ``grepable``, ``nmap_xml``) end with a newline; single lines (``json_line``,
``json_summary``) do not. The progress display is the CLI's (netkit.cli.progress).

Every port list is in port-number order, as nmap prints it. A state with many ports
(more than MAX_SHOWN_PER_STATE, or any state but open with ``only_open``) is folded into
one count, as nmap does ("Not shown", "Ignored State", ``<extraports>``).
"""

import time

from netkit import __version__
from netkit.core.text import json_controls_escaped
from netkit.scan.model import CLOSED, FILTERED, OPEN, STATES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["INTERRUPTED_MESSAGE", "MAX_SHOWN_PER_STATE", "XML_OUTPUT_VERSION", "grepable",
           "json_line", "json_summary", "nmap_xml", "table"]

# nmap lists the ports of a state one by one when there are at most this many, and folds
# them into a count beyond (PortList::isIgnoredState, max_per_state at verbosity 0).
MAX_SHOWN_PER_STATE = 25
# The version of nmap's XML format written here: nmap 7.x writes 1.05 (docs/nmap.dtd).
XML_OUTPUT_VERSION = "1.05"
# What an interrupted scan says, in the XML (finished/@errormsg) and the grepable comment.
INTERRUPTED_MESSAGE = "Interrupted (Ctrl-C): the results are partial"

# States that may be folded, in nmap's order of preference on equal counts (its state
# numbers: closed before filtered). Open ports are always listed.
_FOLDABLE = (CLOSED, FILTERED)


# -- shared helpers ----------------------------------------------------------------------


def _times(report):
    """(start, end) in epoch seconds, whatever the report left unset."""
    starts = [h.started for h in report.hosts if h.started is not None]
    ends = [h.finished for h in report.hosts if h.finished is not None]
    start = report.started if report.started is not None else min(starts, default=None)
    end = report.finished if report.finished is not None else max(ends, default=None)
    if start is None:
        start = end if end is not None else 0.0
    if end is None:
        end = start
    return start, end


def _folded(counts, only_open):
    """The states whose ports are not listed one by one, most ports first."""
    states = [s for s in _FOLDABLE
              if counts.get(s, 0) > 0 and (only_open or counts[s] > MAX_SHOWN_PER_STATE)]
    return sorted(states, key=lambda s: -counts[s])  # stable: closed first on a tie


def _split(host, only_open):
    """(ports listed, in port order; folded states; counts per state)."""
    counts = host.counts()
    folded = _folded(counts, only_open)
    listed = sorted(host.select([s for s in STATES if s not in folded]), key=lambda p: p.port)
    return listed, folded, counts


def _ranges(ports) -> str:
    """``1-20,22,80`` for an iterable of port numbers (nmap's services="..." form)."""
    ports = sorted(set(ports))
    out = []
    i = 0
    while i < len(ports):
        j = i
        while j + 1 < len(ports) and ports[j + 1] == ports[j] + 1:
            j += 1
        out.append(str(ports[i]) if i == j else f"{ports[i]}-{ports[j]}")
        i = j + 1
    return ",".join(out)


def _name(host):
    """The name the host was given as, unless it was given as its address."""
    return host.hostname if host.hostname and host.hostname != host.address else None


def _one_line(text) -> str:
    """Text for a one-line field: control characters (tabs, newlines...) become spaces."""
    text = "" if text is None else str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def _escape_char(c: str) -> str:
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        n -= 0xDC00
    if n < 0x100:
        return f"\\x{n:02X}"
    return f"\\u{n:04X}" if n < 0x10000 else f"\\U{n:08X}"


def _banner_tokens(banner, one_line=False) -> list:
    """The banner as nmap's banner script writes it: surrounding whitespace stripped, each
    character that is not printable as ``\\xHH`` (one token per character, so that cuts
    never split an escape). Bytes are read as UTF-8, invalid bytes kept as ``\\xHH``.
    ``one_line``: each run of whitespace (line breaks too) as one space instead."""
    if banner is None:
        return []
    if isinstance(banner, (bytes, bytearray)):
        banner = bytes(banner).decode("utf-8", "surrogateescape")
    text = str(banner).strip()
    if one_line:
        text = " ".join(text.split())
    return [c if c.isprintable() else _escape_char(c) for c in text]


def _banner_text(banner) -> str:
    return "".join(_banner_tokens(banner))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _hosts_phrase(report) -> str:
    """nmap's "1 IP address (1 host up)": every host scanned counts as up (-Pn)."""
    n = len(report.hosts)
    return f"{n} IP address{'' if n == 1 else 'es'} ({n} host{'' if n == 1 else 's'} up)"


# -- table -------------------------------------------------------------------------------


def _cut(tokens, room) -> str:
    """The tokens within ``room`` characters, ending with "…" when cut (never inside an
    escape)."""
    text = "".join(tokens)
    if room is None or len(text) <= room:
        return text
    kept, used = [], 1  # room for the "…"
    for token in tokens:
        if used + len(token) > room:
            break
        kept.append(token)
        used += len(token)
    return "".join(kept) + "…" if room >= 1 else ""


def _host_label(host) -> str:
    name = _one_line(_name(host))
    return f"{name} ({host.address})" if name else host.address


def _host_table(host, only_open, width) -> list:
    listed, folded, counts = _split(host, only_open)
    if not host.scanned and not getattr(host, "skipped", 0):
        return [f"{_host_label(host)}: no ports scanned"]
    tally = [f"{counts[OPEN]:,} open"] + [f"{counts[s]:,} {s}" for s in _FOLDABLE if counts[s]]
    if getattr(host, "skipped", 0):
        tally.append(f"{host.skipped:,} not scanned (host timeout)")
    lines = [f"{_host_label(host)}: {', '.join(tally)}"]
    if listed:
        rows = [(f"{p.port}/tcp", p.state, _one_line(p.service) or "unknown",
                 _banner_tokens(p.banner, one_line=True)) for p in listed]
        with_banner = any(row[3] for row in rows)
        head = ("PORT", "STATE", "SERVICE", "BANNER")
        widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(3)]

        def line(cells, banner):
            prefix = "  ".join(cell.ljust(w) for cell, w in zip(cells, widths))
            if not with_banner:
                return prefix.rstrip()
            room = None if width is None else width - len(prefix) - 2
            return f"{prefix}  {_cut(banner, room)}".rstrip()

        lines.append(line(head[:3], list(head[3])))
        lines.extend(line(row[:3], row[3]) for row in rows)
    if folded:
        hidden = ", ".join(f"{counts[s]:,} {s}" for s in folded)
        total = sum(counts[s] for s in folded)
        lines.append(f"{hidden} port{'' if total == 1 else 's'} not shown")
    return lines


def table(report, only_open=False, width=None) -> str:
    """The scan as a table per host, for a terminal or a pipe.

    Each host starts with ``name (address): N open, N closed, N filtered``, then columns
    PORT, STATE, SERVICE and BANNER (BANNER only when a listed port has one). States with
    more than MAX_SHOWN_PER_STATE ports (with ``only_open``: every state but open) are
    summed up as ``N closed, N filtered ports not shown``; with ``only_open`` a host with
    no open port is left out, as nmap --open does. Banners are printable (control
    characters as ``\\xHH``) and cut with "…" to keep each line within ``width``
    characters (``None``: no limit). A last line gives the totals and the time taken.
    """
    blocks = []
    for host in report.hosts:
        if only_open and not host.counts()[OPEN]:
            continue
        blocks.append("\n".join(_host_table(host, only_open, width)))
    start, end = _times(report)
    counts = report.counts()
    scanned = sum(h.scanned for h in report.hosts)
    what = (f"{_plural(len(report.hosts), 'host')}, {_plural(scanned, 'port')} in "
            f"{max(end - start, 0):.2f} s ({counts[OPEN]:,} open)")
    blocks.append(f"Interrupted: {what}; the results are partial" if report.interrupted
                  else f"Done: {what}")
    return "\n\n".join(blocks) + "\n"


# -- JSON Lines --------------------------------------------------------------------------


_json: "dict[str, Callable[[object], str]]" = {}  # json's encoders, made on first use


def _encoder(name):
    if not _json:
        import json

        _json["utf-8"] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        _json["ascii"] = json.JSONEncoder(separators=(",", ":")).encode
    return _json[name]


def _utf8_or_none(text):
    """``text`` if it can be written as UTF-8 (lone surrogates, from undecodable bytes,
    cannot), else None."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return text


def _dumps(obj) -> str:
    text = _utf8_or_none(_encoder("utf-8")(obj))
    if text is None:
        return _encoder("ascii")(obj)
    return text if text.isprintable() else json_controls_escaped(text)


def json_line(port_result, hostname=None) -> str:
    """One port as a JSON object on one line (no newline): ``type`` "port", ``host``,
    ``hostname``, ``port``, ``protocol``, ``state``, ``reason``, ``rtt`` (seconds or
    null), ``service`` and ``banner`` (as received, null when none)."""
    p = port_result
    banner = p.banner
    if isinstance(banner, (bytes, bytearray)):
        banner = bytes(banner).decode("utf-8", "backslashreplace")
    return _dumps({"type": "port", "host": p.address, "hostname": hostname, "port": p.port,
                   "protocol": "tcp", "state": p.state, "reason": p.reason,
                   "rtt": None if p.rtt is None else round(p.rtt, 6),
                   "service": p.service, "banner": banner})


def json_summary(report) -> str:
    """The last JSON line (no newline): ``type`` "summary", ``hosts``, ``ports`` (asked per
    host), ``scanned`` (port results), ``open``/``closed``/``filtered`` counts, ``started``
    and ``finished`` (epoch seconds), ``elapsed`` (seconds) and ``interrupted``."""
    start, end = _times(report)
    counts = report.counts()
    return _dumps({"type": "summary", "hosts": len(report.hosts), "ports": len(set(report.ports)),
                   "scanned": sum(h.scanned for h in report.hosts),
                   "open": counts[OPEN], "closed": counts[CLOSED], "filtered": counts[FILTERED],
                   "started": round(start, 3), "finished": round(end, 3),
                   "elapsed": round(max(end - start, 0.0), 3),
                   "interrupted": bool(report.interrupted)})


# -- nmap grepable (-oG) -----------------------------------------------------------------


def _grep_field(text) -> str:
    # Fields are separated by "/" and entries by ", ": nmap writes "|" for a "/" in a field.
    return _one_line(text).replace("/", "|").replace(",", " ")


def grepable(report, only_open=False) -> str:
    """nmap's grepable format (``-oG``), line for line.

    A comment line saying when and how the scan ran, then per host
    ``Host: ADDR (NAME)\\tStatus: Up`` and
    ``Host: ADDR (NAME)\\tPorts: 22/open/tcp//ssh///, ...\\tIgnored State: closed (N)``
    (only the most common folded state is named, as nmap does), and the
    ``# Nmap done at ...`` line that parsers look for. A host without ports gets its Status
    line only; with ``only_open`` a host without open ports is left out. An interrupted scan
    has a comment saying so before the last line.
    """
    start, end = _times(report)
    command = _one_line(report.command or "netkit scan")
    lines = [f"# netkit {__version__} scan initiated {time.ctime(start)} as: {command}"]
    for host in report.hosts:
        if only_open and not host.counts()[OPEN]:
            continue
        ident = f"Host: {host.address} ({_one_line(_name(host))})"
        lines.append(f"{ident}\tStatus: Up")
        if not host.scanned:
            continue
        listed, folded, counts = _split(host, only_open)
        entries = ", ".join(f"{p.port}/{_grep_field(p.state)}/tcp//{_grep_field(p.service)}///"
                            for p in listed)
        line = f"{ident}\tPorts: {entries}"
        if folded:
            line += f"\tIgnored State: {folded[0]} ({counts[folded[0]]})"
        lines.append(line)
    if report.interrupted:
        lines.append(f"# {INTERRUPTED_MESSAGE}")
    lines.append(f"# Nmap done at {time.ctime(end)} -- {_hosts_phrase(report)} scanned in "
                 f"{max(end - start, 0):.2f} seconds")
    return "\n".join(lines) + "\n"


# -- nmap XML (-oX) ----------------------------------------------------------------------


def _xml_ok(c: str) -> bool:
    # The characters XML 1.0 allows (section 2.2), less the other C0 controls.
    n = ord(c)
    return (n >= 0x20 and not 0xD800 <= n <= 0xDFFF and n not in (0xFFFE, 0xFFFF)) or c in "\t\n\r"


def _xml_clean(value) -> str:
    text = "" if value is None else str(value)
    if text.isprintable():  # printable characters are all allowed in XML
        return text
    return "".join(c if _xml_ok(c) else "?" for c in text)


def _attr(value) -> str:
    """An attribute value, quoted: markup escaped, whitespace kept as character references
    (a parser would turn a raw tab or newline into a space), forbidden characters as "?"."""
    text = (_xml_clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")
            .replace("\r", "&#13;"))
    return f'"{text}"'


def _comment(text) -> str:
    # A comment may not hold "--" nor end with "-": nmap writes "-&#45;" for "--".
    text = _one_line(_xml_clean(text)).replace("--", "-&#45;")
    return f"<!-- {text} -->"


def _xml_times(ports) -> str:
    """``<times>`` in microseconds, as nmap's: the mean round trip, its mean deviation, and
    the timeout they imply (srtt + 4 rttvar, at least nmap's 100 ms floor)."""
    rtts = [p.rtt for p in ports if p.rtt is not None]
    if not rtts:
        return ""
    srtt = sum(rtts) / len(rtts)
    rttvar = sum(abs(r - srtt) for r in rtts) / len(rtts)
    timeout = max(srtt + 4 * rttvar, 0.1)
    return (f'<times srtt="{round(srtt * 1e6)}" rttvar="{round(rttvar * 1e6)}" '
            f'to="{round(timeout * 1e6)}"/>\n')


def _xml_port(p) -> str:
    out = [f'<port protocol="tcp" portid="{int(p.port)}">',
           f'<state state={_attr(p.state)} reason={_attr(p.reason or "unknown")} reason_ttl="0"/>']
    if p.service:
        out.append(f'<service name={_attr(p.service)} method="table" conf="3"/>')
    banner = _banner_text(p.banner)
    if banner:
        out.append(f'<script id="banner" output={_attr(banner)}/>')
    out.append("</port>\n")
    return "".join(out)


def _xml_host(host, only_open) -> str:
    times = ""
    if host.started is not None:
        times += f' starttime="{int(host.started)}"'
    if host.finished is not None:
        times += f' endtime="{int(host.finished)}"'
    out = [f'<host{times}><status state="up" reason="user-set" reason_ttl="0"/>\n',
           f'<address addr={_attr(host.address)} addrtype="ipv{host.family}"/>\n',
           "<hostnames>\n"]
    if _name(host):
        out.append(f'<hostname name={_attr(_name(host))} type="user"/>\n')
    out.append("</hostnames>\n")
    if host.scanned:
        listed, folded, counts = _split(host, only_open)
        out.append("<ports>")
        for state in folded:
            out.append(f'<extraports state="{state}" count="{counts[state]}">\n')
            by_reason: dict[str, list[int]] = {}
            for p in host.ports:
                if p.state == state:
                    by_reason.setdefault(p.reason or "unknown", []).append(p.port)
            for reason, ports in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                out.append(f'<extrareasons reason={_attr(reason)} count="{len(ports)}" '
                           f'proto="tcp" ports="{_ranges(ports)}"/>\n')
            out.append("</extraports>\n")
        out.extend(_xml_port(p) for p in listed)
        out.append("</ports>\n")
    out.append(_xml_times(host.ports))
    out.append("</host>\n")
    return "".join(out)


def nmap_xml(report, only_open=False) -> str:
    """nmap's XML format (``-oX``, xmloutputversion 1.05), for the tools that read nmap's
    (python-libnmap, ndiff, nmap.xsl, Metasploit...).

    Elements come in the order of nmap's DTD. ``scanner`` is "netkit" (ndiff and others
    print it; nmap.dtd itself only allows "nmap", like masscan's output). Hosts are up with
    reason "user-set" (no host discovery, like nmap -Pn); folded states are
    ``<extraports>`` with their reasons and port ranges; a banner is the output of a
    ``<script id="banner">`` in its port, written as nmap's banner script writes it
    (non-printable characters as ``\\xHH``). An interrupted scan ends with
    ``exit="error"`` and an ``errormsg``. With ``only_open`` hosts without open ports are
    left out but still counted up in ``<runstats>``, as nmap --open does.
    """
    start, end = _times(report)
    command = report.command or "netkit scan"
    elapsed = f"{max(end - start, 0):.2f}"
    started = time.ctime(start)
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n',
           _comment(f"netkit {__version__} scan initiated {started} as: {command}"), "\n",
           (f'<nmaprun scanner="netkit" args={_attr(command)} start="{int(start)}" '
            f'startstr={_attr(started)} version={_attr(__version__)} '
            f'xmloutputversion="{XML_OUTPUT_VERSION}">\n'),
           (f'<scaninfo type="connect" protocol="tcp" numservices="{len(set(report.ports))}" '
            f'services="{_ranges(report.ports)}"/>\n'),
           '<verbose level="0"/>\n<debugging level="0"/>\n']
    for host in report.hosts:
        if only_open and not host.counts()[OPEN]:
            continue
        out.append(_xml_host(host, only_open))
    done = f"netkit done at {time.ctime(end)}; {_hosts_phrase(report)} scanned in {elapsed} seconds"
    exit_ = 'exit="success"'
    if report.interrupted:
        exit_ = f'exit="error" errormsg={_attr(INTERRUPTED_MESSAGE)}'
    n = len(report.hosts)
    out.append(f'<runstats><finished time="{int(end)}" timestr={_attr(time.ctime(end))} '
               f'summary={_attr(done)} elapsed="{elapsed}" {exit_}/>'
               f'<hosts up="{n}" down="0" total="{n}"/>\n</runstats>\n</nmaprun>\n')
    return "".join(out)
