"""``netkit monitor run|check|discover|status|passwd``: every check on a schedule, with states,
history, alerts and Prometheus metrics (the engine is netkit.monitor)."""

from netkit.cli.args import flag_table, last_value, option_rows, parse_argv
from netkit.cli.options import Option, as_given
from netkit.core.errors import UsageError

__all__ = ["help_text", "main"]

COMMAND = "netkit monitor"
SUBCOMMANDS = ("run", "check", "discover", "status", "passwd")
# Targets listed in `status`'s table rows and summaries: the table is for people; --json
# has them all.
SUMMARY_WIDTH = 60


def _listen(value):
    from netkit.monitor._fields import parse_listen

    return parse_listen(value)


def _location(value):
    from netkit.monitor._fields import check_name

    return check_name(value, "a location name")


def _dns_name(value):
    from netkit.check.spec import dns_name_problem

    problem = dns_name_problem(value)
    if problem:
        raise ValueError(f"expects a DNS name: {problem}")
    return value


def _seconds(value):
    from netkit.core.text import parse_seconds

    return parse_seconds(value)


HELP = Option("help", "flag", as_given, None, "show this help", short="h")
JSON = Option("json", "flag", as_given, None, "print JSON instead of text")
RUN = (
    Option("once", "flag", as_given, None, "check every target once, print a Nagios line each, exit with the worst "
           "status"),
    Option("location", "one", _location, None, "this monitor's location (over the config's)", metavar="NAME",
           example="fra"),
    Option("listen", "one", _listen, None, "serve /metrics, /probe and /api here (over the config's; \"\" for "
           "none)", metavar="HOST:PORT", example="127.0.0.1:9115"),
    Option("json", "flag", as_given, None, "with --once: one JSON object per check instead of Nagios lines"),
    HELP,
)
CHECK = (Option("json", "flag", as_given, None, "print the resolved targets as JSON (passwords masked)"), HELP)
DISCOVER = (
    Option("ports", "one", as_given, None, "ports to scan: 22,80,443 or 1-1024 (default: the 1,000 most common)",
           short="p", metavar="PORTS", example="22,25,80,443"),
    Option("output", "one", as_given, None, "write the config to FILE (default: standard output)", short="o",
           metavar="FILE", example="monitor.toml"),
    Option("force", "flag", as_given, None, "replace FILE if it exists"),
    Option("dns-name", "one", _dns_name, None, "the name DNS servers found are asked for (default localhost)",
           metavar="NAME", example="www.example.com"),
    Option("timeout", "one", _seconds, None, "seconds each probe of a port waits (default 3)", metavar="SECONDS",
           example="1"),
    HELP,
)
STATUS = (JSON, HELP)
PASSWD = (HELP,)
_FLAGS = {"run": flag_table(RUN), "check": flag_table(CHECK), "discover": flag_table(DISCOVER),
          "status": flag_table(STATUS), "passwd": flag_table(PASSWD)}


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    return {"run": ("run the monitor in the foreground", RUN), "check": ("validate a config", CHECK),
            "discover": ("scan hosts and write a config", DISCOVER),
            "status": ("each target's state from the store", STATUS),
            "passwd": ("print a password's hash for the config", PASSWD)}
# A password read from a pipe: one line, at most this long (a file piped by mistake is not one).
MAX_PASSWORD_LINE = 4096


def _rows(options):
    return option_rows(options, 30)


def help_text() -> str:
    return (
        "usage: netkit monitor run CONFIG [--once [--json]] [--location NAME] [--listen HOST:PORT]\n"
        "       netkit monitor check CONFIG [--json]\n"
        "       netkit monitor discover HOST... [-p PORTS] [-o FILE [--force]]\n"
        "       netkit monitor status [CONFIG] [--json]\n"
        "       netkit monitor passwd\n\n"
        "Run every check of a config on a schedule: states as Nagios has them (soft and hard,\n"
        "flapping), maintenance windows, alerts on hard changes (webhook, email, a command,\n"
        "Alertmanager), history in SQLite or PostgreSQL, /metrics and a blackbox_exporter-\n"
        "compatible /probe for Prometheus. CONFIG is TOML: each [[target]] is a check as\n"
        "`netkit check --file` takes a [[check]], plus interval, group, labels, locations, quorum,\n"
        "alerts (see examples/monitor/fleet.toml).\n\n"
        "run       the monitor in the foreground (systemd Type=notify); SIGTERM drains the checks\n"
        "          in flight, SIGHUP or a changed file reloads the config (a bad one is refused,\n"
        "          the running one stays).\n"
        "check     validate CONFIG without running it: one line of summary, or the one mistake.\n"
        "discover  scan HOSTs (netkit scan, banners, TLS and DNS probes) and write a config with\n"
        "          the right check for every open service; what a peer says becomes a comment at\n"
        "          most, escaped.\n"
        "status    each target's state from the store, worst first (CONFIG names the store;\n"
        "          without one, the default store of the state directory).\n"
        "passwd    read a password (asked twice on a terminal, else one line of standard input)\n"
        "          and print its scrypt hash for the config: [web] password-hash = \"...\".\n"
        "          The dashboard asks for a login when it has one; bound to anything but\n"
        "          loopback, the monitor refuses to start without one.\n\n"
        "run:\n" + _rows(RUN[:-1]) + "\ncheck:\n" + _rows(CHECK[:-1]) + "\ndiscover:\n" + _rows(DISCOVER[:-1]) +
        "\nstatus:\n" + _rows(STATUS[:-1]) +
        "\nExit status: 0 done (check: the config is valid); 1 a failure named on stderr (the\n"
        "store cannot be read, discover found no open port); 2 a mistake in the command line or\n"
        "the config, in one line naming the file, the table and the key. run --once exits with\n"
        "the worst status of the checks (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).\n\n"
        "Examples:\n"
        "  netkit monitor discover 192.0.2.10 192.0.2.11 -o /etc/netkit/monitor.toml\n"
        "  netkit monitor check /etc/netkit/monitor.toml\n"
        "  netkit monitor run /etc/netkit/monitor.toml --once\n"
        "  netkit monitor run /etc/netkit/monitor.toml --location fra --listen 0.0.0.0:9115\n"
        "  netkit monitor status /etc/netkit/monitor.toml --json\n"
    )


# -- parsing ---------------------------------------------------------------------------------


def parse(argv):
    if not argv:  # a mistake, not a request for help (as `netkit` alone)
        raise UsageError("give a subcommand: run, check, discover, status or passwd (see netkit monitor --help)")
    if argv[0] in ("-h", "--help", "help"):
        return {"help": True}
    sub, argv = argv[0], argv[1:]
    if sub not in SUBCOMMANDS:
        from netkit.cli.args import suggest
        from netkit.core.text import for_terminal

        raise UsageError(f"unknown subcommand {for_terminal(repr(sub))}{suggest(sub, SUBCOMMANDS)}; "
                         f"give run, check, discover, status or passwd (see netkit monitor --help)")
    flags = _FLAGS[sub]
    raw, positional = parse_argv(argv, flags, f"{COMMAND} {sub}")
    if raw.get("help"):
        return {"help": True}

    def one(name):
        return last_value(raw, flags, name)

    request = {"sub": sub, "json": bool(raw.get("json"))}
    if sub in ("run", "check"):
        if len(positional) != 1:
            raise UsageError(f"give one CONFIG file, e.g. netkit monitor {sub} /etc/netkit/monitor.toml"
                             + (f" (got {len(positional)})" if positional else ""))
        if sub == "run" and request["json"] and not raw.get("once"):
            raise UsageError("--json applies to --once (the running monitor has /api for JSON)")
        request.update(config=positional[0], once=bool(raw.get("once")), location=one("location"),
                       listen=one("listen"))
    elif sub == "passwd":
        if positional:
            raise UsageError("passwd takes no arguments: it asks for the password (or reads it from standard "
                             "input), never from the command line")
    elif sub == "status":
        if len(positional) > 1:
            raise UsageError(f"give at most one CONFIG file (got {len(positional)})")
        request["config"] = positional[0] if positional else None
    else:
        request.update(_parse_discover(raw, positional, one))
    return request


def _parse_discover(raw, positional, one) -> dict:
    import os

    from netkit.scan.ports import parse_ports, top_ports
    from netkit.scan.targets import expand_targets

    if not positional:
        raise UsageError("no hosts: netkit monitor discover HOST... (e.g. netkit monitor discover 192.0.2.10)")
    ports = parse_ports(one("ports")) if raw.get("ports") else top_ports(_top_ports())  # UsageErrors name a bad one
    targets = expand_targets(positional)
    output = one("output")
    if raw.get("force") and not output:
        raise UsageError("--force replaces the -o FILE; give -o FILE too")
    if output and output != "-":
        from netkit.core.fs import check_output_file

        if os.path.lexists(output) and not raw.get("force"):
            raise UsageError(f"-o {output}: it exists; give --force to replace it")
        problem = check_output_file(output)
        if problem:
            raise UsageError(f"-o {output}: {problem}")
    return {"targets": targets, "ports": ports, "output": output, "dns_name": one("dns-name") or "localhost",
            "timeout": one("timeout"), "hosts": positional, "ports_text": one("ports")}


def _top_ports():
    from netkit.monitor._discover import DEFAULT_TOP_PORTS

    return DEFAULT_TOP_PORTS


# -- the work --------------------------------------------------------------------------------


def _work(request, out, err) -> int:
    return {"run": _run, "check": _check, "discover": _discover, "status": _status,
            "passwd": _passwd}[request["sub"]](request, out, err)


def _passwd(request, out, err) -> int:
    """The hash line of a password read from the terminal (twice) or one line of stdin."""
    import sys

    from netkit.monitor._passwords import MAX_PASSWORD, hash_password

    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password for the dashboard: ")
        if password != getpass.getpass("The same again: "):
            raise UsageError("the two passwords differ; run netkit monitor passwd again")
    else:
        line = sys.stdin.readline(MAX_PASSWORD_LINE + 1) if sys.stdin is not None else ""
        if len(line) > MAX_PASSWORD_LINE:
            raise UsageError(f"standard input's first line is over {MAX_PASSWORD_LINE} characters: give the password "
                             f"alone on one line")
        password = line.rstrip("\r\n")
    if not password:
        raise UsageError("the password is empty; type one (or pipe one line: printf '%s\\n' \"$PW\" | "
                         "netkit monitor passwd)")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"the password is over {MAX_PASSWORD} characters")
    out.write(hash_password(password) + "\n")
    return 0


def _check(request, out, err) -> int:
    from netkit.monitor._config import load_config

    config = load_config(request["config"])
    if request["json"]:
        from netkit.cli.shell import dump_json

        out.write(dump_json(config_to_dict(config)))
        return 0
    out.write(summary(config) + "\n")
    return 0


def summary(config) -> str:
    """``monitor.toml: 12 targets in 3 groups, 2 alert channels, 1 /probe module, store ...``"""
    from netkit.core.text import for_terminal

    def count(n, word):
        return f"{n} {word}{'' if n == 1 else 's'}"

    s = config.settings
    web = f"web {s.listen}" if s.listen else "no web side"
    return for_terminal(f"{config.path}: OK, {count(len(config.targets), 'target')} in "
                        f"{count(len(config.groups), 'group')}, {count(len(config.channels), 'alert channel')}, "
                        f"{count(len(config.modules), '/probe module')}; store {s.store_masked}, location "
                        f"{s.location}, {web}")


def config_to_dict(config) -> dict:
    """The resolved config as JSON-able data: no password anywhere (URLs masked)."""
    s = config.settings
    return {
        "path": config.path,
        "settings": {"state_dir": s.state_dir, "store": s.store_masked, "listen": s.listen, "location": s.location,
                     "max_in_flight": s.max_in_flight, "keep_raw": s.keep_raw, "keep_rollups": s.keep_rollups,
                     "api_token": s.api_token is not None},
        "targets": [_target_dict(t, config) for t in config.targets],
        "channels": [c.name for c in config.channels],
        "groups": list(config.groups),
        "modules": {name: {"prober": m.prober, "options": sorted(m.opts)} for name, m in config.modules.items()},
    }


def _target_dict(target, config) -> dict:
    info = target.info
    opts: dict[str, object] = {}
    for name, value in target.spec.opts.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            opts[name] = value
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            opts[name] = list(value)
        else:
            opts[name] = repr(value) if isinstance(value, bytes) else str(value)
    return {"id": target.id, "url": info.url, "scheme": target.spec.target.scheme, "group": info.group,
            "labels": dict(info.labels), "interval": info.interval, "timeout": target.timeout,
            "locations": list(info.locations), "quorum": info.quorum, "alerts": list(target.channels),
            "maintenance": target.id in config.maintenance,
            "policy": {"failure_threshold": target.policy.failure_threshold,
                       "success_threshold": target.policy.success_threshold,
                       "flap_detection": target.policy.flap_detection,
                       "low_flap_threshold": target.policy.low_flap_threshold,
                       "high_flap_threshold": target.policy.high_flap_threshold},
            "options": opts}


def _run(request, out, err) -> int:
    from netkit.monitor import _runner

    overrides = {k: request[k] for k in ("location", "listen") if request[k] is not None}
    if not request["once"]:
        return _runner.run(request["config"], **overrides)
    from netkit.cli.render import json_line, nagios_line
    from netkit.core.status import worst

    results = _runner.run_once(_runner.load(request["config"], overrides))
    for _target, result in results:
        out.write((json_line(result) if request["json"] else nagios_line(result)) + "\n")
    return int(worst(r.status for _, r in results))


def _discover(request, out, err) -> int:
    from netkit.core.text import for_terminal
    from netkit.monitor._config import parse_config
    from netkit.monitor._discover import PROBE_TIMEOUT, discover, render

    services, report = discover(request["targets"], request["ports"], dns_name=request["dns_name"],
                                timeout=request["timeout"] or PROBE_TIMEOUT)
    if report.interrupted:
        err.write(f"{COMMAND} discover: interrupted; nothing written\n")
        return 130
    if not services:
        err.write(f"{COMMAND} discover: no open port on {for_terminal(' '.join(request['hosts']))}; nothing "
                  f"written\n")
        return 1
    words = ["netkit", "monitor", "discover", *request["hosts"]]
    if request["ports_text"]:
        words += ["-p", request["ports_text"]]
    text = render(services, " ".join(words))
    output = request["output"]
    # The promise: what is written passes `netkit monitor check` (a failure here is a bug).
    parse_config(text, output if output and output != "-" else "discovered.toml", env={})
    if not output or output == "-":
        out.write(text)
        return 0
    from netkit.core.fs import write_whole

    write_whole(output, text.encode("utf-8"), 0o644)
    for service in services:  # what went into the file, for the person who ran it
        err.write(f"{for_terminal(service.name)}: {for_terminal(service.url)}\n")
    return 0


def _status(request, out, err) -> int:
    import os

    from netkit.monitor._config import default_settings, load_config
    from netkit.monitor._store import open_store

    settings = load_config(request["config"]).settings if request["config"] else default_settings()
    if settings.store.startswith("sqlite://") and not os.path.exists(settings.store[len("sqlite://"):]):
        err.write(f"{COMMAND} status: no store at {settings.store[len('sqlite://'):]}: has netkit monitor run "
                  f"started with this config?\n")
        return 1
    try:
        store = open_store(settings.store, settings.location)
    except ImportError as exc:   # PostgreSQL without the monitor extra's psycopg
        err.write(f"{COMMAND} status: this netkit cannot open the store: {exc}\n")
        return 1
    try:
        rows = [status_row(entry) for entry in store.current()]
    finally:
        store.close()
    from netkit.core.status import severity

    rows.sort(key=lambda r: (-severity(r["status"]), r["target"]))
    if request["json"]:
        from netkit.cli.shell import dump_json

        out.write(dump_json(rows))
        return 0
    out.write(status_table(rows))
    return 0


# How bad a status is in the table's order: CRITICAL, WARNING, UNKNOWN, OK (netkit.core.status).


def status_row(entry: dict) -> dict:
    """One target of ``store.current()`` as a row: its verdict (or its worst hard state
    where no verdict was made yet), since when, its last check and what that said."""
    from netkit.core.status import Status, worst

    info, verdict = entry["info"], entry.get("verdict")
    states = entry.get("states") or {}
    samples = entry.get("samples") or {}
    if verdict is not None:
        status, since, flapping, acked = int(verdict.status), verdict.since, verdict.flapping, verdict.acked
    else:
        status = int(worst(s.hard_status for s in states.values()))
        since = max((s.since for s in states.values() if s.since is not None), default=None)
        flapping, acked = any(s.flapping for s in states.values()), False
    soft = [loc for loc, s in sorted(states.items()) if s.status != s.hard_status]
    last = max(samples.values(), key=lambda s: s.at, default=None)
    return {"target": info.id, "group": info.group, "status": status, "state": Status(status).label,
            "since": since, "last_check": None if last is None else last.at,
            "summary": "" if last is None else last.summary, "flapping": flapping, "acknowledged": acked,
            "soft_in": soft, "locations": {loc: Status(s.hard_status).label for loc, s in sorted(states.items())}}


def status_table(rows, now=None) -> str:
    """The rows as a table for people (remote text escaped, long summaries cut)."""
    import time

    from netkit.core.text import for_terminal

    now = time.time() if now is None else now
    if not rows:
        return "no targets in the store yet\n"
    lines = [("TARGET", "STATE", "SINCE", "LAST CHECK", "SUMMARY")]
    for r in rows:
        state = r["state"] + ("*" if r["soft_in"] else "") + (" (flapping)" if r["flapping"] else "") + \
            (" (ack)" if r["acknowledged"] else "")
        summary = for_terminal(r["summary"])
        if len(summary) > SUMMARY_WIDTH:
            summary = summary[: SUMMARY_WIDTH - 1] + "…"
        lines.append((for_terminal(r["target"]), state, _ago(r["since"], now), _ago(r["last_check"], now), summary))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    text = "".join("  ".join(cell.ljust(w) for cell, w in zip(line[:4], widths)) + "  " + line[4] + "\n"
                   for line in lines)
    if any(r["soft_in"] for r in rows):
        text += "* a location's last result disagrees (soft state, not alerted yet)\n"
    return text


def _ago(at, now) -> str:
    if at is None:
        return "-"
    seconds = max(0, int(now - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command
    from netkit.core.fs import LocalError

    argv = list(argv)
    # Messages name the subcommand ("netkit monitor check: ..."), once.
    command = f"{COMMAND} {argv[0]}" if argv and argv[0] in SUBCOMMANDS else COMMAND
    return run_command(command, argv, parse, help_text, _work, out, err, failures=(LocalError,))
