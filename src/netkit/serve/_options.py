"""The settings of ``netkit serve``, once, as :class:`netkit.core.fields.Field`: the
command line and a services file (``--config services.toml``) parse through this table, so
a value is checked the same way and wrong in the same words in both (the command line's
spelling and help of each are in netkit.cli.serve).

A services file::

    grace = 5                 # process-wide: grace, user, pidfile, workers
    user = "nobody"

    [[service]]
    service = "echo"          # echo, reverse, time, discard, chargen
    port = 7007
    prefix = "You said: "

    [[service]]
    service = "reverse"
    port = 2323
    tls = "auto"              # or ["cert.pem", "key.pem"]
    allow = ["127.0.0.0/8"]

Keys of a ``[[service]]`` are the long option names (``max-line``, ``udp``...).
"""

import ipaddress

from netkit.core.errors import UsageError
from netkit.core.fields import Field
from netkit.core.text import parse_seconds, parse_size, suggest, unescape
from netkit.proto.services import SERVICES
from netkit.serve._spec import DEFAULT_BIND, Limits, Service

__all__ = ["BY_NAME", "GLOBAL", "OPTIONS", "build_service", "load_config"]

# More worker processes than this is a typo (nginx machines rarely have 256 cores).
MAX_WORKERS = 256
# A line, or the replies buffered for one client, of more than 1 GiB is a typo: memory is
# what these limits protect.
MAX_SIZE = 1 << 30
# Connections at once: each needs a descriptor, and Linux allows at most 1,048,576 a
# process by default (fs.nr_open); a shared semaphore holds at most 2**31 - 1.
MAX_CONNECTIONS = 1 << 20
# A services file is a few dozen lines; more than 1 MiB is the wrong file (or /dev/zero).
MAX_CONFIG = 1 << 20


def as_given(value):
    """The value as typed (flags; checked later)."""
    return value


def _text(value):
    if not isinstance(value, str):
        raise ValueError("expects text")
    return value


def _whole(value) -> int:
    """A whole number from the command line (ASCII digits, a sign) or a TOML integer;
    ValueError for anything else (1.5, inf, true, '²'), never OverflowError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else None
    if not text or not text.lstrip("+-").isdigit() or not text.isascii():
        raise ValueError("not a whole number")
    return int(text)


def _count(what, most):
    def parse(value):
        try:
            n = _whole(value)
        except ValueError:
            raise ValueError(f"expects a whole number of {what}") from None
        if not 1 <= n <= most:
            raise ValueError(f"expects a whole number of {what} from 1 to {most:,}")
        return n

    return parse


def _port(value):
    try:
        n = _whole(value)
    except ValueError:
        raise ValueError("expects a port number 0-65535 (0: any free port)") from None
    if not 0 <= n <= 65535:
        raise ValueError("expects a port number 0-65535 (0: any free port)")
    return n


def _positive_size(value):
    n = parse_size(value)
    if not 1 <= n <= MAX_SIZE:
        raise ValueError(f"expects a size from 1 byte to {MAX_SIZE >> 30} GiB, like 65536 or 64k")
    return n


def _network(value):
    try:
        net = ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise ValueError("expects an address or network, like 127.0.0.1, 10.0.0.0/8 or ::1/128") from None
    return net


def _sockopt(value):
    from netkit.serve.sockopts import parse_assignment

    return parse_assignment(value)


def _tls(value):
    if value == "auto":
        return "auto"
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expects auto or a certificate and a key: --tls cert.pem key.pem (in a file: "
                     "tls = [\"cert.pem\", \"key.pem\"])")


def _seconds(value):
    return parse_seconds(value)


def _grace(value):
    return parse_seconds(value, allow_zero=True)


def _workers(value):
    """A number of worker processes, or ``auto``: the cores this process may run on."""
    if value == "auto":
        from netkit.core.limits import usable_cpus

        return usable_cpus()
    try:
        n = _whole(value)
    except ValueError:
        raise ValueError("expects a number of processes, 1 or more, or auto (one per usable core)") from None
    if not 1 <= n <= MAX_WORKERS:
        raise ValueError(f"expects a number of processes from 1 to {MAX_WORKERS}, or auto")
    return n


OPTIONS = (
    Field("tcp", "flag", as_given),
    Field("udp", "flag", as_given),
    Field("unix", "one", _text, example="/run/netkit/echo.sock"),
    Field("tls", "one", _tls, example="auto"),
    Field("bind", "one", _text, example="0.0.0.0"),
    Field("port", "one", _port, example="7007"),
    Field("allow", "many", _network, example="192.168.0.0/24"),
    Field("max-connections", "one", _count("connections", MAX_CONNECTIONS), example="100"),
    Field("max-line", "one", _positive_size, example="4k"),
    Field("idle-timeout", "one", _seconds, example="60"),
    Field("max-output", "one", _positive_size, example="256k"),
    Field("sockopt", "many", _sockopt, example="TCP_NODELAY=1"),
    Field("prefix", "one", _text, example="You said: "),
    Field("raw", "flag", as_given),
    Field("iso", "flag", as_given),
    Field("name", "one", _text, example="echo-lab"),
)
# Process-wide settings: the top of a services file, or with --config on the command line.
GLOBAL = (
    Field("grace", "one", _grace, example="5"),
    Field("user", "one", _text, example="nobody"),
    Field("pidfile", "one", _text, example="/run/netkit-serve.pid"),
    Field("workers", "one", _workers, example="auto"),
    Field("config", "one", _text, example="services.toml"),
)
BY_NAME = {o.name: o for o in OPTIONS + GLOBAL}


def build_service(kind, values: dict) -> Service:
    """A Service from parsed option values (``values[name]``; lists for repeatable ones).
    ValueError names the conflict."""
    if kind not in SERVICES:
        import difflib

        close = difflib.get_close_matches(str(kind), SERVICES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(f"unknown service {kind!r}; {hint}services: {', '.join(SERVICES)}")
    chosen = [n for n in ("tcp", "udp", "unix") if values.get(n)]
    if len(chosen) > 1:
        raise ValueError(f"--{chosen[0]} and --{chosen[1]} both choose the transport; give one")
    transport = chosen[0] if chosen else "tcp"
    if transport == "unix" and (values.get("port") is not None or values.get("bind")):
        raise ValueError("--unix PATH listens on a file: --bind and --port do not apply")
    if values.get("prefix") and kind != "echo":
        raise ValueError(f"--prefix is for echo, not {kind}")
    if values.get("raw") and kind != "echo":
        raise ValueError(f"--raw is for echo, not {kind}")
    if values.get("raw") and values.get("prefix"):
        raise ValueError("--raw sends bytes back untouched: it takes no --prefix")
    if values.get("iso") and kind != "time":
        raise ValueError(f"--iso is for time, not {kind}")
    limits = {}
    for option, field in (("max-connections", "max_connections"), ("max-line", "max_line"),
                          ("idle-timeout", "idle_timeout"), ("max-output", "max_output")):
        if values.get(option) is not None:
            limits[field] = values[option]
    return Service(
        kind=kind, transport=transport, bind=values.get("bind") or DEFAULT_BIND, port=values.get("port"),
        path=values.get("unix"), tls=values.get("tls"), allow=tuple(values.get("allow") or ()),
        limits=Limits(**limits), sockopts=tuple(values.get("sockopt") or ()),
        prefix=unescape(values["prefix"]) if values.get("prefix") else b"", raw=bool(values.get("raw")),
        iso=bool(values.get("iso")), name=values.get("name"))


def _toml_value(option, value, where):
    try:
        if option.kind == "flag":
            if not isinstance(value, bool):
                raise ValueError("expects true or false")
            return value
        if option.kind == "many":
            items = value if isinstance(value, list) else [value]
            return [option.parse(v) for v in items]
        return option.parse(value)
    except ValueError as exc:
        raise UsageError(f"{where}: {option.name} {exc} (got {value!r}); e.g. {option.name} = "
                         f"{_toml_example(option)}") from None


def _toml_example(option) -> str:
    if option.kind == "flag":
        return "true"
    if option.name == "tls":
        return '"auto" or ["cert.pem", "key.pem"]'
    if option.kind == "many":
        return f'["{option.example}"]'
    return option.example if option.example.isdigit() else f'"{option.example}"'


def load_config(path: str):
    """(services, {grace, user, pidfile, workers}) from a services file; UsageError names the file,
    the table and the key."""
    import tomllib

    from netkit.core.fs import read_text_file

    text = read_text_file(path, "services file", MAX_CONFIG, "give a TOML file such as services.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    settings = {}
    for key, value in data.items():
        if key == "service":
            continue
        option = BY_NAME.get(key)
        if option is None or option not in GLOBAL or key == "config":
            keys = [o.name for o in GLOBAL if o.name != "config"]
            raise UsageError(f"{path}: unknown top-level key {key!r}{suggest(key, keys, quoted=True)}"
                             f"; services go in [[service]] tables")
        settings[key] = _toml_value(option, value, path)
    tables = data.get("service")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"{path}: no services; add one: [[service]] with service = \"echo\" and port = 7007")
    services = []
    for i, table in enumerate(tables, 1):
        where = f"{path}: [[service]] #{i}"
        if not isinstance(table, dict):
            raise UsageError(f"{where}: expects a table")
        kind = table.get("service")
        if kind is None:
            raise UsageError(f"{where}: which service? add service = \"echo\" (one of {', '.join(SERVICES)})")
        values = {}
        for key, value in table.items():
            if key == "service":
                continue
            option = BY_NAME.get(key)
            if option is None or option in GLOBAL:
                raise UsageError(f"{where}: unknown key {key!r}{suggest(key, [o.name for o in OPTIONS], quoted=True)}")
            values[key] = _toml_value(option, value, where)
        try:
            services.append(build_service(kind, values))
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None
    return services, settings
