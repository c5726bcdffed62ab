"""The typed check API (netkit.check: HttpCheck, SshCheck, ... and check, check_async,
check_many) against the real peers, beside the same checks run by the command line; its
validation in the keywords' own names; and the layering it rests on (nothing below cli/
imports cli/)."""

import ast
import asyncio
import dataclasses
import re
from pathlib import Path

import pytest

import netkit
from netkit import Timeout, UsageError
from netkit.check import (
    DnsCheck,
    FtpCheck,
    HttpCheck,
    ImapCheck,
    Pop3Check,
    SmtpCheck,
    SshCheck,
    TcpCheck,
    TlsCheck,
    UdpCheck,
    check,
    check_async,
    check_many,
)
from tests.helpers import PROXY_VARS, check_json

SRC = Path(netkit.__file__).parent


@pytest.fixture
def peers(nginx, pki, sshd, dovecot, smtp_server, dnsmasq, ftp_server, udp_echo, monkeypatch):
    """(typed check, the same on the command line, the status both must give) for each family."""
    for var in PROXY_VARS:  # as the command line's runs (tests.helpers.clean_env): straight to the peer
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALICE_PW", dovecot.users["alice"])
    ca = str(pki.ca_file)
    ssh = f"ssh://{sshd.host}:{sshd.port}"
    pin = sshd.host_key_fingerprints["ed25519"]
    dns = f"dns://{dnsmasq.host}:{dnsmasq.port}/www.netkit.test"
    ftp = f"ftp://{ftp_server.user}@127.0.0.1:{ftp_server.port}"
    smtp = f"smtp://127.0.0.1:{smtp_server.port}"
    pop3s = f"pop3s://alice@127.0.0.1:{dovecot.pop3s_port}"
    imap = f"imap://alice@127.0.0.1:{dovecot.imap_port}"
    tls = f"tls://127.0.0.1:{nginx.https_port}"
    env = {"ALICE_PW": dovecot.users["alice"], "FTP_PW": ftp_server.password, "SMTP_PW": smtp_server.password}
    return env, [
        (HttpCheck(nginx.url("/"), status=[200], body="hello netkit", timeout=Timeout(5)),
         [nginx.url("/"), "--status", "200", "--body", "hello netkit", "-t", "5"], "OK"),
        (HttpCheck(nginx.url("/", scheme="https"), cacert=ca, cert_warn=30, header={"Accept": "text/html"}),
         [nginx.url("/", scheme="https"), "--cacert", ca, "--cert-warn", "30", "-H", "Accept: text/html"], "OK"),
        (HttpCheck(nginx.url("/status/404")), [nginx.url("/status/404")], "CRITICAL"),
        (HttpCheck(nginx.url("/r1"), follow=True, max_redirects=5), [nginx.url("/r1"), "-L", "--max-redirects", "5"],
         "OK"),
        (TlsCheck(tls, cacert=ca, sni="alt.test", cert_crit=7), [tls, "--cacert", ca, "--sni", "alt.test",
                                                                "--cert-crit", "7"], "OK"),
        (TlsCheck(f"tls://127.0.0.1:{nginx.soon_port}", cacert=ca, cert_warn=30),
         [f"tls://127.0.0.1:{nginx.soon_port}", "--cacert", ca, "--cert-warn", "30"], "WARNING"),
        (TcpCheck(f"tcp://127.0.0.1:{sshd.port}", expect=b"SSH-2.0", warning="@0:100"),
         [f"tcp://127.0.0.1:{sshd.port}", "--expect", "SSH-2.0", "-w", "@0:100"], "WARNING"),
        (UdpCheck(f"udp://127.0.0.1:{udp_echo.port}", send=b"hi", expect="echo:hi"),
         [f"udp://127.0.0.1:{udp_echo.port}", "--send", "hi", "--expect", "echo:hi"], "OK"),
        (SshCheck(ssh, hostkey=[pin], software="OpenSSH"), [ssh, "--hostkey", pin, "--software", "OpenSSH"], "OK"),
        (SshCheck(ssh, identity=sshd.client_key, user=sshd.user, known_hosts=sshd.known_hosts),
         [ssh, "--identity", sshd.client_key, "--user", sshd.user, "--known-hosts", sshd.known_hosts], "OK"),
        (SshCheck(ssh, hostkey="SHA256:" + "A" * 43), [ssh, "--hostkey", "SHA256:" + "A" * 43], "CRITICAL"),
        (DnsCheck(dns, expect_address=["192.0.2.0/24"], answers="1"),
         [dns, "--expect-address", "192.0.2.0/24", "--answers", "1"], "OK"),
        (DnsCheck(dns, type="MX", tcp=True), [dns, "--type", "MX", "--tcp"], "CRITICAL"),
        (FtpCheck(f"{ftp}/hello.txt", password=ftp_server.password),
         [f"{ftp}/hello.txt", "--password-env", "FTP_PW"], "OK"),
        (FtpCheck(f"{ftp}/sub/", password=ftp_server.password, tls=True, cacert=ca),
         [f"{ftp}/sub/", "--password-env", "FTP_PW", "--tls", "--cacert", ca], "OK"),
        (SmtpCheck(smtp, starttls=True, cacert=ca, ehlo="monitor.example.test", rcpt=["a@example.test"]),
         [smtp, "--starttls", "--cacert", ca, "--ehlo", "monitor.example.test", "--rcpt", "a@example.test"], "OK"),
        (SmtpCheck(smtp, starttls=True, cacert=ca, user=smtp_server.user, password=smtp_server.password),
         [smtp, "--starttls", "--cacert", ca, "--user", smtp_server.user, "--password-env", "SMTP_PW"], "OK"),
        (Pop3Check(pop3s, password=dovecot.users["alice"], cacert=ca, messages_warn="~:1"),
         [pop3s, "--password-env", "ALICE_PW", "--cacert", ca, "--messages-warn", "~:1"], "WARNING"),
        (ImapCheck(imap, password_env="ALICE_PW", mailbox="INBOX", unseen_warn="~:1"),
         [imap, "--password-env", "ALICE_PW", "--mailbox", "INBOX", "--unseen-warn", "~:1"], "WARNING"),
        (ImapCheck(imap, password="wrong"), [imap, "--password-env", "WRONG"], "CRITICAL"),
    ]


def same_words(summary: str) -> str:
    """A summary without what differs from run to run: the times (0.012 s)."""
    return re.sub(r"\b\d+\.\d{3}\b", "T", summary)


def test_each_family_gives_what_the_command_line_gives(peers):
    env, cases = peers
    env = {**env, "WRONG": "wrong"}
    for spec, argv, status in cases:
        result = check(spec)
        assert result.status.label == status, (spec, result.summary)
        code, [cli] = check_json(*argv, env=env)
        assert (cli["status"], same_words(cli["summary"])) == (status, same_words(result.summary)), spec
        assert code == int(result.status) and cli["target"] == result.target


def test_many_at_once_and_async_agree_with_one_at_a_time(peers):
    _env, cases = peers
    specs = [spec for spec, _argv, _status in cases]
    seen = []
    results = check_many(specs, concurrency=4, on_result=lambda i, r: seen.append(i))
    assert [r.status.label for r in results] == [status for _spec, _argv, status in cases]
    assert sorted(seen) == list(range(len(specs)))

    async def all_at_once():
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(check_async(spec)) for spec in specs]
        return [task.result() for task in tasks]

    assert [r.status.label for r in asyncio.run(all_at_once())] == [r.status.label for r in results]


def test_the_typed_check_is_the_command_lines_spec(nginx, pki):
    from netkit.check import build_spec

    spec = HttpCheck(nginx.url("/"), status="200,301", timeout=7, header=[("X-A", "1"), "X-B: 2"], data={"q": "x"})
    assert spec.spec.opts["timeout"] == 7.0 and spec.spec.get("method") == "GET"
    assert spec.spec.opts["header"] == (("X-A", "1"), ("X-B", "2")) and spec.spec.opts["data"] == (("q", "x"),)
    assert build_spec(nginx.url("/"), status="200,301").opts["status"].text == "200,301"
    assert spec == HttpCheck(nginx.url("/"), status="200,301", timeout=7, header=[("X-A", "1"), "X-B: 2"],
                             data={"q": "x"})
    assert repr(HttpCheck(nginx.url("/"), password="s3cret", user="u")) == \
        f"HttpCheck({nginx.url('/')!r}, user='u', password='********')"
    # the caller's headers off SAFE_HEADERS are masked, as -v's transcript masks them
    assert repr(HttpCheck("http://h/", header={"X-Custom": "s3cret", "Accept": "a"})) == \
        "HttpCheck('http://h/', header={'X-Custom': '********', 'Accept': 'a'})"
    assert repr(HttpCheck("http://h/", header=[("X-A", "s3cret"), "X-B: s3cret", "Accept: a"])) == \
        "HttpCheck('http://h/', header=[('X-A', '********'), 'X-B: ********', 'Accept: a'])"
    assert repr(HttpCheck("http://h/", header="X-A: s3cret")) == "HttpCheck('http://h/', header='X-A: ********')"
    with pytest.raises(UsageError) as info:  # a mistake's "(got ...)" masks them too
        HttpCheck("http://h/", header={"Authorization": "Bearer s3cret\r\nX: y"}, proxy="http://u:pw@p:1")
    assert "s3cret" not in str(info.value) and "(got [('Authorization', 'Bearer ********')])" in str(info.value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.status = "500"  # type: ignore[misc]
    # bytes are sent as they are; text is read as a checks file reads it (escapes too)
    tcp = TcpCheck("tcp://127.0.0.1:1", send=[b"a\\r", "b\\r\\n"], expect="x", refuse="ok", maxbytes=10)
    assert tcp.spec.opts["send"] == (b"a\\r", b"b\r\n") and tcp.spec.opts["maxbytes"] == 10


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: HttpCheck("http://h/", status="abc"), "status expects a list of codes"),
        (lambda: HttpCheck("http://h/", status=[200, 999]), "status expects status codes from 100 to 599"),
        (lambda: HttpCheck("http://h/", cert_warn="soon"), "cert_warn expects a whole number of days"),
        (lambda: HttpCheck("http://h/", max_redirects=-1), "max_redirects expects a whole number, 0 or more"),
        (lambda: HttpCheck("http://h/", warning="5:1"), "warning expects a range"),
        (lambda: HttpCheck("http://h/", body_regex="("), "body_regex is not a valid regular expression"),
        (lambda: HttpCheck("http://h/", header="no colon"), "header expects 'Name: value'"),
        (lambda: HttpCheck("http://h/", follow="yes"), "follow expects true or false"),
        (lambda: HttpCheck("http://h/", timeout="soon"), "timeout expects a number of seconds"),
        (lambda: HttpCheck("http://h/", timeout=[5]), "timeout expects seconds"),
        (lambda: HttpCheck("http://h/", name="web\r\nOK"), "name expects one line of text"),
        (lambda: HttpCheck("http://h/", password="pw"), "password needs a user: user=NAME"),
        (lambda: HttpCheck("http://u@h/", password="pw", password_env="PW"), "password and password_env exclude"),
        (lambda: HttpCheck("tcp://h:1"), "HttpCheck checks http://, https:// URLs, not tcp://; tcp:// is for TcpCheck"),
        (lambda: HttpCheck("gopher://h/"), "gopher"),
        (lambda: TcpCheck("tcp://h:1", expect=b""), "expect expects a non-empty string"),
        (lambda: TcpCheck("tcp://h:1", cacert="/etc/hostname"), "cacert applies to tcp:// checks only with tls"),
        (lambda: UdpCheck("udp://h:1", send="x"), "udp:// checks need send and expect"),
        (lambda: TcpCheck("tcp://h:1", ipv4=True, ipv6=True), "ipv4 and ipv6 exclude each other"),
        (lambda: SmtpCheck("smtp://h", mail_from="a\r\nRCPT TO:<x>"), "mail_from expects one line of text"),
        (lambda: SmtpCheck("smtps://h", starttls=True), "starttls does not apply to smtps://"),
        (lambda: Pop3Check("pop3://h"), "pop3:// checks log in: give a user"),
        (lambda: ImapCheck("imap://u@h", password_env="NETKIT_NO_SUCH_VAR"), "the environment has no"),
        (lambda: SshCheck("ssh://h", user="root"), "user applies to ssh:// checks only with identity"),
        (lambda: SshCheck("ssh://h", hostkey="abc"), "hostkey expects a host key fingerprint"),
        (lambda: DnsCheck("dns://127.0.0.1"), "dns:// checks need a name"),
        (lambda: DnsCheck("dns:///example.com", type="ANY"), "type expects a record type"),
        (lambda: DnsCheck("dns:///example.com", expect_address="not-an-ip"), "expect_address expects an IP"),
        (lambda: TlsCheck("tls://h", cert_crit=1.5), "cert_crit expects a whole number of days"),
        (lambda: check("https://example.com/"), "expects a check such as HttpCheck"),
        (lambda: check_many([], concurrency=0), "concurrency expects a whole number"),
    ],
)
def test_bad_values_name_the_keyword(make, words):
    with pytest.raises(UsageError) as info:
        make()
    message = str(info.value)
    assert words in message and "\n" not in message and "--" not in message.split(" (got")[0], message


def test_same_words_as_a_checks_file_and_the_command_line(tmp_path):
    """One validator: a bad value is wrong in the same words as a keyword, a file key and a flag."""
    from netkit.check.file import load_checks
    from netkit.cli.check import parse

    path = tmp_path / "checks.toml"
    path.write_text("[[check]]\nurl = 'tcp://h:1'\nwarning = '5:1'\nmaxbytes = 0\n")
    with pytest.raises(UsageError) as as_file:
        load_checks(str(path))
    with pytest.raises(UsageError) as as_keyword:
        TcpCheck("tcp://h:1", warning="5:1", maxbytes=0)
    with pytest.raises(UsageError) as as_flag:
        parse(["tcp://h:1", "-w", "5:1"])
    words = str(as_keyword.value).split("; e.g.")[0]
    assert words.startswith("warning expects a range") and words.endswith("start 5 is greater than end 1 (got '5:1')")
    assert str(as_file.value).split("; e.g.")[0] == f"{path}: check 1: {words}"
    assert str(as_flag.value).split("; e.g.")[0] == f"--{words}"


def test_old_spellings_say_which_checks_take_an_option():
    from netkit.check import build_spec, check_target

    with pytest.raises(UsageError, match=r"send does not apply to ssh:// checks \(it is for tcp://, udp://\)"):
        build_spec("ssh://h", send="x")
    with pytest.raises(UsageError, match="unknown check option 'stauts'; did you mean 'status'"):
        check_target("http://h/", stauts="200")
    assert build_spec("smtp://h", **{"from": "a@example.test"}).opts["from"] == "a@example.test"


def test_each_family_takes_exactly_the_options_of_its_schemes():
    """The classes' keywords and the fields table (what the command line and files take) stay one."""
    from netkit.check._specs import FAMILIES, keyword
    from netkit.check.options import FIELDS, SCHEMES

    assert sorted(s for family in FAMILIES for s in family.SCHEMES) == sorted(SCHEMES)
    for family in FAMILIES:
        taken = {f.name for f in dataclasses.fields(family) if f.init} - {"url", "password"}
        expected = {keyword(f.name) for f in FIELDS if f.schemes & set(family.SCHEMES)}
        assert taken == expected, family.__name__
        assert ("password" in {f.name for f in dataclasses.fields(family)}) == (family in (
            HttpCheck, FtpCheck, SmtpCheck, Pop3Check, ImapCheck)), family.__name__


def _imports(path: Path):
    """The modules ``path`` imports (``from . import x`` resolved against its package)."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_nothing_below_cli_imports_cli():
    # netkit/__main__.py (python -m netkit) is the command line's entry, above cli/.
    modules = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in ("cli", "__main__.py")]
    assert len(modules) > 100  # the walk does see the library
    offenders = {str(p.relative_to(SRC)): name for p in modules for name in _imports(p)
                 if name == "netkit.cli" or name.startswith("netkit.cli.")}
    assert offenders == {}
    assert not (SRC / "core" / "options.py").exists()
    assert (SRC / "cli" / "options.py").exists()


def test_the_command_line_does_not_load_the_typed_api():
    import subprocess
    import sys

    code = ("import sys, io; from netkit.cli.check import main; main(['--help'], out=io.StringIO()); "
            "main(['tcp://127.0.0.1:1', '-t', '1'], out=io.StringIO()); "
            "print(' '.join(m for m in ('netkit.check._specs', 'dataclasses', 'netkit.core.timeout') "
            "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_a_timeout_with_phases_bounds_each_wait_and_the_total_stays_the_deadline(silent_tcp):
    """Timeout(read=...) ends a check of a peer that never answers at the read bound, with
    TimedOut naming the phase; the total is the deadline (and the perfdata's max)."""
    from netkit.core.errors import TimedOut

    url = f"http://{silent_tcp.host}:{silent_tcp.port}/"
    spec = HttpCheck(url, timeout=Timeout(30, connect=2, read=0.5))
    assert spec.spec.get("timeout") == 30.0 and spec.spec.timeout == Timeout(30, connect=2, read=0.5)
    result = check(spec)
    assert result.status.label == "CRITICAL" and isinstance(result.error, TimedOut), result.error
    assert result.error.phase == "read" and "0.5" in str(result.error), result.error
    plain = HttpCheck(url, timeout=Timeout(read=0.5))  # no total: the command line's 10 s deadline
    assert plain.spec.get("timeout") == 10.0 and plain.spec.timeout.read == 0.5
    assert HttpCheck(url, timeout=3).spec.timeout == 3.0  # a number: the whole check, as --timeout
