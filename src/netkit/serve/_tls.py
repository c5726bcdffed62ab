"""Server TLS contexts: from a certificate and key, or a self-signed one made at start."""

import ssl

__all__ = ["server_context", "self_signed", "fingerprint"]

# A self-signed certificate is for a session of testing: 30 days, then make a new one.
SELF_SIGNED_DAYS = 30


def fingerprint(der: bytes) -> str:
    import hashlib

    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def self_signed(names=("localhost", "127.0.0.1", "::1")):
    """(cert PEM, key PEM, cert DER) of a fresh P-256 self-signed certificate."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    sans = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER)


def server_context(tls):
    """(SSLContext, description) for ``tls``: ``"auto"`` or ``(cert path, key path)``.
    ValueError says what could not be loaded."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls == "auto":
        import os
        import socket
        import tempfile

        names = ("localhost", "127.0.0.1", "::1", socket.gethostname())
        cert_pem, key_pem, der = self_signed(names)
        with tempfile.TemporaryDirectory(prefix="netkit-tls-") as tmp:
            path = os.path.join(tmp, "pair.pem")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
                f.write(cert_pem + key_pem)
            ctx.load_cert_chain(path)
        return ctx, f"self-signed certificate for {', '.join(names)}, SHA-256 fingerprint {fingerprint(der)}"
    import os

    cert, key = tls
    for path in (cert, key):
        if not os.path.isfile(path):
            raise ValueError(f"--tls {cert} {key}: no such file {path}")
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"--tls {cert} {key}: cannot load the certificate and key "
                         f"({getattr(exc, 'reason', None) or exc}); both must be PEM and match") from None
    with open(cert, encoding="ascii") as f:
        first = f.read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    der = ssl.PEM_cert_to_DER_cert(first)
    return ctx, f"certificate {cert}, SHA-256 fingerprint {fingerprint(der)}"
