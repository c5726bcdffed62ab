"""One field of a feature's settings: what a TOML key or a keyword turns into, and how.

The library half of an option table. A feature (``netkit.check.options``,
``netkit.serve._options``) lists its Fields once; its checks file or services file and its
typed API parse values through them, and the command line builds its ``--flags`` from
them (:class:`netkit.cli.options.Option` adds the spelling, metavar and help). Nothing
here knows about a command line.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Field"]


class Field:
    """``kind``: ``flag`` (on/off), ``one`` (one value; the last given wins) or ``many``
    (a list). ``parse`` turns a string (command line), a TOML value or a Python value into
    the typed value, or raises ValueError saying what it expects (``"expects ..."``: the
    caller puts the key's name in front). ``schemes``: the checks it applies to (None
    where that does not apply). ``default``: the value when not given. ``example``: a
    value as a user would write it, quoted in error messages ("e.g. timeout = 5")."""

    __slots__ = ("default", "example", "kind", "name", "parse", "schemes")

    def __init__(self, name: str, kind: str, parse: "Callable[[Any], Any]", schemes: "frozenset[str] | None" = None,
                 *, default: object = None, example: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self.parse = parse
        self.schemes = schemes
        self.default = default
        self.example = example

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.kind!r})"
