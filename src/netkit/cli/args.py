"""A small argument parser driven by option tables (netkit.cli.options).

Not argparse or click: those cost 10 ms and 40 ms of imports, and ``netkit check`` has
a start-up budget of a few tens of milliseconds in all. It supports what users type:
``--name value``, ``--name=value``, ``-x value``, ``-xvalue``, grouped short flags
(``-kL``), and ``--`` to end options.
"""

import sys

from netkit.core.errors import UsageError
from netkit.core.text import suggest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["fit_help", "flag_table", "flag_text", "help_width", "option_rows", "parse_argv", "parse_values", "suggest",
           "wrap_help"]

# --help is not wrapped narrower than this: below it a hanging column is unreadable anyway.
MIN_HELP_WIDTH = 40
# Where a row's text goes, under its name, when the terminal is too narrow for its column.
NARROW_INDENT = 10


def _may_be_configured() -> bool:
    """Whether user defaults may apply: a ``NETKIT_`` variable is set, or the config file
    exists. The fast path of ``netkit check`` asks this instead of importing
    netkit.cli.defaults, which reads them."""
    import os

    environ = os.environ
    if any(name.startswith("NETKIT_") and name != "NETKIT_CONFIG" for name in environ):
        return True
    if "NETKIT_CONFIG" in environ:
        return bool(environ["NETKIT_CONFIG"])  # "": no file; a name: it must be read (or said missing)
    located = config_path(environ)
    return located is not None and os.path.exists(located[0])


def config_path(environ=None):
    """(path, named) of the config file: ``NETKIT_CONFIG`` (named: it must exist), else
    ``$XDG_CONFIG_HOME/netkit/config.toml`` or ``~/.config/netkit/config.toml``; None when
    ``NETKIT_CONFIG`` is empty or there is no home."""
    import os

    environ = os.environ if environ is None else environ
    named = environ.get("NETKIT_CONFIG")
    if named is not None:
        return (named, True) if named else None
    base = environ.get("XDG_CONFIG_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec: a relative path is ignored
        home = environ.get("HOME")
        if not home:
            return None
        base = os.path.join(home, ".config")
    return os.path.join(base, "netkit", "config.toml"), False


def parse_argv(argv, flags: dict, command: str, into=None):
    """Split ``argv`` into ({option name: [raw values] or count}, [positional arguments]).

    ``flags`` maps ``--long``/``-s`` spellings to options having ``name`` and ``kind``
    (``flag``, ``one`` or ``many``). Options left out come from the config file and
    ``NETKIT_*`` variables (netkit.cli.defaults; into ``into`` when given) unless
    ``--no-config``; ``--no-FLAG`` turns off a flag.
    """
    values: dict[str, Any] = {}
    off = set()
    config = True
    positional = []
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if arg.startswith("--"):
            flag, eq, inline = arg.partition("=")
            option = flags.get(flag)
            if option is None and not eq and flag.startswith("--no-"):
                if flag == "--no-config":
                    config = False
                    continue
                negated = flags.get("--" + flag[5:])
                if negated is not None and negated.kind == "flag":
                    values.pop(negated.name, None)
                    off.add(negated.name)
                    continue
            if option is None:
                raise UsageError(f"{command}: unknown option {flag}{suggest(flag, [f for f in flags if f.startswith('--')])}"
                                 f" (see {command} --help)")
            if option.kind == "flag":
                if eq:
                    raise UsageError(f"{command}: {flag} takes no value; write just {flag}")
                values[option.name] = values.get(option.name, 0) + 1
                continue
            if not eq:
                if i >= n:
                    raise UsageError(f"{command}: {flag} needs a value, e.g. {flag} {option.example or 'VALUE'}")
                inline = argv[i]
                i += 1
            values.setdefault(option.name, []).append(inline)
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                flag = "-" + arg[j]
                option = flags.get(flag)
                if option is None:
                    inside = f" in {arg!r}" if len(arg) > 2 else ""  # -kx: say which group
                    raise UsageError(f"{command}: unknown option {flag}{inside} (see {command} --help)")
                j += 1
                if option.kind == "flag":
                    values[option.name] = values.get(option.name, 0) + 1
                    continue
                if j < len(arg):
                    value = arg[j:]
                elif i < n:
                    value = argv[i]
                    i += 1
                else:
                    raise UsageError(f"{command}: {flag} needs a value, e.g. {flag} {option.example or 'VALUE'}")
                values.setdefault(option.name, []).append(value)
                break
        else:
            positional.append(arg)
    if config and "help" not in values and _may_be_configured():
        from netkit.cli.defaults import fill

        fill(values, flags, command, off, into)
    elif "netkit.cli.defaults" in sys.modules:  # an earlier command in this process filled some
        sys.modules["netkit.cli.defaults"].filled.clear()
    return values, positional


def flag_table(options) -> dict:
    """``{"--name": option, "-s": option}`` for parse_argv."""
    flags = {f"--{o.name}": o for o in options}
    flags.update({f"-{o.short}": o for o in options if o.short})
    return flags


def flag_text(option) -> str:
    """``-s, --name METAVAR`` as --help lists it."""
    text = (f"-{option.short}, " if option.short else "    ") + f"--{option.name}"
    return text if option.kind == "flag" else f"{text} {option.metavar}"


def option_rows(options, width: int = 30) -> str:
    """The --help lines of ``options``: the spelling in a column ``width`` wide, then the help."""
    return "".join(f"  {flag_text(o):<{width}} {o.help}\n" for o in options)


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


def last_value(raw, flags: dict, name: str):
    """The last value given for ``--name`` in parse_argv's ``raw``, through the option's
    ``parse`` (None when not given); a bad value is a UsageError with an example."""
    values = raw.get(name)
    if not values:
        return None
    option = flags[f"--{name}"]
    if option.parse is None:
        return values[-1]
    try:
        return option.parse(values[-1])
    except ValueError as exc:
        raise UsageError(f"--{name} {exc} (got {values[-1]!r}); e.g. --{name} {option.example}") from None


def parse_values(argv, flags: dict, command: str):
    """parse_argv, then each option's ``parse`` on its values: ({name: True for a flag,
    the value for ``one``, a list for ``many``; defaults filled in}, [positional])."""
    raw, positional = parse_argv(argv, flags, command)
    by_name = {o.name: o for o in flags.values()}
    values: dict[str, Any] = {}
    for name, got in raw.items():
        option = by_name[name]
        if option.kind == "flag":
            values[name] = True
            continue
        parsed = []
        for text in got:
            try:
                parsed.append(option.parse(text))
            except ValueError as exc:
                from netkit.core.text import for_terminal  # the value may hold CR/LF or ESC

                raise UsageError(f"{command}: --{name} {for_terminal(text)}: {exc}") from None
        values[name] = parsed if option.kind == "many" else parsed[-1]
    for option in by_name.values():
        if option.kind != "flag" and option.name not in values and option.default is not None:
            values[option.name] = option.default
    return values, positional
