"""tls:// checks, and the certificate judgement that tcp --tls and https:// share.

The handshake verifies the chain and the host name (unless --insecure); then the peer's
certificates are read (cryptography) for subject, issuer, SANs and expiry, and the
earliest expiry in the chain is held against --cert-warn / --cert-crit.
"""

from netkit.check.result import CheckResult, phase_metrics, time_metric, time_status
from netkit.core.perfdata import Metric
from netkit.core.status import CRITICAL, OK, WARNING, worst
from netkit.proto.actions import TLSParams
from netkit.proto.line import tcp_dialogue

__all__ = ["plan", "judge", "tls_params", "judge_certificates", "add_certificates", "describe_chain"]

_DAY = 86400.0


def tls_params(spec, host=None) -> TLSParams:
    """TLS settings of a check; ``host`` is the host being connected (for redirects)."""
    host = host or spec.target.host
    sni = spec.get("sni")
    name = sni if (sni and host == spec.target.host) else host
    return TLSParams(name, verify=not spec.get("insecure"), cafile=spec.get("cacert"))


def plan(spec):
    t = spec.target
    return tcp_dialogue(t.host, t.port, family=spec.family, tls=tls_params(spec))


def _name(name) -> str:
    return name.rfc4514_string() or "(empty)"


def describe_chain(chain) -> list:
    """Facts of each certificate (DER, leaf first), as plain data."""
    from cryptography import x509

    out = []
    for der in chain:
        cert = x509.load_der_x509_certificate(der)
        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
            sans += [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            sans = []
        not_after = cert.not_valid_after_utc
        out.append({
            "subject": _name(cert.subject),
            "issuer": _name(cert.issuer),
            "sans": sans,
            "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after_ts": not_after.timestamp(),
            "serial": format(cert.serial_number, "x"),
        })
    return out


def judge_certificates(spec, info, now: float):
    """(status, text, metrics, details) for the certificates a handshake showed."""
    certs = describe_chain(info.chain)
    details = {
        "version": info.version,
        "cipher": info.cipher,
        "bits": info.bits,
        "verified": info.verified,
        "server_name": info.server_name,
        "chain": [{k: v for k, v in c.items() if k != "not_after_ts"} for c in certs],
    }
    if not certs:
        return CRITICAL, "the peer sent no certificate", [], details
    earliest = min(certs, key=lambda c: c["not_after_ts"])
    days = (earliest["not_after_ts"] - now) / _DAY
    whole = int(days // 1)
    details["days_left"] = round(days, 3)
    details["expires"] = earliest["not_after"]
    leaf = certs[0]
    which = "certificate" if earliest is leaf else f"chain certificate {earliest['subject']!r}"
    when = earliest["not_after"].replace("T", " ").replace("Z", " UTC")
    warn_days, crit_days = spec.get("cert-warn"), spec.get("cert-crit")
    if days < 0:
        status, expiry = CRITICAL, f"{which} expired {int(-days)} days ago ({when})"
    else:
        status = OK
        if crit_days is not None and days < crit_days:
            status = CRITICAL
        elif warn_days is not None and days < warn_days:
            status = WARNING
        expiry = f"{which} expires in {whole} days ({when})"
    text = f"{info.version} {info.cipher}, {leaf['subject']!r} issued by {leaf['issuer']!r}, {expiry}"
    if not info.verified:
        text += " (not verified: --insecure)"
    metric = Metric("days_left", round(days, 3), "", f"{warn_days}:" if warn_days is not None else None,
                    f"{crit_days}:" if crit_days is not None else None)
    return status, text, [metric], details


def add_certificates(spec, info, now, statuses, metrics, details) -> str:
    """Fold the certificate verdict into a check that runs over TLS (https, ftp, mail).

    The certificates always go into ``details``; they count (and are mentioned) when
    --cert-warn/--cert-crit ask, or when something is wrong with them. Returns the text
    to add to the summary.
    """
    status, text, cert_metrics, cert_details = judge_certificates(spec, info, now)
    details["tls"] = cert_details
    if status == OK and spec.get("cert-warn") is None and spec.get("cert-crit") is None:
        return ""
    statuses.append(status)
    metrics.extend(cert_metrics)
    return f", {text}"


def judge(spec, exchange, now) -> CheckResult:
    t = spec.target
    elapsed = exchange.timings.total
    if exchange.error is not None:
        return CheckResult(name=spec.name, label=spec.label, target=t.text, status=CRITICAL,
                           summary=str(exchange.error), timings=exchange.timings.as_dict(),
                           error=exchange.error, details={"peer": exchange.peer or None})
    status, text, cert_metrics, details = judge_certificates(spec, exchange.outcome.tls, now)
    details["peer"] = exchange.peer
    metrics = [time_metric(spec, elapsed), *cert_metrics, *phase_metrics(exchange.timings)]
    summary = f"{t.netloc} {text}, {elapsed:.3f} second response time"
    return CheckResult(name=spec.name, label=spec.label, target=t.text,
                       status=worst((status, time_status(spec, elapsed))), summary=summary, metrics=metrics,
                       timings=exchange.timings.as_dict(), details=details)
