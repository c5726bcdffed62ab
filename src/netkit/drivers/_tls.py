"""SSL contexts and what a finished handshake tells (shared by both drivers)."""

import _ssl
import ssl

from netkit.proto.actions import TLSInfo

__all__ = ["context_for", "tls_info"]

_CONTEXTS: dict[tuple[bool, str | None], ssl.SSLContext] = {}


def context_for(params) -> ssl.SSLContext:
    """One client context per (verify, cafile): loading CA files is the slow part."""
    ctx = _CONTEXTS.get(params.key)
    if ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if params.verify:
            if params.cafile:
                _load_cafile(ctx, params.cafile)
            else:
                ctx.load_default_certs()
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        _CONTEXTS[params.key] = ctx
    return ctx


def _load_cafile(ctx, path):
    """The CAs of ``path`` into ``ctx``; UsageError (exit 2, no retry: it is the same file
    next time) when it is missing, unreadable, or not PEM certificates."""
    from netkit.core.errors import UsageError

    try:
        ctx.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise UsageError(f"the CA file {path} holds no PEM certificate ({exc.reason or exc}); give a file of "
                         f"-----BEGIN CERTIFICATE----- blocks") from None
    except OSError as exc:
        raise UsageError(f"cannot read the CA file {path}: {exc.strerror or exc}") from None


def peer_chain(sslobj) -> list:
    """The peer's certificates as DER, leaf first, as the peer sent them."""
    get_chain = getattr(sslobj, "get_unverified_chain", None)  # public from Python 3.13
    if get_chain is None:
        inner = getattr(sslobj, "_sslobj", None)
        get_chain = getattr(inner, "get_unverified_chain", None)
    if get_chain is not None:
        chain = get_chain() or []
        return [c if isinstance(c, bytes) else c.public_bytes(_ssl.ENCODING_DER) for c in chain]
    leaf = sslobj.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def tls_info(sslobj, params) -> TLSInfo:
    name, _proto, bits = sslobj.cipher() or (None, None, None)
    return TLSInfo(sslobj.version(), name, bits, peer_chain(sslobj), params.verify, params.server_name)
