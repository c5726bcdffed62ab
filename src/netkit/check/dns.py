"""dns:// checks: ask one server one question and judge the answer (check_dns, on dnspython).

``dns://[server[:port]]/name?type=A`` -- no server (``dns:///name``) asks the system's
resolver, the first ``nameserver`` of /etc/resolv.conf as dnspython reads it.

dnspython makes the query and reads the reply (``make_query``, ``from_wire``); netkit's
drivers do the I/O. :func:`dns_dialogue` yields Connect (UDP, or TCP with ``--tcp``),
Send (over TCP with the 2-byte length prefix of RFC 1035 4.2.2) and Recv until a reply
with our id comes. Well-formed messages with another id (a late answer to someone
else's question) are skipped; bytes that are not a DNS message at all, or a reply with
our id to another question, are a protocol error. A UDP reply with the TC bit set is
asked again over TCP in the same dialogue.

Verdict: NOERROR with records of the asked type is OK and lists them; NXDOMAIN is
CRITICAL (OK with ``--expect-nxdomain``, which makes anything else CRITICAL); SERVFAIL,
REFUSED and every other rcode are CRITICAL; so is NOERROR without a record of the type,
unless ``--answers`` allows 0. ``--answers RANGE`` holds the number of records of the
asked type; ``-w``/``-c`` the response time.

``--expect-address`` (A and AAAA) -- the rule: every address answered must lie in one of
the expected addresses or networks, and every expected single address (``192.0.2.10``,
``2001:db8::1``; a /32 or /128) must be among the answers. Networks (``192.0.2.0/24``)
only bound what is allowed. So ``--expect-address 192.0.2.10`` means "exactly that
address", ``--expect-address 192.0.2.0/24`` "only addresses from that network", and both
together "that one, and maybe others from the network".
"""

from netkit.check.result import CheckResult, time_metric, time_status
from netkit.check.spec import dns_question
from netkit.core.errors import ProtocolError, ResolveError
from netkit.core.perfdata import Metric
from netkit.core.status import CRITICAL, UNKNOWN, worst
from netkit.core.text import preview
from netkit.proto.actions import RECV_SIZE, Connect, Recv, Send

__all__ = ["EDNS_PAYLOAD", "DNSOutcome", "dns_dialogue", "judge", "make_query", "plan", "system_nameserver"]

# EDNS(0) UDP payload we advertise: 1232 bytes, DNS Flag Day 2020's value (fits IPv6's
# minimum MTU unfragmented). Bigger answers come back truncated and are asked over TCP.
EDNS_PAYLOAD = 1232
# The largest UDP datagram: a reply can never be longer.
MAX_DATAGRAM = 65535
# Replies with another id skipped before giving up: one or two late answers are normal,
# a stream of them is not a server answering us.
MAX_IGNORED = 32
# Records of the asked type named in the summary; the rest are counted (all are in --json).
SUMMARY_RECORDS = 5
RESOLV_CONF = "/etc/resolv.conf"
_ADDRESS_TYPES = ("A", "AAAA")


class DNSOutcome:
    """What the dialogue got: the reply (a dnspython message), over which transport, whether
    UDP came back truncated first, how many unrelated replies were skipped. ``invalid`` is
    set instead when the question itself could not be asked (a malformed name)."""

    __slots__ = ("ignored", "invalid", "peer", "response", "transport", "truncated")

    def __init__(self, response=None, transport=None, truncated=False, ignored=0, peer=None, invalid=None):
        self.response = response
        self.transport = transport
        self.truncated = truncated
        self.ignored = ignored
        self.peer = peer
        self.invalid = invalid

    def __repr__(self):
        return f"DNSOutcome({self.transport}, truncated={self.truncated}, ignored={self.ignored})"


def make_query(name: str, rdtype: str):
    """A dnspython query for ``name``/``rdtype`` with EDNS(0); ValueError for a bad name."""
    import dns.exception
    import dns.message
    import dns.name

    try:
        qname = dns.name.from_text(name)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"{name!r} is not a valid DNS name: {exc}") from None
    return dns.message.make_query(qname, rdtype, use_edns=0, payload=EDNS_PAYLOAD)


def system_nameserver(path: str | None = None):
    """(address, None) of the first nameserver in ``path`` (/etc/resolv.conf), or (None, why not)."""
    import dns.resolver

    path = path or RESOLV_CONF

    try:
        resolver = dns.resolver.Resolver(filename=path)
    except (dns.resolver.NoResolverConfiguration, OSError) as exc:
        return None, f"no nameserver to ask: {path} names none ({exc})"
    server = resolver.nameservers[0]
    if not isinstance(server, str):  # dnspython 2.4+ may hold Nameserver objects
        server = getattr(server, "address", str(server))
    return server, None


def _accept(query, data: bytes, peer: str):
    """The reply to ``query`` in ``data``; None for another id's reply; ProtocolError for
    bytes that are not a DNS message, or our id answering another question."""
    import dns.exception
    import dns.message

    try:
        response = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError, IndexError, UnicodeError) as exc:
        what = type(exc).__doc__ or str(exc) or type(exc).__name__
        raise ProtocolError(f"{peer} sent something that is not a DNS reply ({len(data)} bytes, "
                            f"{what.strip().rstrip('.')}: {preview(data)!r})") from None
    if response.id != query.id:
        return None
    if not query.is_response(response):
        raise ProtocolError(f"{peer} answered with our id ({query.id}) but not to our question")
    return response


def _skip(ignored: int, peer: str) -> int:
    ignored += 1
    if ignored > MAX_IGNORED:
        raise ProtocolError(f"{peer} sent {ignored} replies, none with our id")
    return ignored


def dns_dialogue(server, port, query, *, tcp=False, family=0):
    """Ask ``query`` (a dnspython message) at ``server``:``port``; returns a DNSOutcome."""
    import dns.flags

    wire = query.to_wire()
    truncated = False
    ignored = 0
    if not tcp:
        peer = yield Connect(server, port, "udp", family)
        yield Send(wire)
        while True:
            response = _accept(query, (yield Recv(MAX_DATAGRAM)), peer)
            if response is not None:
                break
            ignored = _skip(ignored, peer)
        if not response.flags & dns.flags.TC:
            return DNSOutcome(response, "udp", False, ignored, peer)
        truncated = True
    peer = yield Connect(server, port, "tcp", family)
    yield Send(len(wire).to_bytes(2, "big") + wire)
    buffer = b""
    while True:
        while len(buffer) < 2 or len(buffer) < 2 + int.from_bytes(buffer[:2], "big"):
            data = yield Recv(RECV_SIZE)
            if not data:
                got = f" after {len(buffer)} bytes" if buffer else ""
                raise ProtocolError(f"{peer} closed the connection before a complete DNS reply{got}"
                                    + (f" ({preview(buffer)!r})" if buffer else ""))
            buffer += data
        size = int.from_bytes(buffer[:2], "big")
        message, buffer = buffer[2 : 2 + size], buffer[2 + size :]
        response = _accept(query, message, peer)
        if response is not None:
            return DNSOutcome(response, "tcp", truncated, ignored, peer)
        ignored = _skip(ignored, peer)


def _finished(outcome):
    """A dialogue with nothing to do: it returns ``outcome`` at once."""
    return outcome
    yield  # a generator all the same


def _failed(error):
    raise error
    yield  # a generator all the same


def plan(spec):
    t = spec.target
    name, _params = dns_question(t)
    try:
        query = make_query(name, spec.get("type"))
    except ValueError as exc:
        return _finished(DNSOutcome(invalid=str(exc)))
    server = t.host
    if not server:
        server, why = system_nameserver()
        if server is None:
            return _failed(ResolveError(why))
    return dns_dialogue(server, t.port, query, tcp=spec.get("tcp"), family=spec.family)


# --- the verdict --------------------------------------------------------------------------


def _records(response) -> list:
    import dns.rdatatype

    return [{"name": rrset.name.to_text(omit_final_dot=True), "type": dns.rdatatype.to_text(rrset.rdtype),
             "ttl": rrset.ttl, "data": rd.to_text()}
            for rrset in response.answer for rd in rrset]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _listing(values) -> str:
    shown = ", ".join(values[:SUMMARY_RECORDS])
    if len(values) > SUMMARY_RECORDS:
        shown += f" and {len(values) - SUMMARY_RECORDS} more"
    return shown


def _address_problems(expected, asked) -> list:
    """Texts of what breaks the --expect-address rule (see the module docstring)."""
    import ipaddress

    addresses = []
    for record in asked:
        try:
            addresses.append(ipaddress.ip_address(record["data"]))
        except ValueError:
            continue

    def show(net):
        return str(net.network_address) if net.num_addresses == 1 else str(net)

    allowed = ", ".join(show(net) for net in expected)
    if not addresses:
        return [f"no address to compare with the expected {allowed}"]
    problems = []
    outside = [str(a) for a in addresses if not any(a in net for net in expected)]
    if outside:
        problems.append(f"{', '.join(outside)} not within the expected {allowed}")
    missing = [str(net.network_address) for net in expected
               if net.num_addresses == 1 and net.network_address not in addresses]
    if missing:
        problems.append(f"expected {', '.join(missing)} missing from the answer")
    return problems


def judge(spec, exchange, now) -> CheckResult:
    t = spec.target
    name, _params = dns_question(t)
    rdtype = spec.get("type")
    elapsed = exchange.timings.total
    system = not t.host
    details = {"server": exchange.peer or None, "system_resolver": system,
               "question": {"name": name, "type": rdtype}}
    base = {"name": spec.name, "label": spec.label, "target": t.text, "timings": exchange.timings.as_dict()}
    resolver_note = f" (system resolver, {RESOLV_CONF})" if system else ""
    if exchange.error is not None:
        error = exchange.error
        summary = f"{name} {rdtype}: {error}{resolver_note}"
        return CheckResult(status=CRITICAL, summary=summary, metrics=[time_metric(spec, elapsed)],
                           error=error, details=details, **base)
    outcome = exchange.outcome
    if outcome.invalid is not None:
        return CheckResult(status=UNKNOWN, summary=outcome.invalid, error=outcome.invalid, details=details,
                           **base)
    import dns.flags
    import dns.rcode

    response = outcome.response
    rcode = dns.rcode.to_text(response.rcode())
    records = _records(response)
    asked = [r for r in records if r["type"] == rdtype]
    count = len(asked)
    details.update(rcode=rcode, flags=dns.flags.to_text(response.flags).split(), transport=outcome.transport,
                   truncated=outcome.truncated, answers=records,
                   authority_records=sum(len(r) for r in response.authority),
                   additional_records=sum(len(r) for r in response.additional))
    if outcome.ignored:
        details["ignored_replies"] = outcome.ignored
    how = " over TCP after a truncated UDP answer" if outcome.truncated else (
        " over TCP" if outcome.transport == "tcp" else "")
    tail = f" in {elapsed:.3f} s from {outcome.peer}{resolver_note}{how}"
    answers_range = spec.opts.get("answers")
    statuses = [time_status(spec, elapsed)]
    problems = []  # told after the answer and where it came from
    if spec.get("expect-nxdomain"):
        if rcode == "NXDOMAIN":
            text = f"{name} does not exist (NXDOMAIN, as expected)"
        else:
            statuses.append(CRITICAL)
            found = f": {rdtype} {_listing([r['data'] for r in asked])}" if asked else ""
            text = f"{name} {rdtype}: expected NXDOMAIN, got {rcode}{found}"
    elif rcode == "NXDOMAIN":
        statuses.append(CRITICAL)
        text = f"{name} does not exist (NXDOMAIN)"
    elif rcode != "NOERROR":
        statuses.append(CRITICAL)
        text = f"{name} {rdtype}: the server answered {rcode}"
    else:
        if count:
            text = f"{name} {rdtype} {_listing([r['data'] for r in asked])}"
            chain = [r["data"].rstrip(".") for r in records if r["type"] == "CNAME" and rdtype != "CNAME"]
            if chain:
                text += f" via CNAME {' '.join(chain)}"
            text += f" ({_plural(count, 'answer')})"
        else:
            text = f"{name} has no {rdtype} record (NOERROR, no answer)"
        if answers_range is not None:
            if answers_range.alerts(count):
                statuses.append(CRITICAL)
                problems.append(f"{_plural(count, 'answer')}, outside --answers {answers_range}")
        elif not count:
            statuses.append(CRITICAL)
        expected = spec.get("expect-address")
        if expected:
            if rdtype not in _ADDRESS_TYPES:
                statuses.append(UNKNOWN)
                problems.append(f"--expect-address applies to A and AAAA questions, not {rdtype}")
            else:
                wrong = _address_problems(expected, asked)
                if wrong:
                    statuses.append(CRITICAL)
                    problems.extend(wrong)
    metrics = [time_metric(spec, elapsed),
               Metric("answers", count, "", None, answers_range, 0)]
    summary = text + tail + "".join(f"; {p}" for p in problems)
    return CheckResult(status=worst(statuses), summary=summary, metrics=metrics, details=details, **base)
