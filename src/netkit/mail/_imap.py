"""An IMAP mailbox (RFC 3501/9051) over imaplib: EXAMINE (read-only) unless messages are
to be deleted, BODY.PEEK so nothing is marked seen, UIDs valid for one UIDVALIDITY.

imaplib reads a literal of whatever size the server announces; here a literal larger than
the caller's limit ends the session (:data:`MAX_HEAD` for a listing's headers), and the
untagged responses of one command are bounded by :data:`MAX_UNTAGGED`."""

import imaplib
import re

from netkit.core.errors import ProtocolError
from netkit.mail._box import Entry, LoginError, reading, wrap_errors

__all__ = ["MAX_HEAD", "MAX_LISTING_BYTES", "MAX_UNTAGGED", "ImapBox", "quote_mailbox"]

# The header block of one message in a listing: far above real headers (a few KiB; long
# Received chains reach 20 KiB), and a bound on a hostile literal.
MAX_HEAD = 256 << 10
# Literal bytes one listing (FETCH 1:* of every header block) may bring in: a mailbox's
# headers are a few KiB a message; more is a server inflating the answer.
MAX_LISTING_BYTES = 256 << 20
# Untagged responses of one command (a FETCH 1:* answers one per message); a server that
# sends them forever is stopped here.
MAX_UNTAGGED = 2_000_000
# What a message's literal may exceed its RFC822.SIZE by (some servers count line ends or
# headers they add differently); past it (and past twice the size) the size was a lie.
SIZE_SLACK = 1 << 20
_META_UID = re.compile(rb"\bUID (\d{1,20})\b")
_META_SIZE = re.compile(rb"\bRFC822\.SIZE (\d{1,20})\b")
_META_NUMBER = re.compile(rb"^(\d{1,20}) ")
HEADER_FIELDS = "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE CONTENT-TYPE)]"


def quote_mailbox(name: str) -> str:
    if not name.isascii():
        raise ValueError("a mailbox name must be ASCII here (IMAP spells others in modified UTF-7)")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Mixin:
    transcript = None
    max_literal = MAX_HEAD
    max_total = MAX_LISTING_BYTES
    untagged = 0
    literal_bytes = 0

    def send(self, data):
        if self.transcript is not None:
            text = data.decode("utf-8", "replace").rstrip("\r\n")
            words = text.split(" ")
            if len(words) > 2 and words[1].upper() == "LOGIN":
                text = " ".join(words[:3]) + " ********"
            self.transcript.line(">", text)
        super().send(data)

    def _get_line(self):
        line = super()._get_line()
        if self.transcript is not None:
            self.transcript.line("<", line.decode("utf-8", "replace"))
        return line

    def read(self, size):
        if size > self.max_literal:
            raise self.abort(f"the server announced {size} bytes, more than the {self.max_literal} allowed")
        self.literal_bytes += size
        if self.literal_bytes > self.max_total:
            raise self.abort(f"the answer to one command passed {self.max_total} bytes")
        return super().read(size)

    def _append_untagged(self, typ, dat):
        self.untagged += 1
        if self.untagged > MAX_UNTAGGED:
            raise self.abort(f"more than {MAX_UNTAGGED} untagged responses to one command")
        super()._append_untagged(typ, dat)

    def _command(self, name, *args):
        self.untagged = self.literal_bytes = 0
        return super()._command(name, *args)


class _Client(_Mixin, imaplib.IMAP4):
    pass


class _SSLClient(_Mixin, imaplib.IMAP4_SSL):
    pass


class ImapBox:
    kind = "imap"

    def __init__(self, account, writable=False):
        self.account = account
        self.deleted = []
        with wrap_errors(account, "connect"):
            if account.tls == "implicit":
                client = _SSLClient(account.host, account.port, ssl_context=account.context,
                                    timeout=account.timeout)
            else:
                client = _Client(account.host, account.port, timeout=account.timeout)
        reading(account, client.sock)
        self.client = client
        client.transcript = account.transcript
        if account.transcript is not None:
            account.transcript.line("<", client.welcome.decode("utf-8", "replace"))
        with wrap_errors(account, "STARTTLS"):
            if account.tls == "required":
                client.starttls(ssl_context=account.context)
        with wrap_errors(account, "LOGIN", LoginError):
            client.login(account.user, account.password or "")
        with wrap_errors(account, "SELECT" if writable else "EXAMINE"):
            typ, data = client.select(quote_mailbox(account.mailbox), readonly=not writable)
            if typ != "OK":
                raise imaplib.IMAP4.error(b" ".join(d for d in data if isinstance(d, bytes)))
        self.exists = int(data[0]) if data and data[0] and data[0].isdigit() else 0
        validity = client.untagged_responses.get("UIDVALIDITY", [b""])[-1] or b""
        self.scope = validity.decode("ascii", "replace") if validity.isdigit() else ""

    def _fetch(self, uids, items, limit):
        self.client.max_literal = limit
        self.client.max_total = max(limit, MAX_LISTING_BYTES)
        with wrap_errors(self.account, "FETCH"):
            typ, data = self.client.uid("FETCH", uids, items)
            if typ != "OK":
                raise imaplib.IMAP4.error(b" ".join(d for d in data if isinstance(d, bytes)))
        out = []
        for item in data:
            meta, payload = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
            if not isinstance(meta, bytes) or meta == b")":
                continue
            number, uid, size = _META_NUMBER.search(meta), _META_UID.search(meta), _META_SIZE.search(meta)
            if number is None or uid is None:
                continue
            out.append((Entry(int(number.group(1)), int(size.group(1)) if size else None, uid.group(1).decode()),
                        payload))
        return out

    def entries(self):
        if not self.exists:
            return []
        return [entry for entry, _ in self._fetch("1:*", "(UID RFC822.SIZE)", MAX_HEAD)]

    def heads(self):
        """[(Entry, header bytes)] of every message, in one FETCH."""
        if not self.exists:
            return []
        return self._fetch("1:*", f"(UID RFC822.SIZE {HEADER_FIELDS})", MAX_HEAD)

    def head(self, entry, limit):
        got = self._fetch(entry.uid, "(UID BODY.PEEK[HEADER])", limit)
        return got[0][1] or b"" if got else b""

    def retrieve(self, entry, write, limit):
        # imaplib holds a literal whole in memory: a server that listed 100 bytes and then
        # announces a literal of 1 GiB is stopped at what it listed (with room for a server
        # whose RFC822.SIZE is a little off), not at the 1 GiB hard cap.
        if entry.size is not None:
            limit = min(limit, max(2 * entry.size, entry.size + SIZE_SLACK))
        got = [payload for e, payload in self._fetch(entry.uid, "(UID BODY.PEEK[])", limit) if e.uid == entry.uid]
        if not got or got[0] is None:
            raise ProtocolError(f"{self.account.where}: FETCH of UID {entry.uid} returned no message")
        data = got[0].replace(b"\r\n", b"\n")
        write(data)
        return len(data)

    def delete(self, entry):
        with wrap_errors(self.account, "STORE"):
            typ, data = self.client.uid("STORE", entry.uid, "+FLAGS.SILENT", r"(\Deleted)")
            if typ != "OK":
                raise imaplib.IMAP4.error(b" ".join(d for d in data if isinstance(d, bytes)))
        self.deleted.append(entry.uid)

    def close(self):
        """Expunge what was deleted (only those: UID EXPUNGE when UIDPLUS is offered), log out."""
        with wrap_errors(self.account, "EXPUNGE"):
            if self.deleted:
                if "UIDPLUS" in self.client.capabilities:
                    self.client.uid("EXPUNGE", ",".join(self.deleted))
                else:
                    self.client.expunge()
            self.client.logout()

    def abort(self):
        try:
            self.client.shutdown()
        except OSError:
            pass
