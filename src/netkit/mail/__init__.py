"""``netkit mail``: send (SMTP, SMTPS, LMTP, as swaks tests servers), list and fetch
(POP3, IMAP) mail, with the standard library's smtplib/poplib/imaplib and ``email``.

- :func:`send`, :class:`Request`, :class:`Report` (``_send``): one session, pipelined,
  every failure a :class:`StageError` naming its stage (``_smtp``: :data:`STAGES`).
- :class:`Draft`, :func:`build`, :func:`data_bytes` (``_compose``): the message.

Imports are lazy: ``import netkit.mail`` loads nothing until a name is used.
"""

_MODULES = {
    "netkit.mail._compose": ("Draft", "build", "data_bytes", "read_message"),
    "netkit.mail._send": ("Report", "Request", "Sent", "send"),
    "netkit.mail._smtp": ("STAGES", "StageError", "Transcript"),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}
__all__ = sorted(_LAZY)  # tests/unit/test_mail_logic.py pins it


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'netkit.mail' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
