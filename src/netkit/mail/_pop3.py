"""A POP3 mailbox (RFC 1939, STLS RFC 2595, APOP) over poplib, with its multi-line reader
replaced by a bounded one: a listing has at most :data:`MAX_LISTING_LINES` lines, and a
message is streamed to a writer in pieces -- a line of any length costs no more than
:data:`CHUNK` bytes of memory -- and stops at the caller's byte limit, whatever size the
server announced. Status lines are poplib's (2048 bytes at most)."""

import poplib

from netkit.core.errors import ProtocolError
from netkit.core.text import is_digits
from netkit.mail._box import Entry, LoginError, check_uid, reading, wrap_errors

__all__ = ["CHUNK", "MAX_LISTING_BYTES", "MAX_LISTING_LINES", "Pop3Box"]

# Lines of one LIST or UIDL answer: one a message; a mailbox of more than a million
# messages is not read over POP3, and a server listing forever stops here.
MAX_LISTING_LINES = 1_000_000
# Bytes of one LIST or UIDL answer: a million UIDL lines of the longest legal 80 bytes. A
# line may be 2048 bytes (poplib's bound), so the line bound alone let 2 GiB in.
MAX_LISTING_BYTES = 96 << 20
# The most read from the server at a time while a message streams to the disk.
CHUNK = 64 << 10


class _Client(poplib.POP3):
    transcript = None

    def _putline(self, line):
        if self.transcript is not None:
            text = line.decode("utf-8", "replace")
            verb = text.split(" ", 1)[0].upper()
            shown = {"PASS": "PASS ********", "APOP": " ".join(text.split(" ")[:2]) + " ********"}.get(verb, text)
            self.transcript.line(">", shown)
        super()._putline(line)

    def _getline(self):
        line, octets = super()._getline()
        if self.transcript is not None:
            self.transcript.line("<", line.decode("utf-8", "replace"))
        return line, octets

    def _getlongresp(self):
        resp = self._getresp()
        lines, octets = [], 0
        while True:
            raw = self.file.readline(poplib._MAXLINE + 1)
            if not raw:
                raise poplib.error_proto("the server closed the connection in a listing")
            if len(raw) > poplib._MAXLINE:
                raise poplib.error_proto(f"a listing line longer than {poplib._MAXLINE} bytes")
            line = raw.rstrip(b"\r\n")
            if line == b".":
                return resp, lines, octets
            if len(lines) >= MAX_LISTING_LINES:
                raise poplib.error_proto(f"a listing of more than {MAX_LISTING_LINES} lines")
            if octets + len(raw) > MAX_LISTING_BYTES:
                raise poplib.error_proto(f"a listing of more than {MAX_LISTING_BYTES >> 20} MiB")
            lines.append(line[1:] if line.startswith(b"..") else line)
            octets += len(raw)


class _SSLClient(_Client, poplib.POP3_SSL):
    pass


class Pop3Box:
    """One POP3 session (see the module docstring). Deletions (DELE) take effect only at
    :meth:`close` (QUIT): a session that breaks deletes nothing."""

    kind = "pop3"
    scope = ""

    def __init__(self, account):
        self.account = account
        with wrap_errors(account, "connect"):
            if account.tls == "implicit":
                self.client = _SSLClient(account.host, account.port, timeout=account.timeout,
                                         context=account.context)
            else:
                self.client = _Client(account.host, account.port, timeout=account.timeout)
        reading(account, self.client.sock)
        self.client.transcript = account.transcript
        if account.transcript is not None:
            account.transcript.line("<", self.client.welcome.decode("utf-8", "replace"))
        with wrap_errors(account, "STLS"):
            if account.tls == "required":
                self.client.stls(account.context)
        self._login()

    def _login(self):
        account, client = self.account, self.client
        with wrap_errors(account, "login", LoginError):
            if client.timestamp.search(client.welcome):  # APOP offered: the password never crosses
                client.apop(account.user, account.password or "")
            else:
                client.user(account.user)
                client.pass_(account.password or "")

    def entries(self):
        """[Entry] in the server's order, each with its size and UIDL."""
        with wrap_errors(self.account, "LIST"):
            _, lines, _ = self.client.list()
        sizes = {}
        for line in lines:
            words = line.split()
            if len(words) < 2 or not (is_digits(words[0].decode("latin-1")) and is_digits(words[1].decode("latin-1"))):
                raise ProtocolError(f"{self.account.where}: a LIST line that is not 'number size': {line[:80]!r}")
            sizes[int(words[0])] = int(words[1])
        with wrap_errors(self.account, "UIDL"):
            _, lines, _ = self.client.uidl()
        uids = {}
        for line in lines:
            number, _, uid = line.decode("latin-1").strip().partition(" ")
            if is_digits(number) and int(number) in sizes:
                uids[int(number)] = check_uid(uid.strip())
        return [Entry(n, size, uids.get(n)) for n, size in sorted(sizes.items())]

    def head(self, entry, limit):
        """The header block of ``entry`` (TOP n 0: the message is not marked read), at most
        ``limit`` bytes."""
        chunks = []
        self._multiline(f"TOP {entry.number} 0", chunks.append, limit)
        return b"".join(chunks)

    def retrieve(self, entry, write, limit):
        """Stream message ``entry`` (RETR) to ``write`` (LF line ends, dots unstuffed);
        ProtocolError past ``limit`` bytes. Returns the bytes written."""
        return self._multiline(f"RETR {entry.number}", write, limit)

    def _multiline(self, command, write, limit):
        client = self.client
        with wrap_errors(self.account, command.split(" ")[0]):
            client._putcmd(command)
            client._getresp()
            total = 0
            start = True  # at the start of a line
            cr = False  # the last piece's final CR, held back: its LF may open the next piece
            while True:
                piece = client.file.readline(CHUNK)
                if not piece:
                    raise poplib.error_proto("the server closed the connection in the middle of a message")
                if cr:
                    cr = False
                    piece = piece if piece.startswith(b"\n") else b"\r" + piece  # a CR LF split by the read
                ends = piece.endswith(b"\n")
                if not ends and piece.endswith(b"\r"):
                    piece, cr = piece[:-1], True
                if start:
                    if piece in (b".\r\n", b".\n"):
                        return total
                    if piece.startswith(b"."):
                        piece = piece[1:]
                if ends:
                    piece = piece[:-2] + b"\n" if piece.endswith(b"\r\n") else piece
                total += len(piece)
                if total > limit:
                    raise ProtocolError(f"{self.account.where}: {command} sent more than {limit} bytes; stopped")
                write(piece)
                start = ends

    def delete(self, entry):
        with wrap_errors(self.account, "DELE"):
            self.client.dele(entry.number)

    def close(self):
        """QUIT: the deletions take effect."""
        with wrap_errors(self.account, "QUIT"):
            self.client.quit()

    def abort(self):
        try:
            self.client.close()
        except OSError:
            pass
