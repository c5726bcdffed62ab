"""The ``.part`` file that becomes a transfer's destination only when complete and verified."""

import os

from netkit.core.fs import LocalError, local_error, open_temp
from netkit.core.text import for_terminal
from netkit.transfer._common import BUFFER_SIZE, CutError, IntegrityError

__all__ = ["PartFile"]


class PartFile:
    """``DEST.part``: written, verified, then renamed onto ``DEST`` (the destination appears
    only complete). The ``.part`` is opened by :func:`netkit.core.fs.open_temp`: created
    O_EXCL|O_NOFOLLOW, or taken back only when it is this user's own regular file.

    A destination the user named that is not a regular file (``/dev/null``, a pipe, stdout
    as a file descriptor) is written directly. ``named_by_peer``: the name came from a
    listing (mirror): never written directly -- a link there is replaced by the file, not
    followed, and anything else that is not a regular file is refused."""

    def __init__(self, dest, resume=False, checksum=None, fd=None, named_by_peer=False):
        self.dest = dest
        self.checksum = checksum
        self.direct = False
        self.part = None
        self.offset = 0
        self.hasher = None
        if fd is not None:
            self.fd, self.direct, self.own = fd, True, False
        else:
            self.own = True
            try:
                import stat

                st = os.lstat(dest) if named_by_peer else os.stat(dest)
                if stat.S_ISDIR(st.st_mode):
                    raise LocalError(f"{for_terminal(dest)} is a directory; give a file name (-o DIR/NAME)")
                if named_by_peer:
                    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                        raise LocalError(f"local {for_terminal(dest)} is not a regular file: not replaced")
                else:
                    self.direct = not stat.S_ISREG(st.st_mode)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise local_error(exc, f"looking at {dest}") from None
            if self.direct:
                try:
                    self.fd = os.open(dest, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
                except OSError as exc:
                    raise local_error(exc, f"opening {dest}") from None
                resume = False
            else:
                self.part = dest + ".part"
                self.fd, self.offset = open_temp(self.part, keep=resume)
        self._new_hasher()

    def _new_hasher(self):
        if self.checksum is None:
            return
        import hashlib

        self.hasher = hashlib.new(self.checksum[0])
        at = 0
        while at < self.offset:  # what a resumed .part holds, read through its descriptor
            block = os.pread(self.fd, min(BUFFER_SIZE, self.offset - at), at)
            if not block:
                break
            self.hasher.update(block)
            at += len(block)

    def restart(self):
        """Back to zero: the server sent the whole file, not the rest."""
        if self.direct:
            raise CutError("the server restarted the file and the output cannot be rewound")
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.offset = 0
        self._new_hasher()

    def write(self, data):
        size = len(data)
        if self.hasher is not None:
            self.hasher.update(data)
        fd = self.fd
        try:
            n = os.write(fd, data)
            if n < size:
                view = memoryview(data)
                while n < size:
                    n += os.write(fd, view[n:])
        except OSError as exc:
            raise local_error(exc, f"writing {self.part or self.dest}") from None
        self.offset += size

    def commit(self, mtime=None, mode=None):
        """Verify and give the file its name; a mismatch removes the part (its bytes are
        wrong, resuming from them would not help). ``mtime`` and ``mode`` are set, and the
        rename made, through the descriptor (:func:`netkit.core.fs.rename_temp`: a
        ``.part`` name swapped for a link after the open is not followed)."""
        from netkit.core.fs import rename_temp, unlink_temp

        if self.hasher is not None:
            got = self.hasher.hexdigest()
            if got != self.checksum[1]:
                if self.part and self.fd is not None:
                    unlink_temp(self.fd, self.part)
                self.close()
                raise IntegrityError(f"{self.checksum[0]} of the data is {got}, not {self.checksum[1]} as asked; "
                                     f"{self.dest} was not written")
        if self.direct:
            self.close()
            return
        try:
            if mode is not None:
                os.fchmod(self.fd, mode)
            if mtime is not None:
                os.utime(self.fd, (mtime, mtime))
        except OSError as exc:
            self.close()
            raise local_error(exc, f"setting the time of {self.part}") from None
        try:
            rename_temp(self.fd, self.part, self.dest)
        except OSError as exc:
            raise local_error(exc, f"renaming {self.part} to {self.dest}") from None
        finally:
            self.close()

    def discard(self):
        """Remove the .part this run opened (a file over --max-filesize: not kept, since
        resuming it could only make it larger); written directly: nothing to remove."""
        if self.part and self.fd is not None:
            from netkit.core.fs import unlink_temp

            try:
                unlink_temp(self.fd, self.part)
            except OSError:
                pass

    def discard_if_empty(self):
        """Remove a .part that holds nothing (a 404 leaves no litter); called while it is
        open, so that only the file this run opened goes, never what its name now is."""
        if self.part and self.offset == 0 and self.fd is not None:
            try:
                if os.fstat(self.fd).st_size == 0:
                    from netkit.core.fs import unlink_temp

                    unlink_temp(self.fd, self.part)
            except OSError:
                pass

    def close(self):
        if self.fd is not None and self.own:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = None
