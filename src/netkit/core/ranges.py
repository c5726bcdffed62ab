"""Nagios threshold ranges: ``10``, ``10:``, ``~:10``, ``10:20``, ``@10:20``.

A range names the values that are *fine*; a value outside it raises the alert. A leading
``@`` turns it around: alert when the value is inside. ``~`` is negative infinity; an empty
end is positive infinity; a bare number ``N`` means ``0:N``. (Monitoring Plugins
Development Guidelines, "Threshold and ranges".)
"""

__all__ = ["Range", "parse_range", "RANGE_FORMS"]

_INF = float("inf")
RANGE_FORMS = "N, N:, ~:N, N:M or @N:M (e.g. 10, 5:, ~:2.5, 1:3, @1:3)"


class Range:
    """A parsed threshold range; :meth:`alerts` tells whether a value breaks it."""

    __slots__ = ("start", "end", "inside", "text")

    def __init__(self, start: float, end: float, inside: bool = False, text: str | None = None):
        if start > end:
            raise ValueError(f"start {start:g} is greater than end {end:g}")
        self.start = start
        self.end = end
        self.inside = inside
        self.text = text if text is not None else _unparse(start, end, inside)

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return NotImplemented
        return (self.start, self.end, self.inside) == (other.start, other.end, other.inside)

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.inside))

    def __repr__(self) -> str:
        return f"Range({self.text!r})"

    def __str__(self) -> str:
        return self.text


def _number(text: str, whole: str) -> float:
    if not text.isascii():  # float() reads '١٢' as 12: a threshold is written in ASCII
        raise ValueError(f"{text!r} is not a number")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if value != value or value in (_INF, -_INF):  # nan, inf: not a threshold
        raise ValueError(f"{text!r} is not a finite number")
    return value


def parse_range(text: object) -> Range:
    """Parse a threshold range; ``ValueError`` names what is wrong with it."""
    if isinstance(text, bool):
        raise ValueError("expects a range, not true/false")
    if not isinstance(text, (str, int, float)):  # a TOML table or list
        raise ValueError("a range is text or a number")
    if isinstance(text, (int, float)):
        text = repr(text) if isinstance(text, float) else str(text)
    raw = str(text)
    body = raw.strip()
    if not body:
        raise ValueError("the range is empty")
    inside = body.startswith("@")
    if inside:
        body = body[1:]
    if ":" in body:
        start_text, _, end_text = body.partition(":")
        if ":" in end_text:
            raise ValueError("a range has one ':' at most")
        if start_text == "~":
            start = -_INF
        elif start_text == "":
            start = 0.0  # ":10" is 0:10, as the reference parser reads it
        else:
            start = _number(start_text, raw)
        end = _INF if end_text == "" else _number(end_text, raw)
    else:
        if body == "~":
            raise ValueError("'~' needs an end, as in ~:10")
        start, end = 0.0, _number(body, raw)
    if start > end:
        raise ValueError(f"start {start:g} is greater than end {end:g}")
    return Range(start, end, inside, _unparse(start, end, inside))


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _unparse(start: float, end: float, inside: bool) -> str:
    prefix = "@" if inside else ""
    if start == 0 and end != _INF:
        core = _fmt(end)
    else:
        left = "~" if start == -_INF else _fmt(start)
        right = "" if end == _INF else _fmt(end)
        core = f"{left}:{right}"
    return prefix + core
