"""Man pages from the option tables: ``python -m netkit.cli.manpage DIR`` writes netkit.1 and
one netkit-COMMAND.1 per command (``make install`` puts them in man1).

OPTIONS come from the tables netkit.cli.completion reads (so --help, completion and the page
cannot disagree); SYNOPSIS, DESCRIPTION, EXIT STATUS and EXAMPLES from each command's
--help text (and each subcommand's, where it has its own), read block by block: the option
rows in it are left out, the rest kept.
"""

import sys

__all__ = ["index", "main", "page", "write"]

SECTION = "1"


def roff(text: str) -> str:
    """``text`` as roff input: backslashes and minus signs escaped, non-ASCII as \\[uXXXX],
    and a line starting with '.' or "'" (a request otherwise) guarded."""
    text = str(text).replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if c.isascii() else f"\\[u{ord(c):04X}]" for c in text)
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n"))


def _help(module, argv) -> str:
    """What ``netkit COMMAND ARGV --help`` prints (the module's main into a buffer)."""
    import inspect
    import io

    out, err = io.StringIO(), io.StringIO()
    streams = {"out": out, "err": err} if "err" in inspect.signature(module.main).parameters else {"out": out}
    module.main([*argv, "--help"], **streams)
    return out.getvalue()


def _is_row(line: str) -> bool:
    return line.startswith(("  -", "      --"))


def _blocks(text: str) -> dict:
    """A --help text by kind: usage lines, prose blocks, exit status and examples (the
    option rows and their headings dropped)."""
    parts: dict[str, list[str]] = {"usage": [], "prose": [], "exit": [], "examples": []}
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        if lines[0].startswith("usage: "):
            parts["usage"] += [line.removeprefix("usage: ").strip() for line in lines]
        elif lines[0] == "Examples:":
            parts["examples"] += [line.strip() for line in lines[1:]]
        elif lines[0].startswith(("Exit status", "The exit status")):
            parts["exit"].append(block)
        elif any(_is_row(line) for line in lines) and all(_is_row(line) or line.endswith(":") for line in lines):
            continue  # option rows: the OPTIONS section has them from the tables
        else:
            parts["prose"].append(block)
    return parts


def _prose(block: str) -> list:
    """A paragraph (filled) or, when any line is indented, the lines as they are."""
    if any(line.startswith(" ") for line in block.split("\n")):
        return [".PP", ".nf", roff(block), ".fi"]
    return [".PP", roff(block)]


def _option(option) -> list:
    tag = (f"\\fB\\-{roff(option.short)}\\fR, " if option.short else "") + f"\\fB\\-\\-{roff(option.name)}\\fR"
    if option.kind != "flag":
        tag += f" \\fI{roff(option.metavar or 'VALUE')}\\fR"
    text = option.help
    if option.kind != "flag" and option.default not in (None, False, ()) and "default" not in text:
        default = f"{option.default:g}" if isinstance(option.default, float) else str(option.default)
        text += f" (default {default})"
    if option.kind == "many" and "repeat" not in text:
        text += " (repeatable)"
    return [".TP", tag, roff(text)]


def _options(command: str, contexts: dict) -> list:
    """The OPTIONS section: one list when every subcommand takes the same options, else the
    options they share, then each subcommand's own."""
    subs = [c for s, c in contexts.items() if s] or list(contexts.values())
    every = [o for o in subs[0].options if all(any(o is p for p in c.options) for c in subs)]
    lines = [".SH OPTIONS"]
    first = contexts.get("")
    if first is not None and all(set(map(id, c.options)) <= set(map(id, first.options)) for c in subs):
        every, subs = list(first.options), []
    elif all(len(c.options) == len(every) for c in subs):
        subs = []
    elif every:
        lines += [".SS Options of every subcommand"]
    group = None
    for option in every:
        if option.group != group and option.group:
            lines += [f".SS {roff(option.group)}"]
        group = option.group
        lines += _option(option)
    for context in subs:
        own = [o for o in context.options if not any(o is p for p in every)]
        if own:
            lines += [f'.SS "netkit {roff(context.name)}"'] + [line for o in own for line in _option(o)]
    return lines


def page(command: str, tables=None) -> str:
    """The man page of ``netkit COMMAND``."""
    import importlib

    from netkit import __version__
    from netkit.cli.completion import tables as all_tables
    from netkit.cli.main import COMMANDS

    what, contexts = (tables or all_tables())[command]
    module = importlib.import_module(COMMANDS[command][0])
    main_help = _help(module, [])
    parts = _blocks(main_help)
    own = {}  # subcommands with a --help of their own
    for sub in contexts:
        if sub and (text := _help(module, [sub])) != main_help:
            own[sub] = _blocks(text)
    title = f"NETKIT-{command.upper()}"
    lines = [f'.TH {roff(title)} {SECTION} "" "netkit {roff(__version__)}" "netkit manual"',
             ".nh", ".ad l", ".SH NAME", f"netkit\\-{roff(command)} \\- {roff(what)}", ".SH SYNOPSIS", ".nf"]
    usage = parts["usage"] + [u for sub in own.values() for u in sub["usage"] if u not in parts["usage"]]
    lines += [roff(u) for u in usage] + [".fi", ".SH DESCRIPTION"]
    for block in parts["prose"]:
        lines += _prose(block)
    for sub, sub_parts in own.items():
        lines += [f'.SS "netkit {roff(command)} {roff(sub)}"']
        for block in sub_parts["prose"] + sub_parts["exit"]:
            lines += _prose(block)
    lines += _options(command, contexts)
    if parts["exit"]:
        lines += [".SH EXIT STATUS"] + [line for block in parts["exit"] for line in _prose(block)]
    examples = parts["examples"] + [e for sub in own.values() for e in sub["examples"]]
    if examples:
        lines += [".SH EXAMPLES", ".nf", *(roff(e) for e in examples), ".fi"]
    lines += [".SH SEE ALSO", "\\fBnetkit\\fR(1)"]
    return "\n".join(lines) + "\n"


def index() -> str:
    """netkit.1: the commands, each with its page."""
    from netkit import __version__
    from netkit.cli.main import COMMANDS

    lines = [f'.TH NETKIT {SECTION} "" "netkit {roff(__version__)}" "netkit manual"',
             ".nh", ".ad l", ".SH NAME", "netkit \\- the system administrator's network toolkit",
             ".SH SYNOPSIS", ".nf", "\\fBnetkit\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR] ...",
             "\\fBnetkit help\\fR \\fICOMMAND\\fR", "\\fBnetkit \\-\\-version\\fR", ".fi",
             ".SH DESCRIPTION", ".PP",
             "One command for the network work of a system administrator: check services as Nagios",
             "plugins do, scan ports, move files, run commands on many hosts over SSH, send and read",
             "mail, serve small services, call and serve RPC, look at packets, and monitor it all.",
             ".SH COMMANDS"]
    for command, (_, what) in COMMANDS.items():
        lines += [".TP", f"\\fBnetkit\\-{roff(command)}\\fR(1)", roff(what)]
    lines += [".SH FILES", ".TP", "\\fI$XDG_CONFIG_HOME/netkit/config.toml\\fR, \\fI~/.config/netkit/config.toml\\fR",
              "defaults users repeat (timeouts, retries, user agent, known_hosts policy), a [command] table each;",
              "\\fBnetkit\\-config\\fR(1) shows them and where each came from; \\fB\\-\\-no\\-config\\fR skips them",
              ".SH ENVIRONMENT", ".TP", "\\fBNETKIT_CONFIG\\fR", "the config file to read instead; empty: none", ".TP",
              "\\fBNETKIT_\\fR\\fICOMMAND\\fR\\fB_\\fR\\fIOPTION\\fR, \\fBNETKIT_\\fR\\fIOPTION\\fR",
              "an option's default, above the config file's (NETKIT_GET_RETRY=2, NETKIT_TIMEOUT=5)"]
    lines += [".SH SEE ALSO", ", ".join(f"\\fBnetkit\\-{roff(c)}\\fR(1)" for c in COMMANDS)]
    return "\n".join(lines) + "\n"


def write(directory) -> list:
    """Write netkit.1 and every netkit-COMMAND.1 into ``directory`` (made if missing);
    the paths written."""
    from pathlib import Path

    from netkit.cli.completion import tables

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    every = tables()
    pages = {"netkit": index()} | {f"netkit-{command}": page(command, every) for command in every}
    paths = []
    for name, text in pages.items():
        path = directory / f"{name}.{SECTION}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="ascii")
        tmp.replace(path)  # never a half-written page
        paths.append(path)
    return paths


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        sys.stderr.write("usage: python -m netkit.cli.manpage DIR  (writes netkit.1 and netkit-COMMAND.1 there)\n")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        write(argv[0])
    except OSError as exc:
        sys.stderr.write(f"netkit.cli.manpage: {argv[0]}: {exc.strerror or exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
