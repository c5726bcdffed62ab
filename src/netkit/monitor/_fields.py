"""The values of a monitor config's keys: each parser takes a TOML value and returns it
checked, or raises ValueError saying what it expects (``expects a whole number from 1 to
100``); the caller adds the file, the table and the key (:func:`bad`), as the checks file
does with the check options' parsers.
"""

from __future__ import annotations

from netkit.core.errors import UsageError

__all__ = ["bad", "check_name", "duration", "flag", "labels", "names", "parse_listen", "percent", "shown", "unit_seconds",
           "whole", "MAX_NAME"]

# A target id, a group, channel, location or label name: ids go into URLs (/api/targets/ID),
# Prometheus labels and log lines; a few words is what a person reads.
MAX_NAME = 200
# Labels per target and the length of a value: a label set is repeated in every series of
# the target on /metrics.
MAX_LABELS = 32
MAX_LABEL_VALUE = 256
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def check_name(value, what: str = "a name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expects {what}: non-empty text")
    if value != value.strip() or not value.isprintable():
        raise ValueError(f"expects {what} without control characters or spaces around it")
    if len(value) > MAX_NAME:
        raise ValueError(f"expects {what} of at most {MAX_NAME} characters")
    return value


def duration(low: float, high: float):
    """A parser of a duration: a TOML number (seconds) or text like "30s", "5m", "2h", "14d"."""
    expects = (f"expects seconds or a number with s, m, h or d, from {_human(low)} to {_human(high)}")

    def parse(value):
        if isinstance(value, bool):
            raise ValueError(expects)
        if isinstance(value, str):
            value = unit_seconds(value)
            if value is None:
                raise ValueError(expects)
        if not isinstance(value, (int, float)) or not low <= value <= high:  # nan fails too
            raise ValueError(expects)
        return float(value)

    return parse


def unit_seconds(text: str) -> float | None:
    """Seconds from ``"90"``, ``"30s"``, ``"5m"``, ``"2h"``, ``"14d"`` (ASCII digits, one
    optional dot: ``"٥s"`` is a digit to isdigit()); None for any other text."""
    text = text.strip()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if not (number.isascii() and number.replace(".", "", 1).isdigit()):
        return None
    return float(number) * _UNITS[unit]


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def whole(low: int, high: int):
    def parse(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expects a whole number from {low} to {high}")
        return value

    return parse


def percent(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValueError("expects a percentage from 0 to 100")
    return float(value)


def flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expects true or false")
    return value


def _label_name(name) -> str:
    if not (isinstance(name, str) and name and name.isascii() and (name[0].isalpha() or name[0] == "_")
            and name.replace("_", "a").isalnum() and not name.startswith("__") and len(name) <= MAX_NAME):
        raise ValueError(f"expects label names as Prometheus has them ([a-zA-Z_][a-zA-Z0-9_]*, not __...); "
                         f"{name!r} is not one")
    return name


def labels(value) -> dict:
    if not isinstance(value, dict):
        raise ValueError("expects a table of name = \"value\"")
    if len(value) > MAX_LABELS:
        raise ValueError(f"expects at most {MAX_LABELS} labels")
    out = {}
    for name, text in value.items():
        _label_name(name)
        if not isinstance(text, str) or not text.isprintable() or len(text) > MAX_LABEL_VALUE:
            raise ValueError(f"expects text values of at most {MAX_LABEL_VALUE} characters without control "
                             f"characters; {name} is {text!r}")
        out[name] = text
    return out


def names(what: str, limit: int):
    def parse(value):
        if not isinstance(value, list):
            raise ValueError(f"expects a list of {what} names")
        if len(value) > limit:
            raise ValueError(f"expects at most {limit} {what} names")
        given = tuple(check_name(v, f"{what} names") for v in value)
        if len(set(given)) != len(given):
            raise ValueError(f"names a {what} twice")
        return given

    return parse


def bad(where: str, key: str, exc: ValueError, value, example: str) -> UsageError:
    return UsageError(f"{where}: {key} {exc} (got {shown(value)}); e.g. {key} = {example}")


def shown(value) -> str:
    from netkit.core.text import for_terminal

    text = repr(value)
    return for_terminal(text if len(text) <= 80 else text[:77] + "...")


def parse_listen(text) -> str:
    """``host:port`` (``[v6]:port``) normalized, or "" (no web side); ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("expects \"host:port\" or \"\" (off)")
    text = text.strip()
    if not text:
        return ""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            host = ""
    elif ":" in host:
        host = ""  # an IPv6 address must be in brackets: [::1]:9115
    if not colon or not host or not host.isprintable() or " " in host or not port.isascii() \
            or not port.isdigit() or int(port) > 65535:
        raise ValueError("expects \"host:port\" such as \"127.0.0.1:9115\" or \"[::1]:9115\", or \"\" (off)")
    return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"
