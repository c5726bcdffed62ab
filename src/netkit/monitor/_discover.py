"""``netkit monitor discover``: scan hosts, look at what each open port speaks, and write a
monitor config with the right check for each.

The scan is netkit's (:func:`netkit.scan.run.scan` with banners). A port's banner names the
protocols that speak first (SSH, SMTP, FTP, POP3, IMAP); a port that waits is asked: a
TLS handshake (then the same questions inside TLS, or an HTTP HEAD), an HTTP HEAD in the
clear (the scanner's own probe), a DNS question over TCP. What does not answer any of them
is a ``tcp://`` connect check.

Peers are hostile: what a banner says only chooses among the checks above, and the banner
itself reaches the file as a comment, cut short, with every control character escaped
(``\\xHH``): nothing a peer sends can become a key or a value, or end the comment. The
result is validated with :func:`netkit.monitor._config.parse_config` before it is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Service", "discover", "render", "DEFAULT_TOP_PORTS"]

# The ports scanned when none are named: nmap's 1,000 most common, as `netkit scan`.
DEFAULT_TOP_PORTS = 1000
# Each probe of one port (TLS handshake, a read, a DNS answer) waits at most this long: a
# service on a LAN answers in milliseconds; a slow one is still found, not waited for.
PROBE_TIMEOUT = 3.0
# Probes in flight at once: each holds a socket for up to PROBE_TIMEOUT.
PROBE_CONCURRENCY = 64
# What is read of a greeting (the scanner's own limit): a line or two.
MAX_GREETING = 1024
# Characters of a banner kept in the comment: enough to name the software and version.
MAX_COMMENT = 120
HTTP_PROBE = b"HEAD / HTTP/1.0\r\n\r\n"

# The default port of each scheme: a service there is named without its port.
_DEFAULT_PORTS = {"ssh": 22, "smtp": 25, "smtps": 465, "ftp": 21, "http": 80, "https": 443, "tls": 443, "pop3": 110,
                  "pop3s": 995, "imap": 143, "imaps": 993, "dns": 53}


@dataclass
class Service:
    """One open port and the check chosen for it."""

    host: str                   # as the URL has it (a name as given, else the address)
    port: int
    kind: str                   # ssh, smtp, http, https, tls, pop3s... (the name's last word)
    url: str
    opts: dict = field(default_factory=dict)
    banner: str = ""            # the peer's first line, escaped (for a comment only)
    notes: list = field(default_factory=list)

    @property
    def name(self) -> str:
        host = self.host[1:-1] if self.host.startswith("[") else self.host
        default = _DEFAULT_PORTS.get(self.kind)
        return f"{host} {self.kind}" if self.port == default else f"{host} {self.kind} {self.port}"


def comment_text(text, limit: int = MAX_COMMENT) -> str:
    """``text`` (a peer's) safe inside a TOML comment: control characters (and everything a
    terminal or TOML would obey) as ``\\xHH``, cut to ``limit`` characters."""
    from netkit.core.text import for_terminal

    safe = for_terminal(text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def _url_host(address: str, name) -> str:
    host = name or address
    return f"[{host}]" if ":" in host else host


def classify(host: str, port: int, greeting: str, tls: dict | None, dns: str | None, dns_name: str) -> Service:
    """The check for one open port from what it said: ``greeting`` (its first line in the
    clear, or its answer to HEAD), ``tls`` ({"greeting", "verified", "why"} when a TLS
    handshake succeeded), ``dns`` (the rcode of an answer to a DNS question over TCP)."""
    netloc = f"{host}:{port}"
    if tls is not None:
        inner = tls["greeting"]
        kind, opts = _by_greeting(inner, port, tls=True)
        if kind is None:
            kind = "https" if inner.startswith("HTTP/") else "tls"
        service = _service(host, port, kind, opts, inner)
        if not tls["verified"]:
            service.notes.append(f"its certificate did not verify ({comment_text(tls['why'], 80)}): give "
                                 f"cacert = \"/path/ca.pem\" (or insecure = true), or this check fails")
        return service
    kind, opts = _by_greeting(greeting, port, tls=False)
    if kind is not None:
        return _service(host, port, kind, opts, greeting)
    if greeting.startswith("HTTP/"):
        return _service(host, port, "http", {}, greeting)
    if dns is not None:
        service = Service(host, port, "dns", f"dns://{netloc}/{dns_name}", {"tcp": True})
        if dns != "NOERROR":
            service.notes.append(f"it answered {dns} to {dns_name} A: set the name in the url to one it serves "
                                 f"(netkit monitor discover --dns-name NAME)")
        return service
    service = Service(host, port, "tcp", f"tcp://{netloc}", banner=comment_text(greeting))
    if greeting:
        service.notes.append("an unknown protocol; an expect = \"...\" string makes this check read its greeting")
    return service


def _by_greeting(greeting: str, port: int, tls: bool):
    """(kind, check options) for a service that speaks first; (None, {}) otherwise."""
    if greeting.startswith("SSH-") and not tls:
        return "ssh", {}
    if greeting.startswith("+OK"):
        return ("pop3s" if tls else "pop3"), {"expect": "+OK"}
    if greeting.startswith("* OK"):
        return ("imaps" if tls else "imap"), {"expect": "* OK"}
    if greeting.startswith("220"):
        lower = greeting.lower()
        if "ftp" in lower or (port in (21, 990) and "smtp" not in lower):
            return ("ftp", {}) if not tls else (None, {})
        if "smtp" in lower or "mail" in lower or port in (25, 465, 587, 2525):
            return ("smtps" if tls else "smtp"), {}
        return "tcp", {"expect": "220"}
    return None, {}


def _service(host, port, kind, opts, greeting) -> Service:
    netloc = f"{host}:{port}"
    banner = comment_text(greeting)
    if kind in ("pop3", "pop3s", "imap", "imaps"):
        # pop3:// and imap:// checks log in (a user and a password): until one is given,
        # the greeting over TCP (and TLS) is what can be checked.
        opts = dict(opts)
        if kind.endswith("s"):
            opts["tls"] = True
        service = Service(host, port, kind, f"tcp://{netloc}", opts, banner)
        service.notes.append(f"for a login check: url = \"{kind}://USER@{netloc}\" with password-env = \"VAR\" "
                             f"(and no expect{', tls' if kind.endswith('s') else ''})")
        return service
    if kind == "tcp":
        return Service(host, port, "tcp", f"tcp://{netloc}", opts, banner)
    path = "/" if kind in ("http", "https") else ""
    return Service(host, port, kind, f"{kind}://{netloc}{path}", opts, banner)


# -- probing ----------------------------------------------------------------------------------


async def _read(reader, timeout: float) -> bytes:
    import asyncio

    try:
        return await asyncio.wait_for(reader.read(MAX_GREETING), timeout)
    except (TimeoutError, OSError, EOFError):
        return b""
    except Exception:  # noqa: BLE001 -- ssl errors and the like mid-read: the peer said nothing usable
        return b""


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "surrogateescape").strip()
    return text.split("\n", 1)[0].strip()


async def _tls_probe(address: str, port: int, server_name, timeout: float):
    """{"greeting", "verified", "why"} when ``port`` speaks TLS, else None."""
    import asyncio
    import ssl

    async def attempt(context):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=context, server_hostname=server_name or address,
                                    ssl_handshake_timeout=timeout), timeout)
        try:
            data = await _read(reader, timeout / 2)
            if not data:
                writer.write(HTTP_PROBE)
                data = await _read(reader, timeout / 2)
            return _first_line(data)
        finally:
            writer.transport.abort()

    verified, why = True, ""
    try:
        try:
            greeting = await attempt(ssl.create_default_context())
        except ssl.SSLCertVerificationError as exc:
            verified, why = False, exc.verify_message or str(exc)
            insecure = ssl.create_default_context()
            insecure.check_hostname = False
            insecure.verify_mode = ssl.CERT_NONE
            greeting = await attempt(insecure)
    except (TimeoutError, OSError, ssl.SSLError, EOFError, ValueError):
        return None
    return {"greeting": greeting, "verified": verified, "why": why}


async def _dns_probe(address: str, port: int, name: str, timeout: float):
    """The rcode ("NOERROR", "REFUSED"...) a DNS server on ``port`` answers over TCP, or None."""
    try:
        import dns.asyncquery
        import dns.message
        import dns.rcode

        query = dns.message.make_query(name, "A")
        answer = await dns.asyncquery.tcp(query, address, timeout=timeout, port=port)
        return dns.rcode.to_text(answer.rcode())
    except Exception:  # noqa: BLE001 -- anything from a port that is not a DNS server: not DNS
        return None


async def _probe_all(ports, names, dns_name, timeout):
    import asyncio

    limit = asyncio.Semaphore(PROBE_CONCURRENCY)

    async def one(result):
        async with limit:
            greeting = result.banner or ""
            host = _url_host(result.address, names.get(result.address))
            tls = dns = None
            speaks_first = greeting and not greeting.startswith("HTTP/")
            if not speaks_first:
                tls = await _tls_probe(result.address, result.port, names.get(result.address), timeout)
            if not greeting and tls is None:
                dns = await _dns_probe(result.address, result.port, dns_name, timeout)
            return classify(host, result.port, greeting, tls, dns, dns_name)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(r)) for r in ports]
    return [t.result() for t in tasks]


def discover(targets, ports, *, dns_name: str = "localhost", timeout: float = PROBE_TIMEOUT, scan_options=None):
    """Scan ``ports`` of ``targets`` ([(address, name or None)], as expand_targets gives)
    and return ([Service] for every open port, the ScanReport)."""
    import asyncio

    from netkit.drivers.aio import loop_factory
    from netkit.scan.run import scan

    report = scan(targets, ports, banners=True, banner_timeout=timeout, **(scan_options or {}))
    names = dict(targets)
    open_ports = [p for h in report.hosts for p in h.select(("open",))]
    if not open_ports or report.interrupted:
        return [], report
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        services = runner.run(_probe_all(open_ports, names, dns_name, timeout))
    return unique(services), report


def unique(services) -> list:
    """``services`` without a second one of the same name: a host name given that resolves
    to 127.0.0.1 and ::1 is one target (its check resolves the name itself)."""
    seen: set[str] = set()
    kept = []
    for service in services:
        if service.name not in seen:
            seen.add(service.name)
            kept.append(service)
    return kept


# -- the file ---------------------------------------------------------------------------------


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, plus DEL, which TOML wants escaped."""
    import json

    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return _toml_string(str(value))


def render(services, command: str, now: float | None = None) -> str:
    """The monitor config (TOML text) of ``services``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    out = [f"# A netkit monitor config, written by `{comment_text(command, 400)}` at {stamp}.\n",
           "# Review it, then: netkit monitor check FILE && netkit monitor run FILE\n",
           "# Each [[target]] is a check as `netkit check --file` takes it (see netkit check --help).\n\n",
           "[defaults]\ninterval = \"60s\"\n"]
    for service in services:
        out.append("\n[[target]]\n")
        if service.banner:
            out.append(f"# banner: {service.banner}\n")
        for note in service.notes:
            out.append(f"# note: {comment_text(note, 400)}\n")
        out.append(f"name = {_toml_string(service.name)}\nurl = {_toml_string(service.url)}\n")
        for key, value in service.opts.items():
            out.append(f"{key} = {_toml_value(value)}\n")
    return "".join(out)
