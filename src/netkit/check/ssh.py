"""ssh:// checks: the server's identification line, as check_ssh reads it, and on request
its host key (pinned by fingerprint) and a public-key login.

Without ``--hostkey`` or ``--identity`` the check is one short exchange on the blocking
driver (:mod:`netkit.proto.ssh`): identification lines only, no asyncssh, no asyncio.
With them the dialogue also reads the server's KEXINIT (which host key types it holds)
and hands over to asyncssh (an ``Await``) for the key exchange and the login, on a
connection of its own.

Host keys: the first key exchange asks for the server's key types in the order OpenSSH's
``ssh`` does (ed25519, ECDSA, RSA), so a check sees the key ``ssh`` shows and records.
``--hostkey`` pins are compared with its fingerprint (``SHA256:...`` as ``ssh-keygen -lf``
prints it, or ``MD5:...``); any pin may match. When none matches that key, the server's
other key types (from its KEXINIT) are fetched one exchange each, so a pin of any key the
server holds is found; a mismatch names every key the server presented. With pins, the
known_hosts files are not read: the pins are the trust, and with ``--identity`` the login
happens only after a pinned key matched (asyncssh checks the key through our callback
before it authenticates). Without pins, an ``--identity`` login trusts the host key as
``netkit ssh`` does (:class:`netkit.remote._trust.HostKeyPolicy`): it must be in known_hosts
(``--known-hosts``, else ~/.ssh/known_hosts); an unknown key is refused unless
``--accept-new``, a changed key always, and then no login is tried. The login uses that one
key only: no agent, no ~/.ssh/config, no other keys.

Statuses follow monitoring-plugins 2.3.3's check_ssh: a protocol or software version that
differs from the expected one is CRITICAL (older check_ssh releases said WARNING for -r).
``--software`` is a substring of the software version and its comments
(``OpenSSH_9.2p1 Debian-2``), where check_ssh -r compares the whole of it.
"""

from netkit.check.result import CheckResult, phase_metrics, time_metric, time_status
from netkit.core.errors import ProtocolError, TimedOut
from netkit.core.status import CRITICAL, OK, UNKNOWN, worst
from netkit.core.text import preview
from netkit.proto.ssh import client_identification, ssh_dialogue

__all__ = ["HOST_KEY_FAMILIES", "KeyCheck", "fingerprint_matches", "judge", "plan"]

# Host key types in the order of OpenSSH's default HostKeyAlgorithms, less certificates and
# security-key types (not host keys): one tuple per key, with the signature algorithms that
# key can be asked for by (RSA: SHA-512, SHA-256, and SHA-1 for old servers).
HOST_KEY_FAMILIES = (
    ("ssh-ed25519",),
    ("ecdsa-sha2-nistp256",),
    ("ecdsa-sha2-nistp384",),
    ("ecdsa-sha2-nistp521",),
    ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
    ("ssh-ed448",),
)
# Key algorithm (as a key names itself) -> the name ssh-keygen -l shows for its type.
_KEY_TYPES = {
    "ssh-ed25519": "ED25519",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "ssh-rsa": "RSA",
    "ssh-ed448": "ED448",
}
# The versions a server may announce and still speak SSH 2.0 (RFC 4253 5.1: "1.99" is a
# server that also speaks the old protocol).
_SPEAKS_2_0 = ("2.0", "1.99")


def _version() -> str:
    from netkit import __version__

    return __version__


def plan(spec):
    t = spec.target
    pins, identity = spec.get("hostkey"), spec.get("identity")
    session = None
    if pins or identity:
        user = login_user(spec) if identity else None
        family = spec.family
        policy = host_key_policy(spec) if identity and not pins else None

        def session(_identification, kexinit):
            return key_session(t.host, t.port, family=family, pins=pins, identity=identity, user=user,
                               kexinit=kexinit, policy=policy)

    return ssh_dialogue(t.host, t.port, family=spec.family, identification=client_identification(_version()),
                        read_kexinit=session is not None, session=session)


def host_key_policy(spec):
    """The host key policy of ``netkit ssh`` for a login without pins: the key must be in
    known_hosts (``--known-hosts``, else ~/.ssh/known_hosts); an unknown key is refused
    unless ``--accept-new`` (then recorded), a changed one always."""
    from netkit.remote._trust import HostKeyPolicy

    return HostKeyPolicy(list(spec.get("known-hosts")) or None, accept_new=bool(spec.get("accept-new")))


def login_user(spec) -> str:
    """``--user``, else the URL's user, else the local user name (as ``ssh`` does)."""
    user = spec.get("user") or spec.target.user
    if user:
        return user
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a uid without a passwd entry and no $USER: say which uid
        import os

        return str(os.getuid())


# --- the asyncssh part ------------------------------------------------------------------


class KeyCheck:
    """What the key exchanges found: ``keys`` the server presented, as (type, SHA256
    fingerprint, algorithm, MD5 fingerprint) in the order seen; ``matched`` the pin that matched; ``login`` the login
    attempt (None when not asked): a dict with user, identity, ok, error, local (True when
    the failure was ours, e.g. an unreadable key)."""

    __slots__ = ("keys", "login", "matched", "refused")

    def __init__(self, keys=(), matched=None, login=None, refused=None):
        self.keys = list(keys)
        self.matched = matched
        self.login = login
        self.refused = refused  # why known_hosts refused the host key (then no login was tried)

    def __repr__(self):
        return f"KeyCheck({self.keys}, matched={self.matched!r}, login={self.login!r}, refused={self.refused!r})"


def fingerprint_matches(pin: str, sha256: str, md5: str) -> bool:
    """Whether ``pin`` (``SHA256:b64`` or ``MD5:hex:...``) names the key with these fingerprints.

    SHA256 is base64 (case matters; ``=`` padding is optional, ssh-keygen leaves it out);
    MD5 is hex with colons (case does not matter).
    """
    kind, _, digest = pin.partition(":")
    if kind.upper() == "MD5":
        return md5.lower() == f"md5:{digest}".lower()
    return sha256.rstrip("=") == f"SHA256:{digest.rstrip('=')}"


def _offered_families(kexinit) -> list:
    """HOST_KEY_FAMILIES restricted to what the server's KEXINIT offers, in our order."""
    offered = set(kexinit.server_host_key_algorithms) if kexinit is not None else None
    families = []
    for family in HOST_KEY_FAMILIES:
        algs = family if offered is None else tuple(a for a in family if a in offered)
        if algs:
            families.append(algs)
    return families


def _family_of(algorithm: str) -> int:
    for index, family in enumerate(HOST_KEY_FAMILIES):
        if algorithm in family:
            return index
    return -1


def _describe(key) -> tuple:
    algorithm = key.algorithm.decode("ascii", "replace")
    return (_KEY_TYPES.get(algorithm, algorithm), key.get_fingerprint("sha256"), algorithm,
            key.get_fingerprint("md5"))


async def key_session(host, port, *, family=0, pins=(), identity=None, user=None, kexinit=None,
                      policy=None) -> KeyCheck:
    """Fetch the server's host key(s) and try the login, through asyncssh.

    asyncssh's exceptions are not OSErrors: they are mapped onto netkit's tree here, so
    that nothing leaves this coroutine the drivers could not place.
    """
    import asyncssh

    from netkit.drivers._common import where as hostport

    where = hostport(host, port)
    try:
        return await _key_session(asyncssh, host, port, family, tuple(pins), identity, user, kexinit, where,
                                  policy)
    except Exception as exc:
        from netkit.core.errmap import map_error

        error = map_error(exc, where, "connect", doing="in the SSH key exchange")
        if error is exc:
            raise
        raise error from None


async def _key_session(asyncssh, host, port, family, pins, identity, user, kexinit, where, policy):
    import socket

    from netkit.remote._errors import HostKeyError

    options = {
        "family": {4: socket.AF_INET, 6: socket.AF_INET6}.get(family, socket.AF_UNSPEC),
        "client_version": f"netkit_{_version()}",
        "config": None,  # ~/.ssh/config is not read: the check does what its options say
    }
    families = _offered_families(kexinit)
    if not families:
        offered = ", ".join(kexinit.server_host_key_algorithms) or "none"
        raise ProtocolError(f"{where} offers no host key type netkit can check (it offers {offered})")
    client_key = None
    login = None
    if identity:
        login = {"user": user, "identity": identity, "ok": False, "error": None, "local": False}
        try:
            client_key = asyncssh.read_private_key(identity)
        except (ValueError, OSError) as exc:  # KeyImportError is a ValueError
            login.update(error=f"cannot use {identity}: {exc}", local=True)
            return KeyCheck((), None, login)

    async def host_key(algs):
        key = await asyncssh.get_server_host_key(host, port, server_host_key_algs=list(algs), **options)
        if key is None:  # only for key exchanges without a host key (GSS), never asked for here
            raise ProtocolError(f"{where} presented no host key")
        return key

    async def log_in(algs):
        """The key the server presented; how the login went is written into ``login``."""
        seen = []

        class Client(asyncssh.SSHClient):
            def validate_host_public_key(self, _host, addr, _port, key):
                seen.append(key)
                if policy is not None:  # no pins: known_hosts is the trust, as for netkit ssh
                    try:
                        policy.check(host, addr, port, key)
                    except HostKeyError as exc:
                        refused.append(str(exc))
                        return False
                    return True
                return not pins or _pinned(key) is not None

        try:
            conn, _client = await asyncssh.create_connection(
                Client, host, port, server_host_key_algs=list(algs),
                # No known_hosts entries at all, so every key goes to our callback: the pins
                # are the only trust, and ~/.ssh/known_hosts is never read.
                known_hosts=((), (), ()),
                username=user, client_keys=[client_key], agent_path=None, preferred_auth="publickey",
                password_auth=False, kbdint_auth=False, gss_auth=False, host_based_auth=False, **options)
        except asyncssh.HostKeyNotVerifiable:
            if not seen:  # refused before our callback saw a key: nothing to report on
                raise
            login["error"] = ("not tried: the host key is not trusted" if refused
                              else "not tried: the host key did not match")
            return seen[-1]
        except asyncssh.PermissionDenied as exc:
            login.update(ok=False, error=exc.reason or "permission denied")
            if not seen:
                raise ProtocolError(f"{where} refused the login before showing a host key") from None
            return seen[-1]
        try:
            login.update(ok=True, error=None)
            return conn.get_server_host_key() or seen[-1]
        finally:
            conn.close()
            await conn.wait_closed()

    def _pinned(key):
        sha256, md5 = key.get_fingerprint("sha256"), key.get_fingerprint("md5")
        for pin in pins:
            if fingerprint_matches(pin, sha256, md5):
                return pin
        return None

    first = [alg for algs in families for alg in algs]
    refused = []
    if policy is not None:
        # A known host is asked for the types of its known keys first, as OpenSSH does, so
        # that a server holding several keys shows the one known_hosts has.
        offered = set(kexinit.server_host_key_algorithms) if kexinit is not None else None
        known = [a for a in policy.host_key_algs(host, port) if offered is None or a in offered]
        first = known + [a for a in first if a not in known]
    if client_key is not None:
        key = await log_in(first)
    else:
        key = await host_key(first)
    keys = [key]
    matched = _pinned(key) if pins else None
    if pins and matched is None:
        tried = {_family_of(key.algorithm.decode("ascii", "replace"))}
        for algs in families:
            index = _family_of(algs[0])
            if index in tried:
                continue
            tried.add(index)
            other = await host_key(algs)
            keys.append(other)
            matched = _pinned(other)
            if matched is not None:
                if client_key is not None:
                    await log_in(algs)
                break
    return KeyCheck([_describe(k) for k in keys], matched, login, refused[0] if refused else None)


# --- the verdict --------------------------------------------------------------------------


def _protocol_ok(expected: str, protocol: str) -> bool:
    """``2.0`` accepts a ``1.99`` server (RFC 4253 5.1); other versions must be equal."""
    if expected == "2.0":
        return protocol in _SPEAKS_2_0
    return protocol == expected


def _key_text(entry) -> str:
    return f"{entry[0]} {entry[1]}"


def judge(spec, exchange, now) -> CheckResult:
    t = spec.target
    elapsed = exchange.timings.total
    metrics = [time_metric(spec, elapsed)]
    details = {"peer": exchange.peer or None}
    error = exchange.error
    if error is not None:
        summary = str(error)
        if isinstance(error, TimedOut) and exchange.head and b"SSH-" not in exchange.head:
            summary += f": no SSH identification; it said {preview(exchange.head)!r}"
        if exchange.head:
            details["received"] = exchange.head.decode("utf-8", "replace")
        return CheckResult(name=spec.name, label=spec.label, target=t.text, status=CRITICAL, summary=summary,
                           timings=exchange.timings.as_dict(), error=error, details=details)
    outcome = exchange.outcome
    ident = outcome.identification
    details.update(identification=ident.line, protocol=ident.protocol, software=ident.software,
                   comments=ident.comments or None)
    if ident.preamble:
        details["preamble"] = ident.preamble
    if outcome.kexinit is not None:
        details["host_key_algorithms"] = outcome.kexinit.server_host_key_algorithms
    version = f"{ident.version_text} (protocol {ident.protocol})"
    problems = []  # (status, text): what is wrong, in the order it is told
    notes: list[str] = []
    expected = spec.get("protocol")
    if not _protocol_ok(expected, ident.protocol):
        problems.append((CRITICAL, f"protocol version mismatch, expected '{expected}'"))
    software = spec.get("software")
    if software is not None and software not in ident.version_text:
        problems.append((CRITICAL, f"version mismatch, expected '{software}'"))
    keys = outcome.session
    if keys is not None:
        _judge_keys(spec, keys, outcome.peer or exchange.peer, problems, notes, details)
    time_state = time_status(spec, elapsed)
    if time_state != OK:
        problems.append((time_state, f"{elapsed:.3f} second response time"))
    metrics.extend(phase_metrics(exchange.timings))
    # check_ssh's words for a version problem follow the version directly:
    # "OpenSSH_9.2p1 (protocol 2.0) version mismatch, expected 'X'".
    summary = version + "".join((" " if text.startswith(("protocol version", "version")) else ", ") + text
                                for _, text in problems)
    if notes:
        summary += ", " + ", ".join(notes)
    status = worst(s for s, _ in problems)
    return CheckResult(name=spec.name, label=spec.label, target=t.text, status=status, summary=summary,
                       metrics=metrics, timings=exchange.timings.as_dict(), details=details)


def _judge_keys(spec, keys: KeyCheck, peer, problems, notes, details):
    pins = spec.get("hostkey")
    details["host_keys"] = [{"type": k[0], "algorithm": k[2], "fingerprint": k[1], "md5": k[3]}
                            for k in keys.keys]
    if pins and keys.keys:
        details["hostkey_match"] = keys.matched
        if keys.matched is None:
            presented = ", ".join(_key_text(k) for k in keys.keys)
            text = f"host key mismatch: {peer} presented {presented}; expected {' or '.join(pins)}"
            problems.insert(0, (CRITICAL, text))
        else:
            entry = next((k for k in keys.keys if fingerprint_matches(keys.matched, k[1], k[3])), keys.keys[-1])
            notes.append(f"host key {_key_text(entry)} as pinned")
    elif keys.keys:
        notes.append(f"host key {_key_text(keys.keys[0])}")
    if keys.refused is not None:
        details["hostkey_refused"] = keys.refused
        problems.insert(0, (CRITICAL, keys.refused))
    login = keys.login
    if login is None:
        return
    details["login"] = dict(login)
    if keys.refused is not None:
        notes.append("login not tried")
        return
    if login["ok"]:
        notes.append(f"logged in as {login['user']} with {_basename(login['identity'])}")
    elif login["local"]:
        problems.append((UNKNOWN, login["error"]))
    elif keys.matched is not None or not pins:
        who = f"{login['user']} with {_basename(login['identity'])}"
        problems.append((CRITICAL, f"authentication as {who} failed: {login['error']}"))


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
