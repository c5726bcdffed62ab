"""Local files written with names a peer chose, in directories an attacker may have
prepared: the one place where a remote name becomes a local path and a temporary is opened.

netkit often runs as root, so (DESIGN.md, "Hostile peers"):

* a remote name is one path component: not empty, not ``.`` or ``..``, no ``/``, no NUL
  (:func:`check_name`, :func:`check_relative`; :class:`UnsafeName` is the refusal);
* a path built from remote names stays inside its top: each directory on the way is made
  here, or is a directory whose real path is inside the top -- a planted link
  ``dest/sub -> /etc`` is refused (:func:`inside`);
* a temporary is created with O_CREAT|O_EXCL|O_NOFOLLOW, never through a link; one left
  from before is taken back (to resume, or to be emptied) only when it is a regular file
  that this user owns and that has no other name (:func:`open_temp`); a report written
  whole goes through an unpredictable name (:func:`write_whole`);
* a file the user names as input (a checks file, a target or host list, a services
  file) is read only when it is a regular file under a stated size, as UTF-8
  (:func:`read_text_file`): ``/dev/zero`` or a FIFO named by mistake neither hangs nor
  fills the memory.

Modes and times are set through the descriptor, never by a path a link could redirect.
"""

import os
import stat

from netkit.core.errors import LocalError, ProtocolError, UnsafeName, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "LocalError",
    "UnsafeName",
    "check_name",
    "check_owned",
    "check_output_file",
    "check_relative",
    "count_entries",
    "inside",
    "local_error",
    "open_temp",
    "not_followed",
    "read_regular",
    "read_text_file",
    "refuse",
    "rename_temp",
    "unlink_temp",
    "write_whole",
]

# Directory levels a recursive copy follows below its top. Real trees stay far below it
# (a deep node_modules is ~30); deeper is a loop on the server (a link ``sub -> ..`` that
# the listing calls a directory) or a hostile listing, and it keeps a path under PATH_MAX.
MAX_DEPTH = 64
# Entries a recursive listing takes in. A mirror plan holds them all in memory (a few
# hundred bytes each); a million is more than the trees netkit mirrors, and a listing
# that never ends (a loop on the server, a hostile one) stops here instead of the memory.
MAX_ENTRIES = 1_000_000

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def local_error(exc: OSError, what: str) -> LocalError:
    """An OSError of this machine as one line that says the local side failed. ``what``
    names a local path, which may come from the peer (-O, a mirror's listing): escaped."""
    import errno

    what = _shown(what)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return LocalError(f"disk full {what} (on this machine)")
    return LocalError(f"{exc.strerror or exc} {what} (on this machine)")


def _shown(path: object) -> str:
    """A local path as an error says it: a name the peer chose may hold ESC sequences."""
    from netkit.core.text import for_terminal

    return for_terminal(str(path))


def check_owned(path: str, what: str, why: str) -> None:
    """UsageError when the regular file ``path`` is someone else's (neither ours nor root's)
    or others may write it, as OpenSSH refuses such a ~/.ssh/config ("Bad owner or
    permissions"): whoever can change it decides ``why`` (a ProxyCommand runs as us). A
    missing, unreadable or not regular file is left to its reader to report."""
    try:
        info = os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(info.st_mode) and (info.st_uid not in (0, os.getuid()) or info.st_mode & 0o022):
        raise UsageError(f"{what} {_shown(path)}: bad owner or permissions (uid {info.st_uid}, mode "
                         f"{info.st_mode & 0o777:o}): {why}; it must be yours (or root's) and writable by nobody "
                         f"else (chmod go-w {_shown(path)})")


def check_name(name: str) -> str:
    """``name`` when it is one plain file name; ValueError saying why not."""
    if not name:
        raise ValueError("an empty name")
    if "\0" in name:
        raise ValueError("a NUL byte in a name")
    if name.startswith("/"):
        raise ValueError("an absolute path")
    if "/" in name:
        raise ValueError("'..' leads out of the destination" if ".." in name.split("/") else "a '/' inside one name")
    if name in (".", ".."):
        raise ValueError(f"'{name}' is not a file name")
    return name


def check_relative(rel: str) -> str:
    """``rel`` when it is plain names joined by ``/`` (no ``..``, not absolute, not
    deeper than :data:`MAX_DEPTH`); ValueError saying why not."""
    if rel.startswith("/"):
        raise ValueError("an absolute path")
    parts = rel.split("/")
    if len(parts) > MAX_DEPTH + 1:
        raise ValueError(f"deeper than {MAX_DEPTH} directories")
    for part in parts:
        check_name(part)
    return rel


def refuse(rel: str, why: object) -> UnsafeName:
    """The one line for a remote name that is not copied."""
    return UnsafeName(f"{rel!r}: the server's name is refused ({why}): a remote name must stay inside "
                      f"the destination; not copied")


def refused_name(rel: str, name: str) -> UnsafeName | None:
    """:func:`refuse`'s UnsafeName for a listed ``name`` (at ``rel``) that is not a plain
    name, else None: the one check every remote walker makes on a server's entry."""
    try:
        check_name(name)
    except ValueError as exc:
        return refuse(rel, exc)
    return None


def count_entries(counted: int, more: int, where: str) -> int:
    """``counted + more``; ProtocolError past :data:`MAX_ENTRIES`."""
    counted += more
    if counted > MAX_ENTRIES:
        raise ProtocolError(f"the listing of {where} goes past {MAX_ENTRIES} entries: stopped (a loop on the "
                            f"server?); mirror a smaller directory")
    return counted


def not_followed(rel: str, why: object) -> UnsafeName:
    """The one line for a remote directory that is not walked into (a loop, too deep)."""
    return UnsafeName(f"{rel!r}: directory not followed ({why})")


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def inside(top: str, rel: str) -> str:
    """``top/rel`` for plain names ``rel`` (checked here too), with the directories on the
    way made; an existing one must be a directory whose real path is inside ``top`` (a
    link to elsewhere is refused, LocalError). The last name is not looked at: the caller
    writes a temporary and renames it there, which replaces a link rather than follows it."""
    try:
        check_relative(rel)
    except ValueError as exc:
        raise refuse(rel, exc) from None
    parts = rel.split("/")
    try:
        os.makedirs(top, exist_ok=True)  # the top is the user's: made as given
    except OSError as exc:
        raise local_error(exc, f"making the directory {top}") from None
    current = top
    real_top = None
    for part in parts[:-1]:
        current = os.path.join(current, part)
        try:
            os.mkdir(current)
            continue
        except FileExistsError:
            pass
        except OSError as exc:
            raise local_error(exc, f"making the directory {current}") from None
        try:
            st = os.lstat(current)
        except OSError as exc:
            raise local_error(exc, f"looking at {current}") from None
        if stat.S_ISLNK(st.st_mode):
            if real_top is None:
                real_top = os.path.realpath(top)
            real = os.path.realpath(current)
            if not _within(real, real_top):
                raise LocalError(f"local {_shown(current)} is a link out of {_shown(top)} (to {_shown(real)}): not followed")
            if not os.path.isdir(real):
                raise LocalError(f"local {_shown(current)} is not a directory")
        elif not stat.S_ISDIR(st.st_mode):
            raise LocalError(f"local {_shown(current)} is not a directory")
    return os.path.join(top, *parts)


def open_temp(path: str, keep: bool = False, mode: int = 0o666) -> tuple[int, int]:
    """(fd opened read-write, size): ``path`` created new (O_CREAT|O_EXCL|O_NOFOLLOW), or
    one left from before taken back only when it is a regular file this user owns with no
    other name -- kept as it is (``keep``, to resume) or emptied. Anything else there (a
    link, a device, another user's file, a hard link) is refused: LocalError names it."""
    flags = os.O_RDWR | _CLOEXEC | _NOFOLLOW
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, mode), 0
    except FileExistsError:
        pass
    except OSError as exc:
        raise local_error(exc, f"creating {path}") from None
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        return open_temp(path, keep, mode)  # gone meanwhile: create it
    except OSError as exc:
        raise local_error(exc, f"looking at {path}") from None
    _refuse_unless_ours(path, before)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK)
    except OSError as exc:
        raise local_error(exc, f"opening {path}") from None
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
            raise LocalError(f"local {_shown(path)} changed while it was opened: not written")
        _refuse_unless_ours(path, st)
        os.set_blocking(fd, True)
        size = st.st_size
        if keep:
            os.lseek(fd, 0, os.SEEK_END)
        elif size:
            # Only a leftover is cut: on ext4 a truncate to 0 makes close() flush the whole
            # file to disk (auto_da_alloc), 6 % of a 1 GiB download's time here.
            os.ftruncate(fd, 0)
            size = 0
    except BaseException:
        os.close(fd)
        raise
    return fd, size


def _still_names(fd: int, path: str) -> bool:
    """``path`` still names the file open at ``fd`` (not a link or another file put there
    since the open)."""
    try:
        held, named = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def rename_temp(fd: int, temp: str, dest: str) -> None:
    """Give the temporary open at ``fd`` its final name (``os.replace(temp, dest)``), only
    while ``temp`` still names that file: one swapped after the open (a link to a victim,
    someone else's file) is not moved onto ``dest``. Called before ``fd`` is closed. (Linux
    renames by name only: the check narrows the window to the two calls.) OSError as
    os.replace's; LocalError for a swapped name."""
    if not _still_names(fd, temp):
        raise LocalError(f"local {_shown(temp)} was replaced while it was written: not renamed to {_shown(dest)}")
    os.replace(temp, dest)


def unlink_temp(fd: int, temp: str) -> None:
    """Remove the temporary open at ``fd`` by its name, only while the name is still that
    file (not whatever was put there since); errors are ignored (it is a clean-up)."""
    if _still_names(fd, temp):
        try:
            os.unlink(temp)
        except OSError:
            pass


def _refuse_unless_ours(path: str, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISREG(st.st_mode):
        problem = "is not a regular file"
    elif st.st_uid != os.geteuid():
        problem = "belongs to another user"
    elif st.st_nlink != 1:
        problem = "has other names (hard links)"
    else:
        return
    raise LocalError(f"local {_shown(path)} {problem}: not written through; remove it or choose another destination")


def check_output_file(path: str) -> str | None:
    """None when a file can be written at ``path`` (its directory exists and is writable,
    it is not a directory), else the reason, for a usage error before any work."""
    if os.path.isdir(path):
        return f"{path} is a directory; give a file name"
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        return f"{directory}: no such directory" if not os.path.exists(directory) else f"{directory} is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"cannot create files in {directory} (permission denied)"
    return None


def write_whole(path: str, data: bytes, mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` whole or not at all: into an unpredictable new name in
    the same directory (O_EXCL|O_NOFOLLOW), then renamed over ``path`` (a link there is
    replaced, never written through)."""
    directory, base = os.path.split(path)
    temp = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.part")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
    except OSError as exc:
        raise local_error(exc, f"creating {temp}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        rename_temp(fd, temp, path)
    except OSError as exc:
        unlink_temp(fd, temp)
        raise local_error(exc, f"writing {path}") from None
    except BaseException:
        unlink_temp(fd, temp)
        raise
    finally:
        os.close(fd)


def read_regular(path: "str | os.PathLike[str]", limit: int, refuse: "Callable[[os.stat_result], None]") -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (one more: the caller sees a file that grew
    while read). Opened non-blocking so a FIFO cannot hang the open; ``refuse(stat)`` raises
    before anything is read unless it is a file worth reading (a regular one of a sane size:
    /dev/zero, a pipe or a directory would be read forever or make no sense)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC)
    try:
        refuse(os.fstat(fd))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit + 1)
    finally:
        os.close(fd)


def read_text_file(path: "str | os.PathLike[str]", what: str, limit: int, hint: str = "") -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; UsageError otherwise,
    naming ``what`` (``"checks file"``) and the path, and ending with ``hint`` (the right
    form) where one helps.

    Opened non-blocking so a FIFO cannot hang the open, then refused unless it is a regular
    file: /dev/zero, a pipe or a directory would be read forever or make no sense.
    """
    hint = f"; {hint}" if hint else ""

    def refuse(info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise UsageError(f"{what} {path!r} is {kind}{hint}")
        if info.st_size > limit:
            raise UsageError(f"{what} {path!r} is {info.st_size} bytes, more than the {_size(limit)} "
                             f"a {what} may have")

    try:
        raw = read_regular(path, limit, refuse)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path!r}: {exc.strerror}") from None
    if len(raw) > limit:  # it grew while we read
        raise UsageError(f"{what} {path!r} is more than the {_size(limit)} a {what} may have")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{what} {path!r} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); "
                         f"save it as UTF-8 (iconv -f latin1 -t utf-8)") from None


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"
