"""``netkit get URL... [-o FILE | -O | -]``: download http(s), ftp(s), sftp and file URLs.

Exit codes: 0 every file arrived (complete and verified), 1 a transfer failed (one line
per failure on stderr; the destination is untouched, at most a ``.part`` remains),
2 bad input, 130 Ctrl-C. Progress goes to stderr on a terminal only.

This module also holds what ``put`` and ``mirror`` share: transfer options and their
parsing into :class:`netkit.transfer.Options` (the progress display is
:mod:`netkit.cli.progress`).
"""

import os

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.options import Option, as_given, positive, seconds, whole
from netkit.core.errors import NetkitError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from netkit.transfer import Result

__all__ = ["COMMON", "build_options", "check_limits", "help_text", "limit_options", "main",
           "max_filesize_option"]

COMMAND = "netkit get"
# Transfers at once when several URLs are given (curl --parallel's default is 50, aria2's
# 5; a handful saturates one link without opening a connection storm on one server).
DEFAULT_PARALLEL = 4


def _delay(text):
    from netkit.core.text import parse_seconds

    return parse_seconds(text, allow_zero=True)


def _rate(text):
    from netkit.core.text import parse_size

    value = parse_size(text)
    if value < 1:
        raise ValueError("expects a rate in bytes per second like 500k or 10M")
    return value


def _max_filesize(text):
    from netkit.core.text import parse_size

    value = parse_size(text)
    if value < 1:
        raise ValueError("expects a size of 1 byte or more like 10M or 1G")
    return value


def max_filesize_option(what):
    """--max-filesize SIZE (curl's): ``what`` says what it bounds for the command."""
    return Option("max-filesize", "one", _max_filesize, None, f"refuse {what} larger than SIZE (10M, 1G): at once "
                  f"when its announced size is, else when the bytes written (decoded, with --compressed) pass "
                  f"it; the .part is removed, never retried (as curl)", metavar="SIZE", example="1G")


def _checksum(text):
    from netkit.transfer._common import parse_checksum

    return parse_checksum(text)


def _header(text):
    from netkit.proto.http1 import check_caller_header

    name, colon, value = str(text).partition(":")
    if not colon:
        raise ValueError(f"{text!r} is not a header; write 'Name: value'")
    name, value = name.strip(), value.strip()
    check_caller_header(name, value)
    return name, value


def _one_line(text):
    """A value that goes into a protocol line (User-Agent, the user name): no CR, LF, NUL."""
    from netkit.core.text import check_line_field

    return check_line_field(str(text), "the value")


def _pair(text):
    key, eq, value = str(text).partition("=")
    if not eq or not key:
        raise ValueError(f"{text!r} is not KEY=VALUE")
    return key, value


def _file(text):
    path = os.path.expanduser(str(text))
    if not os.path.isfile(path):
        raise ValueError(f"{text}: " + ("not a regular file" if os.path.exists(path) else "no such file"))
    return path


def _proxy(text):
    from netkit.core.proxies import parse_proxy

    return parse_proxy(text)


# Options every transfer command takes.
COMMON = (
    Option("continue", "flag", as_given, None, "resume from an existing .part file (HTTP Range, FTP REST, SFTP "
           "offset)", short="c"),
    Option("retry", "one", whole, None, "retries after a transient failure (default 3), resuming each time",
           metavar="N", example="5", default=3),
    Option("retry-delay", "one", _delay, None, "first wait between retries, doubled each time (default 1 s; "
           "Retry-After wins)", metavar="SECONDS", example="2", default=1.0),
    Option("timeout", "one", seconds, None, "connect and idle timeout (default 30 s)", metavar="SECONDS",
           example="10", default=30.0),
    Option("limit-rate", "one", _rate, None, "at most this many bytes per second", metavar="RATE",
           example="500k"),
    Option("quiet", "flag", as_given, None, "no progress, only errors", short="q"),
    Option("user", "one", _one_line, None, "log in as USER (USER:PASSWORD also works; better: --password-env, "
           "~/.netrc or the prompt)", short="u", metavar="USER", example="alice"),
    Option("password-env", "one", as_given, None, "read the password from this environment variable",
           metavar="VAR", example="FTP_PASSWORD"),
    Option("insecure", "flag", as_given, None, "https/ftps: do not verify the server's certificate", short="k"),
    Option("cacert", "one", _file, None, "https/ftps: trust the CAs of this PEM file", metavar="FILE",
           example="ca.pem"),
    Option("identity", "one", _file, None, "sftp: log in with this private key", short="i", metavar="KEY",
           example="~/.ssh/id_ed25519"),
    Option("known-hosts", "one", _file, None, "sftp: trust the host keys of this file (default "
           "~/.ssh/known_hosts)", metavar="FILE", example="known_hosts"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)


def limit_options(max_time_help):
    """--max-time, --speed-limit and --speed-time (curl's -m, -Y, -y), for every scheme;
    ``max_time_help`` says what --max-time bounds for the command."""
    return (
        Option("max-time", "one", seconds, None, max_time_help, short="m", metavar="SECONDS", example="600"),
        Option("speed-limit", "one", _rate, None, "give up when slower than RATE bytes/s for --speed-time (as "
               "curl -Y; retried like a cut connection)", short="Y", metavar="RATE", example="1k"),
        Option("speed-time", "one", seconds, None, "how long --speed-limit may go unmet (default 30 s, as curl "
               "-y)", short="y", metavar="SECONDS", example="60"),
    )

OPTIONS = (
    Option("output", "many", as_given, None, "write to FILE ('-': standard output); repeat for several URLs, in "
           "order", short="o", metavar="FILE", example="out.iso"),
    Option("remote-name", "flag", as_given, None, "name the file as the URL does (the default)", short="O"),
    Option("output-dir", "one", as_given, None, "put files in DIR", metavar="DIR", example="downloads"),
    Option("checksum", "many", _checksum, None, "verify before the file takes its name: sha256=HEX (sha1, md5, "
           "sha512); repeat for several URLs, in order", metavar="ALGO=HEX", example="sha256=9f86d0..."),
    Option("parallel", "one", positive, None, f"transfers at once for several URLs (default {DEFAULT_PARALLEL})",
           short="P", metavar="N", example="8", default=DEFAULT_PARALLEL),
    Option("json", "flag", as_given, None, "print one JSON object per URL: url, file, ok, bytes, received, "
           "seconds, attempts, resumed_from, restarted (or error)"),
    Option("head", "flag", as_given, None, "http: print the response headers only", short="I"),
    Option("header", "many", _header, None, "http: send this header", short="H", metavar="'NAME: VALUE'",
           example="'Accept: text/plain'"),
    Option("data", "many", _pair, None, "http: form field, URL-encoded (repeat names freely); sent by POST, "
           "or in the query with -G", short="d", metavar="KEY=VALUE", example="q=netkit"),
    Option("get", "flag", as_given, None, "http: put --data in the URL's query and GET", short="G"),
    Option("request", "one", as_given, None, "http: the method (GET, POST, DELETE, ...)", short="X",
           metavar="METHOD", example="POST"),
    Option("user-agent", "one", _one_line, None, "http: the User-Agent header", short="A", metavar="TEXT",
           example="'backup/1.0'"),
    Option("max-redirects", "one", whole, None, "http: redirects to follow (default 10; 0: none)",
           metavar="N", example="3", default=10),
    Option("proxy", "one", _proxy, None, "http: use this proxy (default: http_proxy/https_proxy, minus "
           "no_proxy)", short="x", metavar="URL", example="http://proxy:3128"),
    Option("noproxy", "flag", as_given, None, "http: ignore the environment's proxies"),
    Option("compressed", "flag", as_given, None, "http: ask for gzip/deflate and decode it"),
    Option("verbose", "flag", as_given, None, "http: show each request and response head on standard error "
           "(passwords, cookies, tokens and the -H headers a redirect would drop masked)", short="v"),
    *limit_options("give up after this long in all, retries included, for each URL (as curl -m); never "
                   "retried"),
    max_filesize_option("a file"),
    *COMMON,
)


FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    return (
        "usage: netkit get URL... [-o FILE | -O | -] [OPTIONS]\n\n"
        "Download http://, https://, ftp://, ftps:// (explicit TLS: AUTH TLS), sftp:// and file:// URLs.\n"
        "A file appears under its name only when complete (and verified with --checksum): until then\n"
        "it is NAME.part, which -c resumes. Several URLs download at once.\n\n"
        "URLs: ftp://[user[:password]@]host/path (relative to the login directory; %2F for absolute\n"
        "paths: ftp://host/%2Fetc/motd), sftp://user@host/abs/path (~/ for home), file:///path.\n"
        "Passwords: the URL, --password-env VAR, ~/.netrc ($NETRC), or a prompt on a terminal.\n"
        "Redirects (http 301, 302, 303, 307, 308; to http and https only) to another origin (scheme, host\n"
        "or port; https -> http too) drop the password and every -H header but Accept, Accept-Encoding,\n"
        "Accept-Language, Cache-Control, Content-Type, Pragma, Range, If-Range and User-Agent:\n"
        "Authorization, Cookie, X-Api-Key and the like stay with the host they were given for.\n\n"
        "options:\n" + option_rows(OPTIONS) +
        "\nExamples:\n"
        "  netkit get https://example.com/file.iso --checksum sha256=9f86d0... -c\n"
        "  netkit get ftp://ftp.example.com/pub/readme.txt -\n"
        "  netkit get sftp://admin@server/var/log/syslog -o syslog\n"
        "  netkit get -I https://example.com/\n"
        "  netkit get http://example.com/search -G -d q=netkit -d lang=fr -\n"
    )


def credentials(values, url, command):
    """(user, password) for ``url`` (:mod:`netkit.core.credentials`): --user USER[:PASSWORD]
    or the URL's; the password from the URL, --password-env, ~/.netrc or a prompt. sftp://
    without a user leaves it to ~/.ssh/config and the local user name; file:// has none."""
    from netkit.core.credentials import resolve

    if url.scheme == "file":
        return None, None
    user = password = None
    given = values.get("user")
    if given is not None:
        user, colon, secret = given.partition(":")
        password = secret if colon else None
    var = values.get("password-env")
    if url.scheme == "sftp" and user is None and url.user is None and var is None:
        return None, None
    try:
        return tuple(resolve(url, user, password, var, prompt=True, spell=lambda name: f"--{name}"))
    except UsageError as exc:
        raise UsageError(f"{command}: {exc}") from None


def check_urls(urls, command=COMMAND):
    """UsageError for a URL holding CR, LF or NUL (it would end the request line)."""
    from netkit.core.text import check_line_field, for_terminal

    for url in urls:
        try:
            check_line_field(url, "a URL")
        except ValueError as exc:
            raise UsageError(f"{command}: {for_terminal(url)}: {exc}; percent-encode them (%0D, %0A, %00)") from None


def check_ssh_flags(values, schemes, command=COMMAND):
    """--identity and --known-hosts only mean something for sftp:// URLs."""
    if values.get("identity") or values.get("known-hosts"):
        bad = [s for s in schemes if s != "sftp"]
        if bad:
            raise UsageError(f"{command}: --identity and --known-hosts are for sftp:// URLs, not {bad[0]}://")


def retry_notice(values, display, err, command=COMMAND):
    """The on_retry callback: one line on standard error per retry (none with -q), printed
    above the progress rows."""
    def say(exc, attempt, delay):
        if not values.get("quiet"):
            display.say(err, f"{command}: {exc}; retry {attempt} of {values['retry']} in {delay:g} s\n")

    return say


def check_limits(values, command=COMMAND):
    """--speed-time alone is a mistake (it says how long --speed-limit may go unmet)."""
    if values.get("speed-time") and not values.get("speed-limit"):
        raise UsageError(f"{command}: --speed-time says how long --speed-limit may go unmet; give --speed-limit "
                         f"RATE too")


def build_options(values, url=None, command=COMMAND, **fields):
    """The Options of the transfer options in ``values`` (and ``fields``, Options' own
    names); with ``url``, its credentials resolved now (~/.netrc read once, a prompt asked)."""
    from netkit.core.timeout import Timeout
    from netkit.transfer._common import Options

    if values.get("insecure") and values.get("cacert"):
        raise UsageError(f"{command}: --insecure and --cacert exclude each other; give one")
    wait = values["timeout"]  # --timeout: each connect and each wait for data, as curl's
    fields.update(
        timeout=Timeout(values.get("max-time"), connect=wait, read=wait), retries=values["retry"],
        retry_delay=values["retry-delay"], resume=bool(values.get("continue")), limit_rate=values.get("limit-rate"),
        insecure=bool(values.get("insecure")), cacert=values.get("cacert"),
        identity=values.get("identity"), known_hosts=values.get("known-hosts"),
        speed_limit=values.get("speed-limit"), speed_time=values.get("speed-time"),
        max_filesize=values.get("max-filesize"),
    )
    if url is not None:
        fields["user"], fields["password"] = credentials(values, url, command)
        fields["netrc"] = False  # ~/.netrc was read just now
    return Options(**fields)


# --- get -------------------------------------------------------------------------------

def parse(argv):
    values, positional = parse_values(argv, FLAGS, COMMAND)
    if values.get("help"):
        return {"help": True}
    stdout = False
    urls = []
    for arg in positional:
        if arg == "-":
            stdout = True
        else:
            urls.append(arg)
    if not urls:
        raise UsageError(f"{COMMAND}: give a URL, as in netkit get https://example.com/file -o file")
    check_urls(urls, COMMAND)
    from netkit.transfer._api import transfer_target, remote_name

    targets = [transfer_target(u) for u in urls]
    outputs = list(values.get("output") or [])
    if stdout:
        outputs = ["-"] + outputs
    if len(outputs) > len(targets):
        raise UsageError(f"{COMMAND}: {len(outputs)} outputs (-o/-) for {len(targets)} URL(s); give one per URL")
    if outputs.count("-") > 1 or ("-" in outputs and len(targets) > 1):
        raise UsageError(f"{COMMAND}: standard output ('-') takes one URL only; use -o FILE for the others")
    checksums = list(values.get("checksum") or [])
    if values.get("json") and stdout:
        raise UsageError(f"{COMMAND}: --json prints to standard output; write the data with -o FILE")
    if len(checksums) > len(targets):
        raise UsageError(f"{COMMAND}: {len(checksums)} --checksum for {len(targets)} URL(s); give one per URL")
    # A configured user agent (proxy, ...) is for http:// URLs, not a mistake with others.
    from netkit.cli.defaults import filled

    http_only = [n for n in ("head", "header", "data", "get", "request", "user-agent", "proxy", "noproxy",
                             "compressed", "verbose") if values.get(n) and n not in filled]
    for name in http_only:
        bad = [t for t in targets if t.scheme not in ("http", "https")]
        if bad:
            raise UsageError(f"{COMMAND}: --{name} is for http:// and https:// URLs, not {bad[0].scheme}://")
    check_limits(values)
    if values.get("get") and not values.get("data"):
        raise UsageError(f"{COMMAND}: -G/--get puts --data in the query; give --data KEY=VALUE too")
    check_ssh_flags(values, [t.scheme for t in targets])
    if values.get("head") and values.get("continue"):
        raise UsageError(f"{COMMAND}: -I/--head prints headers only; -c has nothing to resume")
    directory = values.get("output-dir")
    jobs = []
    for i, target in enumerate(targets):
        if i < len(outputs):
            dest = outputs[i]
        else:
            dest = remote_name(target) if not values.get("head") else None
        if directory and dest not in (None, "-") and not os.path.isabs(dest):
            dest = os.path.join(directory, dest)
        jobs.append((target, dest, checksums[i] if i < len(checksums) else None))
    return {"values": values, "jobs": jobs}


def _http_request(values, target):
    """Headers, --data, -G and -X of one http(s) URL: (the URL, its Options fields)."""
    headers = list(values.get("header") or [])
    fields = {"headers": headers, "user_agent": values.get("user-agent"), "max_redirects": values["max-redirects"],
              "follow": values["max-redirects"] > 0, "proxy": values.get("proxy"),
              "no_proxy": bool(values.get("noproxy")), "compressed": bool(values.get("compressed"))}
    method = values.get("request")
    if method is not None:
        method = method.upper()
        from netkit.proto.http1 import check_header

        try:
            check_header(method, "")
        except ValueError:
            raise UsageError(f"{COMMAND}: -X {values['request']!r} is not an HTTP method") from None
    data = values.get("data")
    if data:
        from urllib.parse import urlencode

        encoded = urlencode(data)
        if values.get("get"):
            from netkit.core.target import Target

            path = target.path or "/"
            path += ("&" if "?" in path else "?") + encoded
            target = Target(target.scheme, target.host, target.port, path, target.user, target.password)
        else:
            fields["data"] = encoded.encode("ascii")
            if not any(n.lower() == "content-type" for n, _ in headers):
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            method = method or "POST"
    fields["method"] = method
    return target, fields


def _tracer(err):
    import threading

    lock = threading.Lock()  # several URLs at once: one line at a time

    def trace(line):
        with lock:
            err.write(line + "\n")
            err.flush()

    return trace


def work(request, out, err) -> int:
    values = request["values"]
    jobs = request["jobs"]
    if values.get("output-dir"):
        try:
            os.makedirs(values["output-dir"], exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{COMMAND}: --output-dir {values['output-dir']}: {exc.strerror}") from None
    prepared = []
    for target, dest, checksum in jobs:
        options = build_options(values, target, checksum=checksum)
        if target.scheme in ("http", "https"):
            target, fields = _http_request(values, target)
            if values.get("verbose"):
                fields["trace"] = _tracer(err)
            options = options.replace(**fields)
        prepared.append((target, dest, options))
    if values.get("head"):
        return _heads(prepared, out, err)
    from netkit.cli.progress import open_display
    from netkit.cli.shell import is_terminal
    from netkit.transfer._api import download, download_many

    # Data on standard output that is the terminal: no rows drawn among its bytes.
    on = not values.get("quiet") and not (jobs[0][1] == "-" and is_terminal(out))
    with open_display(err, on) as display:
        on_retry = retry_notice(values, display, err)
        if len(prepared) == 1:
            target, dest, options = prepared[0]
            if dest == "-":
                out.flush()
            try:
                results: list[Result | Exception] = [download(target, dest, options, display.task(_name(dest)),
                                                                on_retry)]
            except NetkitError as exc:
                if isinstance(exc, UsageError):
                    raise
                results = [exc]
        else:
            tasks = [display.task(_name(dest)) for _, dest, _ in prepared]
            results = download_many(prepared, lambda i: tasks[i], values["parallel"], lambda i: on_retry)
    failures = 0
    for (target, dest, _opts), result in zip(prepared, results):
        if isinstance(result, BaseException):
            failures += 1
            if isinstance(result, NetkitError):
                err.write(f"{COMMAND}: {_describe(result, target)}\n")
            else:
                err.write(f"{COMMAND}: {target.text}: internal error: {type(result).__name__}: {result}\n")
        if values.get("json"):
            from netkit.cli.shell import dump_json

            out.write(dump_json(_record(target, dest, result)))
    return 1 if failures else 0


def _name(dest) -> str:
    return "stdout" if dest == "-" else os.path.basename(dest)


def _record(target, dest, result) -> dict:
    """One URL's outcome as --json prints it."""
    record = {"url": target.text, "file": dest}
    if isinstance(result, BaseException):
        record.update(ok=False, error=str(result), error_kind=type(result).__name__)
        return record
    record.update(ok=True, bytes=result.size, received=result.received, seconds=round(result.seconds, 6),
                  attempts=result.attempts, resumed_from=result.resumed_from, restarted=result.restarted)
    if result.status is not None:
        record["status"] = result.status
    return record


def _describe(exc, target) -> str:
    text = str(exc)
    url = target.text
    return text if url in text else f"{url}: {text}"


def _heads(prepared, out, err) -> int:
    from netkit.transfer._api import head
    from netkit.transfer._http import header_text

    code = 0
    for target, _dest, options in prepared:
        try:
            status, reason, version, headers = head(target, options)
        except NetkitError as exc:
            err.write(f"{COMMAND}: {_describe(exc, target)}\n")
            code = 1
            continue
        out.write(header_text(version, status, reason, headers))
        if status >= 400:
            code = 1
    return code


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, work, out, err)
