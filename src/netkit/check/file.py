"""Checks files: TOML with optional ``[defaults]`` and a list of ``[[check]]`` tables.

::

    [defaults]              # options for every check (those a scheme does not take are skipped)
    timeout = 5

    [[check]]
    name = "web"
    url = "https://example.com/"
    status = "200,301"
    cert-warn = 30

Keys are the long option names of ``netkit check`` (``cert-warn``, ``expect``...); a
repeatable option takes a string or a list of strings.
"""

from netkit.check.options import BY_NAME
from netkit.check.spec import make_spec, parse_check_target
from netkit.core.errors import UsageError
from netkit.core.text import suggest

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping
    from typing import Any

    from netkit.check.spec import CheckSpec

    from netkit.core.fields import Field

__all__ = ["load_checks", "check_from_table", "check_label", "parse_defaults", "parse_value", "MAX_CHECKS_FILE"]

_TOP_KEYS = ("defaults", "check")
# The largest checks file read: tens of thousands of checks at ~200 bytes each is a few
# MiB; a file far past that is a mistake (a log, a disk image), not a list of checks.
MAX_CHECKS_FILE = 32 * 1024 * 1024


def parse_value(option: "Field", value: object, spell: "Callable[[str], str]", *,
                key: "Callable[[str], str] | None" = None) -> "Any":
    """Parse a TOML value (or a typed check's keyword, netkit.check._specs) for ``option``;
    UsageError in the file's own words. ``key``: how the example spells the option
    (``cert-warn = 30`` in a file; ``cert_warn=30`` for a keyword)."""
    try:
        if option.kind == "many":
            items = value if isinstance(value, list) else [value]
            return tuple(option.parse(v) for v in items)
        return option.parse(value)
    except ValueError as exc:
        example = f"{key(option.name)}=" if key else f"{option.name} = "
        raise UsageError(f"{spell(option.name)} {exc} (got {shown_value(option.name, value)}); "
                         f"e.g. {example}{_toml_example(option)}") from None


def shown_value(name: str, value: object) -> str:
    """``repr(value)`` of option ``name`` as a message or a typed check's repr shows it: the
    password of a URL in it masked, and a ``header``'s values as a transcript masks the
    caller's headers (all but :data:`~netkit.core.secrets.SAFE_HEADERS`)."""
    from netkit.core.secrets import mask_url

    if name == "header":
        value = _masked_headers(value)
    return mask_url(repr(value))


def _masked_headers(value: object) -> object:
    """``header``'s value -- a mapping, a list of (name, value) pairs and ``"Name: value"``
    texts, or one of those -- with each header's value masked (:func:`shown_value`)."""
    from collections.abc import Mapping

    from netkit.core.secrets import caller_secrets, mask_header

    def masked(name: str, text: str) -> str:
        return mask_header(name, text, caller_secrets([(name, text)]))

    def item(one: object) -> object:
        if isinstance(one, tuple) and len(one) == 2 and isinstance(one[0], str) and isinstance(one[1], str):
            return (one[0], masked(one[0], one[1]))
        if isinstance(one, str) and ":" in one:
            name, _, text = one.partition(":")
            return f"{name}: {masked(name.strip(), text.strip())}"
        return one

    if isinstance(value, Mapping):
        return {n: masked(n, v) if isinstance(n, str) and isinstance(v, str) else v for n, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [item(one) for one in value]
    return item(value)


def _toml_example(option) -> str:
    if option.kind == "flag":
        return "true"
    ex = option.example or ""
    if option.name in ("timeout", "max-redirects", "cert-warn", "cert-crit", "maxbytes"):
        return ex
    return '"' + ex.replace("\\", "\\\\") + '"'


def _table(path, where, table, *, required_url, also=()):
    """({option: parsed value}, url) of one table; ``also`` are other keys the caller takes
    (a monitor's ``interval``...), named in the suggestion for a misspelt key."""
    if not isinstance(table, dict):
        raise UsageError(f"{path}: {where} must be a table of options")
    opts = {}
    url = None
    for key, value in table.items():
        if key == "url" and required_url:
            url = value
            continue
        option = BY_NAME.get(key) or BY_NAME.get(key.replace("_", "-"))
        if option is None:
            known = [*BY_NAME, *also, *(("url",) if required_url else ())]
            raise UsageError(f"{path}: {where}: unknown option {key!r}{suggest(key, known, quoted=True)}")

        def spell(name):
            return f"{path}: {where}: {name}"

        opts[option.name] = parse_value(option, value, spell)
    return url, opts


def parse_defaults(path, where, table, *, also=()) -> dict:
    """The check options of a defaults table (``[defaults]``; a monitor's group), parsed."""
    return _table(path, where, table, required_url=False, also=also)[1]


def check_from_table(path, label, table, defaults=None, *, cli_opts=None, prompt=None, env=None, also=(), base=None):
    """One check table (a ``[[check]]``, a monitor's ``[[target]]`` without its monitor
    keys) -> CheckSpec. Precedence: the table's keys > ``cli_opts`` > ``defaults`` > ``base``
    (the user's config file, netkit.cli.defaults), each
    default kept only where the scheme takes it. Every mistake is a UsageError starting
    ``{path}: {label}``."""
    url, own = _table(path, label, table, required_url=True, also=also)
    if url is None:
        raise UsageError(f"{path}: {label} has no url; e.g. url = \"https://example.com/\"")
    if not isinstance(url, str):
        raise UsageError(f"{path}: {label}: url must be a string like \"tcp://host:port\"")
    try:
        target = parse_check_target(url)
    except UsageError as exc:
        raise UsageError(f"{path}: {label}: {exc}") from None
    merged = {k: v for k, v in {**(base or {}), **(defaults or {})}.items() if target.scheme in BY_NAME[k].schemes}
    merged.update({k: v for k, v in (cli_opts or {}).items() if target.scheme in BY_NAME[k].schemes})
    merged.update(own)
    if target.scheme == "tcp" and not merged.get("tls"):
        for k in ("insecure", "cacert", "sni", "cert-warn", "cert-crit"):
            if k not in own:
                merged.pop(k, None)
    try:
        return make_spec(target, merged, spell=lambda name: name, env=env, prompt=prompt)
    except UsageError as exc:
        raise UsageError(f"{path}: {label}: {exc}") from None


def check_label(n: int, table, what: str = "check") -> str:
    """``check 3 (web)``: how messages name the n-th table (and its name, when it has one)."""
    label = f"{what} {n}"
    if isinstance(table, dict) and isinstance(table.get("name"), str):
        from netkit.core.text import for_terminal

        label += f" ({for_terminal(table['name'])})"
    return label


def load_checks(path: "str | os.PathLike[str]", *, cli_opts: "dict[str, Any] | None" = None,
                prompt: "Callable[[str], str] | None" = None, env: "Mapping[str, str] | None" = None,
                base: "dict[str, Any] | None" = None) -> "list[CheckSpec]":
    """Read a checks file into specs. Precedence: check keys > ``cli_opts`` > [defaults] > ``base``."""
    import tomllib

    from netkit.core.fs import read_text_file

    data = read_text_file(path, "checks file", MAX_CHECKS_FILE, "give a TOML file")
    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    for key in doc:
        if key not in _TOP_KEYS:
            raise UsageError(f"{path}: unknown top-level key {key!r}{suggest(key, _TOP_KEYS, quoted=True)}; "
                             f"a checks file has [defaults] and [[check]] tables")
    defaults = parse_defaults(path, "[defaults]", doc.get("defaults", {}))
    checks = doc.get("check", [])
    if not isinstance(checks, list) or not checks:
        raise UsageError(f"{path}: no checks; add [[check]] tables with a url, e.g. "
                         f"[[check]] url = \"tcp://127.0.0.1:22\"")
    return [check_from_table(path, check_label(n, table), table, defaults, cli_opts=cli_opts, prompt=prompt, env=env,
                             base=base)
            for n, table in enumerate(checks, 1)]
