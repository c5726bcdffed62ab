"""``netkit check``'s options on the command line: each check field of
netkit.check.options with its spelling (``-w``), metavar, help and --help section.

The fields parse and validate (one validator for the command line, checks files, the
monitor and the typed API); this table only says how each is typed in a shell and shown
in --help, completion and man pages.
"""

from netkit.check.options import BY_NAME
from netkit.cli.options import Option

__all__ = ["BY_FLAG", "OPTIONS"]


def _row(name, help, *, short=None, metavar=None, example=None):
    return Option.of(BY_NAME[name], help, short=short, metavar=metavar, example=example)


def _section(title: str, *options):
    for option in options:
        option.group = title
    return options


OPTIONS = (
    *_section(
        "every check",
        _row("name", "name shown for the check (Nagios service label)", metavar="NAME"),
        _row("warning", "response time range (s) outside which it is WARNING", short="w", metavar="RANGE"),
        _row("critical", "response time range (s) outside which it is CRITICAL", short="c", metavar="RANGE"),
        _row("timeout", "seconds before giving up (CRITICAL)", short="t", metavar="SECONDS"),
        _row("ipv4", "connect over IPv4 only", short="4"),
        _row("ipv6", "connect over IPv6 only", short="6"),
    ),
    *_section(
        "tcp:// and udp://",
        _row("send", "data to send (escapes like \\r\\n; repeatable)", metavar="TEXT", example="'QUIT\\r\\n'"),
        _row("expect", "string expected in the reply (repeatable; any matches)", metavar="TEXT", example="'220'"),
        _row("expect-all", "every --expect string must be in the reply"),
        _row("quit", "data to send before closing", metavar="TEXT", example="'QUIT\\r\\n'"),
        _row("refuse", "status when the port refuses: ok, warn or crit", metavar="STATE"),
        _row("mismatch", "status when the reply lacks --expect: ok, warn or crit", metavar="STATE"),
        _row("maxbytes", "stop reading the reply after this many bytes", metavar="BYTES"),
        _row("tls", "TLS after connecting (ftp: explicit FTPS, AUTH TLS)"),
    ),
    *_section(
        "TLS (tls://, https://, and tcp://, ftp://, mail with --tls/--starttls)",
        _row("insecure", "do not verify the peer's certificate", short="k"),
        _row("cacert", "CA certificates (PEM) to verify against", metavar="FILE"),
        _row("sni", "server name to send and verify (default: the URL's host)", metavar="NAME"),
        _row("cert-warn", "WARNING when a certificate expires within DAYS", metavar="DAYS"),
        _row("cert-crit", "CRITICAL when a certificate expires within DAYS", metavar="DAYS"),
    ),
    *_section(
        "http:// and https://",
        _row("method", "request method", short="X", metavar="METHOD"),
        _row("header", "request header (repeatable)", short="H", metavar="'NAME: VALUE'",
             example="'Accept: text/html'"),
        _row("data", "form field, urlencoded into the query (GET) or body (repeatable)", short="d",
             metavar="KEY=VALUE"),
        _row("user-agent", "User-Agent header", short="A", metavar="TEXT", example="'monitor/1.0'"),
        _row("status", "expected status codes (default 2xx,3xx)", metavar="CODES"),
        _row("body", "string expected in the body (repeatable)", metavar="TEXT"),
        _row("body-regex", "regular expression expected in the body", metavar="REGEX", example="'version [0-9]+'"),
        _row("invert", "CRITICAL when --body / --body-regex *do* match"),
        _row("follow", "follow redirects (else a 3xx is judged as it is)", short="L"),
        _row("max-redirects", "redirects to follow at most", metavar="N"),
        _row("max-body", "CRITICAL when the body is larger (e.g. 1M)", metavar="SIZE"),
        _row("proxy", "HTTP proxy URL (default: http_proxy/https_proxy)", metavar="URL"),
        _row("no-proxy", "ignore proxies in the environment"),
    ),
    *_section(
        "logging in: http(s)://, ftp://, mail, ssh://",
        _row("user", "user to log in as; password from --password-env, ~/.netrc or a prompt", short="u",
             metavar="USER"),
        _row("password-env", "environment variable holding the password", metavar="VAR"),
    ),
    *_section(
        "mail: smtp://, pop3://, imap:// (and their s:// forms)",
        _row("starttls", "upgrade to TLS (STARTTLS, STLS) before anything else"),
        _row("ehlo", "name to greet the server with", metavar="NAME"),
        _row("from", "sender to try with MAIL FROM (nothing is sent)", metavar="ADDRESS"),
        _row("rcpt", "recipient to try with RCPT TO (repeatable)", metavar="ADDRESS"),
        _row("mailbox", "mailbox to select", metavar="NAME"),
        _row("messages-warn", "WARNING when the message count is outside RANGE", metavar="RANGE"),
        _row("messages-crit", "CRITICAL when the message count is outside RANGE", metavar="RANGE"),
        _row("size-warn", "WARNING when the mailbox size in bytes is outside RANGE", metavar="RANGE"),
        _row("size-crit", "CRITICAL when the mailbox size in bytes is outside RANGE", metavar="RANGE"),
        _row("unseen-warn", "WARNING when the unseen count is outside RANGE", metavar="RANGE"),
        _row("unseen-crit", "CRITICAL when the unseen count is outside RANGE", metavar="RANGE"),
    ),
    *_section(
        "ssh://",
        _row("protocol", "expected SSH protocol version", metavar="VERSION"),
        _row("software", "text expected in the server's software version", metavar="TEXT"),
        _row("hostkey", "host key fingerprint the server must present (repeatable: any of them)", metavar="SHA256:..."),
        _row("identity", "private key to test authentication with", metavar="FILE"),
        _row("known-hosts", "known_hosts FILE the --identity login trusts (repeatable; default ~/.ssh/known_hosts)",
             metavar="FILE"),
        _row("accept-new", "with --identity: accept and record an unknown host key (never a changed one)"),
    ),
    *_section(
        "dns://",
        _row("type", "record type to ask for (A, AAAA, MX, TXT, ...)", metavar="TYPE"),
        _row("tcp", "ask over TCP instead of UDP"),
        _row("expect-address", "address (or CIDR) every answer must be within (repeatable)", metavar="IP[/BITS]"),
        _row("expect-nxdomain", "the name must not exist (NXDOMAIN is OK)"),
        _row("answers", "CRITICAL when the answer count is outside RANGE", metavar="RANGE"),
    ),
)

BY_FLAG = {f"--{o.name}": o for o in OPTIONS}
BY_FLAG.update({f"-{o.short}": o for o in OPTIONS if o.short})
