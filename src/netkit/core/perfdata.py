"""Nagios performance data: ``'label'=value[UOM];[warn];[crit];[min];[max]``.

Formatting and parsing are inverse of each other (a property the tests check): the
monitor reads back what a check printed.
"""

__all__ = ["Metric", "format_perfdata", "format_metric", "parse_perfdata", "UNITS", "format_number"]

# Units the plugin guidelines define (s, us, ms, %, B, KB, MB, TB, c); anything else is
# refused so graphs in Nagios/Icinga/PNP stay meaningful.
UNITS = ("", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from netkit.core.ranges import Range

    # A threshold as a check sets it (a Range, or a bare number) or as parse_perfdata reads it.
    Threshold = Range | float | str | None


class Metric:
    """One performance value with its unit, thresholds and bounds."""

    __slots__ = ("label", "value", "unit", "warn", "crit", "min", "max")

    def __init__(self, label: str, value: float, unit: str = "", warn: "Threshold" = None,
                 crit: "Threshold" = None, min: float | None = None, max: float | None = None) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit {unit!r} is not one of {', '.join(u for u in UNITS if u)}")
        if not label:
            raise ValueError("a metric needs a label")
        self.label = label
        self.value = value
        self.unit = unit
        self.warn = warn
        self.crit = crit
        self.min = min
        self.max = max

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metric):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return f"Metric({format_metric(self)!r})"


def format_number(value: float) -> str:
    """A number as Nagios tools read it: no exponent, at most 6 decimals, no trailing zeros."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _quote_label(label: str) -> str:
    # '=' ends a label and '|' ends the text part for the reader: replace them; a quote
    # inside a quoted label is written twice, as the guidelines say.
    label = label.replace("=", "_").replace("|", "_").replace("\n", " ").replace("\r", " ")
    if any(c in label for c in " '\t") or not label.strip():
        return "'" + label.replace("'", "''") + "'"
    return label


def _field(value: "Threshold") -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)  # a Range prints in range syntax


def format_metric(m: Metric) -> str:
    fields = [format_number(m.value) + m.unit, _field(m.warn), _field(m.crit), _field(m.min), _field(m.max)]
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return f"{_quote_label(m.label)}={';'.join(fields)}"


def format_perfdata(metrics: "Iterable[Metric]") -> str:
    return " ".join(format_metric(m) for m in metrics)


def _parse_number(text: str) -> float:
    """An ASCII int or float; ValueError naming the text otherwise (float() alone would
    read '١٢' as 12 and 'inf' as infinity)."""
    if text.isascii():
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is not None and value - value == 0:  # finite: not inf, not nan
                return value
    raise ValueError(f"perfdata value {text!r} is not a number")


def parse_perfdata(text: str) -> list[Metric]:
    """Parse perfdata back into :class:`Metric` objects (thresholds stay strings)."""
    metrics = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            break
        if text[i] == "'":
            j = i + 1
            parts = []
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise ValueError(f"perfdata label {text[i:i + 40]!r} has no closing quote")
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == "'":
                    parts.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            label = "".join(parts)
            if text[i] != "=":
                raise ValueError(f"expected '=' after label at {i}")
        else:
            k = text.index("=", i)
            label = text[i:k]
            i = k
        i += 1
        end = text.find(" ", i)
        end = n if end < 0 else end
        fields = text[i:end].split(";")
        i = end
        raw = fields[0]
        j = len(raw)
        while j > 0 and not ("0" <= raw[j - 1] <= "9" or raw[j - 1] == "."):
            j -= 1
        value, unit = _parse_number(raw[:j]), raw[j:]
        fields += [""] * (5 - len(fields))

        def opt(s: str) -> str | None:
            return None if s == "" else s

        lo = opt(fields[3])
        hi = opt(fields[4])
        metrics.append(
            Metric(
                label,
                value,
                unit,
                opt(fields[1]),
                opt(fields[2]),
                None if lo is None else _parse_number(lo),
                None if hi is None else _parse_number(hi),
            )
        )
    return metrics
