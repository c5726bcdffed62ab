"""``netkit completion bash|zsh|fish``: print a shell completion script generated from the
commands' option tables, so a TAB costs the shell a table look-up and never a Python start.

Every command module lists its options in ``OPTIONS``, or, when it has subcommands (or
positional words such as ``serve``'s services), returns ``{subcommand: (what it does,
options)}`` from ``option_tables()`` (``""``: options before any subcommand). This module
reads those tables (``tables()``, also what the man pages are made from), decides what
each option's value is (``value_kind``: files, directories, hosts, users, environment
variables, interfaces or a list of words) and hands the model to one writer per shell
(netkit.cli._complete_bash, netkit.cli._complete_zsh, netkit.cli._complete_fish).

Hosts come from the user's and the system's known_hosts, ~/.ssh/config and /etc/hosts, read
by the shell when a host is completed, as OpenSSH's own completion does.
"""

import importlib

from netkit.cli.options import Option, as_given
from netkit.core.errors import UsageError

__all__ = ["SHELLS", "Context", "help_text", "main", "option_tables", "option_tables_of", "script", "tables",
           "value_kind"]

COMMAND = "netkit completion"
SHELLS = ("bash", "zsh", "fish")
HELP = Option("help", "flag", as_given, None, "show this help", short="h")
NO_CONFIG = Option("no-config", "flag", as_given, None, "built-in defaults only: no config file, no NETKIT_* defaults")

# What a metavar says the value is: the kinds every shell writer knows how to complete.
_METAVAR_KINDS = {
    "FILE": "files", "KEY": "files", "PATH": "files", "CONFIG": "files",
    "DIR": "dirs",
    "HOST": "hosts", "HOST[:PORT]": "hosts",
    "USER": "users",
    "VAR": "vars",
    "IFACE": "ifaces",
}
# Positional arguments by command (or "command subcommand"): what they are when the table
# has no words for them; anything not named here completes file names (URLs, paths).
_ARGUMENTS = {
    "scan": "hosts", "connect": "hosts", "send": "hosts", "dns": "hosts", "ssh": "hosts",
    "monitor discover": "hosts", "sockopt get": "hosts", "service": None, "url": None,
    "monitor passwd": None, "rpc call": None, "rpc serve": None,
}


def _words_of(module: str, name: str):
    return lambda: tuple(getattr(importlib.import_module(module), name))


def _schemes():
    from netkit.check.options import SCHEMES

    return tuple(f"{scheme}://" for scheme in SCHEMES)


# Values an option takes, from the tables its parser checks them against; keyed by
# (command [subcommand], option name) or by the option name alone for every command.
_CHOICES = {
    ("check", "refuse"): lambda: ("ok", "warn", "crit"),
    ("check", "mismatch"): lambda: ("ok", "warn", "crit"),
    ("check", "type"): _words_of("netkit.core.records", "RECORD_TYPES"),
    ("check", "method"): lambda: ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"),
    ("packets dns", "type"): _words_of("netkit.core.records", "RECORD_TYPES"),
    ("rpc serve", "protocol"): _words_of("netkit.rpc._serve", "PROTOCOLS"),
    ("rpc call", "protocol"): lambda: ("xmlrpc", "jsonrpc"),
    ("sockopt", "level"): _words_of("netkit.cli.sockopt", "_LEVELS"),
    ("mail send", "quit-after"): _words_of("netkit.mail._smtp", "QUIT_AFTER"),
    ("mail send", "auth"): _words_of("netkit.mail._send", "MECHANISMS"),
    ("mail send", "dsn-return"): lambda: ("FULL", "HDRS"),
    ("mail send", "dsn-notify"): lambda: ("NEVER", "SUCCESS", "FAILURE", "DELAY"),
    ("ssh", "config"): lambda: ("none",),
    "request": lambda: ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"),
    "workers": lambda: ("auto",),
    "tls": lambda: ("auto",),
}


class Context:
    """A command or one of its subcommands: ``name`` (``"check"``, ``"monitor run"``), what
    it does, its options, and what its positional arguments are (``args``: a kind, a
    tuple of words, or None for nothing known)."""

    __slots__ = ("args", "help", "name", "options")

    def __init__(self, name, help, options, args):
        self.name = name
        self.help = help
        self.options = options
        self.args = args

    def spellings(self, option):
        """``["-f", "--file"]``."""
        return ([f"-{option.short}"] if option.short else []) + [f"--{option.name}"]


def option_tables_of(module) -> dict:
    """{subcommand or "": (what it does, options)} of a command module: its
    ``option_tables()``, or ``{"": (None, OPTIONS)}`` when it has no subcommands."""
    hook = getattr(module, "option_tables", None)
    return hook() if hook is not None else {"": (None, module.OPTIONS)}


def tables() -> dict:
    """{command: (what it does, {subcommand or "": Context})}, in netkit --help's order."""
    from netkit.cli.defaults import SAFE
    from netkit.cli.main import COMMANDS

    out = {}
    for command, (module, what) in COMMANDS.items():
        subs = option_tables_of(importlib.import_module(module))
        contexts = {}
        for sub, (text, options) in subs.items():
            name = f"{command} {sub}".strip()
            unique = tuple({o.name: o for o in options}.values())
            if command in SAFE and (sub or len(subs) == 1):  # parse_argv takes it (netkit.cli.defaults)
                unique += (NO_CONFIG,)
            if command == "check":
                args = _schemes()
            elif name in _ARGUMENTS or command in _ARGUMENTS:
                args = _ARGUMENTS.get(name, _ARGUMENTS.get(command))
            else:
                args = "files"
            contexts[sub] = Context(name, text or what, unique, args)
        out[command] = (what, contexts)
    return out


def value_kind(context: Context, option):
    """What ``option``'s value is in ``context``: a tuple of words, a kind (``files``,
    ``dirs``, ``hosts``, ``users``, ``vars``, ``ifaces``), or None (free text)."""
    if option.kind == "flag":
        return None
    command = context.name.split(" ")[0]
    for key in ((context.name, option.name), (command, option.name), option.name):
        if key in _CHOICES:
            return tuple(_CHOICES[key]())
    return _METAVAR_KINDS.get((option.metavar or "").split("|")[0])


def option_tables():
    """This command's own table: the shells are its subcommands."""
    return {"": (None, (HELP,))} | {shell: (f"print the {shell} script", ()) for shell in SHELLS}


def help_text() -> str:
    return (
        "usage: netkit completion bash|zsh|fish\n\n"
        "Print the shell's completion script for netkit: commands, subcommands, each one's\n"
        "options and the values a table knows (schemes, record types, files, hosts from\n"
        "known_hosts). `make install` installs all three where the shells look.\n\n"
        "Examples:\n"
        "  source <(netkit completion bash)                 # this shell only\n"
        "  netkit completion bash > ~/.local/share/bash-completion/completions/netkit\n"
        "  netkit completion zsh > ~/.zfunc/_netkit         # a directory in $fpath\n"
        "  netkit completion fish > ~/.config/fish/completions/netkit.fish\n"
    )


def script(shell: str) -> str:
    """The completion script for ``shell`` (one of SHELLS)."""
    writer = importlib.import_module(f"netkit.cli._complete_{shell}")
    return writer.script(tables())


def parse(argv):
    if not argv:
        raise UsageError("which shell? netkit completion bash, zsh or fish")
    if argv[0] == "help" or "-h" in argv or "--help" in argv:
        return {"help": True}
    if argv[0] not in SHELLS or len(argv) > 1:
        from netkit.cli.args import suggest
        from netkit.core.text import for_terminal

        word = argv[0] if argv[0] not in SHELLS else argv[1]
        raise UsageError(f"unknown shell or argument {for_terminal(repr(word))}{suggest(word, SHELLS)}; "
                         "give one of bash, zsh, fish (e.g. netkit completion bash)")
    return {"shell": argv[0]}


def _run(request, out, err) -> int:
    out.write(script(request["shell"]))
    return 0


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, _run, out, err)
