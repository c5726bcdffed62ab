"""``netkit url``: split, quote, unquote, join, encode and decode URLs and query strings.

Exit 0 on success, 2 on bad input (a malformed URL, a port out of range, KEY without
=VALUE, a missing argument).
"""


from netkit.cli.args import flag_table, option_rows, parse_argv, suggest
from netkit.cli.options import Option, as_given
from netkit.cli.shell import dump_json, is_terminal
from netkit.core.errors import UsageError

__all__ = ["help_text", "main"]

COMMAND = "netkit url"

# action -> (arguments as the usage shows them, what it does)
ACTIONS = {
    "parse": ("URL", "split a URL into its parts (scheme, user, host, port, path, query, ...)"),
    "quote": ("TEXT", "percent-encode text (quote; --plus: quote_plus, spaces as '+')"),
    "unquote": ("TEXT", "decode %XX escapes (--plus: also '+' as a space)"),
    "join": ("BASE REF", "resolve a relative reference against a base URL (urljoin)"),
    "encode": ("KEY=VALUE...", "build a query string (urlencode; repeated names kept, UTF-8)"),
    "decode": ("QUERY", "split a query string (or a URL's query) into key=value lines"),
}


OPTIONS = (
    Option("safe", "one", as_given, None, "quote: characters left as they are (default '/'; with --plus none)",
           metavar="CHARS", example="'/:'"),
    Option("plus", "flag", as_given, None, "quote/unquote: spaces as '+' (form and query encoding)"),
    Option("show-password", "flag", as_given, None, "parse: show the password instead of ***"),
    Option("json", "flag", as_given, None, "print the result as one JSON object"),
    Option("help", "flag", as_given, None, "show this help", short="h"),
)
FLAGS = flag_table(OPTIONS)
# Options that make sense for some actions only.
APPLIES = {"safe": ("quote",), "plus": ("quote", "unquote"), "show-password": ("parse",)}


def option_tables():
    """{subcommand: (what it does, its options)} for completion and man pages (netkit.cli.completion)."""
    return {name: (what, tuple(o for o in OPTIONS if name in APPLIES.get(o.name, (name,))))
            for name, (_, what) in ACTIONS.items()}


def help_text() -> str:
    actions = "".join(f"  {f'{name} {args}':<22} {what}\n" for name, (args, what) in ACTIONS.items())
    rows = option_rows(OPTIONS, 22)
    return (
        "usage: netkit url ACTION ARGUMENTS [OPTIONS]\n\n"
        "actions:\n" + actions +
        "\noptions:\n" + rows +
        "\nText that starts with '-' goes after '--': netkit url quote -- -x.\n"
        "On a terminal, control characters in the output (unquote %1b, say) are shown as \\xHH;\n"
        "into a pipe or a file they are written as they are.\n\n"
        "Examples:\n"
        "  netkit url parse 'https://user:secret@example.com:8443/a/b?x=1&x=2#top'\n"
        "  netkit url quote 'a = b + c'            # a%20%3D%20b%20%2B%20c\n"
        "  netkit url quote --plus 'a = b + c'     # a+%3D+b+%2B+c\n"
        "  netkit url unquote --plus 'a+=+b+%2B+c'\n"
        "  netkit url join http://python.example/lib/ itertools.html\n"
        "  netkit url encode n=1 n=3 button=Привет\n"
        "  netkit url decode 'n=1&n=3&empty='\n"
    )


def parse(argv):
    raw, positional = parse_argv(argv, FLAGS, COMMAND)
    if raw.get("help"):
        return {"help": True}
    if not positional:
        raise UsageError(f"no action given; the form is netkit url ACTION ..., ACTION one of {', '.join(ACTIONS)}")
    action, args = positional[0], positional[1:]
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}{suggest(action, ACTIONS)} (the actions are "
                         f"{', '.join(ACTIONS)}; see netkit url --help)")
    for name, actions in APPLIES.items():
        if raw.get(name) and action not in actions:
            raise UsageError(f"--{name} applies to {' and '.join(f'url {a}' for a in actions)} only, "
                             f"not to url {action}")
    form = f"netkit url {action} {ACTIONS[action][0]}"
    wanted = {"join": 2}.get(action, 1)
    if action == "encode":
        if not args:
            raise UsageError(f"no KEY=VALUE pairs given; the form is {form}, e.g. netkit url encode q=netkit page=2")
    elif len(args) != wanted:
        hint = "; put text with spaces in quotes" if len(args) > wanted and action != "join" else ""
        raise UsageError(f"url {action} takes {' '.join(ACTIONS[action][0].split())} "
                         f"({wanted} argument{'s' if wanted > 1 else ''}, got {len(args)}){hint}; the form is {form}")
    return {"action": action, "args": args, "json": bool(raw.get("json")), "plus": bool(raw.get("plus")),
            "safe": raw["safe"][-1] if raw.get("safe") else None, "show_password": bool(raw.get("show-password"))}


def _visible(text: str) -> str:
    """One line of text: control characters as escapes (\\n, \\t, \\x00), the rest as is."""
    if all(c.isprintable() for c in text):
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    if 0xDC80 <= ord(c) <= 0xDCFF:  # a byte of a command line that was not UTF-8
        return f"\\x{ord(c) - 0xDC00:02x}"
    return c.encode("unicode_escape").decode("ascii")


def _parts_table(parts) -> str:
    rows = [("scheme", parts.scheme), ("netloc", parts.netloc), ("username", parts.username),
            ("password", parts.password), ("hostname", parts.hostname), ("port", parts.port),
            ("path", parts.path), ("query", parts.query)]
    lines = [f"{k:<9} {_visible('' if v is None else str(v))}".rstrip() for k, v in rows]
    lines += [f"{'':<9}   {_visible(key)} = {_visible(value)}".rstrip() for key, value in parts.query_pairs]
    lines.append(f"{'fragment':<9} {_visible(parts.fragment)}".rstrip())
    return "\n".join(lines) + "\n"


def _run(request) -> str:
    from netkit.info import urls

    action, args, as_json = request["action"], request["args"], request["json"]
    if action == "parse":
        parts = urls.describe_url(args[0], show_password=request["show_password"])
        return dump_json(parts.to_dict()) if as_json else _parts_table(parts)
    if action in ("quote", "unquote"):
        if action == "quote":
            result = urls.quote(args[0], safe=request["safe"], plus=request["plus"])
        else:
            result = urls.unquote(args[0], plus=request["plus"])
        return dump_json({"input": args[0], "output": result}) if as_json else result + "\n"
    if action == "join":
        result = urls.join_url(args[0], args[1])
        return dump_json({"base": args[0], "ref": args[1], "url": result}) if as_json else result + "\n"
    if action == "encode":
        pairs = [urls.parse_pair(a) for a in args]
        query = urls.encode_query(pairs)
        return dump_json({"query": query, "pairs": [list(p) for p in pairs]}) if as_json else query + "\n"
    decoded = urls.decode_query(args[0])
    if as_json:
        return dump_json({"query": args[0], "pairs": [list(p) for p in decoded]})
    return "".join(f"{_visible(k)}={_visible(v)}\n" for k, v in decoded)


def main(argv, out=None, err=None) -> int:
    from netkit.cli.shell import run_command

    def work(request, out, err) -> int:
        text = _run(request)
        if is_terminal(out):  # unquote's %1b is an ESC: shown, not obeyed (a pipe gets it as is)
            from netkit.core.text import for_terminal

            text = for_terminal(text, keep_newlines=True)
        out.write(text)
        return 0

    return run_command(COMMAND, argv, parse, help_text, work, out, err)
