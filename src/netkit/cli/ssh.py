"""``netkit ssh run|get|put``: a command, or files, on many hosts at once (like pssh,
clush, Ansible ad-hoc), with OpenSSH's host key rules."""

import sys

from netkit.cli._ssh_render import Progress, grouped, interrupted, report_failures, summary_table, write_json
from netkit.cli.args import flag_table, last_value, option_rows, parse_argv
from netkit.core.errors import UsageError
from netkit.cli.options import Option, as_given, port, positive, seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["help_text", "main"]

COMMAND = "netkit ssh"
SUBCOMMANDS = ("run", "get", "put")
# --stdin is read once, held in memory and sent to every host: a script or a small file.
# More belongs in `netkit ssh put` (streamed from disk).
MAX_STDIN = 64 << 20


def _size(value):
    from netkit.core.text import parse_size

    return parse_size(value)


def _env_pair(value):
    from netkit.core.text import check_line_field

    name, eq, rest = value.partition("=")
    if not eq or not name or not name.isascii() or not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise ValueError("expects NAME=VALUE")
    check_line_field(rest, f"the value of {name}")  # it travels in an SSH "env" request
    return value


COMMON = (
    Option("hosts-file", "many", as_given, None, "read hosts from FILE: one per line, # comments (- for stdin)",
           short="f", metavar="FILE", example="hosts.txt"),
    Option("user", "one", as_given, None, "log in as USER where the host does not say (user@host)", short="l",
           metavar="USER", example="root"),
    Option("port", "one", port, None, "port where the host does not say (host:port); default 22", short="p",
           metavar="PORT", example="2222"),
    Option("parallel", "one", positive, None, "hosts at once (default 64)", short="P", metavar="N", example="100"),
    Option("identity", "many", as_given, None, "private key FILE (repeatable); default: the agent and ~/.ssh/id_*",
           short="i", metavar="FILE", example="~/.ssh/id_ed25519"),
    Option("no-agent", "flag", as_given, None, "do not use the SSH agent"),
    Option("passphrase-env", "one", as_given, None, "the keys' passphrase is in environment variable VAR "
           "(default: asked on the terminal)", metavar="VAR", example="KEY_PASS"),
    Option("password-env", "one", as_given, None, "log in with the password in environment variable VAR",
           metavar="VAR", example="SSH_PASS"),
    Option("ask-password", "flag", as_given, None, "ask for a login password on the terminal", short="A"),
    Option("known-hosts", "many", as_given, None, "known_hosts FILE (repeatable; default ~/.ssh/known_hosts)",
           metavar="FILE", example="known_hosts"),
    Option("accept-new", "flag", as_given, None, "accept and record unknown host keys (never changed ones)"),
    Option("config", "one", as_given, None, "ssh config FILE, or none (default ~/.ssh/config)", short="F",
           metavar="FILE", example="none"),
    Option("jump", "one", as_given, None, "go through this jump host ([user@]host[:port])", short="J",
           metavar="HOST", example="bastion"),
    Option("connect-timeout", "one", seconds, None, "seconds for the connection and login (default 10)",
           metavar="SECONDS", example="5"),
    Option("json", "flag", as_given, None, "print one JSON object per host, then a summary"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)
RUN = (
    Option("timeout", "one", seconds, None, "stop the command after SECONDS: TERM, then KILL, then the channel "
           "closed; the result says whether the host confirmed it (default: no limit)", short="t",
           metavar="SECONDS", example="60"),
    Option("stdin", "flag", as_given, None, "send standard input (read once) to every host's command; "
           "without a command: a script for sh"),
    Option("tty", "flag", as_given, None, "run the command on a pseudo-terminal (stderr joins stdout)"),
    Option("env", "many", _env_pair, None, "set NAME=VALUE for the command (the server must AcceptEnv it)",
           short="e", metavar="NAME=VALUE", example="LANG=C"),
    Option("group", "flag", as_given, None, "print each distinct output once, with the hosts that gave it"),
    Option("outdir", "one", as_given, None, "write each host's output, exact bytes, as it arrives, to "
           "DIR/HOST.stdout and .stderr", short="o", metavar="DIR", example="out"),
    Option("keep-output", "one", _size, None, "bytes of each host's stdout and stderr kept in memory, the last "
           "ones, for --group, --json and the summary (default 1M; -o DIR gets all)", metavar="SIZE", example="64k"),
    Option("quiet", "flag", as_given, None, "print no output lines, only the summary", short="q"),
)
TRANSFER = (
    Option("no-progress", "flag", as_given, None, "no progress display (there is none when stderr is not a terminal)"),
    Option("force", "flag", as_given, None, "copy every file, also those that look unchanged"),
)
_FLAGS = {}
for _name, _options in (("run", COMMON + RUN), ("get", COMMON + TRANSFER), ("put", COMMON + TRANSFER)):
    _FLAGS[_name] = flag_table(_options)


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    return {"run": ("run a command on every host", COMMON + RUN),
            "get": ("copy files from every host", COMMON + TRANSFER),
            "put": ("copy files to every host", COMMON + TRANSFER)}


def _rows(options):
    return option_rows(options, 32)


def help_text() -> str:
    head = (
        "usage: netkit ssh run [OPTIONS] HOST... -- COMMAND...\n"
        "       netkit ssh get [OPTIONS] HOST... REMOTE_PATH LOCAL_DIR\n"
        "       netkit ssh put [OPTIONS] HOST... LOCAL_PATH REMOTE_DIR\n\n"
        "Run a command, or copy files over SFTP, on many hosts at once. Hosts are [user@]host[:port]\n"
        "(IPv6 as [::1]:22), Host aliases of ~/.ssh/config, or lines of -f FILE. Host keys are checked\n"
        "against known_hosts: an unknown key is refused unless --accept-new, a changed key always.\n"
        "Passwords and passphrases never go on the command line: they are asked on the terminal,\n"
        "or read from an environment variable (--password-env VAR, --passphrase-env VAR).\n\n"
        "get copies REMOTE_PATH (a file, a directory: recursively, or a glob) from every host into\n"
        "LOCAL_DIR/HOST/; put copies LOCAL_PATH into REMOTE_DIR on every host. Only new or changed\n"
        "files move (size and modification time), times are kept, each file appears whole under its\n"
        "name (written as NAME.part first), and an interrupted copy resumes where it stopped.\n\n"
        "run prints each line a host writes as HOST: LINE as it arrives -- also for one host, and when\n"
        "piped -- with control characters (ESC, so terminal titles and colours) shown as \\xHH: no host\n"
        "can drive your terminal. -o DIR keeps the exact bytes; --json has the text JSON-escaped.\n\n"
        "The exit status is 0 when every host succeeded, 1 when any failed (they are named); 2 for a\n"
        "mistake in the command line (a bad host, a missing key or file), before anything connects.\n\n"
        "options:\n" + _rows(COMMON) + "\nrun:\n" + _rows(RUN) + "\nget, put:\n" + _rows(TRANSFER) +
        "\nExamples:\n"
        "  netkit ssh run web1 web2 root@db:2222 -- uptime\n"
        "  netkit ssh run -f hosts.txt --group -t 30 -- 'df -h /'\n"
        "  netkit ssh get -f hosts.txt /var/log/syslog logs/\n"
        "  netkit ssh put -f hosts.txt ./conf.d /etc/app/\n"
    )
    return head


# --- parsing --------------------------------------------------------------------------------


def parse(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        return {"help": True}
    sub, argv = argv[0], argv[1:]
    if sub not in SUBCOMMANDS:
        from netkit.cli.args import suggest
        from netkit.core.text import for_terminal

        raise UsageError(f"unknown subcommand {for_terminal(repr(sub))}{suggest(sub, SUBCOMMANDS)}; "
                         f"netkit ssh run|get|put (see netkit ssh --help)")
    spell = f"{COMMAND} {sub}"
    command_words = None
    if sub == "run" and "--" in argv:
        cut = argv.index("--")
        argv, command_words = argv[:cut], argv[cut + 1:]
    raw, positional = parse_argv(argv, _FLAGS[sub], spell)
    if raw.get("help"):
        return {"help": True}

    def one(name):
        return last_value(raw, _FLAGS[sub], name)

    request = {"sub": sub, "json": bool(raw.get("json"))}
    hosts = []
    from netkit.remote import read_hosts_file

    if "-" in raw.get("hosts-file", ()) and raw.get("stdin"):
        raise UsageError("-f - and --stdin both read standard input; give the hosts in a file")
    for path in raw.get("hosts-file", ()):
        hosts.extend(read_hosts_file(path))
    if sub == "run":
        if command_words is None:
            if hosts:  # hosts from -f: every positional is the command
                command_words, positional = positional, []
            elif len(positional) >= 2:
                command_words, positional = positional[-1:], positional[:-1]
            else:
                command_words = []
        hosts.extend(positional)
        command = " ".join(command_words)
        if not command and raw.get("stdin"):
            command = "sh -s"
        if not command:
            raise UsageError("no command: netkit ssh run HOST... -- COMMAND (e.g. -- uptime)")
        if raw.get("group") and raw.get("json"):
            raise UsageError("--group and --json exclude each other; give one")
        env = {}
        for pair in raw.get("env", ()):
            try:
                _env_pair(pair)
            except ValueError as exc:
                from netkit.core.text import for_terminal

                why = "" if str(exc) == "expects NAME=VALUE" else f"{exc}; "
                raise UsageError(f"--env {for_terminal(repr(pair))}: {why}write NAME=VALUE, e.g. --env LANG=C") \
                    from None
            name, _, value = pair.partition("=")
            env[name] = value
        keep = one("keep-output")
        request.update(command=command, timeout=one("timeout"), stdin=bool(raw.get("stdin")), tty=bool(raw.get("tty")),
                       env=env, group=bool(raw.get("group")), outdir=one("outdir"), quiet=bool(raw.get("quiet")),
                       keep_output=keep)
    else:
        if len(positional) < 2 or (not hosts and len(positional) < 3):
            what = "REMOTE_PATH LOCAL_DIR" if sub == "get" else "LOCAL_PATH REMOTE_DIR"
            raise UsageError(f"hosts, then {what} are needed (e.g. netkit ssh {sub} web1 "
                             f"{'/var/log/syslog logs/' if sub == 'get' else './conf.d /etc/app/'})")
        hosts.extend(positional[:-2])
        _check_local_path(sub, positional[-2] if sub == "put" else positional[-1])
        request.update(source=positional[-2], destination=positional[-1], progress=not raw.get("no-progress"),
                       force=bool(raw.get("force")))
    if not hosts:
        raise UsageError("no hosts: name them ([user@]host[:port]) or give -f FILE")
    if raw.get("password-env") and raw.get("ask-password"):
        raise UsageError("--password-env and --ask-password both give the password; give one")
    from netkit.remote._hosts import merge_duplicates, parse_hosts

    user = one("user")
    if user is not None and (not user or not user.isprintable() or any(c.isspace() for c in user)):
        from netkit.core.text import for_terminal

        raise UsageError(f"--user {for_terminal(repr(user))}: not a user name; e.g. -l root")
    hosts, merged = merge_duplicates(parse_hosts(hosts), user=user, port=one("port"))
    request.update(
        hosts=hosts, merged=merged, user=one("user"), port=one("port"), parallel=one("parallel"),
        identities=list(raw.get("identity", ())), agent=not raw.get("no-agent"),
        passphrase_env=one("passphrase-env"), password_env=one("password-env"),
        ask_password=bool(raw.get("ask-password")), known_hosts=list(raw.get("known-hosts", ())),
        accept_new=bool(raw.get("accept-new")), config=one("config"), jump=one("jump"),
        connect_timeout=one("connect-timeout"),
    )
    return request


def _check_local_path(sub, path):
    """The local side of get/put, before any host is contacted: put's LOCAL_PATH must exist
    (a glob must match), get's LOCAL_DIR must be a directory if it exists."""
    import glob
    import os

    if sub == "put":
        pattern = bool(set("*?[") & set(path))
        if not (glob.glob(path) if pattern else os.path.lexists(path)):
            raise UsageError(f"LOCAL_PATH {path}: {'nothing matches' if pattern else 'no such file or directory'}"
                             f"; put copies an existing local file, directory or glob")
    elif os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"LOCAL_DIR {path}: not a directory; get copies into a directory (made if missing)")


# --- settings -------------------------------------------------------------------------------


def _terminal_prompt():
    """getpass on /dev/tty, or None when there is no terminal to ask on."""
    import os

    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    os.close(fd)
    import getpass

    def ask(text):
        try:
            return getpass.getpass(text)
        except EOFError:
            raise UsageError("no answer at the prompt") from None

    return ask


def _env_value(var, what):
    from netkit.core.credentials import env_secret

    return env_secret(var, f"--{what}")


def settings_from(request, err):
    from netkit.remote import Credentials, HostKeyPolicy, Settings, parse_host

    prompt = _terminal_prompt()
    password = None
    if request["password_env"]:
        password = _env_value(request["password_env"], "password-env")
    elif request["ask_password"]:
        if prompt is None:
            raise UsageError("--ask-password needs a terminal; use --password-env VAR instead")
        password = prompt("Password: ")
    passphrase = _env_value(request["passphrase_env"], "passphrase-env") if request["passphrase_env"] else None
    credentials = Credentials(request["identities"], password=password, agent=request["agent"], prompt=prompt,
                              passphrase=passphrase, strict=True)
    for problem in credentials.problems:
        err.write(f"{COMMAND}: warning: {problem}\n")
    policy = HostKeyPolicy(request["known_hosts"] or None, accept_new=request["accept_new"])
    config = request["config"]
    if config is not None:
        config = [] if config == "none" else [config]
        for path in config:
            import os

            if not os.access(path, os.R_OK):
                raise UsageError(f"--config {path}: cannot read it")
    jump = parse_host(request["jump"]) if request["jump"] else None
    from netkit.remote import DEFAULT_CONNECT_TIMEOUT

    settings = Settings(credentials, policy, user=request["user"], port=request["port"], config=config,
                        connect_timeout=request["connect_timeout"] or DEFAULT_CONNECT_TIMEOUT, jump=jump)
    settings.check_config([*request["hosts"], *([jump] if jump else [])])
    return settings


def _runner():
    from netkit.drivers.aio import runner

    return runner()


# --- output directory -----------------------------------------------------------------------


def _make_outdir(path):
    """-o DIR made (with its parents) before any host is contacted; a UsageError if it cannot be."""
    import os

    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot make the directory: {exc.strerror or exc}") from None
    if not os.path.isdir(path):
        raise UsageError(f"-o {path}: not a directory; -o takes a directory for HOST.stdout and HOST.stderr")
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"-o {path}: the directory is not writable")


# --- the subcommands ------------------------------------------------------------------------


def _run(request, out, err) -> int:
    from netkit.core.limits import fit_to_descriptors
    from netkit.remote import DEFAULT_PARALLEL, run

    from netkit.core.text import for_terminal
    from netkit.remote._output import DEFAULT_KEEP_OUTPUT

    if request["outdir"] is not None:
        _make_outdir(request["outdir"])
    stdin = None
    if request["stdin"]:
        stdin = sys.stdin.buffer.read(MAX_STDIN + 1)
        if len(stdin) > MAX_STDIN:
            raise UsageError(f"--stdin: standard input is larger than {MAX_STDIN >> 20} MiB; copy big data with "
                             f"netkit ssh put")
    settings = settings_from(request, err)
    parallel = fit_to_descriptors(request["parallel"] or DEFAULT_PARALLEL)
    stream = not (request["group"] or request["json"] or request["quiet"])

    unflushed: set[Any] = set()

    def flush():
        for target in unflushed:
            target.flush()
        unflushed.clear()

    def on_output(host, name, line):
        # Every line prefixed and escaped, one host or many, terminal or pipe: remote bytes never
        # drive the terminal; the CR of a terminal's CRLF is dropped.
        target = out if name == "stdout" else err
        text = for_terminal(line.removesuffix(b"\r"), keep_newlines=True)
        target.write(f"{host}: {text}\n")
        if not unflushed:  # one flush for all the lines of this turn of the loop (a chunk's)
            import asyncio

            asyncio.get_running_loop().call_soon(flush)
        unflushed.add(target)

    finished: list[Any] = []
    try:
        with _runner() as runner:
            results = runner.run(run(request["hosts"], request["command"], settings, parallel=parallel,
                                     timeout=request["timeout"], stdin=stdin, env=request["env"],
                                     pty=request["tty"], on_output=on_output if stream else None,
                                     on_result=finished.append, outdir=request["outdir"],
                                     keep_output=DEFAULT_KEEP_OUTPUT if request["keep_output"] is None
                                     else request["keep_output"]))
    except KeyboardInterrupt:
        return interrupted(finished, request, out, err, "run")
    if request["json"]:
        write_json(results, out)
    else:
        if request["group"]:
            out.write(grouped(results))
        if stream and any(r.stdout or r.stderr for r in results):
            out.write("\n")
        out.write(summary_table(results))
    out.flush()
    return report_failures(results, err)


def _transfer(request, out, err) -> int:
    from netkit.cli.progress import open_display
    from netkit.core.limits import fit_to_descriptors
    from netkit.remote import DEFAULT_PARALLEL, get, put

    settings = settings_from(request, err)
    parallel = fit_to_descriptors(request["parallel"] or DEFAULT_PARALLEL)
    display = open_display(err, request["progress"] and not request["json"], transient=True)
    progress = Progress(display, len(request["hosts"]))
    action = get if request["sub"] == "get" else put
    finished = []

    def host_done(result):
        finished.append(result)
        progress.host_done(result)

    try:
        with _runner() as runner:
            results = runner.run(action(request["hosts"], request["source"], request["destination"], settings,
                                        parallel=parallel, force=request["force"], on_bytes=progress.moved,
                                        on_file=progress.file_done, on_result=host_done))
    except KeyboardInterrupt:
        display.close()
        return interrupted(finished, request, out, err, request["sub"])
    finally:
        display.close()
    if request["json"]:
        write_json(results, out)
    else:
        out.write(summary_table(results, kind=request["sub"]))
    out.flush()
    return report_failures(results, err, kind=request["sub"])


def _work(request, out, err) -> int:
    for again, first in request["merged"]:
        err.write(f"{COMMAND} {request['sub']}: warning: {again} is the same host as {first}: run once\n")
    if request["sub"] == "run":
        return _run(request, out, err)
    return _transfer(request, out, err)


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    argv = list(argv)
    # Messages name the subcommand ("netkit ssh run: ..."), once: the parser's own start so.
    command = f"{COMMAND} {argv[0]}" if argv and argv[0] in SUBCOMMANDS else COMMAND
    return run_command(command, argv, parse, help_text, _work, out, err)
