"""``netkit rpc serve|call``: serve the admin set and a module's functions over xmlrpc,
jsonrpc, pyro or pb; call a method of such a server and print the result."""

import os

from netkit.cli.args import flag_table, option_rows, parse_values
from netkit.cli.options import Option, as_given, positive, seconds
from netkit.core.errors import UsageError

__all__ = ["help_text", "main"]

COMMAND = "netkit rpc"


def _port(text):
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise ValueError("expects a port number 0-65535 (0: any free port)")
    return int(text)


def _network(text):
    import ipaddress

    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError("expects an address or network, like 192.168.1.0/24 or ::1") from None


def _size(text):
    from netkit.core.text import parse_size

    n = parse_size(text)
    if not 1 <= n <= 1 << 30:
        raise ValueError("expects a size from 1 byte to 1 GiB, like 1m or 65536")
    return n


def _workers(text):
    """A number of processes (1-256), or auto: the cores this process may run on."""
    if text == "auto":
        from netkit.core.limits import usable_cpus

        return usable_cpus()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 256:
        raise ValueError("expects a number of processes from 1 to 256, or auto")
    return int(text)


def _protocol(text):
    from netkit.rpc._serve import PROTOCOLS

    if text not in PROTOCOLS:
        raise ValueError(f"expects one of {', '.join(PROTOCOLS)}")
    return text


SERVE = (
    Option("protocol", "one", _protocol, None, "xmlrpc (default), jsonrpc, pyro or pb", short="p",
           metavar="NAME", example="pyro", default="xmlrpc"),
    Option("bind", "one", as_given, None, "listen on this address (default 127.0.0.1)", metavar="ADDR",
           example="0.0.0.0", default="127.0.0.1"),
    Option("port", "one", _port, None, "listen on this port (default 8765 xmlrpc, 8766 jsonrpc, 7766 pyro, "
           "9876 pb; 0: any)", metavar="PORT", example="8765"),
    Option("root", "one", as_given, None, "the directory the admin set sees (default .); nothing leaves it",
           metavar="DIR", example="/var/log", default="."),
    Option("module", "one", as_given, None, "also expose this file's @netkit.rpc.expose functions",
           metavar="FILE", example="tools.py"),
    Option("checks", "one", as_given, None, "a netkit checks file: check(name) runs its checks",
           metavar="FILE", example="checks.toml"),
    Option("allow", "many", _network, None, "accept clients from this network (repeatable; default loopback "
           "only)", metavar="CIDR", example="192.168.1.0/24"),
    Option("tls-cert", "one", as_given, None, "serve TLS with this certificate (PEM)", metavar="FILE",
           example="cert.pem"),
    Option("tls-key", "one", as_given, None, "and this key (PEM)", metavar="FILE", example="key.pem"),
    Option("client-ca", "one", as_given, None, "require client certificates signed by this CA", metavar="FILE",
           example="clients-ca.pem"),
    Option("token-env", "one", as_given, None, "require the token in this environment variable (Bearer, "
           "Basic password, Pyro handshake, PB login)", metavar="VAR", example="RPC_TOKEN"),
    Option("basic-env", "one", as_given, None, "http: require USER:PASSWORD from this environment variable",
           metavar="VAR", example="RPC_BASIC"),
    Option("call-timeout", "one", seconds, None, "a call's deadline (default 10 s)", metavar="SECONDS",
           example="5", default=10.0),
    Option("max-request", "one", _size, None, "largest request, also after gzip (default 1m)", metavar="SIZE",
           example="256k", default=1 << 20),
    Option("max-depth", "one", positive, None, "deepest nesting of arrays/structs in arguments (default 32)",
           metavar="N", example="16", default=32),
    Option("threads", "one", positive, None, "threads running calls, per process (default 16)", metavar="N",
           example="8", default=16),
    Option("workers", "one", _workers, None, "serve from N processes sharing the port (xmlrpc, jsonrpc, pyro; "
           "auto: one per core; default 1)", metavar="N", example="auto", default=1),
    Option("max-connections", "one", positive, None, "open connections at once (default 1024)", metavar="N",
           example="256", default=1024),
    Option("object", "one", as_given, None, "pyro: the object's name in PYRO:NAME@host:port (default netkit)",
           metavar="NAME", example="psaexample", default="netkit"),
    Option("debug", "flag", as_given, None, "faults name the exception, the log holds tracebacks"),
)

CALL = (
    Option("protocol", "one", _protocol, None, "http(s) URLs: xmlrpc (default) or jsonrpc", short="p",
           metavar="NAME", example="jsonrpc"),
    Option("list", "flag", as_given, None, "list the server's methods with their help", short="l"),
    Option("json", "flag", as_given, None, "print the result as JSON (default: a table for records)"),
    Option("token-env", "one", as_given, None, "send the token in this environment variable", metavar="VAR",
           example="RPC_TOKEN"),
    Option("user", "one", as_given, None, "http basic auth as USER", short="u", metavar="USER", example="admin"),
    Option("password-env", "one", as_given, None, "with the password in this environment variable",
           metavar="VAR", example="RPC_PASSWORD"),
    Option("cacert", "one", as_given, None, "trust the CAs of this PEM file", metavar="FILE", example="ca.pem"),
    Option("cert", "one", as_given, None, "present this client certificate (PEM)", metavar="FILE",
           example="client.pem"),
    Option("key", "one", as_given, None, "and its key", metavar="FILE", example="client.key"),
    Option("insecure", "flag", as_given, None, "https: do not verify the server's certificate", short="k"),
    Option("timeout", "one", seconds, None, "give up after this long (default 30 s)", metavar="SECONDS",
           example="5", default=30.0),
)
HELP = Option("help", "flag", None, None, "show this help", short="h")


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    return {"serve": ("serve the admin set and a module's functions", SERVE + (HELP,)),
            "call": ("call a method of a server and print the result", CALL + (HELP,))}


def help_text() -> str:
    return (
        "usage: netkit rpc serve [OPTIONS]\n"
        "       netkit rpc call URL METHOD [ARG...]\n"
        "       netkit rpc call --list URL\n\n"
        "serve: expose a read-only admin set -- ls(dir) (errors hidden), ls_boom(dir) (errors as\n"
        "faults), stat, df, du, uptime, tail(path, lines), cb(obj), check(name) with --checks --\n"
        "confined to --root (no '..', no links followed), plus a --module's @netkit.rpc.expose\n"
        "functions; nothing else is reachable. Safe by default: 127.0.0.1, loopback clients only,\n"
        "XML parsed defused (no DTD, no entities), gzip and requests bounded, a deadline per call,\n"
        "faults without server tracebacks, Pyro with serpent only (never pickle, dill or marshal).\n\n"
        "serve options:\n" + option_rows(SERVE) +
        "\ncall: URL is http(s)://host:port/ (xmlrpc or jsonrpc), PYRO:name@host:port or\n"
        "pb://host:port. ARGs are JSON (5, \"5\", [1,2], {\"a\":1}, null) or typed (str:007,\n"
        "int:5, float:1.5, bool:true, json:...); anything else is a string.\n\n"
        "call options:\n" + option_rows(CALL) +
        "\nExamples:\n"
        "  netkit rpc serve --root /var/log\n"
        "  netkit rpc call http://127.0.0.1:8765/ ls_boom /nginx\n"
        "  netkit rpc serve --protocol pyro --object psaexample --module psa.py\n"
        "  netkit rpc call PYRO:psaexample@127.0.0.1:7766 tail syslog 20\n"
        "  netkit rpc serve --bind 0.0.0.0 --allow 10.0.0.0/8 --tls-cert c.pem --tls-key k.pem "
        "--token-env RPC_TOKEN\n"
        "  netkit rpc call --list http://127.0.0.1:8765/\n"
    )


def _env(var, option):
    if var is None:
        return None
    from netkit.core.credentials import env_secret

    value = env_secret(var, f"{COMMAND}: --{option}")
    if not value:
        raise UsageError(f"{COMMAND}: --{option} {var}: {var} is empty")
    return value


def parse(argv):
    if not argv or argv[0] in ("-h", "--help"):
        if not argv:
            raise UsageError("serve or call? e.g. netkit rpc serve --root /var/log, "
                             "netkit rpc call http://127.0.0.1:8765/ ls .")
        return {"help": True}
    action, rest = argv[0], argv[1:]
    if action not in ("serve", "call"):
        from netkit.cli.args import suggest

        raise UsageError(f"unknown action {action!r}{suggest(action, ('serve', 'call'))}; "
                         "netkit rpc serve|call (see netkit rpc --help)")
    flags = flag_table((SERVE if action == "serve" else CALL) + (HELP,))
    try:
        values, positional = parse_values(rest, flags, f"{COMMAND} {action}")
    except UsageError as exc:  # "netkit rpc: ..." once, not "netkit rpc: netkit rpc serve: ..."
        raise UsageError(str(exc).removeprefix(f"{COMMAND} {action}: ")) from None
    if values.get("help"):
        return {"help": True}
    return _serve_request(values, positional) if action == "serve" else _call_request(values, positional)


def _serve_request(values, positional):
    from netkit.rpc._registry import Limits
    from netkit.rpc._serve import ServerConfig

    if positional:
        raise UsageError(f"serve takes options only (got {positional[0]!r}); e.g. netkit rpc serve --root /srv")
    if values.get("token-env") and values.get("basic-env"):
        raise UsageError("give --token-env or --basic-env, not both")
    limits = Limits(call_seconds=values["call-timeout"], max_request=values["max-request"],
                    max_depth=values["max-depth"], threads=values["threads"],
                    max_connections=values["max-connections"])
    for name in ("root", "module", "checks", "tls-cert", "tls-key", "client-ca"):
        path = values.get(name)
        if path is not None and not os.path.exists(path):
            raise UsageError(f"--{name} {path}: no such {'directory' if name == 'root' else 'file'}")
    try:
        config = ServerConfig(values["protocol"], bind=values["bind"], port=values.get("port"), root=values["root"],
                              module=values.get("module"), checks=values.get("checks"), allow=values.get("allow"),
                              tls_cert=values.get("tls-cert"), tls_key=values.get("tls-key"),
                              client_ca=values.get("client-ca"), token=_env(values.get("token-env"), "token-env"),
                              basic=_env(values.get("basic-env"), "basic-env"), limits=limits,
                              debug=bool(values.get("debug")), object_name=values["object"],
                              workers=values["workers"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if config.basic is not None and ":" not in config.basic:
        raise UsageError("--basic-env: the variable holds USER:PASSWORD")
    return {"action": "serve", "config": config}


def _call_request(values, positional):
    from netkit.rpc._client import parse_arg

    if values.get("list"):
        if len(positional) != 1:
            raise UsageError("--list takes the server's URL only: netkit rpc call --list http://127.0.0.1:8765/")
        return {"action": "call", "url": positional[0], "method": None, "params": [], "values": values}
    if len(positional) < 2:
        raise UsageError("call needs a URL and a method: netkit rpc call http://127.0.0.1:8765/ ls .")
    url, method = positional[:2]
    return {"action": "call", "url": url, "method": method, "params": [parse_arg(a) for a in positional[2:]],
            "values": values}


def _run(request, out, err) -> int:
    if request["action"] == "serve":
        return _serve(request["config"], err)
    return _call(request, out, err)


def _serve(config, err) -> int:
    from netkit.rpc._serve import run
    from netkit.serve._system import Log

    try:
        return run(config, log=Log(err))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        hint = {98: " (another server listens there: stop it or choose --port)",
                13: " (ports below 1024 need root; pick a higher --port)",
                99: " (that address is not on this machine; --bind one it has)"}.get(exc.errno or 0, "")
        err.write(f"{COMMAND} serve: cannot listen on {config.bind}:{config.port}: {exc.strerror or exc}{hint}\n")
        return 1


def _login(url, values):
    """(user, password) of http(s) basic auth (:func:`netkit.core.credentials.resolve`:
    --user or the URL's user; the password from the URL, --password-env, ~/.netrc or a
    prompt); PYRO: and pb:// log in with --token-env only."""
    if not url.lower().startswith(("http://", "https://")):
        if values.get("user") or values.get("password-env"):
            raise UsageError("--user and --password-env are http(s) basic auth; PYRO: and pb:// log in with "
                             "--token-env")
        return None, None
    from netkit.core.credentials import resolve
    from netkit.core.target import parse_target

    try:
        target = parse_target(url, {"http": 80, "https": 443})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return tuple(resolve(target, values.get("user"), None, values.get("password-env"), prompt=True,
                         netrc_login=False, spell=lambda name: f"--{name}"))


def _call(request, out, err) -> int:
    from netkit.cli.shell import dump_json
    from netkit.core.errors import NetError
    from netkit.core.text import for_terminal
    from netkit.rpc._client import call

    values = request["values"]
    user, password = _login(request["url"], values)
    if values.get("cert") and not values.get("key"):
        raise UsageError("--cert needs --key")
    kw = dict(protocol=values.get("protocol"), token=_env(values.get("token-env"), "token-env"), user=user,
              password=password, cafile=values.get("cacert"), insecure=bool(values.get("insecure")),
              cert=values.get("cert"), key=values.get("key"), timeout=values["timeout"])
    url = request["url"]
    try:
        if request["method"] is None:
            result = _describe(url, call, kw)
        else:
            result = call(url, request["method"], request["params"], **kw)
    except NetError as exc:
        err.write(f"{COMMAND} call: {for_terminal(str(exc))}\n")
        return 1
    out.write(dump_json(result) if values.get("json") else render(result))
    return 0


def _describe(url, call, kw):
    """[{method, help}] of the server: its names, then their help in one multicall."""
    from netkit.core.errors import ProtocolError

    if url.lower().startswith("pb://"):
        got = call(url, "describe", [], **kw)
    else:
        names = call(url, "system.listMethods", [], **kw)
        got = [names, call(url, "system.multicall", [[{"methodName": "system.methodHelp", "params": [n]}
                                                      for n in names[:100]]], **kw) if isinstance(names, list) else []]
    if not (isinstance(got, list) and len(got) == 2 and isinstance(got[0], list) and isinstance(got[1], list)):
        raise ProtocolError(f"{url}: system.listMethods did not answer a list of names")
    rows = []
    for name, help in zip(got[0], got[1]):
        text = help[0] if isinstance(help, list) and help else ""
        rows.append({"method": str(name), "help": _first_line(text)})
    return rows


def _first_line(text):
    return " ".join(str(text).strip().split("\n\n")[0].split())


def render(result) -> str:
    """A result for a terminal: a table for records (a list of structs, or one struct),
    one line per item for a list of scalars, the value itself otherwise; every peer's
    string escaped (netkit.core.text.for_terminal)."""
    from netkit.cli.shell import dump_json
    from netkit.core.text import for_terminal

    def cell(value):
        return for_terminal(value if isinstance(value, str) else dump_json(value).rstrip("\n"))

    if isinstance(result, dict) and result:
        width = max(len(cell(k)) for k in result)
        return "".join(f"{cell(k):<{width}}  {cell(v)}\n" for k, v in result.items())
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        columns = list(dict.fromkeys(k for r in result for k in r))
        rows = [[cell(c) for c in columns]] + [[cell(r.get(c, "")) for c in columns] for r in result]
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        return "".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n" for row in rows)
    if isinstance(result, list) and all(not isinstance(r, (list, dict)) for r in result):
        return "".join(cell(r) + "\n" for r in result)
    return cell(result) + "\n"


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    return run_command(COMMAND, argv, parse, help_text, _run, out, err)
