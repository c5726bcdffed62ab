"""The built-in, read-only admin set, confined to ``--root``: the texts' ``ls`` (errors
hidden) and ``ls_boom`` (errors sent as faults), ``cb``, and ``stat``, ``df``, ``du``,
``uptime``, ``tail`` and ``check``.

A client's path is relative to the root (a leading ``/`` means the root itself, as in a
chroot). It is checked with :func:`netkit.core.fs.check_relative` (no ``..``, no NUL, not
too deep) and then walked one directory at a time with ``O_NOFOLLOW``: a symbolic link on
the way is never followed, so no link -- planted before or swapped in during the call --
leads out. Error messages name the client's path, never the server's.
"""

import os
import stat as _stat

from netkit.rpc._faults import CallFailed, InvalidParams, OutsideRoot, RpcFault, from_os_error

__all__ = ["Root", "admin_functions"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Names one ls returns: a directory of millions would be a reply of hundreds of MiB.
MAX_LISTING = 10_000
# Entries (files and directories) du walks before it answers "at least": a whole disk
# walk is not a remote call, and a tree of a million empty directories is as long a walk.
MAX_DU_ENTRIES = 200_000
# Directory levels du descends: os.fwalk holds a descriptor per level and recurses, so a
# tree 5,000 deep would take the server's descriptors (every client's accept) or its stack.
MAX_DU_DEPTH = 64
# tail: at most this many lines, read from at most the last MAX_TAIL_BYTES of the file.
MAX_TAIL_LINES = 1000
MAX_TAIL_BYTES = 1 << 20


class Root:
    """The directory a client's paths stay in."""

    def __init__(self, top: str):
        self.top = os.path.realpath(top)
        if not os.path.isdir(self.top):
            raise ValueError(f"--root {top}: not a directory")

    @staticmethod
    def parts(path) -> list:
        """The client's ``path`` as plain names below the root; OutsideRoot for ``..`` and
        other names that are not plain."""
        from netkit.core.fs import check_relative

        if not isinstance(path, str):
            raise InvalidParams(f"a path is a string, not {type(path).__name__}")
        names = [p for p in path.split("/") if p not in ("", ".")]
        if not names:
            return []
        try:
            check_relative("/".join(names))
        except ValueError as exc:
            raise OutsideRoot(f"{path[:200]!r}: {exc}; paths stay inside the server's root") from None
        return names

    def open(self, path, flags=os.O_RDONLY, want_dir=False) -> int:
        """A descriptor of ``path`` inside the root, walked without following links."""
        names = self.parts(path)
        fd = os.open(self.top, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            for i, name in enumerate(names):
                last = i == len(names) - 1
                mode = (flags | os.O_NONBLOCK) if last and not want_dir else os.O_RDONLY | _DIRECTORY
                try:
                    child = os.open(name, mode | _NOFOLLOW | _CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    if _is_link(fd, name):
                        raise OutsideRoot(f"{path[:200]!r}: {'/'.join(names[:i + 1])} is a symbolic link: "
                                          "links are not followed, so none leads out of the root") from None
                    raise from_os_error(exc, repr(path[:200])) from None
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def parent_and_name(self, path):
        """(descriptor of the parent directory, last name) of ``path`` ("." for the root)."""
        names = self.parts(path)
        if not names:
            return self.open("", want_dir=True), "."
        return self.open("/".join(names[:-1]), want_dir=True), names[-1]


def _is_link(dir_fd, name) -> bool:
    try:
        return _stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def admin_functions(root: Root, checks=None) -> dict:
    """{name: function} of the admin set over ``root``; ``check`` only with ``checks``
    ({name: CheckSpec} from a checks file): a client runs the checks the operator wrote,
    never a URL of its own (the server would be a probe into the operator's network)."""

    def listing(directory):
        fd = root.open(directory, want_dir=True)
        names = []
        try:
            with os.scandir(fd) as entries:  # stopped past the bound: a listing of millions is not read whole
                for entry in entries:
                    names.append(entry.name)
                    if len(names) > MAX_LISTING:
                        raise CallFailed(f"{directory!r} holds more than the {MAX_LISTING} entries one ls returns")
        finally:
            os.close(fd)
        return sorted(names)

    def ls(directory="."):
        """ls(dir): the names in ``dir`` (relative to the server's root); [] when it cannot
        be listed (errors hidden, as the text's ls)."""
        try:
            return listing(directory)
        except (RpcFault, OSError):
            return []

    def ls_boom(directory="."):
        """ls_boom(dir): the names in ``dir``; an error (no such directory, outside the
        root) comes back as a fault."""
        try:
            return listing(directory)
        except OSError as exc:
            raise from_os_error(exc, repr(directory)) from None

    def stat(path="."):
        """stat(path): type, size, mode, owner, modification time of ``path`` (a link is
        described, not followed)."""
        parent, name = root.parent_and_name(path)
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            raise from_os_error(exc, repr(path)) from None
        finally:
            os.close(parent)
        kind = ("directory" if _stat.S_ISDIR(st.st_mode) else "file" if _stat.S_ISREG(st.st_mode)
                else "link" if _stat.S_ISLNK(st.st_mode) else "other")
        return {"path": path, "type": kind, "size": st.st_size, "mode": f"{_stat.S_IMODE(st.st_mode):04o}",
                "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}

    def df(path="."):
        """df(path): total, used and free bytes of the file system holding ``path``."""
        fd = root.open(path, want_dir=True)
        try:
            vfs = os.fstatvfs(fd)
        finally:
            os.close(fd)
        total, free = vfs.f_blocks * vfs.f_frsize, vfs.f_bavail * vfs.f_frsize
        used = total - vfs.f_bfree * vfs.f_frsize
        return {"path": path, "total": total, "used": used, "free": free,
                "percent": round(100.0 * used / total, 1) if total else 0.0}

    def du(path="."):
        """du(path): bytes and files below ``path`` (links not followed); ``complete`` is
        false when the walk stopped at its bound."""
        fd = root.open(path, want_dir=True)
        size = files = entries = 0
        complete = True
        try:
            for where, dirs, names, dir_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
                entries += len(dirs) + len(names)
                if dirs and where.count("/") >= MAX_DU_DEPTH:
                    dirs.clear()  # not descended: the answer is "at least"
                    complete = False
                for name in names:
                    try:
                        size += os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
                    files += 1
                if entries >= MAX_DU_ENTRIES:
                    complete = False
                    break
        finally:
            os.close(fd)
        return {"path": path, "bytes": size, "files": files, "complete": complete}

    def uptime():
        """uptime(): seconds since boot and the 1, 5 and 15 minute load averages."""
        with open("/proc/uptime", encoding="ascii") as f:
            up = float(f.read().split()[0])
        return {"seconds": int(up), "load": [round(x, 2) for x in os.getloadavg()]}

    def tail(path, lines=10):
        """tail(path, lines=10): the last lines of a regular file inside the root."""
        if not isinstance(lines, int) or isinstance(lines, bool) or not 0 < lines <= MAX_TAIL_LINES:
            raise InvalidParams(f"tail: lines is a whole number from 1 to {MAX_TAIL_LINES}")
        fd = root.open(path)
        try:
            st = os.fstat(fd)
            if not _stat.S_ISREG(st.st_mode):
                raise CallFailed(f"{path!r} is not a regular file")
            start = max(0, st.st_size - MAX_TAIL_BYTES)
            data = os.pread(fd, MAX_TAIL_BYTES, start)
        finally:
            os.close(fd)
        text = data.decode("utf-8", "replace").splitlines()
        if start:
            text = text[1:]  # the first line read is cut
        return text[-lines:]

    def cb(obj):
        """cb(obj): runs obj.cb() and returns its answer, as the text's cb. Pyro and PB carry
        an object's class (for classes the server's --module marks with @value_class);
        XML-RPC and JSON-RPC carry only its attributes, as a struct: then cb says so."""
        if isinstance(obj, dict) or not callable(getattr(type(obj), "cb", None)):
            shown = repr(obj)[:200]
            raise InvalidParams(f"cb: got a {type(obj).__name__} {shown}, not an object with a cb() method: "
                                "XML-RPC and JSON-RPC send an object's attributes as a struct and lose its class "
                                "(Pyro keeps it)")
        return obj.cb()

    functions = {f.__name__: f for f in (ls, ls_boom, stat, df, du, uptime, tail, cb)}
    if checks:
        def check(name):
            """check(name): runs the server's check ``name`` (from its --checks file) and
            returns the result: status, summary, metrics."""
            from netkit.check.run import run_one

            spec = checks.get(name) if isinstance(name, str) else None
            if spec is None:
                raise InvalidParams(f"no check {str(name)[:80]!r}; the server has: {', '.join(sorted(checks))}")
            return run_one(spec).to_dict()

        functions["check"] = check
    return functions
