"""http:// and https:// checks: status, body, redirects, size, timings, certificates."""

from netkit import __version__
from netkit.check.result import CheckResult, phase_metrics, time_metric, time_status
from netkit.core.perfdata import Metric
from netkit.core.status import CRITICAL, worst
from netkit.core.target import Target, percent_encode
from netkit.core.text import format_size, is_digits
from netkit.proto.http import Request, http_dialogue

__all__ = ["plan", "judge", "parse_statuses", "StatusSet", "urlencode", "DEFAULT_USER_AGENT"]

DEFAULT_USER_AGENT = f"netkit/{__version__}"
# Methods whose form data goes into the query string; the others carry it in the body.
_QUERY_METHODS = frozenset(("GET", "HEAD", "DELETE", "OPTIONS"))
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._*")


class StatusSet:
    """Expected status codes: exact codes and ranges like 2xx or 200-299."""

    __slots__ = ("ranges", "text")

    def __init__(self, ranges, text):
        self.ranges = tuple(ranges)
        self.text = text

    def __contains__(self, code: int) -> bool:
        return any(lo <= code <= hi for lo, hi in self.ranges)

    def __repr__(self):
        return f"StatusSet({self.text!r})"


DEFAULT_STATUSES = StatusSet(((200, 399),), "2xx,3xx")
_STATUS_FORMS = "a list of codes and ranges like 200,301 or 2xx or 200-204"


def parse_statuses(value) -> StatusSet:
    items = value if isinstance(value, list) else [value]
    ranges = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expects {_STATUS_FORMS}")
        for part in str(item).split(","):
            part = part.strip().lower()
            if len(part) == 3 and part[0] in "12345" and part[1:] == "xx":
                base = int(part[0]) * 100
                ranges.append((base, base + 99))
                continue
            lo, dash, hi = part.partition("-")
            if not is_digits(lo) or (dash and not is_digits(hi)):  # int() would take '1_00' and ' 200'
                raise ValueError(f"expects {_STATUS_FORMS}; {part!r} is not one")
            lo_n = int(lo)
            hi_n = int(hi) if dash else lo_n
            if not (100 <= lo_n <= 599 and 100 <= hi_n <= 599) or lo_n > hi_n:
                raise ValueError(f"expects status codes from 100 to 599; {part!r} is not one")
            ranges.append((lo_n, hi_n))
    if not ranges:
        raise ValueError(f"expects {_STATUS_FORMS}")
    text = ",".join(str(i) for i in items) if isinstance(value, list) else str(value)
    return StatusSet(ranges, text)


def urlencode(pairs) -> str:
    """application/x-www-form-urlencoded, repeated names kept, UTF-8 for the rest."""
    return "&".join(
        percent_encode(k, _FORM_SAFE).replace("%20", "+") + "=" + percent_encode(v, _FORM_SAFE).replace("%20", "+")
        for k, v in pairs
    )


def build_request(spec) -> Request:
    t = spec.target
    method = spec.get("method")
    headers = list(spec.get("header"))
    body = None
    url = Target(t.scheme, t.host, t.port, t.path or "/", t.user, t.password)
    data = spec.get("data")
    if data:
        form = urlencode(data)
        if method in _QUERY_METHODS:
            url.path += ("&" if "?" in url.path else "?") + form
        else:
            body = form.encode("ascii")
            if not any(n.lower() == "content-type" for n, _ in headers):
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    user = spec.get("user")
    if user is not None:
        url.user, url.password = user, spec.password
    elif url.user is not None and spec.password is not None:
        url.password = spec.password
    return Request(method, url, headers, body)


_ENV_PROXIES = None


def _environment_proxies() -> dict:
    """The ``*_proxy`` variables of the environment, read once per process."""
    global _ENV_PROXIES
    if _ENV_PROXIES is None:
        import os

        _ENV_PROXIES = {k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}
    return _ENV_PROXIES


def _direct(url):
    return None


def _proxy_for(spec):
    explicit = spec.get("proxy")
    if explicit is not None:
        return lambda url: explicit
    env = _environment_proxies()
    if spec.get("no-proxy") or not env:
        return _direct
    from netkit.core.errors import UsageError
    from netkit.core.proxies import parse_proxy, proxy_from_env

    for name, value in env.items():  # checked before the dialogue: the user's mistake, not the peer's
        if value and name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            try:
                parse_proxy(value)
            except ValueError as exc:
                raise UsageError(f"the proxy in the environment ({name}) {exc}") from None
    return lambda url: proxy_from_env(url.scheme, url.host, url.port, env)


def plan(spec):
    from netkit.check.tls import tls_params

    return http_dialogue(
        build_request(spec),
        family=spec.family,
        follow=spec.get("follow"),
        max_redirects=spec.get("max-redirects"),
        max_body=spec.get("max-body"),
        proxy_for=_proxy_for(spec),
        tls_for=lambda url: tls_params(spec, url.host),
        user_agent=spec.get("user-agent") or DEFAULT_USER_AGENT,
    )


def _body_checks(spec, body: bytes):
    """(ok, text) for --body strings and --body-regex, with --invert."""
    invert = spec.get("invert")
    problems = []
    for needle in spec.get("body"):
        found = needle in body
        if found == invert:
            shown = needle.decode("utf-8", "replace")
            problems.append(f"found {shown!r} in the body" if invert else f"{shown!r} not found in the body")
    regex = spec.get("body-regex")
    if regex is not None:
        found = regex.search(body) is not None
        if found == invert:
            shown = regex.pattern.decode("utf-8", "replace")
            problems.append(f"body matches /{shown}/" if invert else f"body does not match /{shown}/")
    return not problems, "; ".join(problems)


def secret_names(spec) -> frozenset:
    """The names of the -H headers whose values -v and --json mask (every one not on the
    redirect policy's allowlist: :func:`netkit.core.secrets.caller_secrets`)."""
    from netkit.core.secrets import caller_secrets

    return caller_secrets(spec.get("header"))


def judge(spec, exchange, now) -> CheckResult:
    t = spec.target
    elapsed = exchange.timings.total
    timings = exchange.timings.as_dict()
    if exchange.error is not None:
        return CheckResult(name=spec.name, label=spec.label, target=t.text, status=CRITICAL,
                           summary=f"{t.text} {exchange.error}", timings=timings, error=exchange.error,
                           details={"peer": exchange.peer or None})
    from netkit.core.secrets import mask_header
    from netkit.core.text import for_terminal

    outcome = exchange.outcome
    r = outcome.response
    secrets = secret_names(spec)  # a -H value the server echoes back is masked as ours
    statuses = [time_status(spec, elapsed)]
    details = {
        "peer": exchange.peer,
        "url": r.url.url(),
        "http_version": r.version,
        "status_code": r.status,
        "reason": r.reason,
        "headers": [[n, mask_header(n, v, secrets)] for n, v in r.headers],
        "size": r.size,
        "redirects": [{"status": s, "location": u} for s, u in outcome.redirects],
    }
    head = f"{r.version} {r.status} {for_terminal(r.reason)}".rstrip()
    summary = f"{t.text} {head} - {r.size} bytes in {elapsed:.3f} second response time"
    if outcome.redirects:
        n = len(outcome.redirects)
        summary += f" after {n} redirect{'s' if n > 1 else ''}"
    problems = []
    expected = spec.get("status") or DEFAULT_STATUSES
    if outcome.too_many_redirects:
        problems.append(f"more than {spec.get('max-redirects')} redirects (stopped at {r.status} to "
                        f"{r.header('Location')!r})")
    elif r.status not in expected:
        problems.append(f"status {r.status} is not the expected {expected.text}")
    elif 300 <= r.status < 400 and r.header("Location") is not None:
        summary += f" (redirect to {for_terminal(r.header('Location'))}, not followed)"
    if not r.complete:
        problems.append(f"body larger than {format_size(spec.get('max-body'))} (--max-body)")
    else:
        ok, why = _body_checks(spec, r.body)
        if not ok:
            problems.append(why)
    if problems:
        statuses.append(CRITICAL)
        summary = f"{t.text} {head} - " + "; ".join(problems)
    metrics = [time_metric(spec, elapsed), Metric("size", r.size, "B", None, None, 0)]
    if outcome.tls is not None:
        from netkit.check.tls import add_certificates

        summary += add_certificates(spec, outcome.tls, now, statuses, metrics, details)
    metrics.extend(phase_metrics(exchange.timings))
    return CheckResult(name=spec.name, label=spec.label, target=t.text, status=worst(statuses), summary=summary,
                       metrics=metrics, timings=timings, details=details)

