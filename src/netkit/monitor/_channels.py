"""Alert channels as the config declares them: one ``[[alert]]`` table -> a frozen :class:`Channel`.

Five types, each a way out for an alert::

    [[alert]]                       # JSON POSTed to a URL (the Alert's payload)
    name = "ops-hook"
    type = "webhook"
    url = "https://hooks.example.net/netkit"
    headers = { "X-Team" = "ops" }
    headers-env = { "Authorization" = "OPS_HOOK_AUTH" }   # secret values come from the environment

    [[alert]]                       # Slack / Mattermost incoming webhook: {"text": "..."}
    type = "slack"
    url-env = "SLACK_WEBHOOK_URL"   # the URL is itself the secret

    [[alert]]
    type = "email"
    url = "smtp://monitor@mail.example.net:587"     # or smtps:// (implicit TLS)
    starttls = "required"           # "optional" | "never"; default required (unless smtps)
    password-env = "SMTP_PASSWORD"
    from = "monitor@example.net"
    to = ["ops@example.net"]

    [[alert]]
    type = "command"
    argv = ["/usr/local/bin/page-oncall", "--team", "ops"]   # no shell; the alert as JSON on stdin

    [[alert]]
    type = "alertmanager"
    url = "http://alertmanager.example.net:9093"             # POST /api/v2/alerts
    labels = { team = "ops" }

Common keys: ``send-on-resolved`` (default true), ``resend`` (reminder interval while a problem
stays open: seconds or "30m"/"4h"; 0 = never), ``groups`` and ``targets`` (which targets the
channel covers; both empty = all), ``timeout`` (seconds per delivery attempt), ``cafile`` (a CA
to trust for https/smtps/STARTTLS besides the system's).

Secrets are never in the file: any ``<key>-env`` names an environment variable holding the
value (``url-env``, ``password-env``, ``headers-env``), read when the config is loaded, so a
missing variable is a config error at start and not a failed alert at 3 a.m. A ``Channel``'s
``repr`` leaves them out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from netkit.core.errors import UsageError
from netkit.monitor._fields import unit_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, NoReturn

__all__ = ["Channel", "TYPES", "DEFAULT_TIMEOUT", "channel_from_table"]

TYPES = ("webhook", "slack", "email", "command", "alertmanager")
STARTTLS_MODES = ("required", "optional", "never")
# One delivery attempt's limit: a receiver slower than this is treated as down and retried
# later, so a hung receiver costs the dispatcher at most this per attempt.
DEFAULT_TIMEOUT = 10.0
# Alertmanager forgets a firing alert that is not re-sent (its resolve_timeout, 5 min by
# default, or the alert's endsAt): an alertmanager channel refreshes open problems this often
# unless ``resend`` says otherwise.
ALERTMANAGER_RESEND = 3600.0
# Lists in a channel's config (recipients, argv, groups, targets, headers, labels): far past
# any real one, and a bound on what each alert multiplies.
MAX_LIST = 100
# A config string (URL, header value, address, argument): far past any real one.
MAX_TEXT = 4096
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}

_COMMON = ("name", "type", "send-on-resolved", "resend", "groups", "targets", "timeout")
_KEYS = {
    "webhook": (*_COMMON, "url", "url-env", "headers", "headers-env", "cafile"),
    "slack": (*_COMMON, "url", "url-env", "headers", "headers-env", "cafile"),
    "email": (*_COMMON, "url", "starttls", "password-env", "from", "to", "cafile"),
    "command": (*_COMMON, "argv"),
    "alertmanager": (*_COMMON, "url", "url-env", "headers", "headers-env", "labels", "cafile"),
}


@dataclass(frozen=True, slots=True)
class Channel:
    """One configured way out for alerts (see the module docstring for the keys).

    ``url`` is the full address to use (for email the SMTP server's, without password);
    ``headers`` and ``password`` hold secrets read from the environment and are kept out of
    ``repr``. ``host``/``port``/``user``/``tls`` describe an email channel's server (``tls``:
    "smtps" for implicit TLS, else the STARTTLS mode).
    """

    name: str
    type: str
    send_on_resolved: bool = True
    resend: float = 0.0
    groups: tuple = ()
    targets: tuple = ()
    timeout: float = DEFAULT_TIMEOUT
    url: str = field(default="", repr=False)
    headers: tuple = field(default=(), repr=False)      # (name, value) pairs
    cafile: str = ""
    # email
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = field(default="", repr=False)
    tls: str = ""                                       # "smtps", or a STARTTLS mode
    sender: str = ""
    to: tuple = ()
    # command
    argv: tuple = ()
    # alertmanager
    labels: tuple = ()                                  # sorted (name, value) pairs

    def covers(self, target_id: str, group: str) -> bool:
        """Whether this channel's alerts include the target (no groups nor targets: all)."""
        if not self.groups and not self.targets:
            return True
        return target_id in self.targets or (bool(group) and group in self.groups)


def channel_from_table(name: str, table: dict, where: str, env: Mapping[str, str] | None = None) -> Channel:
    """Validate one ``[[alert]]`` table into a :class:`Channel`; UsageError ``"{where}: ..."``
    in the config's words on any mistake. ``env`` (default ``os.environ``) supplies the
    ``*-env`` secrets."""
    from netkit.core.text import suggest

    env = os.environ if env is None else env
    if not isinstance(table, dict):
        raise UsageError(f"{where}: an [[alert]] must be a table of keys (type, url, ...)")

    def fail(message: str) -> NoReturn:
        raise UsageError(f"{where}: {message}")

    kind = table.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        hint = suggest(kind, TYPES, quoted=True) if isinstance(kind, str) else ""
        fail(f"type {kind!r} is not a channel type{hint}; expects one of {', '.join(TYPES)}"
             if kind is not None else f"needs a type: one of {', '.join(TYPES)}")
    allowed = _KEYS[kind]
    for key in table:
        if key not in allowed:
            spelled = key.replace("_", "-") if isinstance(key, str) else key
            hint = (f"; did you mean {spelled!r}?" if spelled in allowed
                    else suggest(str(key), allowed, quoted=True))
            fail(f"unknown key {key!r} for a {kind} channel{hint}; its keys are {', '.join(allowed)}")
    r = _Reader(table, env, fail)
    common: dict[str, Any] = dict(
        name=name, type=kind,
        send_on_resolved=r.boolean("send-on-resolved", True),
        resend=r.seconds("resend", ALERTMANAGER_RESEND if kind == "alertmanager" else 0.0, allow_zero=True),
        groups=r.strings("groups"), targets=r.strings("targets"),
        timeout=r.seconds("timeout", DEFAULT_TIMEOUT, allow_zero=False),
    )
    if kind == "command":
        argv = r.strings("argv")
        if not argv:
            fail('a command channel needs argv, a list such as ["/usr/local/bin/page", "--team", "ops"]')
        if not os.path.isabs(argv[0]) and "/" in argv[0]:
            fail(f"argv[0] {argv[0]!r} must be an absolute path or a command name on PATH")
        return Channel(**common, argv=argv)
    cafile = r.text("cafile", "")
    if cafile and not os.path.isfile(cafile):
        fail(f"cafile {cafile!r} is not a readable file of CA certificates (PEM)")
    if kind == "email":
        return Channel(**common, cafile=cafile, **_email(r, fail))
    url = r.secret_or_plain("url")
    if not url:
        fail(f"a {kind} channel needs url = \"https://...\" (or url-env naming a variable that holds it)")
    target = _target(url, {"http": 80, "https": 443}, fail, "url must be an http:// or https:// address",
                     secret="url" not in table)
    if target.password is not None and "url" in table:
        fail("url holds a password: give the whole url in url-env (the name of an environment variable)")
    if kind == "alertmanager":
        if "?" in target.path or "#" in url:
            fail("url is Alertmanager's base address (http://host:9093); the API path is added")
        url = url.rstrip("/")
    return Channel(**common, url=url, headers=r.headers(), cafile=cafile,
                   labels=r.labels() if kind == "alertmanager" else ())


def _target(url: str, ports: dict, fail, form: str, *, secret: bool = False):
    """``url`` read by :func:`netkit.core.target.parse_target`, the parser of every URL
    netkit connects to; ``fail("{form}: {why}")`` when it does not fit (its password masked).
    A ``secret`` url (from url-env: a Slack webhook's path is its key) is never quoted."""
    from netkit.core.target import parse_target

    try:
        return parse_target(url, ports)
    except ValueError as exc:
        fail(f"{form}: the url from url-env does not parse (not shown: it is a secret)" if secret
             else f"{form}: {exc}")


def _email(r: _Reader, fail) -> dict:
    url = r.text("url", "")
    target = _target(url, _DEFAULT_PORTS, fail,
                     'an email channel needs url = "smtp://user@host:587" or "smtps://user@host:465"')
    if target.password is not None:
        fail("url must not hold the password: give it in password-env (the name of an environment variable)")
    if target.path not in ("", "/") or "#" in url:
        fail(f"url is the SMTP server's address only (smtp://user@host:port), got {url!r}")
    scheme, port = target.scheme, target.port
    mode = r.text("starttls", "never" if scheme == "smtps" else "required")
    if mode not in STARTTLS_MODES:
        fail(f"starttls {mode!r}: expects one of {', '.join(STARTTLS_MODES)}")
    if scheme == "smtps" and "starttls" in r.table and mode != "never":
        fail('smtps:// is TLS from the first byte; starttls applies to smtp:// only (remove it)')
    user = target.user or ""
    password = r.secret("password-env")
    if password and not user:
        fail("password-env is set but the url names no user: smtp://user@host:587")
    if user and not password:
        fail(f"url names the user {user!r}: give the password in password-env (an environment variable's name)")
    if user and scheme == "smtp" and mode != "required":
        fail(f'AUTH sends the password: with starttls = "{mode}" it could go in clear text; '
             'use starttls = "required" or smtps://')
    sender = _address(r.text("from", ""), "from", fail)
    to = r.strings("to")
    if not to:
        fail('an email channel needs to = ["ops@example.net", ...]')
    return dict(url=f"{scheme}://{target.netloc}", host=target.host, port=port, user=user,
                password=password, tls="smtps" if scheme == "smtps" else mode, sender=sender,
                to=tuple(_address(a, "to", fail) for a in to))


def _address(value: str, key: str, fail) -> str:
    if not value:
        fail(f"an email channel needs {key} = \"someone@example.net\"")
    if value.count("@") != 1 or any(c.isspace() or c in "<>,;\"()" for c in value) or \
            not all(value.split("@")):
        fail(f"{key} {value!r} is not a mail address (expects name@domain)")
    return value


class _Reader:
    """Typed reads of one table's keys; every mistake goes through ``fail``."""

    def __init__(self, table: dict, env, fail: Callable[[str], NoReturn]):
        self.table, self.env, self.fail = table, env, fail

    def _check_text(self, key: str, value) -> str:
        from netkit.core.text import check_line_field

        if not isinstance(value, str):
            self.fail(f"{key} must be a string, got {value!r}")
        if len(value) > MAX_TEXT:
            self.fail(f"{key} is longer than {MAX_TEXT} characters")
        try:
            return check_line_field(value, key)
        except ValueError as exc:
            self.fail(str(exc))

    def text(self, key: str, default: str) -> str:
        return self._check_text(key, self.table[key]) if key in self.table else default

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false, got {value!r}")
        return value

    def seconds(self, key: str, default: float, allow_zero: bool) -> float:
        from netkit.core.text import parse_seconds

        if key not in self.table:
            return default
        value = self.table[key]
        seconds = unit_seconds(value) if isinstance(value, str) else None
        if seconds is not None:     # "4h"; other text is parse_seconds' to judge
            value = seconds
        try:
            return parse_seconds(value, allow_zero=allow_zero)
        except ValueError as exc:
            example = '"4h"' if allow_zero else "10"
            self.fail(f"{key} {exc}, or a number with s, m, h or d (got {self.table[key]!r}); e.g. {key} = {example}")

    def strings(self, key: str) -> tuple:
        value = self.table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or len(value) > MAX_LIST:
            self.fail(f"{key} must be a list of at most {MAX_LIST} strings, got {value!r}")
        items = tuple(self._check_text(f"{key}[{i}]", v) for i, v in enumerate(value))
        if any(not v for v in items):
            self.fail(f"{key} holds an empty string")
        return items

    def _table_of_text(self, key: str) -> dict:
        value = self.table.get(key, {})
        if not isinstance(value, dict) or len(value) > MAX_LIST:
            self.fail(f"{key} must be a table of at most {MAX_LIST} names and strings, "
                      f"e.g. {key} = {{ name = \"value\" }}")
        return {k: self._check_text(f"{key}.{k}", v) for k, v in value.items()}

    def secret(self, key: str) -> str:
        """The value of the environment variable named by ``key`` ("" when the key is absent)."""
        if key not in self.table:
            return ""
        return self._from_env(key, self.text(key, ""))

    def _from_env(self, key: str, variable: str) -> str:
        if not variable:
            self.fail(f"{key} must name an environment variable")
        value = self.env.get(variable)
        if not value:
            self.fail(f"{key}: the environment variable {variable} is not set (or empty)")
        try:
            from netkit.core.text import check_line_field

            return check_line_field(value, f"the environment variable {variable}")
        except ValueError as exc:
            self.fail(str(exc))

    def secret_or_plain(self, key: str) -> str:
        if key in self.table and f"{key}-env" in self.table:
            self.fail(f"give {key} or {key}-env, not both")
        return self.secret(f"{key}-env") or self.text(key, "")

    def headers(self) -> tuple:
        from netkit.core.secrets import is_secret_header

        plain = self._table_of_text("headers")
        secret = {name: self._from_env(f"headers-env.{name}", var)
                  for name, var in self._table_of_text("headers-env").items()}
        for name in (*plain, *secret):
            if not _HEADER_NAME.match(name):
                self.fail(f"{name!r} is not an HTTP header name")
        for name in plain:
            if is_secret_header(name):
                self.fail(f"header {name!r} carries a secret: put the name of an environment variable "
                          f"holding it in headers-env = {{ {name!r} = \"VARIABLE\" }}")
        both = {n.lower() for n in plain} & {n.lower() for n in secret}
        if both:
            self.fail(f"header {sorted(both)[0]!r} is in both headers and headers-env")
        return tuple(sorted({**plain, **secret}.items()))

    def labels(self) -> tuple:
        labels = self._table_of_text("labels")
        for name in labels:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                self.fail(f"label name {name!r}: expects letters, digits and _ (not starting with a digit or __)")
        return tuple(sorted(labels.items()))
