"""The ``[monitor]`` table of a monitor config: where the store is, where the web side
listens, this monitor's location, how many checks at once, how long history is kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from netkit.core.errors import UsageError
from netkit.monitor._fields import bad, check_name, duration, parse_listen, shown, whole

__all__ = ["Settings", "default_settings", "settings_from_table", "DEFAULT_LISTEN", "DEFAULT_LOCATION"]

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


def settings_from_table(path, table, env, base) -> Settings:
    """The Settings of ``table`` (the [monitor] table of the config at ``path``; relative paths
    are relative to ``base``); UsageError naming the key on a mistake."""
    where = f"{path}: [monitor]"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of settings")
    from netkit.cli.args import suggest

    for key in table:
        if key not in _SETTING_KEYS:
            raise UsageError(f"{where}: unknown setting {shown(key)}{suggest(str(key), _SETTING_KEYS, quoted=True)}; "
                             f"settings are {', '.join(_SETTING_KEYS)}")

    def get(key, parse, example, default=None):
        if key not in table:
            return default
        try:
            return parse(table[key])
        except ValueError as exc:
            raise bad(where, key, exc, table[key], example) from None

    state_dir = get("state-dir", _path, '"/var/lib/netkit"')
    if state_dir is None:
        state_dir = _default_state_dir(env)
    state_dir = os.path.normpath(os.path.join(base, state_dir))
    store = get("store", _store, '"sqlite:///var/lib/netkit/monitor.db"')
    password_var = get("store-password-env", _env_name, '"NETKIT_DB_PASSWORD"')
    if store is None:
        store = "sqlite://" + os.path.join(state_dir, STORE_FILE)
    elif not store.startswith(("postgresql://", "postgres://")):
        file = store[len("sqlite://"):] if store.startswith("sqlite://") else store
        store = "sqlite://" + os.path.join(base, os.path.expanduser(file))
    if password_var is not None:
        if not store.startswith(("postgresql://", "postgres://")):
            raise UsageError(f"{where}: store-password-env applies to a postgresql:// store only")
        if password_var not in env:
            raise UsageError(f"{where}: store-password-env {password_var}: the environment has no {password_var}; "
                             f"export {password_var}=... first")
        store = _with_password(store, env[password_var])
    token_var = get("api-token-env", _env_name, '"NETKIT_API_TOKEN"')
    if token_var is not None and token_var not in env:
        raise UsageError(f"{where}: api-token-env {token_var}: the environment has no {token_var}; "
                         f"export {token_var}=... first (or leave api-token-env out: the API is read-only then)")
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


def _with_password(url: str, password: str) -> str:
    from urllib.parse import quote

    scheme, _, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    user, at, host = authority.rpartition("@")
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}{slash}{tail}"
