"""Host key policy: known_hosts is read once for all hosts; each server's key is judged
by our own callback, so that an unknown key and a changed key are told apart and a
changed key is named with both fingerprints.

* known and matching: accepted;
* known_hosts holds other keys for the host (by name or address, ``[host]:port`` for a
  port other than 22, hashed names too): refused, always — "host key CHANGED";
* revoked (``@revoked``): refused;
* unknown: refused, unless ``accept_new`` (OpenSSH's StrictHostKeyChecking=accept-new):
  then the key is appended to the first known_hosts file, in one ``write`` on an
  ``O_APPEND`` descriptor (forked workers may add at the same moment).

The host key algorithms asked of a known host are those of its known keys (as OpenSSH
does), so that a server holding several keys shows the one we know.
"""

import os
from collections.abc import Iterable

from netkit.remote._errors import ChangedHostKey, UnknownHostKey

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["DEFAULT_HOST_KEY_ALGS", "HostKeyPolicy", "fingerprint"]

# Cheapest first: ed25519 signs and verifies fastest, then ECDSA, then RSA (SHA-2).
DEFAULT_HOST_KEY_ALGS = (
    "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "rsa-sha2-512", "rsa-sha2-256",
)
_KEY_NAMES = {"ssh-ed25519": "ED25519", "ssh-rsa": "RSA", "ecdsa-sha2-nistp256": "ECDSA",
              "ecdsa-sha2-nistp384": "ECDSA", "ecdsa-sha2-nistp521": "ECDSA", "ssh-ed448": "ED448"}
# Signature algorithms of a key type, for the algorithms we ask of a known host.
_SIG_ALGS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}
# A known_hosts file of a million hosts is about 100 MiB; more is not a known_hosts file
# (/dev/zero, a log given by mistake) and is refused instead of read into memory.
MAX_KNOWN_HOSTS = 256 << 20


def fingerprint(key) -> str:
    algorithm = key.algorithm.decode("ascii", "replace")
    return f"{_KEY_NAMES.get(algorithm, algorithm)} {key.get_fingerprint('sha256')}"


def default_known_hosts() -> list[str]:
    return [os.path.expanduser("~/.ssh/known_hosts")]


class HostKeyPolicy:
    """``files``: known_hosts files (missing ones are empty); the first gets new keys."""

    def __init__(self, files: Iterable[str] | None = None, accept_new: bool = False) -> None:
        import asyncssh

        self.files = list(files) if files else default_known_hosts()
        self.accept_new = accept_new
        from netkit.remote._local import read_regular

        text = []
        for path in self.files:
            try:
                # A regular file only: /dev/zero was read to the limit (256 MiB of memory), a
                # FIFO blocked the open.
                text.append(read_regular(os.path.expanduser(path), MAX_KNOWN_HOSTS).decode("utf-8", "replace"))
            except ValueError as exc:
                from netkit.core.errors import UsageError

                raise UsageError(f"known_hosts file {path} {exc}; is it a known_hosts file?") from None
            except FileNotFoundError:
                continue
            except OSError as exc:
                from netkit.core.errors import UsageError

                raise UsageError(f"cannot read known_hosts file {path}: {exc.strerror}") from None
        try:
            self.known = asyncssh.import_known_hosts("\n".join(text))
        except ValueError as exc:
            from netkit.core.errors import UsageError

            from netkit.core.text import for_terminal

            raise UsageError(f"bad known_hosts ({', '.join(self.files)}): {for_terminal(str(exc))}") from None
        self.added: dict[tuple[str, int], Any] = {}  # (host, port) -> key accepted in this run

    def _match(self, host, addr, port):
        return self.known.match(host, addr, port)

    def host_key_algs(self, host: str, port: int) -> list[str]:
        """What to ask the server for: the types of its known keys, else every type."""
        from netkit.core.target import is_ip_literal

        keys = self._match(host, host if is_ip_literal(host) else "", port)[0]
        algs = []
        for key in keys:
            alg = key.algorithm.decode("ascii")
            for sig in _SIG_ALGS.get(alg, (alg,)):
                if sig not in algs:
                    algs.append(sig)
        if not algs:
            return list(DEFAULT_HOST_KEY_ALGS)
        return sorted(algs, key=lambda a: DEFAULT_HOST_KEY_ALGS.index(a) if a in DEFAULT_HOST_KEY_ALGS else 99)

    def check(self, host: str, addr: str, port: int, key) -> None:
        """Return when ``key`` is trusted for the host; raise HostKeyError otherwise."""
        known, _ca, revoked = self._match(host, addr, port)[:3]
        where = f"[{host}]:{port}" if port != 22 else host
        if key in revoked:
            raise ChangedHostKey(f"{where}: host key {fingerprint(key)} is marked @revoked in known_hosts")
        added = self.added.get((host, port))
        if key in known or added == key:
            return
        if added is not None:  # accepted earlier in this run: known_hosts has it now
            known = [*known, added]
        if known:
            same = [k for k in known if k.algorithm == key.algorithm] or list(known)
            # A key known by name and by address is matched twice: name it once.
            was = ", ".join(dict.fromkeys(fingerprint(k) for k in same))
            raise ChangedHostKey(
                f"{where}: host key CHANGED, refused: known_hosts has {was}, the server presented "
                f"{fingerprint(key)} (if the change is expected: ssh-keygen -R '{where}')")
        if not self.accept_new:
            raise UnknownHostKey(
                f"{where}: host key {fingerprint(key)} is not in known_hosts; refused "
                f"(check it, then run with --accept-new to add it)")
        self._add(host, port, key)

    def _add(self, host, port, key):
        """Append the new key to the first file, then trust it for this run: a key that
        could not be written is refused (it would be trusted anew at every run, unchecked)."""
        pattern = f"[{host}]:{port}" if port != 22 else host
        alg, blob = key.export_public_key("openssh").decode("ascii").split(None, 2)[:2]
        line = f"{pattern} {alg} {blob}\n"
        path = os.path.expanduser(self.files[0])
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
        except OSError as exc:
            raise UnknownHostKey(f"{pattern}: host key {fingerprint(key)} is new and could not be added to "
                                 f"known_hosts file {path} ({exc.strerror or exc}); refused") from None
        self.added[(host, port)] = key
