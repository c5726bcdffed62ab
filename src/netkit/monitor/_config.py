"""The monitor's config: one TOML file -> a frozen :class:`Config`, or one UsageError line.

::

    [monitor]                       # settings, all optional
    state-dir = "/var/lib/netkit"   # default: $STATE_DIRECTORY (systemd), else ~/.local/state/netkit
    store = "postgresql://monitor@db/netkit"   # default: <state-dir>/monitor.db (SQLite)
    store-password-env = "NETKIT_DB_PASSWORD"  # a store's password comes from the environment
    listen = "127.0.0.1:9115"       # /metrics, /probe, /api; "" turns the web side off
    location = "fra"                # this monitor's location (several monitors, one PostgreSQL)
    max-in-flight = 500             # checks at once
    keep-raw = "14d"                # raw results; keep-rollups = "400d" for the rollups
    api-token-env = "NETKIT_API_TOKEN"

    [defaults]                      # for every target: check options and monitor keys
    interval = "60s"
    failure-threshold = 3

    [group.web]                     # for the targets of group "web" (over [defaults])
    interval = "30s"

    [[target]]                      # a check as `netkit check --file` takes a [[check]], plus:
    name = "shop"                   # its id (default: the url, password masked); unique
    url = "https://shop.example/"
    group = "web"
    labels = { env = "prod" }
    locations = ["fra", "nyc"]      # default: every location checks it
    quorum = 2                      # locations that must agree before it is a problem
    alerts = ["ops"]                # default: every [[alert]] channel; [] for none

    [[alert]]                       # a channel (see netkit.monitor._channels)
    name = "ops"
    type = "webhook"
    url = "https://hooks.example/..."

    [[maintenance]]                 # one window for some targets and groups
    groups = ["web"]
    days = ["sun"]
    at = "03:00"
    duration = "1h"
    timezone = "Europe/Berlin"

    [module.http_2xx]               # a /probe module, as blackbox_exporter has them
    prober = "http"
    status = "2xx"

    [web]                           # the dashboard (see _settings.Web and _auth)
    status-groups = ["web"]         # groups on the public status page, /status
    password-hash = "scrypt$..."    # user admin's (`netkit monitor passwd` prints it), or
    # users = [{ name = "alice", password-hash = "scrypt$..." }]
    # trusted-proxy-header = "X-Forwarded-User"   # a reverse proxy's login, believed only
    # trusted-proxies = ["127.0.0.1/32"]          # from these addresses
    session-lifetime = "12h"
    protect-metrics = false         # true: /metrics and /probe ask for the API token

Bound anywhere but loopback, the monitor refuses to start without a login in [web].

A target's keys win over its group's, which win over [defaults]. The check part of each
table goes through :func:`netkit.check.file.check_from_table`, so a target is validated,
and wrong, in the same words as a checks file's [[check]]; every message starts with the
file and the table (``monitor.toml: target 3 (web): ...``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property

from netkit.core.errors import UsageError
from netkit.monitor._fields import (
    MAX_NAME,
    bad,
    check_name,
    duration,
    flag,
    labels,
    names,
    parse_listen,
    percent,
    shown,
    whole,
)
from netkit.monitor._schedule import MAX_INTERVAL, MIN_INTERVAL
from netkit.monitor._settings import (
    DEFAULT_LISTEN,
    Settings,
    Web,
    default_settings,
    settings_from_table,
    web_from_table,
)
from netkit.monitor._state import MAX_THRESHOLD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from netkit.check.spec import CheckSpec
    from netkit.monitor._records import TargetInfo
    from netkit.monitor._state import Policy

__all__ = ["Config", "Module", "Settings", "TargetConfig", "Web", "default_settings", "load_config", "parse_config",
           "parse_listen", "DEFAULT_LISTEN", "MAX_CONFIG_FILE", "MAX_TARGETS"]

# 100,000 targets of ~300 bytes each are ~30 MiB of TOML; a file far past that is a mistake
# (a log, a disk image), and reading it whole would cost the memory the monitor needs.
MAX_CONFIG_FILE = 64 << 20
# Targets in one config: ten times the 10,000 one small box is built to run, so a generated
# config has room, while a generator gone wrong stops here instead of eating the memory.
MAX_TARGETS = 100_000
# Locations a target may name (a fleet has a handful; each is a row per target in the store).
MAX_LOCATIONS = 64
_TOP_KEYS = ("monitor", "defaults", "group", "target", "alert", "maintenance", "module", "web")



# -- the records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetConfig:
    """One ``[[target]]``, resolved: the check to run, what the store and web side know of
    it (``info``, no secrets), how its results become states, its run's deadline (at most
    its interval) and the names of the channels it alerts (every channel unless its
    ``alerts`` key says otherwise; empty: none)."""

    id: str
    spec: CheckSpec         # holds the password, if any
    info: TargetInfo
    policy: Policy
    timeout: float
    channels: tuple = ()

    @property
    def interval(self) -> float:
        return self.info.interval


@dataclass(frozen=True)
class Module:
    """A ``/probe`` module: a prober (a netkit check scheme; ``http`` covers https) and the
    check options every probe of it gets."""

    name: str
    prober: str
    opts: dict = field(default_factory=dict, hash=False)
    query_name: str | None = None   # dns: the name asked (blackbox's query_name)

    def spec(self, target: str, env=None):
        """The CheckSpec probing ``target`` (from ``/probe?target=``: a URL, or host[:port]
        for the prober's scheme); UsageError when it does not fit."""
        from netkit.check.options import BY_NAME
        from netkit.check.spec import make_spec, parse_check_target

        if not isinstance(target, str) or not target:
            raise UsageError("target is empty; e.g. target=https://example.com/ or target=host:port")
        url = target if "://" in target else f"{self.prober}://{target}"
        if self.prober == "dns" and "://" not in target:
            url = f"dns://{target}/{self.query_name}"
        spec_target = parse_check_target(url)
        if spec_target.user is not None and spec_target.password is None:
            # A login without its password would be completed from the monitor's ~/.netrc,
            # whose "default" entry holds a password for any host: never for a caller's host.
            raise UsageError("a /probe target brings its own password (scheme://user:password@host) or names "
                             "no user; the monitor's ~/.netrc is not lent to /probe")
        if spec_target.scheme not in _PROBER_SCHEMES[self.prober]:
            raise UsageError(f"module {self.name} probes {self.prober}, not {spec_target.scheme}:// targets")
        opts = {k: v for k, v in self.opts.items() if spec_target.scheme in (BY_NAME[k].schemes or ())}
        return make_spec(spec_target, opts, spell=lambda name: name, env=env, netrc=False)


@dataclass(frozen=True)
class Config:
    """A whole monitor config. ``maintenance`` maps a target id to its
    :class:`~netkit.monitor._windows.Maintenance` (ids without windows are absent);
    ``modules`` maps a module name to its :class:`Module`."""

    path: str
    settings: Settings
    targets: tuple = ()
    channels: tuple = ()
    maintenance: dict = field(default_factory=dict, hash=False)
    modules: dict = field(default_factory=dict, hash=False)
    groups: tuple = ()
    web: Web = field(default_factory=Web)

    def jobs(self) -> list:
        """A scheduler job per target: its id, interval and deadline."""
        from netkit.monitor._schedule import Job

        return [Job(t.id, t.info.interval, t.timeout) for t in self.targets]

    @cached_property
    def by_id(self) -> dict:
        return {t.id: t for t in self.targets}


# Monitor keys of [defaults], [group.NAME] and [[target]]: parser and an example value.
_KEYS = {
    "interval": (duration(MIN_INTERVAL, MAX_INTERVAL), '"30s"'),
    "failure-threshold": (whole(1, MAX_THRESHOLD), "3"),
    "success-threshold": (whole(1, MAX_THRESHOLD), "2"),
    "flap-detection": (flag, "false"),
    "low-flap-threshold": (percent, "20"),
    "high-flap-threshold": (percent, "30"),
    "labels": (labels, '{ env = "prod" }'),
    "locations": (names("location", MAX_LOCATIONS), '["fra", "nyc"]'),
    "quorum": (whole(1, MAX_LOCATIONS), "2"),
    "alerts": (names("alert channel", 1000), '["ops"]'),
}
_POLICY_KEYS = ("failure-threshold", "success-threshold", "flap-detection", "low-flap-threshold",
                "high-flap-threshold")
_PROBER_SCHEMES = {"http": ("http", "https"), "https": ("https",), "tcp": ("tcp",), "udp": ("udp",), "tls": ("tls",),
                   "ftp": ("ftp",), "smtp": ("smtp",), "smtps": ("smtps",), "pop3": ("pop3",), "pop3s": ("pop3s",),
                   "imap": ("imap",), "imaps": ("imaps",), "ssh": ("ssh",), "dns": ("dns",)}


def _split(where: str, table, *, extra=()):
    """(monitor keys parsed, the check options' table) of a [defaults]/group/target table."""
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of options")
    mine, rest = {}, {}
    for key, value in table.items():
        if key in _KEYS:
            parse, example = _KEYS[key]
            try:
                mine[key] = parse(value)
            except ValueError as exc:
                raise bad(where, key, exc, value, example) from None
        elif key not in extra:
            rest[key] = value
    return mine, rest


# -- the file -------------------------------------------------------------------------------


def load_config(path: str, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the monitor config at ``path``; UsageError (one line) on any
    mistake. ``env`` (default ``os.environ``) holds the passwords named by ``*-env`` keys."""
    from netkit.core.fs import read_text_file

    path = str(path)
    return parse_config(read_text_file(path, "monitor config", MAX_CONFIG_FILE, "give a TOML file"), path, env)


def parse_config(data: str, path: str, env=None) -> Config:
    """:func:`load_config` of the text ``data``, as if read from ``path`` (which names it in
    messages, and which relative paths in it are relative to)."""
    import tomllib

    from netkit.check.file import check_label, parse_defaults
    from netkit.core.text import suggest

    env = os.environ if env is None else env
    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    for key in doc:
        if key not in _TOP_KEYS:
            hint = "; [[check]] is a checks file's, a monitor config has [[target]] tables" if key == "check" else \
                suggest(key, _TOP_KEYS, quoted=True)
            raise UsageError(f"{path}: unknown top-level key {shown(key)}{hint}; a monitor config has [monitor], "
                             f"[defaults], [group.NAME], [[target]], [[alert]], [[maintenance]], [module.NAME] and [web]")
    base = os.path.dirname(os.path.abspath(path))
    settings = settings_from_table(path, doc.get("monitor", {}), env, base)
    also = (*_KEYS, "name", "group")
    mon_defaults, check_defaults = _split(f"{path}: [defaults]", doc.get("defaults", {}))
    check_defaults = parse_defaults(path, "[defaults]", check_defaults, also=also)
    groups = _section(path, doc, "group")
    resolved = {}   # group name -> (monitor keys, check options), over [defaults]
    for name, table in groups.items():
        mine, rest = _split(f"{path}: [group.{name}]", table)
        opts = parse_defaults(path, f"[group.{name}]", rest, also=also)
        merged = {**mon_defaults.get("labels", {}), **mine.get("labels", {})}
        resolved[name] = ({**mon_defaults, **mine, "labels": merged}, {**check_defaults, **opts})
    resolved[""] = (mon_defaults, check_defaults)
    channels = _channels(path, doc.get("alert", []), env)
    channel_names = tuple(c.name for c in channels)
    raw_targets = doc.get("target", [])
    if not isinstance(raw_targets, list):
        raise UsageError(f"{path}: target must be [[target]] tables (an array of tables), e.g. [[target]] "
                         f"url = \"https://example.com/\"")
    if len(raw_targets) > MAX_TARGETS:
        raise UsageError(f"{path}: {len(raw_targets)} targets, more than the {MAX_TARGETS:,} a monitor config may "
                         f"have; split them across monitors (location = ...)")
    targets = []
    seen: dict[str, int] = {}
    for n, table in enumerate(raw_targets, 1):
        target = _target(path, check_label(n, table, "target"), table, resolved, channel_names, env, also)
        if target.id in seen:
            raise UsageError(f"{path}: {check_label(n, table, 'target')}: the id {shown(target.id)} is also target "
                             f"{seen[target.id]}'s; give each target its own name = \"...\"")
        seen[target.id] = n
        targets.append(target)
    maintenance = _maintenance(path, doc.get("maintenance", []), targets, set(groups))
    modules = _modules(path, doc.get("module", {}), env)
    web = web_from_table(path, doc.get("web", {}), groups)
    from netkit.monitor._auth import check_exposure

    check_exposure(settings.listen, web)
    return Config(path, settings, tuple(targets), channels, maintenance, modules, tuple(groups), web)


def _section(path, doc, key) -> dict:
    tables = doc.get(key, {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise UsageError(f"{path}: {key} must be named tables, e.g. [{key}.web]")
    for name in tables:
        try:
            check_name(name, f"{key} names")
        except ValueError as exc:
            raise UsageError(f"{path}: [{key}.{shown(name)}]: the name {exc}") from None
    return tables


def _target(path, label, table, resolved, channel_names, env, also) -> TargetConfig:
    from netkit.check.file import check_from_table
    from netkit.check.options import DEFAULT_TIMEOUT
    from netkit.core.secrets import mask_url
    from netkit.core.text import suggest
    from netkit.monitor._records import TargetInfo
    from netkit.monitor._schedule import DEFAULT_INTERVAL
    from netkit.monitor._state import Policy

    where = f"{path}: {label}"
    mine, rest = _split(where, table, extra=("group",))
    group = table.get("group", "") if isinstance(table, dict) else ""
    if not isinstance(group, str) or (group and group not in resolved):
        known = [g for g in resolved if g]
        raise UsageError(f"{where}: group {shown(group)} is not defined{suggest(str(group), known, quoted=True)}; "
                         f"add a [group.{for_name(group)}] table (it may be empty)")
    mon, check_defaults = resolved[group]
    spec = check_from_table(path, label, rest, check_defaults, env=env, also=also)
    label_set = {**mon.get("labels", {}), **mine.get("labels", {})}
    mon = {**mon, **mine, "labels": label_set}
    target_id = spec.name if spec.name is not None else mask_url(rest["url"].strip())
    try:
        check_name(target_id, "a name")
    except ValueError as exc:
        raise UsageError(f"{where}: the id {shown(target_id)} {exc}; set name = \"...\"") from None
    interval = mon.get("interval", DEFAULT_INTERVAL)
    timeout = spec.opts.get("timeout")
    if timeout is None:
        timeout = min(DEFAULT_TIMEOUT, interval)
    elif timeout > interval:
        raise UsageError(f"{where}: timeout ({timeout:g} s) is longer than the interval ({interval:g} s): a run "
                         f"would overlap the next; make timeout at most the interval")
    spec.opts["timeout"] = timeout
    locations = mon.get("locations", ())
    quorum = mon.get("quorum", 1)
    if locations and quorum > len(locations):
        raise UsageError(f"{where}: quorum {quorum} is more than its {len(locations)} locations "
                         f"({', '.join(locations)}); e.g. quorum = {len(locations)}")
    channels = mon.get("alerts", channel_names)   # no alerts key: every channel
    for name in channels:
        if name not in channel_names:
            raise UsageError(f"{where}: alert channel {shown(name)} is not defined"
                             f"{suggest(name, channel_names, quoted=True)}; add an [[alert]] with name = "
                             f"\"{for_name(name)}\"")
    try:
        policy = Policy(**{k.replace("-", "_"): mon[k] for k in _POLICY_KEYS if k in mon})
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    info = TargetInfo(target_id, mask_url(rest["url"].strip()), group, tuple(sorted(label_set.items())), interval,
                      tuple(locations), quorum)
    return TargetConfig(target_id, spec, info, policy, timeout, channels)


def for_name(value) -> str:
    """``value`` as it may be put back in an example: printable, quotes escaped."""
    from netkit.core.text import for_terminal

    return for_terminal(str(value)).replace("\\", "\\\\").replace('"', '\\"')


def _channels(path, tables, env) -> tuple:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise UsageError(f"{path}: alert must be [[alert]] tables, e.g. [[alert]] name = \"ops\" type = \"webhook\"")
    from netkit.monitor._channels import channel_from_table

    channels, seen = [], set()
    for n, table in enumerate(tables, 1):
        from netkit.check.file import check_label

        where = f"{path}: {check_label(n, table, 'alert')}"
        name = table.get("name", table.get("type"))   # one channel of a type needs no name
        if name is None:
            raise UsageError(f"{where} has no name; e.g. name = \"ops\" (targets name it in alerts = [...])")
        try:
            name = check_name(name, "a channel name")
        except ValueError as exc:
            raise bad(where, "name", exc, name, '"ops"') from None
        if name in seen:
            raise UsageError(f"{where}: another [[alert]] is named {shown(name)} too; give each its own "
                             f"name = \"...\"")
        seen.add(name)
        rest = {k: v for k, v in table.items() if k != "name"}
        try:
            channels.append(channel_from_table(name, rest, where, env))
        except UsageError as exc:
            message = str(exc)
            raise UsageError(message if message.startswith(path) else f"{where}: {message}") from None
    return tuple(channels)


def _maintenance(path, tables, targets, groups) -> dict:
    from netkit.core.text import suggest
    from netkit.monitor._windows import Maintenance, window_from_table

    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise UsageError(f"{path}: maintenance must be [[maintenance]] tables")
    ids = {t.id for t in targets}
    windows: dict[str, Any] = {}
    for n, table in enumerate(tables, 1):
        from netkit.check.file import check_label

        where = f"{path}: {check_label(n, table, 'maintenance')}"
        chosen: set[str] = set()
        for key, known in (("targets", ids), ("groups", groups)):
            if key not in table:
                continue
            try:
                chosen_names = names(key[:-1], MAX_TARGETS)(table[key])
            except ValueError as exc:
                raise bad(where, key, exc, table[key], '["web"]') from None
            for name in chosen_names:
                if name not in known:
                    raise UsageError(f"{where}: {key[:-1]} {shown(name)} is not defined"
                                     f"{suggest(name, known, quoted=True)}")
            chosen.update(chosen_names if key == "targets" else
                          (t.id for t in targets if t.info.group in chosen_names))
        if "targets" not in table and "groups" not in table:
            raise UsageError(f"{where} names no targets or groups; e.g. groups = [\"web\"] or targets = [\"shop\"]")
        try:
            window = window_from_table({k: v for k, v in table.items() if k not in ("targets", "groups", "name")})
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        for target_id in chosen:
            windows.setdefault(target_id, []).append(window)
    return {target_id: Maintenance(tuple(w)) for target_id, w in windows.items()}


# A module's options go to whatever host a /probe caller names, so none may carry a
# credential: a login (user, password-env), a private key (identity), or a header whose name
# says it holds one. The same options on a [[target]] go to that target's own URL only.
_MODULE_CREDENTIALS = ("user", "password-env", "identity")
_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|session|passw", re.IGNORECASE)


def _no_credentials(where: str, opts: dict) -> None:
    found = [k for k in _MODULE_CREDENTIALS if opts.get(k) is not None]
    names = (h[0] if isinstance(h, tuple) else str(h).partition(":")[0] for h in opts.get("header") or ())
    found += [f"header {name.strip()}" for name in names if _SECRET_HEADER.search(name)]
    if found:
        raise UsageError(f"{where}: {found[0]} would go to any host a /probe caller names (target=...); a module "
                         f"carries no credentials: monitor that service as a [[target]] (its credentials go to "
                         f"its own URL only)")


def _modules(path, tables, env) -> dict:
    from netkit.check.file import parse_defaults
    from netkit.check.options import BY_NAME
    from netkit.check.spec import dns_name_problem, scheme_list
    from netkit.core.text import suggest

    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise UsageError(f"{path}: module must be named tables, e.g. [module.http_2xx]")
    modules = {}
    for name, table in tables.items():
        where = f"{path}: [module.{shown(name)[1:-1]}]"
        if not (name.isascii() and name.replace("_", "a").replace("-", "a").isalnum() and len(name) <= MAX_NAME):
            raise UsageError(f"{where}: a module name is letters, digits, _ and - (as in http_2xx)")
        prober = table.get("prober")
        if prober not in _PROBER_SCHEMES:
            raise UsageError(f"{where}: prober {shown(prober)} is not one of {', '.join(_PROBER_SCHEMES)}"
                             f"{suggest(str(prober), _PROBER_SCHEMES, quoted=True)}; e.g. prober = \"http\"")
        query = table.get("query-name")
        if prober == "dns":
            if not isinstance(query, str) or dns_name_problem(query):
                raise UsageError(f"{where}: a dns module needs query-name = \"NAME\" (the name every probe asks "
                                 f"for), e.g. query-name = \"example.com\"")
        elif query is not None:
            raise UsageError(f"{where}: query-name applies to dns modules only")
        rest = {k: v for k, v in table.items() if k not in ("prober", "query-name")}
        opts = parse_defaults(path, f"[module.{name}]", rest, also=("prober", "query-name"))
        schemes = _PROBER_SCHEMES[prober]
        _no_credentials(where, opts)
        for key in opts:
            if not set(schemes) & (BY_NAME[key].schemes or frozenset()):
                raise UsageError(f"{where}: {key} does not apply to {prober} probes (it is for "
                                 f"{scheme_list(BY_NAME[key].schemes)})")
        modules[name] = Module(name, prober, opts, query)
    return modules
