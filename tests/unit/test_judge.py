"""Verdicts from outcomes, without sockets: the same judges both drivers feed."""

import datetime as dt

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from netkit.check import build_spec
from netkit.check import http as http_check
from netkit.check import line as line_check
from netkit.check import tls as tls_check
from netkit.core.errors import RefusedError, TimedOut
from netkit.core.status import CRITICAL, OK, WARNING
from netkit.core.target import parse_target
from netkit.drivers._common import Exchange, Timings
from netkit.proto.actions import TLSInfo
from netkit.proto.http import HTTPOutcome, Response
from netkit.proto.line import LineOutcome


def timings(total=0.01, **phases):
    t = Timings()
    t.total = total
    for k, v in phases.items():
        setattr(t, k, v)
    return t


def http_exchange(status=200, body=b"hello", redirects=(), too_many=False, complete=True, headers=(), tls=None):
    url = parse_target("http://h/", {"http": 80})
    r = Response(url, "HTTP/1.1", status, "X", list(headers), body, len(body), complete)
    return Exchange(HTTPOutcome(r, list(redirects), tls, too_many), None, timings(connect=0.001), None, "h:80")


def test_http_verdicts():
    spec = build_spec("http://h/")
    assert http_check.judge(spec, http_exchange(), 0).status == OK
    assert http_check.judge(spec, http_exchange(500), 0).status == CRITICAL
    moved = http_check.judge(spec, http_exchange(302, headers=[("Location", "/x")]), 0)
    assert moved.status == OK and "redirect to /x, not followed" in moved.summary
    loop = http_check.judge(spec, http_exchange(302, too_many=True, headers=[("Location", "/l")]), 0)
    assert loop.status == CRITICAL and "more than 10 redirects" in loop.summary
    big = http_check.judge(build_spec("http://h/", max_body="1k"), http_exchange(complete=False), 0)
    assert big.status == CRITICAL and "larger than 1.0 KiB" in big.summary


def test_http_metrics_and_thresholds():
    spec = build_spec("http://h/", warning="0.005", critical="1")
    result = http_check.judge(spec, http_exchange(), 0)
    assert result.status == WARNING
    labels = [m.label for m in result.metrics]
    assert labels == ["time", "size", "time_connect"]


def test_http_network_error_is_critical_with_reason():
    spec = build_spec("http://h/")
    ex = Exchange(None, TimedOut("timeout after 10 s waiting for data from h:80"), timings(10), None, "h:80")
    result = http_check.judge(spec, ex, 0)
    assert result.status == CRITICAL and result.error is ex.error and result.metrics == []
    assert result.to_dict()["error"] == "timeout after 10 s waiting for data from h:80"


def line_exchange(received=b"", matched=True, missing=(), error=None, head=b""):
    outcome = None if error else LineOutcome(received, matched, list(missing), None, "h:1")
    return Exchange(outcome, error, timings(), None, "h:1", head)


def test_line_verdicts():
    spec = build_spec("tcp://h:1", expect="220")
    assert line_check.judge(spec, line_exchange(b"220 hi\r\n"), 0).status == OK
    mismatch = line_check.judge(spec, line_exchange(b"500 no\r\n", False, [b"220"]), 0)
    assert mismatch.status == WARNING and "unexpected reply" in mismatch.summary and "[500 no]" in mismatch.summary
    refused = line_exchange(error=RefusedError("connection refused by h:1"))
    assert line_check.judge(spec, refused, 0).status == CRITICAL
    assert line_check.judge(build_spec("tcp://h:1", refuse="ok"), refused, 0).status == OK
    late = line_exchange(error=TimedOut("timeout after 1 s waiting for data from h:1"), head=b"22")
    result = line_check.judge(spec, late, 0)
    assert result.status == CRITICAL and "received '22'" in result.summary


@pytest.fixture(scope="module")
def chain():
    ca = trustme.CA()
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_cert("h.example", not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=20))
    ders = [x509.load_pem_x509_certificate(b.bytes()).public_bytes(Encoding.DER) for b in leaf.cert_chain_pems]
    ders.append(x509.load_pem_x509_certificate(ca.cert_pem.bytes()).public_bytes(Encoding.DER))
    return ders, now.timestamp()


@pytest.mark.parametrize(
    "warn, crit, offset_days, status",
    [
        (None, None, 0, OK),
        (30, None, 0, WARNING),
        (30, 21, 0, CRITICAL),
        (19, None, 0, OK),
        (10, 5, 12, WARNING),  # 8 days left
        (10, 5, 16, CRITICAL),  # 4 days left
        (None, None, 21, CRITICAL),  # expired a day ago
    ],
)
def test_certificate_expiry_thresholds(chain, warn, crit, offset_days, status):
    ders, now = chain
    opts = {"insecure": True}
    if warn is not None:
        opts["cert_warn"] = warn
    if crit is not None:
        opts["cert_crit"] = crit
    spec = build_spec("tls://h.example", **opts)
    info = TLSInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, ders, False, "h.example")
    got, text, metrics, details = tls_check.judge_certificates(spec, info, now + offset_days * 86400)
    assert got == status, text
    assert details["chain"][0]["sans"] == ["h.example"] and len(details["chain"]) == 2
    assert metrics[0].label == "days_left"


def test_earliest_expiry_in_the_chain_counts(chain):
    ders, now = chain
    spec = build_spec("tls://h.example", insecure=True, cert_warn=30)
    info = TLSInfo("TLSv1.3", "x", 128, list(reversed(ders)), False, "h.example")
    status, text, _, details = tls_check.judge_certificates(spec, info, now)
    assert status == WARNING and "expires in 19 days" in text


def test_no_certificate_is_critical():
    spec = build_spec("tls://h.example")
    status, text, _, _ = tls_check.judge_certificates(spec, TLSInfo("TLSv1.3", "x", 1, [], True, "h"), 0)
    assert status == CRITICAL and "no certificate" in text


@pytest.mark.parametrize("text", ["1_00", "２00", "2\u00b2", " 200-", "+200"])
def test_status_codes_are_ascii_digits(text):
    from netkit.check.http import parse_statuses

    with pytest.raises(ValueError, match="expects"):
        parse_statuses(text)
