"""``netkit config``: the defaults in effect and where each came from.

``netkit config show`` is ``git config --list --show-origin`` for netkit's config file and
``NETKIT_*`` variables (netkit.cli.defaults): one line per option, ``ORIGIN<TAB>command.option=value``,
and it checks every value in the file against its command's option, not only the running
command's as other commands do. ``netkit config path`` prints the file read.
"""

import os

from netkit.cli.args import flag_table, option_rows, parse_argv
from netkit.cli.options import Option, as_given
from netkit.core.errors import UsageError

__all__ = ["command_flags", "help_text", "main", "option_tables"]

COMMAND = "netkit config"

OPTIONS = (
    Option("json", "flag", as_given, None, "one JSON object per option: command, option, value, origin"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)
FLAGS = flag_table(OPTIONS)


def help_text() -> str:
    import textwrap

    from netkit.cli.defaults import SAFE, SHARED

    return (
        "usage: netkit config show [COMMAND...] [--json]\n"
        "       netkit config path\n\n"
        "Defaults users repeat, as curl's .curlrc and swaks' .swaksrc: a TOML file of [command]\n"
        "tables (and [defaults] for each command where the option means the same), keyed by the\n"
        "commands' long option names. Read from $NETKIT_CONFIG, else $XDG_CONFIG_HOME/netkit/config.toml,\n"
        "else ~/.config/netkit/config.toml; NETKIT_CONFIG= (empty) reads none.\n\n"
        "Precedence: the command line > NETKIT_<COMMAND>_<OPTION> > NETKIT_<OPTION> > [command]\n"
        "> [defaults] > built-in. Every command takes --no-config (built-in defaults only) and\n"
        "--no-FLAG (turn off a flag the config turned on).\n\n"
        "  show   every option the config may set, its value and its origin (ORIGIN<TAB>KEY=VALUE)\n"
        "  path   the file netkit reads, and whether it exists\n\n"
        "options:\n" + option_rows(OPTIONS, 16) +
        "\nWhat each table may set (credentials, output paths and --insecure never):\n"
        + "".join(textwrap.fill(f"[{table}] {', '.join(names)}", 88, initial_indent="  ", subsequent_indent="    ")
                  + "\n" for table, names in {**SAFE, "defaults": SHARED}.items()) +
        "\nExample ~/.config/netkit/config.toml:\n"
        "  [defaults]\n  timeout = 10\n  [get]\n  retry = 5\n  user-agent = \"netkit (ops@example.com)\"\n"
        "  [ssh]\n  accept-new = true\n"
    )


def command_flags(table) -> dict:
    """Every ``--name`` option of ``netkit TABLE`` and its subcommands, from the tables the
    command lists for completion (``OPTIONS`` or ``option_tables()``); of two subcommands'
    options of one name, the first."""
    import importlib

    from netkit.cli.completion import option_tables_of
    from netkit.cli.main import COMMANDS

    flags: dict[str, Option] = {}
    for _, options in option_tables_of(importlib.import_module(COMMANDS[table][0])).values():
        for option in options:
            flags.setdefault(f"--{option.name}", option)
    return flags


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages."""
    return {"": (None, OPTIONS[1:]), "show": ("the defaults in effect and where each came from", OPTIONS),
            "path": ("the config file netkit reads", OPTIONS[1:])}


def parse(argv):
    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    if not positional or positional[0] not in ("show", "path"):
        from netkit.core.text import suggest

        word = positional[0] if positional else ""
        raise UsageError("give show or path, as in netkit config show" + (
            f" (got {word!r}{suggest(word, ('show', 'path'))})" if word else ""))
    from netkit.cli.defaults import SAFE

    tables = positional[1:] if positional[0] == "show" else []
    for table in tables:
        if table not in SAFE:
            from netkit.core.text import suggest

            raise UsageError(f"netkit {table!r} takes nothing from the config file{suggest(table, SAFE)}; "
                             f"these do: {', '.join(SAFE)}")
    if positional[0] == "path" and len(positional) > 1:
        raise UsageError("config path takes no arguments")
    return {"action": positional[0], "tables": tables or list(SAFE), "json": bool(raw.get("json"))}


def _rows(tables):
    """(table, option, shown value, origin) of every option the config may set."""
    from netkit.cli.defaults import SAFE, config_path, read_config, resolve

    located = config_path()
    doc = read_config(*located) if located else {}
    path = located[0] if located else None
    for table in tables:
        flags = command_flags(table)
        by_name = {o.name: o for o in flags.values()}
        found = resolve(table, flags, os.environ, doc, path)
        for name in sorted(n for n in SAFE[table] if n in by_name):
            if name in found:
                value, origin, rank = found[name]
                shown = ("true" if value else "false") if isinstance(value, bool) else ", ".join(value)
                yield table, name, shown, (f"env:{origin}" if rank < 2 else
                                           f"file:{path} [{'defaults' if rank == 3 else table}]")
            elif by_name[name].default not in (None, (), False):
                default = by_name[name].default
                yield table, name, f"{default:g}" if isinstance(default, float) else str(default), "built-in"


def _run(request, out, err) -> int:
    from netkit.cli.defaults import config_path

    if request["action"] == "path":
        located = config_path()
        if located is None:
            out.write("none (NETKIT_CONFIG is empty, or there is no HOME)\n")
            return 0
        out.write(f"{located[0]}{'' if os.path.exists(located[0]) else ' (does not exist)'}\n")
        return 0
    rows = list(_rows(request["tables"]))  # every value checked before any line is printed
    for table, name, value, origin in rows:
        if request["json"]:
            from netkit.cli.shell import dump_json

            out.write(dump_json({"command": table, "option": name, "value": value, "origin": origin}))
        else:
            from netkit.core.text import for_terminal

            out.write(f"{origin}\t{table}.{name}={for_terminal(value)}\n")
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, _run, out, err)
