"""Dashboard passwords: scrypt hash lines (``netkit monitor passwd`` prints one for the
config's ``[web] password-hash``) and their constant-time check. No aiohttp here: the config
validates hash lines without loading the web side.

A line is ``scrypt$N$r$p$SALT$KEY`` (salt and key in unpadded base64url): the parameters
travel with the hash, so raising the cost later leaves old lines valid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from netkit.core.text import is_digits

__all__ = ["DUMMY_HASH", "MAX_PASSWORD", "hash_password", "parse_hash", "verify_password"]

# scrypt's cost (RFC 7914; N=2^15, r=8 is 32 MiB and ~0.1 s here): slow for a guesser with the
# hash, fast enough for a person logging in. A hash line carries its own parameters, bounded
# below so a config cannot make one login take a minute or a gigabyte.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
SCRYPT_MAX_N, SCRYPT_MAX_R, SCRYPT_MAX_P = 1 << 20, 32, 16
SCRYPT_MAXMEM = 1 << 30
SALT_BYTES = 16
KEY_BYTES = 32
# A password typed: far longer is not a password but a way to make scrypt hash megabytes.
MAX_PASSWORD = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The line to put in ``[web] password-hash``: ``scrypt$N$r$p$salt$key`` (base64url)."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                         maxmem=SCRYPT_MAXMEM, dklen=KEY_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def parse_hash(text) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, key) of a hash line; ValueError saying what is expected."""
    expects = "expects a line `netkit monitor passwd` prints: scrypt$N$r$p$SALT$KEY"
    if not isinstance(text, str):
        raise ValueError(expects)  # noqa: TRY004 -- the config's parsers speak ValueError
    parts = text.strip().split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(map(is_digits, parts[1:4])):
        raise ValueError(expects)
    n, r, p = (int(x) for x in parts[1:4])
    if not (2 <= n <= SCRYPT_MAX_N and n & (n - 1) == 0 and 1 <= r <= SCRYPT_MAX_R and 1 <= p <= SCRYPT_MAX_P):
        raise ValueError(f"{expects}, with N a power of two up to {SCRYPT_MAX_N}, r up to {SCRYPT_MAX_R}, "
                         f"p up to {SCRYPT_MAX_P}")
    try:
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError(expects) from None
    if len(salt) < 8 or len(key) < 16:
        raise ValueError(expects)
    return n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the hash line (compared in constant time)."""
    n, r, p, salt, key = parse_hash(encoded)
    given = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                           maxmem=SCRYPT_MAXMEM, dklen=len(key))
    return hmac.compare_digest(given, key)


# A hash no password matches, checked for an unknown user so that it costs what a known one does.
DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'netkit-no-user!!')}${_b64(bytes(KEY_BYTES))}"
