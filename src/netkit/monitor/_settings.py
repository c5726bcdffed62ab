"""The ``[monitor]`` table of a monitor config: where the store is, where the web side
listens, this monitor's location, how many checks at once, how long history is kept; and the
``[web]`` table: the dashboard's logins and its public status page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from netkit.core.errors import UsageError
from netkit.monitor._fields import bad, check_name, duration, flag, parse_listen, shown, whole

__all__ = ["Settings", "Web", "default_settings", "settings_from_table", "web_from_table", "DEFAULT_LISTEN",
           "DEFAULT_LOCATION"]

# Checks at once: each holds a socket; past this the open-files limit is the bound anyway.
MAX_IN_FLIGHT = 65536
# The web side's default address: blackbox_exporter's port, so a Prometheus that scraped it
# switches by changing the host; loopback, as every netkit server.
DEFAULT_LISTEN = "127.0.0.1:9115"
DEFAULT_LOCATION = "default"
# Raw results for two weeks (enough to look at last week's incident in detail); rollups
# for over a year (this month against the same month last year).
DEFAULT_KEEP_RAW = 14 * 86400.0
DEFAULT_KEEP_ROLLUPS = 400 * 86400.0
# Retention bounds: less than an hour of history makes the uptime rollups meaningless;
# more than ten years is a typo.
MIN_KEEP, MAX_KEEP = 3600.0, 3660 * 86400.0
DEFAULT_API_TOKEN_ENV = "NETKIT_API_TOKEN"
STORE_FILE = "monitor.db"
_SETTING_KEYS = ("state-dir", "store", "store-password-env", "listen", "location", "max-in-flight", "keep-raw",
                 "keep-rollups", "api-token-env")


# The [web] table's keys.
_WEB_KEYS = ("status-groups", "password-hash", "users", "trusted-proxy-header", "trusted-proxies",
             "session-lifetime", "protect-metrics")
# Dashboard users in one config (a team, not a user database).
MAX_USERS = 1000
# Sessions last at least a minute (less logs people out mid-click) and at most 30 days.
MIN_SESSION, MAX_SESSION = 60.0, 30 * 86400.0
DEFAULT_SESSION_LIFETIME = 12 * 3600.0


@dataclass(frozen=True)
class Web:
    """The ``[web]`` table: the dashboard's settings.

    ``status_groups``: the groups the public read-only status page (``/status``) shows (none:
    no status page). ``users``: (name, scrypt hash line) pairs (``password-hash`` alone is the
    user "admin"). ``proxy_header`` and ``trusted_proxies`` (ip_network objects): a reverse
    proxy's login, believed only from those addresses. ``session_lifetime`` in seconds.
    ``protect_metrics``: /metrics and /probe ask for the API token too. See ``_auth``."""

    status_groups: tuple = ()
    users: tuple = field(default=(), repr=False)
    proxy_header: str | None = None
    trusted_proxies: tuple = ()
    session_lifetime: float = DEFAULT_SESSION_LIFETIME
    protect_metrics: bool = False

    @property
    def login(self) -> bool:
        """Whether the dashboard asks who you are."""
        return bool(self.users or self.proxy_header)


@dataclass(frozen=True)
class Settings:
    """The ``[monitor]`` table, defaults filled in. ``store`` is the URL ``open_store``
    takes, the password from ``store-password-env`` in it (so never printed: mask it);
    ``listen`` is ``"host:port"`` or "" (no web side); durations are seconds."""

    state_dir: str
    store: str = field(repr=False)
    listen: str = DEFAULT_LISTEN
    location: str = DEFAULT_LOCATION
    max_in_flight: int = 500
    keep_raw: float = DEFAULT_KEEP_RAW
    keep_rollups: float = DEFAULT_KEEP_ROLLUPS
    api_token: str | None = field(default=None, repr=False)

    @property
    def store_masked(self) -> str:
        from netkit.core.secrets import mask_url

        return mask_url(self.store)


def _reader(where: str, table, keys, example: str):
    """Check that ``table`` is a table of ``keys`` only; return ``get(key, parse, example,
    default)``, which reads one, UsageError naming the key and an example on a bad value."""
    from netkit.core.text import suggest

    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of settings{example}")
    for key in table:
        if key not in keys:
            raise UsageError(f"{where}: unknown setting {shown(key)}{suggest(str(key), keys, quoted=True)}; "
                             f"settings are {', '.join(keys)}")

    def get(key, parse, example, default=None, *, mask=None):
        """``mask(value)``: what the error shows of a value that may hold a secret."""
        if key not in table:
            return default
        try:
            return parse(table[key])
        except ValueError as exc:
            raise bad(where, key, exc, table[key] if mask is None else mask(table[key]), example) from None

    return get


def settings_from_table(path, table, env, base) -> Settings:
    """The Settings of ``table`` (the [monitor] table of the config at ``path``; relative paths
    are relative to ``base``); UsageError naming the key on a mistake."""
    where = f"{path}: [monitor]"
    get = _reader(where, table, _SETTING_KEYS, "")
    state_dir = get("state-dir", _path, '"/var/lib/netkit"')
    if state_dir is None:
        state_dir = _default_state_dir(env)
    state_dir = os.path.normpath(os.path.join(base, state_dir))
    store = get("store", _store, '"sqlite:///var/lib/netkit/monitor.db"', mask=_masked_url)
    password_var = get("store-password-env", _env_name, '"NETKIT_DB_PASSWORD"')
    if store is None:
        store = "sqlite://" + os.path.join(state_dir, STORE_FILE)
    elif not store.startswith(("postgresql://", "postgres://")):
        file = store[len("sqlite://"):] if store.startswith("sqlite://") else store
        store = "sqlite://" + os.path.join(base, os.path.expanduser(file))
    if password_var is not None:
        if not store.startswith(("postgresql://", "postgres://")):
            raise UsageError(f"{where}: store-password-env applies to a postgresql:// store only")
        from netkit.core.credentials import env_secret

        store = _with_password(store, env_secret(password_var, f"{where}: store-password-env", env))
    token_var = get("api-token-env", _env_name, '"NETKIT_API_TOKEN"')
    if token_var is not None:
        from netkit.core.credentials import env_secret

        env_secret(token_var, f"{where}: api-token-env", env,
                   hint=" (or leave api-token-env out: the API is read-only then)")
    token = env.get(token_var or DEFAULT_API_TOKEN_ENV) or None
    return Settings(
        state_dir=state_dir, store=store,
        listen=get("listen", parse_listen, '"127.0.0.1:9115"', DEFAULT_LISTEN),
        location=get("location", check_name, '"fra"', DEFAULT_LOCATION),
        max_in_flight=get("max-in-flight", whole(1, MAX_IN_FLIGHT), "500", 500),
        keep_raw=get("keep-raw", duration(MIN_KEEP, MAX_KEEP), '"14d"', DEFAULT_KEEP_RAW),
        keep_rollups=get("keep-rollups", duration(MIN_KEEP, MAX_KEEP), '"400d"', DEFAULT_KEEP_ROLLUPS),
        api_token=token)


def default_settings(env=None) -> Settings:
    """The settings of a config without a [monitor] table (``netkit monitor status`` with
    no config names the default store this way)."""
    env = os.environ if env is None else env
    return settings_from_table("[monitor]", {}, env, os.getcwd())


def _default_state_dir(env) -> str:
    """systemd's StateDirectory= (the first of them), else the XDG state home."""
    given = env.get("STATE_DIRECTORY", "").split(":")[0]
    if given:
        return given
    home = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(home, "netkit")


def _path(value) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ValueError("expects a path")
    return os.path.expanduser(value)


def _env_name(value) -> str:
    if not isinstance(value, str) or not value or not value.isascii() or not value.replace("_", "a").isalnum():
        raise ValueError("expects the name of an environment variable")
    return value


def _store(value) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ValueError("expects a SQLite file (a path or sqlite:///path) or a postgresql:// URL")
    value = value.strip()
    if value.startswith(("postgresql://", "postgres://")):
        authority = value.split("://", 1)[1].split("/", 1)[0]
        if ":" in authority.rpartition("@")[0]:
            raise ValueError("holds a password; keep it out of the file: store-password-env = \"VAR\" names the "
                             "environment variable holding it")
    elif "://" in value and not value.startswith("sqlite://"):
        raise ValueError("expects a SQLite file (a path or sqlite:///path) or a postgresql:// URL")
    return value


def _masked_url(value):
    from netkit.core.secrets import mask_url

    return mask_url(value) if isinstance(value, str) else value


class _Hidden:
    def __repr__(self) -> str:
        return "a value not shown"


def _hidden(value) -> _Hidden:
    return _Hidden()


def _with_password(url: str, password: str) -> str:
    from urllib.parse import quote

    scheme, _, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    user, at, host = authority.rpartition("@")
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}{slash}{tail}"


def web_from_table(path, table, groups) -> Web:
    """The Web settings of ``table`` (the [web] table of the config at ``path``; ``groups``
    the config's group names); UsageError naming the key on a mistake."""
    from netkit.monitor._fields import names

    where = f"{path}: [web]"
    get = _reader(where, table, _WEB_KEYS, ', e.g. [web] status-groups = ["web"]')
    status_groups = get("status-groups", names("group", 1000), '["web"]', ())
    for name in status_groups:
        if name not in groups:
            from netkit.core.text import suggest
            from netkit.monitor._config import for_name

            raise UsageError(f"{where}: status-groups names {shown(name)}, which is not defined"
                             f"{suggest(name, list(groups), quoted=True)}; add a [group.{for_name(name)}] table")
    # A bad hash may be the password itself, pasted in: never shown.
    users = list(get("users", _users, '[{ name = "alice", password-hash = "scrypt$..." }]', (), mask=_hidden))
    single = get("password-hash", _hash, '"scrypt$..." (the line `netkit monitor passwd` prints)', mask=_hidden)
    if single is not None:
        if any(name == "admin" for name, _ in users):
            raise UsageError(f"{where}: password-hash is the user admin's, and users names admin too; keep one")
        users.insert(0, ("admin", single))
    header = get("trusted-proxy-header", _header_name, '"X-Forwarded-User"')
    proxies = get("trusted-proxies", _networks, '["127.0.0.1/32"]', ())
    if (header is None) != (not proxies):
        raise UsageError(f"{where}: trusted-proxy-header and trusted-proxies go together: the header is believed "
                         f"only from the proxies' addresses, e.g. trusted-proxy-header = \"X-Forwarded-User\" "
                         f"trusted-proxies = [\"127.0.0.1/32\"]")
    return Web(status_groups=status_groups, users=tuple(users), proxy_header=header, trusted_proxies=proxies,
               session_lifetime=get("session-lifetime", duration(MIN_SESSION, MAX_SESSION), '"12h"',
                                    DEFAULT_SESSION_LIFETIME),
               protect_metrics=get("protect-metrics", flag, "true", False))


def _hash(value) -> str:
    from netkit.monitor._passwords import parse_hash

    parse_hash(value)
    return value.strip()


def _users(value) -> tuple:
    expects = 'expects a list of { name = "alice", password-hash = "scrypt$..." } tables'
    if not isinstance(value, list) or len(value) > MAX_USERS:
        raise ValueError(f"{expects}, at most {MAX_USERS}")
    out, seen = [], set()
    for entry in value:
        if not isinstance(entry, dict) or set(entry) != {"name", "password-hash"}:
            raise ValueError(expects)
        name = check_name(entry["name"], "a user name")
        if name in seen:
            raise ValueError(f"names the user {name!r} twice")
        seen.add(name)
        out.append((name, _hash(entry["password-hash"])))
    return tuple(out)


def _header_name(value) -> str:
    token = "!#$%&'*+-.^_`|~"
    if not isinstance(value, str) or not value or len(value) > 100 or \
            not all(c.isascii() and (c.isalnum() or c in token) for c in value):
        raise ValueError("expects an HTTP header name")
    return value


def _networks(value) -> tuple:
    import ipaddress

    if not isinstance(value, list) or not value or len(value) > 100:
        raise ValueError("expects a list of addresses or networks (CIDR)")
    out = []
    for text in value:
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except (TypeError, ValueError):
            raise ValueError(f"expects addresses or networks such as 127.0.0.1/32 or 10.0.0.0/8; "
                             f"{shown(text)} is not one") from None
    return tuple(out)
