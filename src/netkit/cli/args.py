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

__all__ = ["flag_table", "flag_text", "option_rows", "parse_argv", "parse_values", "suggest"]


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
