"""DNS peers: ``dnsmasq`` (session), an authoritative server for ``netkit.test``, and
``dns_silent`` (function), a port that never answers.

``dnsmasq`` runs Debian's /usr/sbin/dnsmasq (package dnsmasq-base, no system service) in the
foreground with its own config file (so /etc/dnsmasq.conf is never read), no upstream
servers, no /etc/hosts and its own hosts file, on one ephemeral port of 127.0.0.1 for UDP
AND TCP. It is authoritative (``--auth-server``/``--auth-zone``) for ``netkit.test`` and the
reverse zones of 192.0.2.0/24 and 2001:db8::/64, so:

* every answer in those zones has the AA flag and no RA flag (not a recursive resolver);
  answers carry the zone's NS record in the authority section;
* a missing name (``NX_NAME`` = ``nx.netkit.test``) is NXDOMAIN with the SOA in authority;
  a name that exists without the asked type is NOERROR with no answer;
* a name outside those zones (``OUTSIDE_NAME`` = ``example.com``) is REFUSED;
* every TTL is ``TTL`` (300 s), the SOA serial is fixed (``SOA_SERIAL``).

``RECORDS`` maps ``(name, type)`` to the expected rdata, each in the presentation form of
dnspython's ``rdata.to_text()`` (order within a set is not significant: dnsmasq rotates)::

    www.netkit.test       A      192.0.2.10
    www.netkit.test       AAAA   2001:db8::10
    multi.netkit.test     A      192.0.2.21, 192.0.2.22, 192.0.2.23
    alias.netkit.test     CNAME  www.netkit.test.   (an A query gets the CNAME and www's A)
    netkit.test           MX     10 mx1.netkit.test., 20 mx2.netkit.test.
    netkit.test           TXT    "v=spf1 -all", "netkit" "test zone" (one record, two strings)
    netkit.test           CAA    0 issue "ca.example.test"
    netkit.test           SOA    ns1.netkit.test. hostmaster.netkit.test. 2024010101 1200 180
                                 1209600 300
    netkit.test           NS     ns1.netkit.test.
    _sip._tcp.netkit.test SRV    10 60 5060 sip.netkit.test.
    mx1/mx2/sip/ns1.netkit.test  A  192.0.2.25 / .26 / .30 / .53
    10.2.0.192.in-addr.arpa                 PTR  www.netkit.test.   (from the hosts file)
    0.1.0.0...0.8.b.d.0.1.0.0.2.ip6.arpa    PTR  www.netkit.test.   (reverse of 2001:db8::10)

plus ``big.netkit.test`` TXT: ``BIG_TXT_COUNT`` (40) records ``BIG_TXT[i]`` whose answer
(~2.9 KB) does not fit a UDP reply: over UDP the reply has the TC flag and only part of the
set (with or without EDNS), over TCP it is complete. Every address is from the
documentation ranges and is never contacted.

Attributes of the fixture value (:class:`DnsServer`): ``host`` ("127.0.0.1"), ``port`` (UDP
and TCP), ``zone``, ``records`` (= ``RECORDS``), ``log_file`` (dnsmasq's log: an
``auth[TYPE] name from 127.0.0.1`` line per query, then how it was answered), ``directory``.

``dns_silent``: ``.host``, ``.port``: a UDP socket and a listening TCP socket on the same
127.0.0.1 port that never read, accept or answer (a TCP connect succeeds, the query is never
answered): a timeout peer.

``running_dnsmasq(directory)`` and ``silent_dns()`` are the same peers as plain context
managers.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers._base import ServerProcess, can_connect, need_binary

DNSMASQ = "/usr/sbin/dnsmasq"
DEBIAN_PACKAGE = "dnsmasq-base"
HOST = "127.0.0.1"
ZONE = "netkit.test"
TTL = 300
NS_NAME = "ns1.netkit.test"
HOSTMASTER = "hostmaster.netkit.test"
SOA_SERIAL = 2024010101
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 1200, 180, 1209600

WWW = "www.netkit.test"
WWW_V4 = "192.0.2.10"
WWW_V6 = "2001:db8::10"
MULTI = "multi.netkit.test"
MULTI_V4 = ("192.0.2.21", "192.0.2.22", "192.0.2.23")
ALIAS = "alias.netkit.test"
MX1, MX1_V4, MX1_PREF = "mx1.netkit.test", "192.0.2.25", 10
MX2, MX2_V4, MX2_PREF = "mx2.netkit.test", "192.0.2.26", 20
SIP = "sip.netkit.test"
SIP_V4 = "192.0.2.30"
NS_V4 = "192.0.2.53"
SRV_NAME = "_sip._tcp.netkit.test"
SRV_PRIORITY, SRV_WEIGHT, SRV_PORT = 10, 60, 5060
SPF = "v=spf1 -all"
# The second TXT record of the zone apex: one record made of two strings.
TXT_STRINGS = ("netkit", "test zone")
CAA_FLAGS, CAA_TAG, CAA_VALUE = 0, "issue", "ca.example.test"
WWW_PTR_V4 = "10.2.0.192.in-addr.arpa"
WWW_PTR_V6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
NX_NAME = "nx.netkit.test"
OUTSIDE_NAME = "example.com"
BIG_TXT_NAME = "big.netkit.test"
BIG_TXT_COUNT = 40
BIG_TXT = tuple(f"record-{i:02d}-" + "x" * 48 for i in range(BIG_TXT_COUNT))
# Subnets of the authoritative zone: hosts-file addresses in them are served (A, AAAA, PTR).
AUTH_SUBNETS = ("192.0.2.0/24", "2001:db8::/64")

# The hosts file: name -> addresses (A/AAAA, and the PTR of each address).
HOSTS: Mapping[str, tuple[str, ...]] = {
    WWW: (WWW_V4, WWW_V6),
    MULTI: MULTI_V4,
    MX1: (MX1_V4,),
    MX2: (MX2_V4,),
    SIP: (SIP_V4,),
    NS_NAME: (NS_V4,),
}

RECORDS: Mapping[tuple[str, str], tuple[str, ...]] = {
    (WWW, "A"): (WWW_V4,),
    (WWW, "AAAA"): (WWW_V6,),
    (MULTI, "A"): MULTI_V4,
    (ALIAS, "CNAME"): (f"{WWW}.",),
    (MX1, "A"): (MX1_V4,),
    (MX2, "A"): (MX2_V4,),
    (SIP, "A"): (SIP_V4,),
    (NS_NAME, "A"): (NS_V4,),
    (ZONE, "MX"): (f"{MX1_PREF} {MX1}.", f"{MX2_PREF} {MX2}."),
    (ZONE, "TXT"): (f'"{SPF}"', " ".join(f'"{s}"' for s in TXT_STRINGS)),
    (ZONE, "CAA"): (f'{CAA_FLAGS} {CAA_TAG} "{CAA_VALUE}"',),
    (ZONE, "SOA"): (
        f"{NS_NAME}. {HOSTMASTER}. {SOA_SERIAL} {SOA_REFRESH} {SOA_RETRY} {SOA_EXPIRE} {TTL}",
    ),
    (ZONE, "NS"): (f"{NS_NAME}.",),
    (SRV_NAME, "SRV"): (f"{SRV_PRIORITY} {SRV_WEIGHT} {SRV_PORT} {SIP}.",),
    (WWW_PTR_V4, "PTR"): (f"{WWW}.",),
    (WWW_PTR_V6, "PTR"): (f"{WWW}.",),
    (BIG_TXT_NAME, "TXT"): tuple(f'"{t}"' for t in BIG_TXT),
}

CONFIG = """\
# netkit test peer: authoritative for {zone}, nothing else (no upstream, no /etc/hosts).
port={port}
listen-address={host}
bind-interfaces
no-resolv
no-hosts
no-poll
pid-file=
{user}
log-queries
log-facility={log_file}
addn-hosts={hosts_file}
local-ttl={ttl}
auth-ttl={ttl}
auth-server={ns},{host}
auth-zone={zone},{subnets}
auth-soa={serial},{hostmaster},{refresh},{retry},{expire}
cname={alias},{www}
mx-host={zone},{mx1},{mx1_pref}
mx-host={zone},{mx2},{mx2_pref}
txt-record={zone},"{spf}"
txt-record={zone},{txt_strings}
caa-record={zone},{caa_flags},{caa_tag},{caa_value}
srv-host={srv},{sip},{srv_port},{srv_priority},{srv_weight}
{big_txt}
"""


@dataclass(frozen=True)
class DnsServer:
    """A running dnsmasq; see the module docstring."""

    host: str
    port: int
    zone: str
    records: Mapping[tuple[str, str], tuple[str, ...]]
    log_file: Path
    directory: Path


@dataclass(frozen=True)
class DnsSilent:
    """A UDP+TCP port that never answers."""

    host: str
    port: int


def render_config(port: int, hosts_file: Path, log_file: Path) -> str:
    """dnsmasq.conf for ``port`` (the whole zone, see the module docstring)."""
    quoted = ",".join(f'"{s}"' for s in TXT_STRINGS)
    return CONFIG.format(
        zone=ZONE,
        port=port,
        host=HOST,
        # As root dnsmasq would switch to "nobody", who cannot read pytest's 0700 tmp dirs.
        user="user=root\ngroup=root" if os.geteuid() == 0 else "",
        log_file=log_file,
        hosts_file=hosts_file,
        ttl=TTL,
        ns=NS_NAME,
        subnets=",".join(AUTH_SUBNETS),
        serial=SOA_SERIAL,
        hostmaster=HOSTMASTER,
        refresh=SOA_REFRESH,
        retry=SOA_RETRY,
        expire=SOA_EXPIRE,
        alias=ALIAS,
        www=WWW,
        mx1=MX1,
        mx1_pref=MX1_PREF,
        mx2=MX2,
        mx2_pref=MX2_PREF,
        spf=SPF,
        txt_strings=quoted,
        caa_flags=CAA_FLAGS,
        caa_tag=CAA_TAG,
        caa_value=CAA_VALUE,
        srv=SRV_NAME,
        sip=SIP,
        srv_port=SRV_PORT,
        srv_priority=SRV_PRIORITY,
        srv_weight=SRV_WEIGHT,
        big_txt="\n".join(f"txt-record={BIG_TXT_NAME},{t}" for t in BIG_TXT),
    )


def hosts_text() -> str:
    """The hosts file behind the A, AAAA and PTR records."""
    return "".join(f"{addr} {name}\n" for name, addrs in HOSTS.items() for addr in addrs)


def udp_tcp_port(host: str = HOST) -> int:
    """A port free for both UDP and TCP on ``host`` a moment ago."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port


@contextlib.contextmanager
def running_dnsmasq(directory: Path) -> Iterator[DnsServer]:
    """Write the config and hosts file in ``directory``, run dnsmasq (retrying on a taken port)."""
    binary = need_binary(DNSMASQ, DEBIAN_PACKAGE)
    directory.mkdir(parents=True, exist_ok=True)
    hosts_file = directory / "hosts"
    hosts_file.write_text(hosts_text())
    log_file = directory / "dnsmasq.log"
    conf = directory / "dnsmasq.conf"
    port = 0

    def factory(attempt: int) -> ServerProcess:
        nonlocal port
        port = udp_tcp_port()
        conf.write_text(render_config(port, hosts_file, log_file))
        # UDP and TCP are bound before dnsmasq serves either: a TCP connect means ready.
        return ServerProcess(
            "dnsmasq",
            [binary, "--keep-in-foreground", f"--conf-file={conf}"],
            log_file=directory / "stderr.log",
            ready=lambda: can_connect(HOST, port),
            extra_logs=[log_file],
            cwd=directory,
        )

    with ServerProcess.start_with_retries(factory):
        yield DnsServer(
            host=HOST,
            port=port,
            zone=ZONE,
            records=RECORDS,
            log_file=log_file,
            directory=directory,
        )


# Connections the silent TCP socket queues without accepting them.
SILENT_BACKLOG = 64


@contextlib.contextmanager
def silent_dns(host: str = HOST) -> Iterator[DnsSilent]:
    """A bound UDP socket and a listening TCP socket (same port) that never answer."""
    while True:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        break
    with udp, tcp:
        tcp.listen(SILENT_BACKLOG)
        yield DnsSilent(host, port)


@pytest.fixture(scope="session")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsServer]:
    """A running dnsmasq, authoritative for netkit.test (see the module docstring)."""
    with running_dnsmasq(tmp_path_factory.mktemp("dnsmasq")) as info:
        yield info


@pytest.fixture
def dns_silent() -> Iterator[DnsSilent]:
    """A UDP+TCP port on 127.0.0.1 that never answers (see the module docstring)."""
    with silent_dns() as info:
        yield info
