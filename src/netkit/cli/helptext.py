"""--help fitted to the terminal: wrapped to its width (or COLUMNS), as it is into a pipe or a
file otherwise. Apart from netkit.cli.args, the parser every command imports, because only
--help needs it (a check's start-up does not load it).
"""

__all__ = ["MIN_HELP_WIDTH", "NARROW_INDENT", "fit_help", "help_width", "wrap_help"]

# --help is not wrapped narrower than this: below it a hanging column is unreadable anyway.
MIN_HELP_WIDTH = 40
# Where a row's text goes, under its name, when the terminal is too narrow for its column.
NARROW_INDENT = 10

def help_width(stream):
    """The columns to wrap --help to when ``stream`` is a terminal: COLUMNS when it is set, else
    the terminal's width; None for a pipe or a file (the text as it is, lines unbroken)."""
    import os

    try:
        if not stream.isatty():
            return None
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a closed stream, a StringIO
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and int(columns) > 0:
        return max(int(columns), MIN_HELP_WIDTH)
    try:
        return max(os.get_terminal_size(fd).columns, MIN_HELP_WIDTH)
    except OSError:
        return None


def wrap_help(text: str, width: int) -> str:
    """``text`` with its lines longer than ``width`` broken at spaces. A line and the lines
    under it that continue it (a paragraph at the margin; the text of an option row or of a
    ``name    what it does`` row, indented to its column) are filled again as one, lined up
    as they were; a usage line goes on under the command, an indented line (an example)
    four columns further in."""
    import textwrap

    out: list[str] = []
    group: list[str] = []
    indent, joins = 0, False

    def flush():
        if not any(len(line) > width for line in group):
            out.extend(group)
        elif indent <= width // 2:
            joined = " ".join([group[0].rstrip()] + [line.strip() for line in group[1:]])
            out.extend(textwrap.wrap(joined, width, subsequent_indent=" " * indent, break_long_words=False,
                                     break_on_hyphens=False))
        else:  # too narrow for the column: the row's name alone, its text under it (as man's .TP)
            out.append(group[0][:indent].rstrip())
            joined = " ".join(line.strip() for line in [group[0][indent:], *group[1:]])
            out.extend(textwrap.wrap(joined, width, initial_indent=" " * NARROW_INDENT,
                                     subsequent_indent=" " * NARROW_INDENT, break_long_words=False,
                                     break_on_hyphens=False))
        group.clear()

    usage = False
    for line in text.split("\n"):
        column = _column(line)
        usage = line.startswith("usage: ") or (usage and line.startswith(" " * len("usage: ") + "netkit "))
        if group and joins and line.strip() and column is None and _margin(line) == indent and not usage:
            group.append(line)  # goes on from the line before
            continue
        flush()
        if not line.strip():
            out.append(line)
            continue
        group.append(line)
        # a row goes on under its text, a paragraph at the margin; an indented line (an example)
        # is one of its own, its rest indented further
        joins = not usage and (column is not None or _margin(line) == 0)
        indent = len("usage: ") if usage else column or (_margin(line) + 4 if _margin(line) else 0)
    flush()
    return "\n".join(out)


def _margin(line: str) -> int:
    return len(line) - len(line.lstrip())


def _column(line: str):
    """Where a row's text starts (after its first run of two or more spaces), or None."""
    import re

    found = re.match(r"\s*\S(?:.*?\S)??\s{2,}(?=\S)", line)
    return found.end() if found else None


def fit_help(text: str, stream) -> str:
    """``text`` wrapped to the terminal ``stream`` is (help_width); as it is elsewhere."""
    width = help_width(stream)
    return text if width is None else wrap_help(text, width)
