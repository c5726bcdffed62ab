"""``/probe``: blackbox_exporter's interface over netkit's checks.

A Prometheus that scraped blackbox_exporter switches by changing one address: the same
``/probe?target=...&module=...``, the same 400 for a missing target or an unknown module,
the scrape timeout taken from ``X-Prometheus-Scrape-Timeout-Seconds`` (less
:data:`TIMEOUT_OFFSET`, as blackbox), and the metric names of blackbox_exporter 0.23
(``probe_success``, ``probe_duration_seconds``, ``probe_http_status_code``,
``probe_ssl_earliest_cert_expiry``...), so its alerts and Grafana dashboards keep working.

Modules are the config's ``[module.NAME]`` tables (``netkit.monitor._config.Module``: a
prober -- http, tcp, tls, dns, or any netkit check scheme -- and ``netkit check`` options;
``Module.spec(target)`` reads a target as blackbox does: a URL, or ``host:port`` of the
prober's scheme; for dns, the server to ask the module's ``query-name``).

Differences, said plainly: ``probe_success`` is 1 for OK and WARNING (blackbox has no
WARNING; ``netkit_probe_status`` carries the 0-3 status); ``probe_failed_due_to_regex`` is
inferred (a body/expect rule was set, the answer came, the check failed);
``probe_ssl_last_chain_info`` has no ``fingerprint_sha256`` label (the check's details do
not keep the certificate's bytes).
"""

from __future__ import annotations

import calendar
import math
import time

from netkit.core.errors import UsageError
from netkit.monitor._metrics import Exposition

__all__ = ["DEFAULT_PROBE_TIMEOUT", "MAX_SCRAPE_TIMEOUT", "MAX_TARGET", "TIMEOUT_OFFSET", "probe_metrics", "probe_spec",
           "probe_timeout"]

# blackbox_exporter's default --timeout-offset: the probe ends this much before Prometheus
# gives up on the scrape, so the answer (probe_success 0) still arrives.
TIMEOUT_OFFSET = 0.5
# Without a scrape-timeout header or a module timeout: netkit check's own default.
DEFAULT_PROBE_TIMEOUT = 10.0
# The most a caller's scrape-timeout header may ask for (blackbox's default without one):
# the header is anyone's to set, and a probe of a silent host holds one of the app's probe
# slots for as long as it asks (a header of 1e308 held it for good).
MAX_SCRAPE_TIMEOUT = 120.0
# The least time a probe is given, whatever the header says (a header of 0.3 s would
# otherwise leave nothing after the offset).
MIN_PROBE_TIMEOUT = 0.1
# A target is one host name or URL; past this it is a mistake or an attack on the parser.
MAX_TARGET = 2048

_HTTP = ("http", "https")


def probe_spec(module, target: str, timeout: float | None, env=None):
    """The CheckSpec that probes ``target`` with ``module`` (the config's
    :class:`~netkit.monitor._config.Module`) within ``timeout`` seconds; UsageError when
    the target does not fit the module."""
    import os

    if not target or len(target) > MAX_TARGET:
        raise UsageError(f"a target is 1 to {MAX_TARGET} characters, e.g. target=https://example.com/")
    spec = module.spec(target, env=os.environ if env is None else env)
    if timeout is not None:
        spec.opts["timeout"] = timeout
    return spec


def probe_timeout(module, header: str | None) -> float:
    """Seconds the probe may take: the module's ``timeout`` and Prometheus' scrape timeout
    (less :data:`TIMEOUT_OFFSET`), whichever is less."""
    limits = [module.opts["timeout"]] if module.opts.get("timeout") else []
    if header:
        try:
            scrape = float(header)
        except ValueError:
            scrape = None
        if scrape is not None and 0 < scrape < math.inf:
            limits.append(min(scrape, MAX_SCRAPE_TIMEOUT) - TIMEOUT_OFFSET)
    return max(MIN_PROBE_TIMEOUT, min(limits) if limits else DEFAULT_PROBE_TIMEOUT)


def fnv32a(address: str) -> int | None:
    """FNV-1a, 32 bits, of the address' bytes (4 for IPv4, 16 for IPv6): blackbox's
    ``probe_ip_addr_hash``; None when ``address`` is not an IP."""
    import ipaddress

    try:
        packed = ipaddress.ip_address(address).packed
    except ValueError:
        return None
    h = 0x811C9DC5
    for byte in packed:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def _address(peer) -> str | None:
    """The IP of a ``host:port`` / ``[v6]:port`` peer text, or None."""
    if not peer or not isinstance(peer, str):
        return None
    host = peer.rpartition(":")[0] if peer.count(":") == 1 or peer.startswith("[") else peer
    return host.strip("[]") or None


def _expiry(text) -> float | None:
    """Epoch seconds of a ``2027-01-01T00:00:00Z`` time, as the TLS details write it."""
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None


def _http_version(text) -> float:
    try:
        return float(str(text).rpartition("/")[2])
    except ValueError:
        return 0.0


def probe_metrics(module, spec, result, duration: float) -> str:
    """blackbox_exporter's metrics for one finished probe (``result`` a CheckResult, or
    None when the probe could not even start)."""
    out = Exposition()
    details = result.details if result is not None else {}
    timings = result.timings if result is not None else {}
    success = result is not None and int(result.status) <= 1
    scheme = spec.target.scheme if spec is not None else module.prober
    out.gauge("probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds",
              timings.get("dns") or 0.0)
    out.gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds", duration)
    if scheme != "dns":     # blackbox's dns prober has no regex rules, nor this series
        out.gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex",
                  _failed_regex(spec, details, success))
    if scheme in _HTTP:
        _http_metrics(out, details, timings)
    if scheme == "dns":
        _dns_metrics(out, details, timings, success)
    address = _address(details.get("server") if scheme == "dns" else details.get("peer"))
    if address is not None and fnv32a(address) is not None:
        out.gauge("probe_ip_addr_hash",
                  "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
                  fnv32a(address))
    out.gauge("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6",
              0 if address is None else 6 if ":" in address else 4)
    tls = details if scheme == "tls" else details.get("tls")     # a tls check's details are the TLS
    if isinstance(tls, dict) and tls.get("chain"):
        _tls_metrics(out, tls)
    out.gauge("probe_success", "Displays whether or not the probe was a success", success)
    out.gauge("netkit_probe_status", "The check's status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
              int(result.status) if result is not None else 3)
    return out.text()


def _failed_regex(spec, details, success: bool) -> int:
    if spec is None or success:
        return 0
    if spec.target.scheme in _HTTP:
        rules = spec.opts.get("body") or spec.opts.get("body-regex")
        expected = spec.get("status")
        code = details.get("status_code")
        return int(bool(rules) and code is not None and (expected is None or code in expected))
    if spec.target.scheme in ("tcp", "udp", "tls"):
        return int(bool(spec.opts.get("expect")) and "reply" in details)
    return 0


def _header(headers, name: str):
    """The first value of header ``name`` (lower case) in the details' [[name, value]...]."""
    return next((str(v) for n, v in headers if str(n).lower() == name), None)


def _http_metrics(out: Exposition, details: dict, timings: dict) -> None:
    headers = details.get("headers") or []
    length = _header(headers, "content-length")
    try:    # blackbox (Go's ContentLength): -1 for an answer without one, 0 for no answer
        length = int(length) if length is not None else -1 if "status_code" in details else 0
    except ValueError:
        length = -1
    out.gauge("probe_http_content_length", "Length of http content response", length)
    out.family("probe_http_duration_seconds", "gauge", "Duration of http request by phase, summed over all redirects")
    connect, tls, first, total = (timings.get(k) or 0.0 for k in ("connect", "tls", "firstbyte", "total"))
    phases = {"connect": connect, "processing": first, "resolve": timings.get("dns") or 0.0, "tls": tls,
              "transfer": max(0.0, total - connect - tls - first - (timings.get("dns") or 0.0)) if first else 0.0}
    for phase, value in phases.items():
        out.sample("probe_http_duration_seconds", value, (("phase", phase),))
    modified = _header(headers, "last-modified")
    if modified is not None:
        from email.utils import parsedate_to_datetime

        try:
            stamp = parsedate_to_datetime(modified).timestamp()
        except (TypeError, ValueError, IndexError):
            stamp = None
        if stamp is not None:
            out.gauge("probe_http_last_modified_timestamp_seconds",
                      "Returns the Last-Modified HTTP response header in unixtime", stamp)
    out.gauge("probe_http_redirects", "The number of redirects", len(details.get("redirects") or ()))
    out.gauge("probe_http_ssl", "Indicates if SSL was used for the final redirect",
              str(details.get("url", "")).startswith("https://"))
    out.gauge("probe_http_status_code", "Response HTTP status code", details.get("status_code") or 0)
    out.gauge("probe_http_uncompressed_body_length", "Length of uncompressed response body",
              details.get("size") or 0)
    out.gauge("probe_http_version", "Returns the version of HTTP of the probe response",
              _http_version(details["http_version"]) if details.get("http_version") else 0)


def _dns_metrics(out: Exposition, details: dict, timings: dict, success: bool) -> None:
    answers = details.get("answers") or ()
    out.gauge("probe_dns_additional_rrs", "Returns number of entries in the additional resource record list",
              details.get("additional_records") or 0)
    out.gauge("probe_dns_answer_rrs", "Returns number of entries in the answer resource record list",
              len(answers))
    out.gauge("probe_dns_authority_rrs", "Returns number of entries in the authority resource record list",
              details.get("authority_records") or 0)
    out.family("probe_dns_duration_seconds", "gauge", "Duration of DNS request by phase")
    for phase, key in (("connect", "connect"), ("request", "firstbyte"), ("resolve", "dns")):
        out.sample("probe_dns_duration_seconds", timings.get(key) or 0.0, (("phase", phase),))
    out.gauge("probe_dns_query_succeeded", "Displays whether or not the query was executed successfully",
              "rcode" in details)


def _tls_metrics(out: Exposition, tls: dict) -> None:
    chain = tls["chain"]
    expires = [e for e in (_expiry(c.get("not_after")) for c in chain) if e is not None]
    if expires:
        out.gauge("probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime", min(expires))
        out.gauge("probe_ssl_last_chain_expiry_timestamp_seconds",
                  "Returns last SSL chain expiry in timestamp", min(expires))
    leaf = chain[0]
    out.gauge("probe_ssl_last_chain_info", "Contains SSL leaf certificate information", 1,
              (("issuer", leaf.get("issuer", "")), ("subject", leaf.get("subject", "")),
               ("subjectalternative", ",".join(leaf.get("sans") or ()))))
    version = str(tls.get("version") or "").replace("TLSv", "TLS ")
    out.gauge("probe_tls_version_info", "Returns the TLS version used or NaN when unknown", 1,
              (("version", version),))
