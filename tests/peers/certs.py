"""Session fixture ``pki``: a throw-away CA (trustme) and the server certificates peers use.

``pki.ca_file``          CA certificate (PEM) to trust in clients.
``pki.good``             "localhost", "127.0.0.1", "::1"; valid for a year.
``pki.expired``          same names; expired 10 days ago.
``pki.wrong_name``       "wrong.example" only.
``pki.soon``             same names as good; expires in 5 days.
``pki.alt``              "alt.test" (served by nginx for SNI name alt.test).

Each pair has ``.cert`` (chain PEM path), ``.key`` (key PEM path), ``.not_after`` (aware UTC
datetime read back from the certificate) and ``.names``. ``pki.client_context()`` is an
``ssl.SSLContext`` that trusts the CA.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography import x509

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WRONG_NAME = "wrong.example"
ALT_NAME = "alt.test"
# Lifetimes relative to the session start.
GOOD_LIFETIME = dt.timedelta(days=365)
EXPIRED_AGO = dt.timedelta(days=10)
EXPIRED_LIFETIME = dt.timedelta(days=30)
SOON_EXPIRES_IN = dt.timedelta(days=5)
# Backdate so that small clock differences never make a fresh certificate "not yet valid".
BACKDATE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class CertPair:
    """A server certificate chain and its private key, as PEM files."""

    name: str
    cert: Path
    key: Path
    not_after: dt.datetime
    names: tuple[str, ...]


@dataclass(frozen=True)
class Pki:
    """The CA and the certificate pairs of one test session."""

    ca_file: Path
    good: CertPair
    expired: CertPair
    wrong_name: CertPair
    soon: CertPair
    alt: CertPair

    def client_context(self) -> ssl.SSLContext:
        """A client context that verifies peers against this CA (hostname checking on)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _issue(
    ca: trustme.CA,
    directory: Path,
    name: str,
    names: tuple[str, ...],
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> CertPair:
    leaf = ca.issue_cert(*names, not_before=not_before, not_after=not_after)
    cert = directory / f"{name}.pem"
    key = directory / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    parsed = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    return CertPair(name, cert, key, parsed.not_valid_after_utc, names)


def make_pki(directory: Path) -> Pki:
    """Create the CA and every certificate pair in ``directory``."""
    now = dt.datetime.now(dt.UTC)
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    start = now - BACKDATE
    return Pki(
        ca_file=ca_file,
        good=_issue(ca, directory, "good", LOCAL_NAMES, start, now + GOOD_LIFETIME),
        expired=_issue(
            ca, directory, "expired", LOCAL_NAMES,
            now - EXPIRED_AGO - EXPIRED_LIFETIME, now - EXPIRED_AGO,
        ),
        wrong_name=_issue(ca, directory, "wrong_name", (WRONG_NAME,), start, now + GOOD_LIFETIME),
        soon=_issue(ca, directory, "soon", LOCAL_NAMES, start, now + SOON_EXPIRES_IN),
        alt=_issue(ca, directory, "alt", (ALT_NAME,), start, now + GOOD_LIFETIME),
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The session's CA and server certificates (see the module docstring)."""
    return make_pki(tmp_path_factory.mktemp("pki"))
