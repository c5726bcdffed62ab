"""What the POP3 and IMAP mailboxes share: the account, a message's entry, the check on
a server's UIDs, and the one place their errors become netkit's (the server's words kept,
escaped for a terminal)."""

import contextlib

from netkit.core.errors import NetError, ProtocolError
from netkit.core.text import for_terminal

__all__ = ["MAX_UID", "Account", "Entry", "LoginError", "check_uid", "reading", "wrap_errors"]

# RFC 1939: a UIDL is 1 to 70 characters from 0x21 to 0x7E. IMAP UIDs are numbers.
MAX_UID = 70


class LoginError(NetError):
    """The server refused the user or password."""


class Account:
    """A mailbox to read: ``pop3``/``imap`` over ``tls`` (None, "implicit", "required")."""

    def __init__(self, kind, host, port, user, password, *, tls=None, context=None, mailbox="INBOX",
                 timeout=30.0, transcript=None, where=None):
        self.kind = kind
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.tls, self.context = tls, context
        self.mailbox = mailbox
        from netkit.core.timeout import seconds

        # ``timeout``: seconds, or a Timeout whose ``connect`` bounds the connection (and the
        # greeting) and ``read`` each answer after it.
        self.timeout = seconds(timeout, "connect")
        self.read_timeout = seconds(timeout, "read")
        self.transcript = transcript
        self.where = where or f"{kind}://{host}:{port}"

    @property
    def key(self) -> str:
        """What the fetch state is kept under: one account, one mailbox."""
        return f"{self.kind}://{self.user}@{self.host}:{self.port}/{self.mailbox if self.kind == 'imap' else ''}"


class Entry:
    """One message of a mailbox: its number in this session, its size as the server says,
    and its unique ID (UIDL or UID; None when the server gave none that is usable)."""

    __slots__ = ("number", "size", "uid")

    def __init__(self, number, size, uid):
        self.number, self.size, self.uid = number, size, uid

    def __repr__(self):
        return f"Entry({self.number}, {self.size}, {self.uid!r})"


def reading(account, sock):
    """Greeted: from now on each wait is for an answer (a Timeout's ``read``)."""
    if account.read_timeout != account.timeout:
        sock.settimeout(account.read_timeout)


def check_uid(uid: str):
    """``uid`` when it is RFC 1939's grammar, else None (the message is then not fetched:
    without a usable ID netkit cannot tell it was fetched before)."""
    if 1 <= len(uid) <= MAX_UID and all(0x21 <= ord(c) <= 0x7E for c in uid):
        return uid
    return None


@contextlib.contextmanager
def wrap_errors(account, step, refused=ProtocolError):
    """poplib's, imaplib's, ssl's and the socket's errors during ``step`` as netkit's;
    the server's refusal as ``refused`` quoting it."""
    import imaplib
    import poplib

    where = account.where
    try:
        yield
    except NetError:
        raise
    except (poplib.error_proto, imaplib.IMAP4.error) as exc:
        text = exc.args[0] if exc.args else exc
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        raise refused(f"{where}: {step}: {for_terminal(str(text)[:300])}") from None
    except (EOFError, OSError) as exc:  # the socket's, ssl's (an OSError), the end of the data
        import _socket

        from netkit.core.errmap import lookup_error, map_error

        if isinstance(exc, _socket.gaierror):
            raise lookup_error(exc, account.host) from None
        connecting = step == "connect"
        raise map_error(exc, where, "connect" if connecting else "read", doing=None if connecting else f"during {step}",
                        timeout=account.timeout if connecting else account.read_timeout) from None
