"""Self-tests of the FTP, SMTP and DNS peers: each behaves as its module docstring promises.

Only the standard library (ftplib, smtplib) and dnspython talk to the peers here, so a
failure points at the peer, never at netkit.
"""

from __future__ import annotations

import base64
import ftplib
import io
import smtplib
import socket
import ssl
import time
import uuid

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.reversename
import pytest

from tests.peers import dns as dns_peer
from tests.peers import ftp as ftp_peer
from tests.peers import smtp as smtp_peer

# Socket timeout for requests that should answer at once.
QUICK = 5.0
# Client timeout for the silent peer: short, the tests wait it out.
SHORT = 1.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- FTP -----------------------------------------------------------------------------------


def ftp_connect(server: ftp_peer.Ftp) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=QUICK)
    return ftp


def ftps_connect(server: ftp_peer.Ftp, pki) -> ftplib.FTP_TLS:
    ftp = ftplib.FTP_TLS(context=pki.client_context())
    ftp.connect(server.host, server.port, timeout=QUICK)
    return ftp


def retrieve(ftp: ftplib.FTP, path: str) -> bytes:
    buf = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", buf.write)
    return buf.getvalue()


def test_ftp_greeting_and_attributes(ftp_server):
    assert ftp_server.host == "127.0.0.1"
    assert ftp_server.user == "user" and ftp_server.password
    assert ftp_server.tls is True and ftp_server.tls_required is False
    ftp = ftp_connect(ftp_server)
    try:
        assert ftp.getwelcome() == f"220 {ftp_peer.BANNER}"
        assert "AUTH TLS" in ftp.sendcmd("FEAT")
    finally:
        ftp.close()


def test_ftp_anonymous_reads_its_own_root(ftp_server):
    ftp = ftp_connect(ftp_server)
    try:
        assert ftp.login().startswith("230")
        assert ftp.nlst() == ["pub"]
        assert ftp.nlst("pub") == ["readme.txt"]
        assert retrieve(ftp, ftp_peer.README_NAME) == ftp_peer.README_CONTENT
        # The user's files are not under the anonymous root.
        with pytest.raises(ftplib.error_perm, match="^550"):
            retrieve(ftp, ftp_peer.HELLO_NAME)
        ftp.quit()
    finally:
        ftp.close()


def test_ftp_anonymous_is_read_only(ftp_server):
    name = unique("anon-upload")
    ftp = ftp_connect(ftp_server)
    try:
        ftp.login()
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.storbinary(f"STOR {name}", io.BytesIO(b"nope"))
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.mkd(name)
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.delete(ftp_peer.README_NAME)
    finally:
        ftp.close()
    assert not (ftp_server.anon_root / name).exists()
    assert (ftp_server.anon_root / ftp_peer.README_NAME).read_bytes() == ftp_peer.README_CONTENT


def test_ftp_user_sees_the_fixture_files(ftp_server):
    ftp = ftp_connect(ftp_server)
    try:
        assert ftp.login(ftp_server.user, ftp_server.password).startswith("230")
        assert ftp.pwd() == "/"
        assert set(ftp_peer.HOME_ENTRIES) <= set(ftp.nlst())
        assert retrieve(ftp, ftp_peer.HELLO_NAME) == ftp_peer.HELLO_CONTENT
        ftp.voidcmd("TYPE I")
        assert ftp.size(ftp_peer.BIG_NAME) == ftp_peer.BIG_SIZE
        assert retrieve(ftp, ftp_peer.BIG_NAME) == ftp_peer.BIG_CONTENT
        assert ftp.nlst(ftp_peer.SUB_DIR) == ["nested.txt"]
        ftp.cwd(ftp_peer.SUB_DIR)
        assert retrieve(ftp, "nested.txt") == ftp_peer.NESTED_CONTENT
        ftp.quit()
    finally:
        ftp.close()
    assert (ftp_server.home / ftp_peer.HELLO_NAME).read_bytes() == ftp_peer.HELLO_CONTENT


def test_ftp_user_can_write(ftp_server):
    name, renamed, folder = unique("up"), unique("renamed"), unique("dir")
    payload = b"uploaded by a test\n" * 100
    ftp = ftp_connect(ftp_server)
    try:
        ftp.login(ftp_server.user, ftp_server.password)
        ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
        assert (ftp_server.home / name).read_bytes() == payload
        ftp.rename(name, renamed)
        assert retrieve(ftp, renamed) == payload
        ftp.delete(renamed)
        ftp.mkd(folder)
        assert (ftp_server.home / folder).is_dir()
        ftp.rmd(folder)
        ftp.quit()
    finally:
        ftp.close()
    assert not (ftp_server.home / name).exists()
    assert not (ftp_server.home / renamed).exists()
    assert not (ftp_server.home / folder).exists()


def test_ftp_wrong_password_is_530_at_once(ftp_server):
    ftp = ftp_connect(ftp_server)
    started = time.monotonic()
    try:
        with pytest.raises(ftplib.error_perm, match="^530 Authentication failed"):
            ftp.login(ftp_server.user, ftp_server.password + "x")
        assert time.monotonic() - started < 1
        # The connection survives a failure: the right password still works.
        assert ftp.login(ftp_server.user, ftp_server.password).startswith("230")
    finally:
        ftp.close()


def test_ftp_passive_mode(ftp_server):
    ftp = ftp_connect(ftp_server)
    try:
        ftp.login(ftp_server.user, ftp_server.password)
        reply = ftp.sendcmd("PASV")
        assert reply.startswith("227") and "(127,0,0,1," in reply
        ftp.set_pasv(True)
        host, port = ftp.makepasv()
        assert host == "127.0.0.1" and port > 0
        assert ftp.sendcmd("EPSV").startswith("229")
    finally:
        ftp.close()


def test_ftps_explicit_tls(ftp_server, pki):
    ftp = ftps_connect(ftp_server, pki)
    try:
        assert ftp.auth().startswith("234")
        assert isinstance(ftp.sock, ssl.SSLSocket)
        assert ftp.sock.getpeercert()["subjectAltName"] == (
            ("DNS", "localhost"),
            ("IP Address", "127.0.0.1"),
            ("IP Address", "0:0:0:0:0:0:0:1"),
        )
        ftp.login(ftp_server.user, ftp_server.password)
        ftp.prot_p()
        assert retrieve(ftp, ftp_peer.BIG_NAME) == ftp_peer.BIG_CONTENT
        ftp.quit()
    finally:
        ftp.close()


def test_ftps_rejects_an_untrusting_client(ftp_server):
    ftp = ftplib.FTP_TLS(context=ssl.create_default_context())
    ftp.connect(ftp_server.host, ftp_server.port, timeout=QUICK)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            ftp.auth()
    finally:
        ftp.close()


def test_ftp_tls_required_refuses_plain_login(ftp_tls_required, ftp_server):
    assert ftp_tls_required.tls_required is True
    assert ftp_tls_required.port == ftp_server.tls_required_port != ftp_server.port
    ftp = ftp_connect(ftp_tls_required)
    try:
        with pytest.raises(ftplib.error_perm, match="^550 SSL/TLS required"):
            ftp.login(ftp_tls_required.user, ftp_tls_required.password)
        with pytest.raises(ftplib.error_perm, match="^550 SSL/TLS required"):
            ftp.login()
    finally:
        ftp.close()


def test_ftp_tls_required_works_with_tls(ftp_tls_required, pki):
    ftp = ftps_connect(ftp_tls_required, pki)
    try:
        ftp.login(ftp_tls_required.user, ftp_tls_required.password)
        # Data connections must be protected too.
        with pytest.raises(ftplib.error_perm, match="^550 SSL/TLS required on the data"):
            retrieve(ftp, ftp_peer.HELLO_NAME)
        ftp.prot_p()
        assert retrieve(ftp, ftp_peer.HELLO_NAME) == ftp_peer.HELLO_CONTENT
        ftp.quit()
    finally:
        ftp.close()


# --- SMTP ----------------------------------------------------------------------------------


def smtp_plain(server: smtp_peer.SmtpServer) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, timeout=QUICK)


def message(rcpt: str, subject: str, body: str = "hello\r\n") -> bytes:
    return (f"From: sender@example.org\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n{body}").encode()


def test_smtp_greeting_and_ehlo(smtp_server):
    with socket.create_connection((smtp_server.host, smtp_server.port), timeout=QUICK) as sock:
        assert sock.makefile("rb").readline() == f"220 {smtp_peer.GREETING}\r\n".encode()
    with smtp_plain(smtp_server) as smtp:
        code, text = smtp.ehlo("client.example.org")
        assert code == 250
        assert text.decode().splitlines()[0] == "mx.example.test"
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")  # only after STARTTLS


def test_smtp_auth_needs_tls_on_the_plain_port(smtp_server):
    with smtp_plain(smtp_server) as smtp:
        smtp.ehlo()
        token = base64.b64encode(f"\0{smtp_server.user}\0{smtp_server.password}".encode())
        code, _ = smtp.docmd("AUTH", "PLAIN " + token.decode())
        assert code == 538


def test_smtp_starttls_auth_and_delivery(smtp_server, pki):
    rcpt = f"{unique('starttls')}@example.test"
    subject = unique("subject")
    with smtp_plain(smtp_server) as smtp:
        smtp.ehlo()
        assert smtp.starttls(context=pki.client_context())[0] == 220
        code, text = smtp.ehlo()
        assert code == 250
        assert "AUTH LOGIN PLAIN" in text.decode().splitlines()
        assert not smtp.has_extn("starttls")
        assert smtp.login(smtp_server.user, smtp_server.password)[0] == 235
        refused = smtp.sendmail(
            "sender@example.org",
            [rcpt, smtp_peer.REJECTED_RCPT],
            message(rcpt, subject, "line one\r\n.leading dot\r\n"),
        )
    assert refused[smtp_peer.REJECTED_RCPT][0] == 550
    [saved] = smtp_server.messages(rcpt)
    assert saved.path.parent == smtp_server.spool and saved.path.suffix == ".eml"
    assert saved.mail_from == "sender@example.org"
    assert saved.rcpt_tos == (rcpt,)
    assert saved.auth_user == smtp_server.user
    assert saved.tls is True
    assert saved.peer == "127.0.0.1"
    assert saved.message["Subject"] == subject
    assert saved.data.endswith(b"line one\r\n.leading dot\r\n")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_auth_mechanisms(smtp_server, pki, mechanism):
    with smtp_plain(smtp_server) as smtp:
        smtp.starttls(context=pki.client_context())
        smtp.ehlo()
        smtp.user, smtp.password = smtp_server.user, smtp_server.password
        authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        assert smtp.auth(mechanism, authobject, initial_response_ok=False)[0] == 235


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_smtp_wrong_password_is_535(smtp_server, pki, mechanism):
    with smtp_plain(smtp_server) as smtp:
        smtp.starttls(context=pki.client_context())
        smtp.ehlo()
        smtp.user, smtp.password = smtp_server.user, "wrong"
        authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            smtp.auth(mechanism, authobject)
        assert info.value.smtp_code == 535


def test_smtp_rejected_recipient_is_550_at_rcpt(smtp_server):
    with smtp_plain(smtp_server) as smtp:
        smtp.ehlo()
        assert smtp.mail("sender@example.org")[0] == 250
        code, text = smtp.rcpt(smtp_peer.REJECTED_RCPT)
        assert code == 550 and smtp_peer.REJECTED_RCPT in text.decode()
        assert smtp.rcpt("other@elsewhere.example")[0] == 550
        assert smtp.rcpt(f"{unique('ok')}@example.test")[0] == 250
        smtp.rset()


def test_smtp_delivery_without_auth_or_tls(smtp_server):
    rcpt = f"{unique('plain')}@example.test"
    with smtp_plain(smtp_server) as smtp:
        assert smtp.sendmail("sender@example.org", [rcpt], message(rcpt, "plain")) == {}
    [saved] = smtp_server.messages(rcpt)
    assert saved.auth_user is None and saved.tls is False


def test_smtps_implicit_tls(smtp_server, pki):
    rcpt = f"{unique('smtps')}@example.test"
    with smtplib.SMTP_SSL(
        smtp_server.host, smtp_server.smtps_port, context=pki.client_context(), timeout=QUICK
    ) as smtp:
        code, text = smtp.ehlo()
        assert code == 250
        lines = text.decode().splitlines()
        assert lines[0] == "mx.example.test"
        assert "AUTH LOGIN PLAIN" in lines and "STARTTLS" not in lines
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(smtp_server.user, "wrong")
        smtp.login(smtp_server.user, smtp_server.password)
        smtp.sendmail("sender@example.org", [rcpt], message(rcpt, "over smtps"))
    [saved] = smtp_server.messages(rcpt)
    assert saved.tls is True and saved.auth_user == smtp_server.user
    assert saved.message["Subject"] == "over smtps"


def test_smtp_spool_files_are_messages(smtp_server):
    rcpt = f"{unique('file')}@example.test"
    with smtp_plain(smtp_server) as smtp:
        smtp.sendmail("sender@example.org", [rcpt], message(rcpt, "file"))
    [saved] = smtp_server.messages(rcpt)
    raw = saved.path.read_bytes()
    assert raw.startswith(b"X-Peer: 127.0.0.1\r\nX-MailFrom: sender@example.org\r\n")
    assert raw.endswith(saved.data)
    assert list(smtp_server.spool.glob("*.tmp")) == []
    assert saved in smtp_server.messages()


# --- DNS -----------------------------------------------------------------------------------

TRANSPORTS = {"udp": dns.query.udp, "tcp": dns.query.tcp}
# The big TXT set is truncated over UDP: tested on its own.
PLAIN_RECORDS = [key for key in dns_peer.RECORDS if key[0] != dns_peer.BIG_TXT_NAME]


def ask(server, name: str, rdtype: str, transport: str = "udp", **kwargs) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kwargs)
    return TRANSPORTS[transport](query, server.host, port=server.port, timeout=QUICK)


def rdata_texts(response: dns.message.Message, rdtype: str) -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(
        rd.to_text() for rrset in response.answer if rrset.rdtype == wanted for rd in rrset
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("name", "rdtype"), PLAIN_RECORDS, ids=[f"{n}/{t}" for n, t in PLAIN_RECORDS]
)
def test_dns_records(dnsmasq, transport, name, rdtype):
    response = ask(dnsmasq, name, rdtype, transport)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert rdata_texts(response, rdtype) == sorted(dns_peer.RECORDS[(name, rdtype)])
    assert {rrset.ttl for rrset in response.answer} == {dns_peer.TTL}


def test_dns_attributes(dnsmasq):
    assert dnsmasq.host == "127.0.0.1" and dnsmasq.port > 0
    assert dnsmasq.zone == "netkit.test"
    assert dnsmasq.records[("www.netkit.test", "A")] == ("192.0.2.10",)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dns_cname_is_followed(dnsmasq, transport):
    response = ask(dnsmasq, dns_peer.ALIAS, "A", transport)
    assert [rrset.rdtype for rrset in response.answer] == [
        dns.rdatatype.CNAME,
        dns.rdatatype.A,
    ]
    assert rdata_texts(response, "CNAME") == ["www.netkit.test."]
    assert rdata_texts(response, "A") == [dns_peer.WWW_V4]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dns_nxdomain(dnsmasq, transport):
    response = ask(dnsmasq, dns_peer.NX_NAME, "A", transport)
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.answer == []
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dns_no_data(dnsmasq, transport):
    response = ask(dnsmasq, dns_peer.WWW, "MX", transport)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dns_outside_the_zone_is_refused(dnsmasq, transport):
    response = ask(dnsmasq, dns_peer.OUTSIDE_NAME, "A", transport)
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.RA


@pytest.mark.parametrize("use_edns", [False, True], ids=["no-edns", "edns"])
def test_dns_big_answer_is_truncated_over_udp(dnsmasq, use_edns):
    response = ask(dnsmasq, dns_peer.BIG_TXT_NAME, "TXT", "udp", use_edns=use_edns)
    assert response.flags & dns.flags.TC
    assert 0 < len(rdata_texts(response, "TXT")) < dns_peer.BIG_TXT_COUNT
    response = ask(dnsmasq, dns_peer.BIG_TXT_NAME, "TXT", "tcp", use_edns=use_edns)
    assert not response.flags & dns.flags.TC
    assert rdata_texts(response, "TXT") == sorted(f'"{t}"' for t in dns_peer.BIG_TXT)
    query = dns.message.make_query(dns_peer.BIG_TXT_NAME, "TXT")
    response, used_tcp = dns.query.udp_with_fallback(
        query, dnsmasq.host, port=dnsmasq.port, timeout=QUICK
    )
    assert used_tcp and len(rdata_texts(response, "TXT")) == dns_peer.BIG_TXT_COUNT


def test_dns_with_dnspython_resolver(dnsmasq):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dnsmasq.host]
    resolver.port = dnsmasq.port
    resolver.lifetime = QUICK
    assert sorted(r.to_text() for r in resolver.resolve(dns_peer.MULTI, "A")) == sorted(
        dns_peer.MULTI_V4
    )
    answer = resolver.resolve(dns_peer.ALIAS, "A", tcp=True)
    assert answer.canonical_name.to_text() == "www.netkit.test."
    assert [r.to_text() for r in resolver.resolve_address(dns_peer.WWW_V6)] == ["www.netkit.test."]
    assert dns.reversename.from_address(dns_peer.WWW_V6).to_text() == dns_peer.WWW_PTR_V6 + "."
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve(dns_peer.NX_NAME, "A")


def test_dns_queries_are_logged(dnsmasq):
    name = f"{unique('logged')}.netkit.test"
    ask(dnsmasq, name, "A", "tcp")
    deadline = time.monotonic() + QUICK
    while f"auth[A] {name} from 127.0.0.1" not in dnsmasq.log_file.read_text():
        assert time.monotonic() < deadline, dnsmasq.log_file.read_text()[-2000:]
        time.sleep(0.02)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dns_silent_never_answers(dns_silent, transport):
    query = dns.message.make_query(dns_peer.WWW, "A")
    started = time.monotonic()
    with pytest.raises(dns.exception.Timeout):
        TRANSPORTS[transport](query, dns_silent.host, port=dns_silent.port, timeout=SHORT)
    assert SHORT <= time.monotonic() - started < SHORT + 1
