"""One option of a command's table: what netkit.cli.args parses, --help lists, and
completion and man pages are made from.

The command line's half of an option: a feature's library half is a
:class:`netkit.core.fields.Field` (name, kind, parse, schemes, default), and
:meth:`Option.of` adds the spelling (``short``, ``metavar``), the ``help`` and the --help
section (``group``). Its own small module so that every command can declare its options
without importing the check table, whose import costs milliseconds of start-up.
"""

__all__ = ["Option", "as_given", "port", "positive", "seconds", "whole"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any, TypeVar

    _Value = TypeVar("_Value")


class Option:
    """``kind``: ``flag`` (on/off), ``one`` (the last value given wins) or ``many`` (a
    list). ``parse`` turns a string (or a TOML value) into the typed value or raises
    ValueError saying what it expects. ``schemes``: the checks it applies to (None where
    that does not apply). ``group``: the --help section it is listed in."""

    __slots__ = ("name", "short", "kind", "parse", "schemes", "default", "metavar", "help", "example", "group")

    def __init__(self, name: str, kind: str, parse: "Callable[[Any], Any] | None", schemes: "Collection[str] | None",
                 help: str, *, short: str | None = None, default: object = None, metavar: str | None = None,
                 example: str | None = None) -> None:
        self.name = name
        self.short = short
        self.kind = kind
        self.parse = parse
        self.schemes = schemes
        self.default = default
        self.metavar = metavar
        self.help = help
        self.example = example
        self.group: str | None = None

    @classmethod
    def of(cls, field, help, *, short=None, metavar=None, example=None):
        """The command-line option of a library ``field`` (its name, kind, parser, schemes
        and default); ``example`` as typed in a shell when it differs from the field's."""
        return cls(field.name, field.kind, field.parse, field.schemes, help, short=short, default=field.default,
                   metavar=metavar, example=field.example if example is None else example)


# Parsers the command-line tables share.

def as_given(value: "_Value") -> "_Value":
    """The value as typed (flags, paths, names checked later)."""
    return value


def whole(text: object) -> int:
    """A whole number, 0 or more (ASCII digits: '²' is not a number here)."""
    from netkit.core.text import is_digits

    text = str(text)
    if not is_digits(text):
        raise ValueError("expects a whole number (0 or more)")
    return int(text)


def positive(text: object) -> int:
    """A whole number, 1 or more (ASCII digits: '²' is not a number here)."""
    from netkit.core.text import is_digits

    text = str(text)
    if not is_digits(text) or int(text) < 1:
        raise ValueError("expects a whole number of 1 or more")
    return int(text)


def seconds(text: object) -> float:
    """A duration in seconds, 0 < s <= a day (netkit.core.text.parse_seconds, imported on use)."""
    from netkit.core.text import parse_seconds

    return parse_seconds(text)


def port(text: object) -> int:
    """A TCP or UDP port, 1-65535."""
    n = positive(text)
    if n > 65535:
        raise ValueError("expects a port, 1-65535")
    return n
