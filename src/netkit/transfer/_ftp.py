"""FTP and explicit FTPS (``AUTH TLS``, then ``PROT P``) transfers, on the standard
library's ftplib for the control dialogue; the data connection is read with
``recv_into`` one preallocated buffer and written with ``sendfile``.

URL paths follow RFC 1738: ``ftp://host/a/b`` is ``a/b`` relative to the login
directory, ``ftp://host/%2Fa/b`` is the absolute ``/a/b``. Uploads go to a temporary name
(``.NAME.part``) in the same directory and are renamed with RNFR/RNTO when complete;
mirror lists by MLSD (LIST and MDTM on a server without it) and keeps modification times
with MFMT (writing). Every listed name is checked by :mod:`netkit.core.fs` before it becomes
a path; a hostile server's replies (undecodable, endless, a PASV port 0) are ProtocolErrors.

Why ftplib and not :mod:`netkit.proto.ftp`: that dialogue is a check's (log in, one LIST
or RETR counted and dropped); a transfer needs REST, STOR, RNFR/RNTO, MLSD, MDTM and MFMT
and a data connection handed to the hot loop. ftplib is the standard library's, well
kept, and costs ~2 ms to import; the control dialogue is not where the time goes.
"""

import os

from netkit.core.errors import ProtocolError
from netkit.core.target import percent_decode
from netkit.transfer._common import (
    BUFFER_SIZE,
    CutError,
    RemoteError,
    limits,
    local_error,
    receive,
    utc_seconds,
)

__all__ = ["FtpSession", "parse_list_line", "remote_path"]

ANONYMOUS_PASSWORD = "anonymous@"
# Lines of one multi-line reply (``211-``...``211 End``). FEAT and HELP answer in a few
# dozen; a server that never ends its reply would otherwise be read for ever.
MAX_REPLY_LINES = 1000


def _ftp_class(tls):
    """ftplib's FTP (or FTP_TLS) with the walls a hostile server needs: a multi-line
    reply of at most MAX_REPLY_LINES lines, a passive port in 1..65535 (ftplib would
    connect to port 0 or fail with OverflowError), and no CR, LF or NUL in a command
    line (ftplib checks CR and LF; the URL parser is the first wall)."""
    import ftplib

    base = ftplib.FTP_TLS if tls else ftplib.FTP

    class Guarded(base):
        def getmultiline(self):
            line = self.getline()
            if line[3:4] == "-":
                code = line[:3]
                for _ in range(MAX_REPLY_LINES):
                    more = self.getline()
                    line += "\n" + more
                    if more[:3] == code and more[3:4] != "-":
                        return line
                raise ftplib.error_proto(f"a reply of more than {MAX_REPLY_LINES} lines")
            return line

        def makepasv(self):
            host, port = super().makepasv()
            if not 1 <= port <= 65535:
                raise ftplib.error_proto(f"the passive-mode reply names port {port}")
            return host, port

        def putline(self, line):
            from netkit.core.text import LINE_BREAKERS

            if not LINE_BREAKERS.isdisjoint(line):
                # The URL parser refused these in what the user typed: this name came from a
                # listing or a local tree. That one file fails; the others go on.
                from netkit.core.fs import UnsafeName

                raise UnsafeName(f"{line.partition(' ')[2]!r} holds CR, LF or NUL, which would end the FTP "
                                 f"command line; not sent")
            super().putline(line)

    return Guarded


def remote_path(url_path: str) -> str:
    """RFC 1738: strip the first "/", decode (%2F becomes an absolute "/")."""
    return percent_decode(url_path.removeprefix("/"))


def _number(text):
    """A decimal count a server sent (ASCII digits only), or None."""
    from netkit.core.text import is_digits

    text = (text or "").strip()
    return int(text) if is_digits(text) and len(text) < 20 else None


def _mdtm_time(text):
    """``20240102030405[.123]`` (UTC) -> POSIX seconds, or None."""
    text = text.strip().split(".")[0]
    if len(text) != 14 or not text.isascii() or not text.isdigit():  # ASCII only: int('²') fails
        return None
    fields = [int(text[i:i + 2]) for i in range(4, 14, 2)]
    if not 1 <= fields[0] <= 12 or not 1 <= fields[1] <= 31:
        return None
    return utc_seconds(int(text[0:4]), *fields)


def parse_list_line(line: str):
    """(name, {"type", "size"}) of one line of a Unix-style LIST (``-rw-r--r-- 1 u g 42
    Jan 02 2020 name``), or None for what is not a file or a directory (``total 8``, links,
    devices, lines of other shapes). The name is the rest of the line: it is checked like
    any remote name before it becomes a path."""
    fields = line.split(None, 8)
    if len(fields) < 9 or fields[0][:1] not in ("-", "d"):
        return None
    return fields[8], {"type": "dir" if fields[0][0] == "d" else "file", "size": fields[4]}


def _mfmt_text(mtime) -> str:
    import time

    return time.strftime("%Y%m%d%H%M%S", time.gmtime(int(mtime)))


class FtpSession:
    """One logged-in control connection; errors come out as netkit's. ``watchdog``
    (--max-time, --speed-limit: :mod:`netkit.transfer._watchdog`) is shown the control
    connection and each data connection, to cut them when a limit passes."""

    def __init__(self, url, options, watchdog=None):
        self.url = url
        self.options = options
        self.watchdog = watchdog
        self.ftp = None
        self.peer = url.netloc
        self.binary = False  # TYPE I in force (a listing sets TYPE A)
        self.has_mlsd = None  # None until a listing says
        self.phase = "connect"  # the Timeout phase errors happen in: connect until logged in

    # -- errors ----------------------------------------------------------------------
    def _map(self, exc, what):
        import ftplib

        from netkit.core.text import for_terminal

        if isinstance(exc, ftplib.Error):  # the server's words: no control characters on our terminal
            exc = type(exc)(for_terminal(str(exc)))

        if isinstance(exc, ftplib.error_temp):
            err = RemoteError(f"{self.peer}: {what}: {exc}")
            err.transient = True
            return err
        if isinstance(exc, ftplib.error_perm):
            return RemoteError(f"{self.peer}: {what}: {exc}")
        if isinstance(exc, (ftplib.error_reply, ftplib.error_proto)):
            return ProtocolError(f"{self.peer}: unexpected reply {what}: {exc}")
        if isinstance(exc, EOFError):
            return CutError(f"{self.peer} closed the connection {what}")
        if isinstance(exc, OSError):
            from netkit.core.errmap import map_error

            return map_error(exc, self.peer, self.phase, doing=what, timeout=self.options.timeout)
        if isinstance(exc, UnicodeError):
            return ProtocolError(f"{self.peer}: sent bytes that are not text {what}")
        # ftplib.Error itself (a line past ftplib's maxline), a reply that does not parse
        return ProtocolError(f"{self.peer}: unreadable reply {what}: {exc}")

    def call(self, what, fn, *args):
        import ftplib

        try:
            return fn(*args)
        except (ftplib.Error, EOFError, OSError, ValueError, OverflowError) as exc:
            raise self._map(exc, what) from None

    # -- connection ----------------------------------------------------------------
    def open(self):
        url, options = self.url, self.options
        tls = url.scheme == "ftps"
        timeout = options.timeout if self.watchdog is None else self.watchdog.remaining(options.timeout)
        connect = options.connect_timeout if self.watchdog is None else self.watchdog.remaining(options.connect_timeout)
        if tls:
            from netkit.drivers._tls import context_for
            from netkit.proto.actions import TLSParams

            ctx = context_for(TLSParams(url.host, verify=not options.insecure, cafile=options.cacert))
            ftp = _ftp_class(True)(context=ctx, timeout=timeout)
        else:
            ftp = _ftp_class(False)(timeout=timeout)
        self.ftp = ftp
        self._watch(ftp)  # its .sock, the control connection, once connected
        self.call(f"connecting to {self.peer}", ftp.connect, url.host, url.port, connect)
        ftp.timeout = timeout  # each wait from here on (replies, data connections): the read phase
        ftp.sock.settimeout(timeout)
        if tls:
            self.call("asking for TLS (AUTH TLS)", ftp.auth)
        user = options.user if options.user is not None else url.user
        password = options.password if options.user is not None else url.password
        if user is None:
            user, password = "anonymous", password or ANONYMOUS_PASSWORD
        self.call(f"logging in as {user}", ftp.login, user, password or "")
        if tls:
            self.call("protecting the data connection (PROT P)", ftp.prot_p)
        self.phase = "read"
        return self  # retrieve and store say TYPE I themselves (a listing sets TYPE A)

    def _watch(self, conn):
        if self.watchdog is not None:
            self.watchdog.watch(conn)

    def _unwatch(self, conn):
        if self.watchdog is not None:
            self.watchdog.unwatch(conn)

    def close(self):
        if self.ftp is not None:
            try:
                self.ftp.quit()
            except Exception:  # noqa: BLE001 - a goodbye that fails changes nothing
                self.ftp.close()
            self._unwatch(self.ftp)
            self.ftp = None

    def __enter__(self):
        return self.open()

    def abort(self):
        """Drop the connection without a goodbye (after a failure)."""
        if self.ftp is not None:
            self.ftp.close()
            self._unwatch(self.ftp)
            self.ftp = None

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self.abort()

    def binary_mode(self):
        if not self.binary:
            self.call("switching to binary (TYPE I)", self.ftp.voidcmd, "TYPE I")
            self.binary = True

    # -- facts ---------------------------------------------------------------------
    def size(self, name):
        import ftplib

        try:
            reply = self.ftp.sendcmd(f"SIZE {name}")
        except ftplib.error_perm:
            return None
        except (ftplib.Error, EOFError, OSError, ValueError) as exc:
            raise self._map(exc, f"asking the size of {name}") from None
        return _number(reply[4:])

    def mtime(self, name):
        import ftplib

        try:
            reply = self.ftp.sendcmd(f"MDTM {name}")
        except (ftplib.error_perm, ftplib.error_reply):
            return None
        except (ftplib.Error, EOFError, OSError, ValueError) as exc:
            raise self._map(exc, f"asking the time of {name}") from None
        return _mdtm_time(reply[4:])

    def set_mtime(self, name, mtime):
        import ftplib

        try:
            self.ftp.sendcmd(f"MFMT {_mfmt_text(mtime)} {name}")
        except (ftplib.error_perm, ftplib.error_reply):
            pass  # a server without MFMT: the file is there, only its time is not kept
        except (ftplib.Error, EOFError, OSError, ValueError) as exc:
            raise self._map(exc, f"setting the time of {name}") from None

    def _listing(self, where, counted):
        """[(name, facts)] of the directory ``where``: by MLSD, or by LIST on a server that
        has no MLSD (vsftpd); at most MAX_ENTRIES in all, counting ``counted`` before."""
        import ftplib

        from netkit.core.fs import count_entries

        entries = []
        self.binary = False  # a listing says TYPE A

        def add(entry):
            if entry is not None:
                entries.append(entry)
                count_entries(counted, len(entries), where or ".")

        if self.has_mlsd is not False:
            try:
                for entry in self.ftp.mlsd(where or "", ["type", "size", "modify", "unique"]):
                    add(entry)
                self.has_mlsd = True
                return entries
            except ftplib.error_perm as exc:
                if self.has_mlsd or str(exc)[:3] not in ("500", "501", "502", "504"):
                    raise
                self.has_mlsd = False  # not understood: LIST from now on
        self.ftp.retrlines(f"LIST {where}".rstrip(), lambda line: add(parse_list_line(line)))
        return entries

    def walk(self, top, refused):
        """(relative path, size, mtime) of every file under ``top``, by MLSD (or LIST and
        MDTM). Entries that are no plain name (``../x``, ``a/b``, ``/etc/x``), directories
        seen before (a loop: MLSD's ``unique`` fact) or deeper than MAX_DEPTH go to
        ``refused`` as (path, UnsafeName); ``.`` and ``..`` are skipped; LIST's links are not
        followed."""
        from netkit.core.fs import MAX_DEPTH, not_followed, refused_name

        stack = [("", 0)]
        seen = set()  # the unique facts of the directories listed
        counted = 0
        while stack:
            rel, depth = stack.pop()
            where = f"{top.rstrip('/')}/{rel}".rstrip("/") if top else rel
            entries = self.call(f"listing {where or '.'}", self._listing, where, counted)
            counted += len(entries)
            for name, facts in entries:
                kind = facts.get("type", "").lower()
                if kind == "cdir" and facts.get("unique"):
                    seen.add(facts["unique"])
                if name in (".", "..") or kind in ("cdir", "pdir"):
                    continue
                path = f"{rel}/{name}" if rel else name
                bad = refused_name(path, name)
                if bad:
                    refused.append((path, bad))
                    continue
                if kind == "dir":
                    unique = facts.get("unique")
                    if unique and unique in seen:
                        refused.append((path, not_followed(path, "listed before: a loop on the server")))
                    elif depth >= MAX_DEPTH:
                        refused.append((path, not_followed(path, f"deeper than {MAX_DEPTH} levels: a loop on the "
                                                                 f"server?")))
                    else:
                        if unique:
                            seen.add(unique)
                        stack.append((path, depth + 1))
                elif kind == "file":
                    if "modify" in facts or not self.options.keep_mtime:
                        mtime = _mdtm_time(facts.get("modify", ""))
                    else:  # LIST's times are minutes in the server's zone, often without a year
                        mtime = self.mtime(f"{where}/{name}" if where else name)
                    yield path, _number(facts.get("size")), mtime

    def mkdirs(self, path):
        import ftplib

        parts = [p for p in path.split("/") if p]
        current = "/" if path.startswith("/") else ""
        for p in parts:
            current = f"{current}{p}" if current in ("", "/") else f"{current}/{p}"
            try:
                self.ftp.mkd(current)
            except ftplib.error_perm:
                pass  # it exists (or the next step says why not)
            except (ftplib.Error, EOFError, OSError, ValueError) as exc:
                raise self._map(exc, f"making {current}") from None

    def remove(self, name):
        self.call(f"removing {name}", self.ftp.delete, name)

    # -- data ----------------------------------------------------------------------
    def retrieve(self, name, part, pacer, known=None):
        """RETR ``name`` into ``part`` from ``part.offset`` (REST); returns mtime or None.
        ``known``: (size, mtime) from a listing, which saves asking SIZE and MDTM."""
        self.binary_mode()
        size, mtime = known or (None, None)
        if size is None:
            size = self.size(name)
        if mtime is None and self.options.keep_mtime:
            mtime = self.mtime(name)
        offset = part.offset
        if size is not None and offset > size:
            part.restart()
            offset = 0
        pacer.begin(offset, size)
        if size is not None and offset == size and size:
            return mtime
        conn = self.call(f"retrieving {name}", self.ftp.transfercmd, f"RETR {name}", offset or None)
        self._watch(conn)
        got = 0
        try:
            got = receive(conn, part, pacer, None, self.options.timeout)
            if hasattr(conn, "unwrap"):
                try:
                    conn.unwrap()
                except (OSError, ValueError):
                    pass
        except OSError as exc:
            raise self._map(exc, f"receiving {name}") from None
        finally:
            self._unwatch(conn)
            conn.close()
        self.call(f"finishing {name}", self.ftp.voidresp)
        if size is not None and offset + got != size:
            raise CutError(f"{self.peer}: {name}: received {offset + got} of {size} bytes")
        return mtime

    def store(self, path, name, pacer, mtime=None):
        """STOR the local file ``path`` as ``name`` via a temporary name, then rename. A
        leftover under the temporary name (or a link planted there, which the server's STOR
        would write through) is deleted first (DELE removes a link, not its target)."""
        import ftplib

        directory, _, base = name.rpartition("/")
        temp = f"{directory}/.{base}.part" if directory else f".{base}.part"
        try:
            self.ftp.delete(temp)
        except ftplib.error_perm:
            pass  # 550: nothing there (the usual case)
        except (ftplib.Error, EOFError, OSError, ValueError) as exc:
            raise self._map(exc, f"removing the leftover {temp}") from None
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise local_error(exc, f"opening {path}") from None
        with f:
            size = os.fstat(f.fileno()).st_size
            pacer.begin(0, size)
            self.binary_mode()
            conn = self.call(f"storing {name}", self.ftp.transfercmd, f"STOR {temp}")
            self._watch(conn)
            try:
                sent = 0
                while True:
                    block = f.read(pacer.block_size(BUFFER_SIZE))
                    if not block:
                        break
                    conn.sendall(block)
                    sent += len(block)
                    pacer(len(block))
                if hasattr(conn, "unwrap"):
                    conn.unwrap()
            except OSError as exc:
                raise self._map(exc, f"sending {name}") from None
            finally:
                self._unwatch(conn)
                conn.close()
        self.call(f"finishing {name}", self.ftp.voidresp)
        self.call(f"renaming {temp} to {name}", self.ftp.rename, temp, name)
        if mtime is not None:
            self.set_mtime(name, mtime)
        return size


def fetch(url, part, options, pacer, state):
    name = remote_path(url.path)
    if not name or name.endswith("/"):
        from netkit.core.errors import UsageError

        raise UsageError(f"{url.url()} names a directory; get a file, or use netkit mirror for a directory")
    with limits(options, pacer, state) as watchdog, FtpSession(url, options, watchdog) as session:
        return {"mtime": session.retrieve(name, part, pacer)}


def upload(path, url, options, pacer, state):
    name = remote_path(url.path)
    if not name or name.endswith("/"):
        name = name + os.path.basename(path)
    mtime = os.stat(path).st_mtime if options.keep_mtime else None
    with limits(options, pacer, state) as watchdog, FtpSession(url, options, watchdog) as session:
        return session.store(path, name, pacer, mtime)

