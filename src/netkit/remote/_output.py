"""A command's output as it arrives, in bounded memory: the last bytes kept for the result
(:class:`Tail`), complete lines passed on as they end (:class:`Lines`), and ``-o DIR`` files
written chunk by chunk (:class:`OutputFiles`). Nothing here holds a whole output: a host
printing 300 MB costs the tail, one read and one partial line.
"""

import os

__all__ = ["DEFAULT_KEEP_OUTPUT", "MAX_LINE", "READ_SIZE", "HostOutput", "Lines", "OutputFiles", "Tail"]

# Bytes of each stream (stdout, stderr) kept in memory per host for the result, --group and
# --json. 1 MiB is the end of any listing or log a person reads on a screen, and 64 hosts in
# parallel then hold at most 128 MiB (plus the trimming slack below); -o DIR gets everything.
DEFAULT_KEEP_OUTPUT = 1 << 20
# Bytes asked of the channel at a time (its window is 2 MiB: asyncssh buffers no more).
READ_SIZE = 1 << 16
# Bytes of a partial line kept before it is passed on as a line of its own.
MAX_LINE = 64 * 1024
STREAMS = ("stdout", "stderr")


class Tail:
    """The last ``limit`` bytes of a stream, and how many went by (``total``)."""

    __slots__ = ("buffer", "limit", "total")

    def __init__(self, limit: int):
        self.limit = limit
        self.buffer = bytearray()
        self.total = 0

    def add(self, chunk: bytes):
        self.total += len(chunk)
        if not self.limit:
            return
        self.buffer += chunk
        # Trimmed when twice the limit: each byte is moved at most once more (amortised),
        # and the buffer never exceeds 2 * limit + one read.
        if len(self.buffer) > 2 * self.limit:
            del self.buffer[: -self.limit]

    def value(self) -> bytes:
        return bytes(self.buffer[-self.limit :]) if self.limit else b""

    @property
    def dropped(self) -> int:
        """Bytes that went by and are no longer kept."""
        return self.total - min(self.total, self.limit)


class Lines:
    """Chunks in, ``emit(line)`` out for each complete line (bytes, without the newline); a
    line longer than :data:`MAX_LINE` is passed on in pieces."""

    __slots__ = ("emit", "pending")

    def __init__(self, emit):
        self.emit = emit
        self.pending = bytearray()

    def feed(self, chunk: bytes):
        self.pending += chunk
        if b"\n" in chunk:
            *complete, rest = self.pending.split(b"\n")
            for line in complete:
                self.emit(bytes(line))
            self.pending = bytearray(rest)
        while len(self.pending) > MAX_LINE:
            self.emit(bytes(self.pending[:MAX_LINE]))
            del self.pending[:MAX_LINE]

    def close(self):
        if self.pending:
            self.emit(bytes(self.pending))
            self.pending = bytearray()


class OutputFiles:
    """``DIR/NAME.stdout`` and ``DIR/NAME.stderr`` written as data arrives, each through a
    temporary of an unpredictable name (``mkstemp``: O_CREAT|O_EXCL, mode 0600, never a link
    followed) renamed over the final name at the end. A write that fails (a full disk) ends
    the saving for this host: its temporaries are removed and ``error`` says which file and why;
    the command itself goes on."""

    def __init__(self, directory: str, name: str):
        import tempfile

        self.paths = {s: os.path.join(directory, f"{name}.{s}") for s in STREAMS}
        self.fds, self.temps = {}, {}
        self.error = None
        for stream, path in self.paths.items():
            try:
                fd, temp = tempfile.mkstemp(prefix=f"{name}.{stream}.", suffix=".part", dir=directory)
            except OSError as exc:
                self._fail(path, exc)
                return
            self.fds[stream], self.temps[stream] = fd, temp

    def write(self, stream: str, data: bytes):
        if self.error is not None:
            return
        from netkit.core.workers import write_all

        try:
            write_all(self.fds[stream], data)
        except OSError as exc:
            self._fail(self.paths[stream], exc)

    def _fail(self, path, exc):
        self.error = f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}; the host's output was not saved"
        self._discard()

    def _discard(self):
        from netkit.core.fs import unlink_temp

        for stream, fd in self.fds.items():
            unlink_temp(fd, self.temps[stream])  # by name only while the name is still ours
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds, self.temps = {}, {}

    def close(self):
        """Every file under its final name, or ``error`` set and nothing left behind."""
        if self.error is not None:
            return
        from netkit.core.fs import LocalError, rename_temp

        stream = None
        try:
            for stream, temp in list(self.temps.items()):
                rename_temp(self.fds[stream], temp, self.paths[stream])  # while open: never a swapped name
                del self.temps[stream]
                os.close(self.fds.pop(stream))
        except (OSError, LocalError) as exc:
            self._fail(self.paths[stream], exc)


class HostOutput:
    """Where one host's output goes: its tails, ``on_output(label, stream, line)`` per
    complete line (when given), its ``-o DIR`` files (when ``outdir``)."""

    def __init__(self, label: str, keep: int, on_output=None, outdir=None, file_name=None):
        self.tails = {s: Tail(keep) for s in STREAMS}
        self.lines = None
        if on_output is not None:
            self.lines = {s: Lines(lambda line, s=s: on_output(label, s, line)) for s in STREAMS}
        self.files = OutputFiles(outdir, file_name or label) if outdir is not None else None

    def add(self, stream: str, chunk: bytes):
        self.tails[stream].add(chunk)
        if self.files is not None:
            self.files.write(stream, chunk)
        if self.lines is not None:
            self.lines[stream].feed(chunk)

    def finish(self, result):
        """Pass on the last partial lines, close the files; the tails into ``result``
        (``stdout``/``stderr`` text and ``*_bytes`` totals); a file error becomes its error (a
        LocalError, or added to the message of the error it already has)."""
        if self.lines is not None:
            for lines in self.lines.values():
                lines.close()
        tails = self.tails
        result.stdout = tails["stdout"].value().decode("utf-8", "replace")
        result.stderr = tails["stderr"].value().decode("utf-8", "replace")
        result.stdout_bytes, result.stderr_bytes = tails["stdout"].total, tails["stderr"].total
        result.stdout_dropped, result.stderr_dropped = tails["stdout"].dropped, tails["stderr"].dropped
        if self.files is not None:
            self.files.close()
            if self.files.error is not None:
                from netkit.core.errors import LocalError

                problem = LocalError(f"{result.host}: {self.files.error}")
                if result.error is not None:
                    from netkit.remote._fleet import host_error

                    problem = host_error(result.error, result.host, phase="running the command", also=problem)
                result.error = problem
