"""Defaults users repeat, from ``~/.config/netkit/config.toml`` and ``NETKIT_*`` variables.

What curl's ``.curlrc``, wget's ``.wgetrc`` and swaks' ``.swaksrc`` are for those tools::

    # ~/.config/netkit/config.toml   ($XDG_CONFIG_HOME honoured; NETKIT_CONFIG=FILE, or "" for none)
    [defaults]              # every command that takes the option
    timeout = 10
    [get]
    retry = 5
    user-agent = "netkit (ops@example.com)"
    [ssh]
    accept-new = true       # known_hosts policy: trust a new host's key, refuse a changed one

Keys are the commands' own long option names; a value goes through the option's own parse
function, so a wrong one is wrong in the command line's words, naming the file, the table
and the key. Precedence, highest first: the command line; ``NETKIT_<COMMAND>_<OPTION>``;
``NETKIT_<OPTION>``; the file's ``[command]``; the file's ``[defaults]``; the built-in
default. ``--no-config`` on any command (or ``NETKIT_CONFIG=""`` for the file alone) runs
with the built-in defaults; ``--no-FLAG`` turns off a flag the config turned on.

Only the options in :data:`SAFE` may come from here: timeouts, retries, rates, the user
agent, proxies, address family, CA files and the known_hosts policy. Never credentials
(they would go to every host), output paths (a forgotten default would overwrite files) or
``--insecure`` (see netkit.cli._config_file.REFUSED, which says why in the error).

Start-up: ``netkit check`` pays one ``stat()`` and a few environment look-ups when there is
no file; tomllib is imported only when the file exists.
"""

import os

from netkit.cli.args import config_path  # noqa: F401 -- where the file is: one rule, kept in args (the fast path)
from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SAFE", "SHARED", "config_path", "fill", "filled", "read_config", "resolve"]

# The options a config may set, per command (a subcommand takes those it has). Each is a
# value users repeat and that cannot hurt when forgotten. tests/test_config_defaults.py
# pins that every name is an option of its command.
_TRANSFER = ("timeout", "retry", "retry-delay", "max-time", "limit-rate", "quiet", "cacert")
SAFE = {
    "check": ("timeout", "ipv4", "ipv6", "user-agent", "proxy", "max-redirects", "ehlo", "concurrency"),
    "scan": ("timeout", "retries", "rate", "concurrency", "host-timeout", "max-time", "ipv4", "ipv6"),
    "get": _TRANSFER + ("parallel", "max-filesize", "max-redirects", "user-agent", "proxy", "noproxy",
                        "compressed"),
    "put": _TRANSFER,
    "mirror": _TRANSFER + ("parallel", "max-filesize"),
    "ssh": ("connect-timeout", "timeout", "parallel", "known-hosts", "accept-new", "config", "no-agent",
            "keep-output"),
    "connect": ("connect-timeout", "wait"),
    "send": ("timeout", "connect-timeout", "wait"),
    "mail": ("timeout", "ehlo", "cacert", "charset"),
    "packets": ("timeout", "server", "retry", "rate", "wait", "queries", "max-ttl"),
}

# What [defaults] (and NETKIT_<OPTION>) may set, and the commands it reaches: only where the
# option means the same. ``timeout`` is a network timeout for these; for ``ssh run`` it
# ends the remote command and for ``scan`` it is each probe's wait, so a shared 10 s would
# kill long jobs or slow sweeps -- set those in [ssh] and [scan].
SHARED = {
    "timeout": ("check", "get", "put", "mirror", "mail", "send"),
    "connect-timeout": ("ssh", "connect", "send"),
    "retry": ("get", "put", "mirror"),
    "retry-delay": ("get", "put", "mirror"),
    "max-time": ("get", "put", "mirror"),
    "limit-rate": ("get", "put", "mirror"),
    "quiet": ("get", "put", "mirror"),
    "cacert": ("get", "put", "mirror", "mail"),
    "user-agent": ("check", "get"),
    "proxy": ("check", "get"),
    "max-redirects": ("check", "get"),
    "ehlo": ("check", "mail"),
    "ipv4": ("check", "scan"),
    "ipv6": ("check", "scan"),
}

# Options that exclude each other: one given on the command line drops the config's others,
# and of two from the config the higher-precedence one wins.
_EXCLUSIVE = (("ipv4", "ipv6"), ("insecure", "cacert"), ("proxy", "noproxy"), ("proxy", "no-proxy"),
              ("starttls", "starttls-optional"))

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

# {option name: where its value came from} of the last fill(): lets a command tell a value
# the user typed from a default (get ignores a configured user agent for an ftp:// URL).
filled: dict[str, str] = {}


def fill(values, flags, command, off=(), into=None) -> None:
    """Put the configured values of ``command``'s options (``"netkit get"``, ``"netkit ssh
    run"``) the command line left out into parse_argv's ``values`` (or ``into``), in its
    form: a list of strings, or a count for a flag. ``off``: flags turned off with --no-X."""
    filled.clear()
    table = command.split(" ", 2)[1] if command.count(" ") else command
    if table not in SAFE:
        return
    found = resolve(table, flags, os.environ)
    target = values if into is None else into
    for group in _EXCLUSIVE:
        given = [n for n in group if n in found]
        if any(n in values for n in group):  # given on the command line (--no-X drops X alone)
            for n in given:
                del found[n]
        elif len(given) > 1:
            on = [n for n in given if found[n][0]]
            if len(on) > 1:
                best = min(on, key=lambda n: found[n][2])
                for n in on:
                    if n != best:
                        del found[n]
    for name, (value, origin, _rank) in found.items():
        if name in values or name in off:
            continue
        if value is False:
            continue
        target[name] = 1 if value is True else value
        filled[name] = origin


def resolve(table, flags, environ, doc=None, path=None) -> dict:
    """``{option: (value, origin, rank)}`` for the SAFE options of ``table`` in ``flags``:
    the value as parse_argv gives it (a list of strings; True/False for a flag), where it
    came from, and its precedence (0 highest). ``doc``/``path``: the file, read here when
    None. A bad value is a UsageError naming its origin."""
    if doc is None:
        located = config_path(environ)
        if located is not None:
            path = located[0]
            doc = read_config(path, located[1])
    # One pass over the environment's names, not two failed look-ups per option: a missing
    # os.environ key costs a KeyError, and 30 of them were most of this function's time.
    ours = [k for k in environ if k.startswith("NETKIT_")]
    found: dict[str, tuple[Any, str, int]] = {}  # name: (value, where from, rank)
    if not ours and not doc:
        return found
    for name in SAFE.get(table, ()):
        option = flags.get(f"--{name}")
        if option is None:
            continue
        var = name.upper().replace("-", "_")
        shared = table in SHARED.get(name, ())
        for rank, env in enumerate((f"NETKIT_{table.upper()}_{var}", f"NETKIT_{var}")[:1 + shared]):
            if env in ours:
                found[name] = (_from_env(option, environ[env], env), env, rank)
                break
        else:
            for rank, section in ((2, table), (3, "defaults"))[:1 + shared]:
                section_values = (doc or {}).get(section, {})
                if name in section_values:
                    origin = f"{path}: [{section}] {name}"
                    found[name] = (_from_file(option, section_values[name], origin), origin, rank)
                    break
    return found


def _from_env(option, text, origin):
    if option.kind == "flag":
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise UsageError(f"{origin}: expects 1 or 0 (true/false, yes/no, on/off) (got {_got(text)})")
    return _checked(option, [text], origin)


def _from_file(option, value, origin):
    if option.kind == "flag":
        if isinstance(value, bool):
            return value
        raise UsageError(f"{origin}: expects true or false (got {_toml(value)})")
    items = value if isinstance(value, list) and option.kind == "many" else [value]
    texts = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            example = option.example or "..."
            if not example.replace(".", "", 1).isdigit():
                example = _toml(example)
            raise UsageError(f"{origin}: expects one value, e.g. {option.name} = {example} (got {_toml(item)})")
        texts.append(item if isinstance(item, str) else str(item))
    return _checked(option, texts, origin)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (int, float)):
        return str(value)
    return "a table" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def _checked(option, texts, origin):
    """``texts`` after the option's own parse accepted each (the command parses them again)."""
    if option.parse is not None:
        for text in texts:
            try:
                option.parse(text)
            except ValueError as exc:
                raise UsageError(f"{origin}: {exc} (got {_got(text)})") from None
    return texts


# Characters of a wrong value an error quotes: a NETKIT_ variable may hold 100 KB.
MAX_QUOTED = 200


def _got(text) -> str:
    """A wrong value as an error quotes it: repr'd, escaped, cut after MAX_QUOTED characters."""
    from netkit.core.text import for_terminal

    cut = len(text) > MAX_QUOTED
    return for_terminal(repr(text[:MAX_QUOTED])) + (f" ({len(text)} characters)" if cut else "")


def read_config(path, named) -> dict:
    """The checked document of the config file at ``path``: {} when there is none, after one
    stat() (the file's reader, and tomllib, are imported only when it exists). ``named``
    (by NETKIT_CONFIG): a missing file is an error."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if named:
            raise UsageError(f"config file {path!r} (NETKIT_CONFIG) does not exist; give an existing file, or "
                             f"NETKIT_CONFIG= for none") from None
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read config file {path!r}: {exc.strerror}") from None
    from netkit.core.fs import check_owned

    # As OpenSSH checks ~/.ssh/config: whoever can change it sets our proxy (and reads what
    # we send through it), our CA file or our ssh config.
    check_owned(path, "config file", "others could set its proxy, CA file or ssh config")
    from netkit.cli._config_file import load

    return load(path)
