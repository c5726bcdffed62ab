"""``netkit mail``: send (SMTP, SMTPS, LMTP, as swaks tests servers), list and fetch
(POP3, IMAP) mail, with the standard library's smtplib/poplib/imaplib and ``email``.

- :func:`send`, :class:`Request`, :class:`Report` (``_send``): one session, pipelined,
  every failure a :class:`StageError` naming its stage (``_smtp``: :data:`STAGES`).
- :class:`Draft`, :func:`build`, :func:`data_bytes` (``_compose``): the message.

Imports are lazy: ``import netkit.mail`` loads nothing until a name is used.
"""

from netkit.core.lazy import lazy_names

_MODULES = {
    "netkit.mail._compose": ("Draft", "build", "data_bytes", "read_message"),
    "netkit.mail._send": ("Report", "Request", "Sent", "send"),
    "netkit.mail._smtp": ("STAGES", "StageError", "Transcript"),
}
__all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)  # tests/unit/test_mail_logic.py pins __all__
