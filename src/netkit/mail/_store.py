"""Where fetched mail goes, and what was fetched before -- both durable before the server
is told to delete anything.

:class:`Maildir` writes each message into ``tmp/`` under a name of ours (never the
server's: a UIDL ``../../x`` stays a string) and renames it into ``new/``; :meth:`sync`
makes all of them durable at once (syncfs, then ``new/`` fsynced). :class:`Mbox` appends
(mboxrd quoting, under an exclusive lock) and fsyncs each. :class:`State` keeps the
UIDLs/UIDs fetched per account in an append-only file: an ID is appended right after its
message is written (a killed process loses at most the one between the two, so at most
one message is fetched twice), and a ``sync`` line is fsynced after the messages were
made durable (a power cut then costs re-fetches, never a message). The file is rewritten
atomically (temporary, fsync, rename, directory fsync) without the IDs the server no
longer has.
"""

import functools
import os
import socket
import time

from netkit.core.fs import LocalError, inside, local_error, open_temp, rename_temp, unlink_temp
from netkit.core.text import is_digits

__all__ = ["MAX_STATE_BYTES", "Maildir", "Mbox", "State", "state_path"]

# A state file holds one short ID a line (RFC 1939: at most 70 characters) per message
# still on the server; 64 MiB is a million messages with room to spare. A larger file is
# not ours.
MAX_STATE_BYTES = 64 << 20
STATE_MAGIC = "netkit-mail-state 1"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@functools.cache
def _libc_syncfs():
    """libc's syncfs, or None (not Linux, or a libc without it). Looked up once, in the
    process's own symbols: ctypes.util.find_library runs ldconfig at every call."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


def _syncfs(path) -> bool:
    """syncfs(2) on the file system holding ``path`` (Linux); False where there is none."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    import ctypes

    fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    try:
        if syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    finally:
        os.close(fd)
    return True


def _locked(path, flags, busy):
    """``path`` opened (created 0600, never through a link) and locked exclusively; ``busy``
    raised when another process holds the lock."""
    import fcntl

    try:
        fd = os.open(path, flags | os.O_CREAT | _CLOEXEC | _NOFOLLOW, 0o600)
    except OSError as exc:
        raise local_error(exc, f"opening {path}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise busy from None
    return fd


class Maildir:
    """A Maildir (``cur``, ``new``, ``tmp``; made when missing, mode 0700)."""

    durable = False  # commit() leaves it to sync()

    def __init__(self, path):
        self.path = path
        self.host = (socket.gethostname() or "localhost").replace("/", "\\057").replace(":", "\\072")
        self.count = 0
        self.unsynced = []
        for sub in ("cur", "new", "tmp"):
            where = inside(path, f"{sub}/x")  # each a real directory inside path, not a link out
            directory = os.path.dirname(where)
            try:
                os.chmod(directory, 0o700) if os.stat(directory).st_uid == os.geteuid() else None
            except OSError:
                pass

    def _name(self):
        now = time.time()
        self.count += 1
        return f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{self.count}.{self.host}"

    def begin(self):
        """(fd, temporary path) of a new message."""
        temp = os.path.join(self.path, "tmp", self._name())
        fd, _ = open_temp(temp, mode=0o600)
        return fd, temp

    def commit(self, fd, temp):
        """The message written at ``fd`` moved into ``new/`` (not yet durable: see
        :meth:`sync`); its path."""
        try:
            final = os.path.join(self.path, "new", os.path.basename(temp))
            rename_temp(fd, temp, final)
        except OSError as exc:
            raise local_error(exc, f"writing into {self.path}") from None
        finally:
            os.close(fd)
        self.unsynced.append(final)
        return final

    def sync(self):
        """Every message committed so far on the disk: one syncfs() of the Maildir's file
        system where Linux has it (else an fsync per message), then ``new/`` fsynced."""
        if not self.unsynced:
            return
        try:
            if not _syncfs(os.path.join(self.path, "new")):
                for path in self.unsynced:
                    fd = os.open(path, os.O_RDONLY | _CLOEXEC | _NOFOLLOW)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            _fsync_dir(os.path.join(self.path, "new"))
        except OSError as exc:
            raise local_error(exc, f"syncing {self.path}") from None
        self.unsynced = []

    def abort(self, fd, temp):
        unlink_temp(fd, temp)
        os.close(fd)


class Mbox:
    """An mbox file (mboxrd): ``From `` line, the message with ``>*From `` lines quoted
    once more, a blank line; appended under an exclusive lock, fsynced."""

    durable = True  # each commit() is fsynced

    def __init__(self, path):
        self.path = path
        self.fd = _locked(path, os.O_WRONLY | os.O_APPEND,
                          LocalError(f"{path} is locked by another program; try again later"))

    def begin(self):
        import tempfile

        fd, temp = tempfile.mkstemp(prefix=".netkit-mbox-", dir=os.path.dirname(os.path.abspath(self.path)))
        return fd, temp

    def commit(self, fd, temp):
        import re

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb") as src:
                data = src.read()
            data = re.sub(rb"(?m)^(>*From )", rb">\1", data)
            stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
            if not data.endswith(b"\n"):
                data += b"\n"
            before = os.fstat(self.fd).st_size
            try:
                _write_all(self.fd, f"From MAILER-DAEMON {stamp}\n".encode() + data + b"\n")
                os.fsync(self.fd)
            except OSError:
                os.ftruncate(self.fd, before)  # no half message left at the end
                raise
        except OSError as exc:
            raise local_error(exc, f"appending to {self.path}") from None
        finally:
            self.abort(fd, temp)
        return "mbox:" + self.path

    def sync(self):
        """Nothing to do: each append was fsynced."""

    def abort(self, fd, temp):
        try:
            os.unlink(temp)
        except OSError:
            pass
        os.close(fd)

    def close(self):
        os.close(self.fd)


def state_path(key: str, env=None) -> str:
    """The state file of an account: $XDG_STATE_HOME/netkit/mail/<hash>.ids (default
    ~/.local/state), named by a hash of the account (the server's words never make a path)."""
    import hashlib

    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return os.path.join(base, "netkit", "mail", f"{name}.ids")


class State:
    """The IDs fetched from one account (see the module docstring). ``scope`` is what the
    IDs are valid for (IMAP's UIDVALIDITY; "" for POP3): another scope empties the set.

    The file: three header lines, then one line per ID -- ``ID`` (durable), or ``+ ID
    HEXPATH SIZE`` (written since the last ``sync`` line: the message at PATH was not yet
    known to be on the disk). :meth:`add` appends without waiting for the disk (a killed
    process loses nothing the kernel has); :meth:`checkpoint` writes ``sync`` and fsyncs,
    once the caller made the messages durable. After a power cut, an entry after the last
    ``sync`` counts only if its message is there whole; otherwise the message (still on the
    server: nothing is deleted before its checkpoint) is fetched again."""

    def __init__(self, path, key, scope=""):
        self.path = path
        self.key = key
        self.scope = str(scope)
        self.ids = set()
        self.fd = None
        self.reset = False
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self._lock()
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _lock(self):
        lock = self.path + ".lock"
        self.lock_fd = _locked(lock, os.O_RDWR, LocalError(
            f"another netkit mail fetch of this account is running (it holds {lock})"))

    def _load(self):
        try:
            fd = os.open(self.path, os.O_RDONLY | _CLOEXEC | _NOFOLLOW)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise local_error(exc, f"reading {self.path}") from None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(MAX_STATE_BYTES + 1)
        if len(data) > MAX_STATE_BYTES:
            raise LocalError(f"{self.path} is larger than {MAX_STATE_BYTES >> 20} MiB: not a netkit state file")
        lines = data.decode("utf-8", "replace").split("\n")
        complete = lines[:-1]  # the last piece has no newline: a write a crash cut short
        if not complete or complete[0] != STATE_MAGIC or len(complete) < 3:
            raise LocalError(f"{self.path} is not a netkit mail state file; move it away")
        if complete[1] != f"account {self.key}":
            raise LocalError(f"{self.path} belongs to another account ({complete[1][8:]!r})")
        if complete[2] != f"scope {self.scope}":
            self.reset = True  # IMAP's UIDVALIDITY changed: every UID means another message now
            return
        pending = []
        for line in complete[3:]:
            if line == "sync":
                self.ids.update(uid for uid, _, _ in pending)
                pending = []
            elif line.startswith("+ "):
                words = line.split(" ")
                if len(words) == 4 and is_digits(words[3]):  # not "²": int() refuses it
                    pending.append((words[1], words[2], int(words[3])))
            elif line:
                self.ids.add(line)
        found = [uid for uid, path, size in pending if _whole(path, size)]
        if pending:  # a crash: what is there now is made durable, the rest fetched again
            self.ids.update(found)
            self.rewrite(self.ids)

    def __contains__(self, uid):
        return uid in self.ids

    def _head(self):
        return f"{STATE_MAGIC}\naccount {self.key}\nscope {self.scope}\n"

    def _append(self, text):
        if self.fd is None:
            self.rewrite(self.ids)
        try:
            _write_all(self.fd, text.encode("utf-8"))
        except OSError as exc:
            raise local_error(exc, f"writing {self.path}") from None

    def add(self, uid: str, path: str, size: int):
        """Record ``uid``, fetched into ``path`` (``size`` bytes), not yet durably."""
        self._append(f"+ {uid} {path.encode('utf-8', 'surrogateescape').hex()} {size}\n")
        self.ids.add(uid)

    def checkpoint(self):
        """Everything added so far is durable (the caller synced the messages first)."""
        self._append("sync\n")
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise local_error(exc, f"writing {self.path}") from None

    def rewrite(self, keep):
        """Replace the file, atomically, by one holding only ``keep`` (all durable)."""
        directory = os.path.dirname(self.path)
        temp = os.path.join(directory, f".{os.path.basename(self.path)}.{os.urandom(6).hex()}")
        fd, _ = open_temp(temp, mode=0o600)
        try:
            _write_all(fd, (self._head() + "".join(f"{uid}\n" for uid in sorted(keep))).encode("utf-8"))
            os.fsync(fd)
            rename_temp(fd, temp, self.path)
            _fsync_dir(directory)
        except OSError as exc:
            unlink_temp(fd, temp)
            os.close(fd)
            raise local_error(exc, f"writing {self.path}") from None
        if self.fd is not None:
            os.close(self.fd)
        os.lseek(fd, 0, os.SEEK_END)
        self.fd = fd  # the file now named self.path, open for appends
        self.ids = set(keep)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        os.close(self.lock_fd)


def _whole(hexpath, size) -> bool:
    """Whether the message an unsynced entry names is on the disk whole (in ``new/``, or
    moved to ``cur/`` by a mail reader); a partial one (a power cut) is removed, to be
    fetched again."""
    try:
        path = bytes.fromhex(hexpath).decode("utf-8", "surrogateescape")
    except ValueError:
        return False
    if path.startswith("mbox:"):
        return False  # an mbox append is synced at once; an unsynced one is not trusted
    try:
        if os.lstat(path).st_size == size:
            fd = os.open(path, os.O_RDONLY | _CLOEXEC | _NOFOLLOW)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(os.path.dirname(path))
            return True
        os.unlink(path)
        return False
    except FileNotFoundError:
        pass
    except OSError:
        return False
    cur = os.path.join(os.path.dirname(os.path.dirname(path)), "cur")
    name = os.path.basename(path)
    try:
        return any(entry == name or entry.startswith(name + ":") for entry in os.listdir(cur))
    except OSError:
        return False
