"""``list`` and ``fetch``: a mailbox's messages described, or copied into a Maildir/mbox.

fetch's order is what makes a crash at any moment lose nothing and fetch at most one
message twice: each message is written under our own name and moved into ``new/``, then
its ID is appended to the state; every :data:`CHECKPOINT_EVERY` messages (and at the end)
the messages are made durable (syncfs), then the state (``sync``, fsync), and only then --
with ``delete`` -- is the server told to delete them (POP3: DELE, which takes effect at
QUIT; IMAP: \\Deleted, expunged at the end). A message already recorded is not fetched
again; with ``delete`` it is deleted.
"""

from netkit.mail._box import Account

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MAX_MESSAGE_BYTES", "FetchReport", "fetch", "listing", "open_box"]

# The largest message fetched when no --max-size is given: above any server's limit
# (Gmail 25 MB, Exchange 150 MB by default); a server that sends more (or lies about
# the size) is stopped here rather than filling the disk.
MAX_MESSAGE_BYTES = 1 << 30
# The header block read for a listing line or for a message skipped by --max-size.
MAX_HEAD = 256 << 10
# Messages fetched between two checkpoints (one syncfs, the IDs fsynced, then their
# deletion): 3 fsyncs a message cost 7 ms each here, 70 s for 10,000 messages; a power
# cut costs at most this many fetched again -- never a loss, nothing is deleted before.
CHECKPOINT_EVERY = 200
# Pieces (POP3 lines, at most 64 KiB each) gathered before one write(): a syscall per
# line would cost more than the rest of the fetch.
WRITE_PIECES = 256


def open_box(account: Account, writable=False):
    if account.kind == "pop3":
        from netkit.mail._pop3 import Pop3Box

        return Pop3Box(account)
    from netkit.mail._imap import ImapBox

    return ImapBox(account, writable=writable)


def _row(entry, head):
    from netkit.mail._headers import summary

    row = {"number": entry.number, "size": entry.size, "uid": entry.uid}
    row.update(summary(head or b""))
    return row


def listing(account: Account):
    """[{number, size, uid, from, to, subject, date}], nothing marked seen (TOP n 0,
    BODY.PEEK)."""
    box = open_box(account)
    try:
        if account.kind == "imap":
            rows = [_row(entry, head) for entry, head in box.heads()]
        else:
            rows = [_row(entry, box.head(entry, MAX_HEAD)) for entry in box.entries()]
        box.close()
    except BaseException:
        box.abort()
        raise
    return rows


class FetchReport:
    def __init__(self):
        self.fetched = []  # (Entry, path)
        self.bytes = 0
        self.skipped = []  # (Entry, why, header summary or None)
        self.deleted = 0
        self.known = 0  # fetched before
        self.total = 0
        self.reset = False  # IMAP's UIDVALIDITY changed since the last run


def fetch(account: Account, store, state_for, *, max_size=None, delete=False, progress=None) -> FetchReport:
    """Copy the messages not fetched before into ``store`` (a Maildir or Mbox);
    ``state_for(scope)`` opens the :class:`~netkit.mail._store.State` once the mailbox's
    scope (UIDVALIDITY) is known. ``progress(done, total, bytes)`` after each message."""
    report = FetchReport()
    box = open_box(account, writable=delete)
    state = None
    try:
        state = state_for(box.scope)
        report.reset = state.reset
        entries = box.entries()
        report.total = len(entries)
        limit = max_size if max_size is not None else MAX_MESSAGE_BYTES
        todo = []
        for entry in entries:
            if entry.uid is None:
                report.skipped.append((entry, "the server gave it no usable unique ID (UIDL)", None))
            elif entry.uid in state:
                report.known += 1
                if delete:
                    box.delete(entry)
                    report.deleted += 1
            elif entry.size is not None and entry.size > limit:
                head = _row(entry, box.head(entry, MAX_HEAD))
                report.skipped.append((entry, f"{entry.size} bytes, more than {limit}", head))
            else:
                todo.append(entry)
        waiting: list[Any] = []  # fetched since the last checkpoint: deleted once it is durable

        def checkpoint():
            store.sync()
            state.checkpoint()
            for entry in waiting:
                box.delete(entry)
                report.deleted += 1
            waiting.clear()

        for done, entry in enumerate(todo, 1):
            path, size = _one(box, store, entry, limit)
            state.add(entry.uid, path, size)
            report.fetched.append((entry, path))
            report.bytes += size
            if delete:
                waiting.append(entry)
            if store.durable or done % CHECKPOINT_EVERY == 0:
                checkpoint()
            if progress is not None:
                progress(done, len(todo), report.bytes)
        checkpoint()
        box.close()  # POP3's QUIT: only now are the deletions done
        state.rewrite(() if delete else {e.uid for e in entries if e.uid in state.ids})
    except BaseException:
        box.abort()
        raise
    finally:
        if state is not None:
            state.close()
    return report


def _one(box, store, entry, limit):
    """Message ``entry`` written and made durable in ``store``; its path."""
    import os

    fd, temp = store.begin()
    pending = []

    def flush():
        view = memoryview(b"".join(pending))
        pending.clear()
        while view:
            view = view[os.write(fd, view):]

    def write(data):
        pending.append(data)
        if len(pending) >= WRITE_PIECES:
            flush()

    try:
        size = box.retrieve(entry, write, limit)
        flush()
    except BaseException:
        store.abort(fd, temp)
        raise
    return store.commit(fd, temp), size

