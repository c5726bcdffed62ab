"""Reading ``config.toml`` (netkit.cli.defaults): the file, its TOML, its names.

Apart from netkit.cli.defaults so that a command run without a config file loads none of
this; tomllib is imported only for TOML of a shape :func:`plain_toml` leaves to it.
"""

from netkit.cli.defaults import SAFE, SHARED
from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MAX_CONFIG_FILE", "REFUSED", "load", "plain_toml"]

# A file of defaults is a few hundred bytes; this bounds what a mistake (a log, /dev/zero
# through a symlink) can make netkit read before it refuses.
MAX_CONFIG_FILE = 64 * 1024

# Options users may expect here that netkit refuses, and why (the error says it).
REFUSED = {
    "insecure": "TLS verification is turned off only on the command line, where it is seen (curl reads "
                "-k from .curlrc, and a forgotten one turns verification off for every host)",
    "user": "credentials go only where you send them: use ~/.netrc or ~/.ssh/config, which name the host",
    "password-env": "credentials go only where you send them: use ~/.netrc, which names the host",
    "passphrase-env": "credentials go only where you send them: give it on the command line",
    "oauth-token-env": "credentials go only where you send them: give it on the command line",
    "header": "a header may carry credentials to every host: give it on the command line",
    "output": "output goes where the command line says, so a forgotten default never overwrites a file",
    "output-dir": "output goes where the command line says, so a forgotten default never overwrites a file",
    "outdir": "output goes where the command line says, so a forgotten default never overwrites a file",
}


def load(path) -> dict:
    """The document of the config file at ``path`` (which exists), its names checked and
    spelled as options; UsageError naming the file otherwise."""
    from netkit.core.fs import read_text_file

    text = read_text_file(path, "config file", MAX_CONFIG_FILE, "give a TOML file of [command] tables")
    try:
        doc = plain_toml(text)
        if doc is None:
            import tomllib

            doc = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, or an integer past Python's digit limit
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return _check_names(path, doc)


def plain_toml(text):
    """What tomllib.loads(text) gives, when ``text`` is TOML of the plain shape a config file
    has: ``[table]`` headers and ``key = value`` lines, the values basic strings without
    escapes, literal strings, decimal integers and floats, booleans, one-line lists of
    those; comments. None for anything else, which tomllib then reads (or says what is
    wrong). Why: tomllib imports re, typing and datetime, 18 ms here, as long as Python's
    own start, and ``netkit check`` has a start-up budget of 1.6 x that. A test pins that
    this agrees with tomllib."""
    text = text.replace("\r\n", "\n")
    if text.startswith("\ufeff") or "\r" in text:
        return None
    doc = {}
    table = doc
    for line in text.split("\n"):
        line = line.strip(" \t")
        if not line or line[0] == "#":
            if not _comment(line):
                return None
            continue
        if line[0] == "[":
            end = line.find("]")
            name = line[1:end].strip(" \t")
            if end < 0 or not _bare(name) or name in doc or not _comment(line[end + 1:].lstrip(" \t")):
                return None
            table = doc[name] = {}
            continue
        key, eq, rest = line.partition("=")
        key = key.strip(" \t")
        if not eq or not _bare(key) or key in table:
            return None
        value, rest = _plain_value(rest.lstrip(" \t"), True)
        if value is None or not _comment(rest.lstrip(" \t")):
            return None
        table[key] = value
    return doc


_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_END = frozenset(" \t,]#")


def _bare(key) -> bool:
    return bool(key) and all(c in _BARE for c in key)


def _printable(text) -> bool:
    """No control characters but tab: what TOML allows in comments and one-line strings."""
    return all(c == "\t" or " " <= c < "\x7f" or c > "\x7f" for c in text)


def _comment(rest) -> bool:
    """``rest`` is nothing, or a comment TOML allows."""
    return not rest or (rest[0] == "#" and _printable(rest))


def _plain_value(text, list_ok):
    """(value, the text after it), or (None, "") when it is not of the plain shape."""
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        body = text[1:end]
        if end < 1 or text[:3] in ("'''", '"""') or (text[0] == '"' and "\\" in body) or not _printable(body):
            return None, ""
        return body, text[end + 1:]
    if text[:1] == "[" and list_ok:
        items = []
        rest = text[1:].lstrip(" \t")
        while rest[:1] != "]":
            item, rest = _plain_value(rest, False)
            if item is None:
                return None, ""
            items.append(item)
            rest = rest.lstrip(" \t")
            if rest[:1] == ",":
                rest = rest[1:].lstrip(" \t")
            elif rest[:1] != "]":
                return None, ""
        return items, rest[1:]
    n = 0
    while n < len(text) and text[n] not in _END:
        n += 1
    word, rest = text[:n], text[n:]
    if word in ("true", "false"):
        return word == "true", rest
    digits = word[1:] if word[:1] in ("+", "-") else word
    whole, dot, fraction = digits.partition(".")
    if (not whole or not set(whole) <= _DIGITS or (whole[0] == "0" and len(whole) > 1)
            or (dot and (not fraction or not set(fraction) <= _DIGITS))):
        return None, ""
    return (float(word) if dot else int(word)), rest


def _check_names(path, doc) -> dict:
    """``doc`` with keys spelled as options (``user_agent`` is ``user-agent``), after checking
    that every table is a command with defaults (or [defaults]) and every key a SAFE option of it."""
    from netkit.core.text import for_terminal, suggest

    checked: dict[str, Any] = {}
    for section, keys in doc.items():
        shown = for_terminal(section)
        if section != "defaults" and section not in SAFE:
            from netkit.cli.main import COMMANDS

            hint = suggest(section, [*SAFE, "defaults"], quoted=True)
            if section in COMMANDS:
                hint = f": netkit {shown} takes no defaults from the config file"
            raise UsageError(f"{path}: [{shown}] is not a table of the config file{hint}" if hint else
                             f"{path}: [{shown}] is not a table of the config file; its tables: [defaults], "
                             f"{', '.join(f'[{s}]' for s in SAFE)}")
        if not isinstance(keys, dict):
            raise UsageError(f"{path}: {shown} = ...: expects a table, as in [{shown}] with keys under it")
        allowed = SHARED if section == "defaults" else SAFE[section]
        checked[section] = {}
        for key, value in keys.items():
            name = key.replace("_", "-")
            if name in allowed:
                checked[section][name] = value
                continue
            where = f"{path}: [{shown}] {for_terminal(key)}"
            if name in REFUSED:
                raise UsageError(f"{where}: not from a config file: {REFUSED[name]}")
            if section == "defaults" and any(name in names for names in SAFE.values()):
                tables = " or ".join(f"[{t}]" for t, names in SAFE.items() if name in names)
                raise UsageError(f"{where}: means different things to different commands: set it in {tables}")
            hint = suggest(name, allowed, quoted=True) or f"; it sets: {', '.join(sorted(allowed))}"
            raise UsageError(f"{where}: not an option the config file sets{hint}")
    return checked
