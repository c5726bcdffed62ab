"""Who to log in as, and with which password: the one resolver of check, transfer, mail
and the library.

:func:`resolve` looks in one order, the same for every command and library call::

    1. the password given       password=  (the CLI's --user USER:PASSWORD)
    2. the URL's userinfo       scheme://user:password@host/
    3. an environment variable  password_env="VAR"  (--password-env VAR)
    4. ~/.netrc (or $NETRC)     the host's ``machine`` entry, or ``default``: its password
                                when its login is the user's (or it names none); its login
                                too when no user was named (as curl and requests read it)
    5. a prompt                 when the caller passes one: ``prompt=True`` asks on the
                                terminal when standard input is one (the CLI does)

The user is ``user=`` (the CLI's --user), else the URL's, else the netrc entry's login.
A user without a password after 1-5 is:

- an empty password for ``http://user@host/`` written alone in the URL, as curl sends;
- no password for sftp:// and ssh:// (keys and the agent log in);
- else a :class:`UsageError` saying how to give one (the name, never a secret).

Library callers get ~/.netrc as requests and curl give it (``netrc=False`` turns it off);
only the CLI prompts. A password from any source holds no CR, LF or NUL for a line protocol
(FTP, SMTP, POP3, IMAP: it would end the PASS line and start a command); HTTP sends it
base64-encoded. No message and no repr ever shows a password: :class:`Credentials` masks it.
"""

from __future__ import annotations

import os

from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: nothing more on a check's start-up
    from collections.abc import Callable, Iterator, Mapping

    from netkit.core.target import Target

    Prompt = Callable[[str], str]
    # (the user when the source gave one, the password, the source's name)
    Found = tuple[str | None, str | None, str | None]

__all__ = ["MAX_NETRC_BYTES", "Credentials", "env_secret", "netrc_entry", "resolve"]

# Schemes whose password travels base64-encoded in a header, not on a protocol line.
_HEADER_SCHEMES = frozenset(("http", "https"))
# Schemes that log in with keys or an agent when no password is found.
_KEY_SCHEMES = frozenset(("sftp", "ssh"))
# A netrc holds a few lines per host; a bigger file is a mistake ($NETRC naming a log).
MAX_NETRC_BYTES = 1 << 20
# Permission bits that let someone else read or change the file: group and others.
_SHARED_BITS = 0o077


class Credentials:
    """``user`` and ``password`` (either None: nobody to log in as, or no password) and
    ``source``: where the password came from ("argument", "url", "env", "netrc", "prompt",
    "empty" for curl's ``http://user@host/``), or None without one."""

    __slots__ = ("password", "source", "user")

    def __init__(self, user: str | None = None, password: str | None = None, source: str | None = None) -> None:
        self.user, self.password, self.source = user, password, source

    def __iter__(self) -> Iterator[str | None]:
        """``user, password = resolve(...)``."""
        return iter((self.user, self.password))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.user, self.password, self.source) == (other.user, other.password, other.source)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        shown = "None" if self.password is None else "'***'"
        return f"Credentials(user={self.user!r}, password={shown}, source={self.source!r})"


def resolve(url_or_target: str | Target, user: str | None = None, password: str | None = None,
            password_env: str | None = None, *, netrc: bool = True, prompt: Prompt | bool | None = None,
            env: Mapping[str, str] | None = None, netrc_login: bool = True,
            spell: Callable[[str], str] | None = None) -> Credentials:
    """The :class:`Credentials` to log in to ``url_or_target`` (a URL or a
    :class:`~netkit.core.target.Target`) with, in the order the module describes.

    ``prompt(text)`` asks for the password; ``prompt=True``: getpass on the terminal when
    standard input is one (a CLI passes it; cron and pipes have nobody to ask); None: never;
    ``env`` replaces ``os.environ`` for ``password_env`` and $NETRC; ``spell(name)``
    writes an option as the caller's user wrote it in messages (``--password-env`` on the
    command line, ``password-env`` in a file; None: a library caller, told of ``password=``).
    ``netrc_login=False`` keeps "no user" meaning "log in as nobody" (a check, mail sent
    without AUTH): ~/.netrc then completes a named user's password only.
    UsageError when a user is named without any way to find the password.
    """
    target = _target(url_or_target)
    library = spell is None
    spell = spell or _library_spelling
    env = os.environ if env is None else env
    named = user is not None
    if not named:
        user = target.user
    if password_env is not None and user is None:
        raise UsageError(f"{spell('password-env')} needs a user: {spell('user')} NAME or "
                         f"{target.scheme}://NAME@host/")
    if user is None and not netrc_login:
        return Credentials()
    found = _password(target, user, named, password, password_env, env, netrc, spell)
    if found is None:
        if user is None:
            return Credentials()
        found = _last_resort(target, user, named, prompt, spell, library)
    login, secret, source = found
    if login is None and secret is None:
        return Credentials(user)
    creds = Credentials(login if login is not None else user, secret, source)
    if target.scheme not in _HEADER_SCHEMES:
        _one_line(creds, target)
    return creds


def _library_spelling(name: str) -> str:
    return name.replace("-", "_")


def _password(target: Target, user: str | None, named: bool, password: str | None, password_env: str | None,
              env: Mapping[str, str], netrc: bool, spell: Callable[[str], str]) -> Found | None:
    """(user or None, password, source) from sources 1-4, or None."""
    if password is not None:
        return None, password, "argument"
    if target.password is not None and (not named or user == target.user):
        return None, target.password, "url"
    if password_env is not None:
        return None, env_secret(password_env, spell("password-env"), env), "env"
    if netrc and target.host:
        entry = netrc_entry(target.host, env)
        if entry is not None:
            login, secret = entry
            if user is None and login:
                return login, secret, "netrc"
            if user is not None and (not login or login == user):
                return None, secret, "netrc"
    return None


def env_secret(var: str, option: str, env: Mapping[str, str] | None = None, *, hint: str = "") -> str:
    """The value of the environment variable ``var``, which ``option`` (as the user wrote
    it: ``--password-env``, ``store-password-env``) names: the one way netkit reads a secret
    from the environment. UsageError saying to export it when it is not set."""
    env = os.environ if env is None else env
    if var not in env:
        raise UsageError(f"{option} {var}: the environment has no {var}; export {var}=... first{hint}")
    return env[var]


def _last_resort(target: Target, user: str, named: bool, prompt: Prompt | bool | None,
                 spell: Callable[[str], str], library: bool) -> Found:
    """(None, password, source) when sources 1-4 found none for ``user``."""
    if target.scheme in _KEY_SCHEMES:
        return None, None, None
    if not named and target.scheme in _HEADER_SCHEMES:
        return None, "", "empty"  # http://user@host/ alone: an empty password, as curl sends
    from netkit.core.text import for_terminal

    # The user as the prompt and the messages show it: a URL's (a checks or URL file's,
    # %1b decoded) may hold ESC sequences or bidi marks.
    shown, where = for_terminal(user), for_terminal(target.netloc if target.port else target.host)
    if prompt is True:
        prompt = _terminal_prompt()
    if prompt is None or prompt is False:
        how = ("pass password=, or put it in ~/.netrc" if library else
               f"set {spell('password-env')} VAR, put it in ~/.netrc, or run on a terminal to be asked")
        raise UsageError(f"the password for {shown} is needed: {how}")
    try:
        return None, prompt(f"Password for {shown} at {where}: "), "prompt"  # where: no port in a URL text
    except EOFError:  # Ctrl-D at the prompt
        raise UsageError(f"no password given for {shown}; type it at the prompt, or use "
                         f"{spell('password-env')} VAR or ~/.netrc") from None


def _one_line(creds: Credentials, target: Target) -> None:
    """First wall against command injection: a user or password that goes into a protocol
    line (USER, PASS, AUTH, LOGIN) holds no CR, LF or NUL."""
    from netkit.core.text import check_line_field

    for value, field in ((creds.user, "the user name"), (creds.password, f"the password for {target.scheme}://")):
        if value is not None:
            try:
                check_line_field(value, field)
            except ValueError as exc:
                raise UsageError(str(exc)) from None


def _target(url_or_target: str | Target) -> Target:
    from netkit.core.target import Target, parse_target

    if isinstance(url_or_target, Target):
        return url_or_target
    text = str(url_or_target).strip()
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme:
        from netkit.core.secrets import mask_url

        raise UsageError(f"{mask_url(text)!r} is not a URL; credentials are for scheme://[user@]host[:port]/...")
    scheme = scheme.lower()
    try:
        return parse_target(text, {scheme: 0}, hostless=frozenset((scheme,)))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _terminal_prompt() -> Prompt | None:
    """A prompt asking on the terminal (``getpass``: on /dev/tty, the answer not echoed)
    when standard input is one -- someone is there to answer -- else None (cron, a pipe:
    nobody to ask). getpass is imported only when a prompt is shown."""
    import sys

    if not sys.stdin.isatty():
        return None

    def ask(text: str) -> str:
        import getpass

        return getpass.getpass(text)

    return ask


def netrc_entry(host: str, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(login, password) of the ``machine host`` (or ``default``) entry of ~/.netrc (or
    the file $NETRC names), or None when there is no file or no entry. UsageError, naming
    the file, when it cannot be read or parsed, or others could read or change it."""
    env = os.environ if env is None else env
    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    _check_private(path)
    import netrc

    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: it is not UTF-8 text") from None
    if entry is None:
        return None
    return entry[0], entry[2]


def _check_private(path: str) -> None:
    """UsageError unless ``path`` is the user's own and private, as the standard library
    checks ~/.netrc (netkit passes the path, which turns the library's check off): a
    password file others can read is a leaked password, and one others can write can
    send our passwords anywhere."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if info.st_size > MAX_NETRC_BYTES:
        raise UsageError(f"{path} is larger than {MAX_NETRC_BYTES} bytes; that is no netrc file")
    if info.st_uid != os.getuid():
        raise UsageError(f"{path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()}): "
                         f"netkit reads passwords only from your own netrc file")
    if info.st_mode & _SHARED_BITS:
        raise UsageError(f"{path} access too permissive (mode {info.st_mode & 0o777:o}): others can read or change "
                         f"the passwords it holds; chmod 600 {path}")
