"""Who we log in as, decided once for all hosts: keys read (and decrypted) once, the SSH
agent, a password. Nothing secret ever comes from the command line: passphrases and
passwords come from a prompt (on the terminal) or from an environment variable.

A key that cannot be used (unreadable, not a key, wrong passphrase) is left out with a
``problem`` line; the hosts then fail their login naming it, and the others go on. With
``strict`` (the CLI's ``-i``), a key file named by the user that is missing, unreadable, not a
private key, or encrypted with no way to ask for its passphrase is a ``UsageError`` instead: a
mistake in the command, not a host's failure. A wrong passphrase stays a problem line.
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["DEFAULT_KEY_FILES", "Credentials"]

# What OpenSSH's ssh tries when no -i is given (less DSA and security keys).
DEFAULT_KEY_FILES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


class Credentials:
    """``identities``: key files (-i); none given: the agent (when ``agent`` and
    $SSH_AUTH_SOCK) plus the default key files. ``prompt(text) -> str`` asks for a
    passphrase (None: encrypted keys are left out). ``password`` enables password and
    keyboard-interactive logins."""

    def __init__(self, identities: Iterable[str] = (), *, password: str | None = None, agent: bool = True,
                 prompt: Callable[[str], str] | None = None, passphrase: str | None = None,
                 strict: bool = False) -> None:
        self.identities = [os.path.expanduser(p) for p in identities]
        self.password = password
        self.problems: list[str] = []  # one line per key left out
        self.keys: list[Any] = []  # asyncssh private keys
        self.agent_path = os.environ.get("SSH_AUTH_SOCK") if agent and not identities else None
        paths = self.identities or [p for p in (os.path.expanduser(k) for k in DEFAULT_KEY_FILES) if os.path.exists(p)]
        self.strict = strict and bool(self.identities)
        for path in paths:
            key = self._load(path, prompt, passphrase)
            if key is not None:
                self.keys.append(key)

    def _load(self, path, prompt, passphrase):
        import asyncssh

        from netkit.remote._local import MAX_KEY_BYTES, read_regular

        try:
            try:
                data = read_regular(path, MAX_KEY_BYTES)
            except ValueError as exc:  # /dev/zero was read for ever, a FIFO blocked the run
                self._unusable(f"{path}: {exc}, not a private key")
                return None
            try:
                return asyncssh.import_private_key(data, passphrase)
            except asyncssh.KeyImportError as exc:
                if "Passphrase must be specified" not in str(exc) or passphrase is not None:
                    raise
                if prompt is None:
                    self._unusable(f"{path}: the key is encrypted and there is no terminal to ask for its "
                                   f"passphrase (use --passphrase-env VAR or ssh-agent)")
                    return None
                return asyncssh.import_private_key(data, prompt(f"Passphrase for {path}: "))
        except asyncssh.KeyEncryptionError as exc:
            wrong = "incorrect passphrase" in str(exc).lower()
            self.problems.append(f"{path}: wrong passphrase" if wrong else f"{path}: cannot decrypt the key ({exc})")
        except OSError as exc:
            self._unusable(f"{path}: cannot read the key: {exc.strerror or exc}")
        except (asyncssh.KeyImportError, ValueError) as exc:
            from netkit.core.text import for_terminal

            self._unusable(f"{path}: not a usable private key ({for_terminal(str(exc))})")
        return None

    def _unusable(self, problem):
        if self.strict:
            from netkit.core.errors import UsageError

            hint = "" if "passphrase" in problem else "; -i takes a private key file such as ~/.ssh/id_ed25519"
            raise UsageError(f"identity {problem}{hint}")
        self.problems.append(problem)

    def methods(self) -> str:
        """The login methods on offer, for error messages."""
        offered = []
        if self.keys:
            offered.append(f"{len(self.keys)} key{'s' if len(self.keys) > 1 else ''}")
        if self.agent_path:
            offered.append("the agent")
        if self.password is not None:
            offered.append("a password")
        return ", ".join(offered) or "nothing (no usable key, no agent, no password)"

    def options(self) -> dict[str, Any]:
        """asyncssh connection options for these credentials."""
        opts: dict[str, Any] = {
            "agent_path": self.agent_path,
            "gss_auth": False,
            "host_based_auth": False,
            "password_auth": self.password is not None,
            "kbdint_auth": self.password is not None,
        }
        if self.password is not None:
            opts["password"] = self.password
        # asyncssh keeps the agent next to a list of keys (an empty one: its default files).
        opts["client_keys"] = self.keys
        methods = (["publickey"] if (self.keys or self.agent_path) else []) + \
                  (["keyboard-interactive", "password"] if self.password is not None else [])
        opts["preferred_auth"] = methods or ["publickey"]
        return opts
