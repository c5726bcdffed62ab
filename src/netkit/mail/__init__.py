"""``netkit mail``: send (SMTP, SMTPS, LMTP, as swaks tests servers), list and fetch
(POP3, IMAP) mail, with the standard library's smtplib/poplib/imaplib and ``email``.

- :func:`send`, :class:`Request`, :class:`Report` (``_send``): one session, pipelined,
  every failure a :class:`StageError` naming its stage (``_smtp``: :data:`STAGES`).
- :class:`Draft`, :func:`build`, :func:`data_bytes` (``_compose``): the message.

Imports are lazy: ``import netkit.mail`` loads nothing until a name is used.
"""

from netkit.core.lazy import lazy_names

TYPE_CHECKING = False

_MODULES = {
    "netkit.mail._compose": ("Draft", "build", "data_bytes", "read_message"),
    "netkit.mail._send": ("Report", "Request", "Sent", "send"),
    "netkit.mail._smtp": ("STAGES", "StageError", "Transcript"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from netkit.mail._compose import Draft as Draft
    from netkit.mail._compose import build as build
    from netkit.mail._compose import data_bytes as data_bytes
    from netkit.mail._compose import read_message as read_message
    from netkit.mail._send import Report as Report
    from netkit.mail._send import Request as Request
    from netkit.mail._send import Sent as Sent
    from netkit.mail._send import send as send
    from netkit.mail._smtp import STAGES as STAGES
    from netkit.mail._smtp import StageError as StageError
    from netkit.mail._smtp import Transcript as Transcript
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES)
