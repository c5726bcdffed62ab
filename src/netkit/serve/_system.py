"""Running as a system service: systemd readiness, a pid file, dropping privileges, the
log line format."""

import os
import socket
import sys
import time

from netkit.core.text import for_terminal

__all__ = ["Log", "sd_notify", "write_pidfile", "remove_pidfile", "drop_privileges"]


class Log:
    """One line per event, to stderr. A UTC timestamp leads each line unless journald
    (which stamps lines itself) is reading stderr. ``tag`` (``[worker 1, pid 4242]`` in a
    worker of ``--workers``) follows the label: several processes write to one stderr, a
    line at a time (one write each, so lines do not interleave). Control characters in a
    line are escaped (netkit.core.text.for_terminal)."""

    def __init__(self, stream=None, stamp: bool | None = None):
        self.stream = stream or sys.stderr
        self.stamp = "JOURNAL_STREAM" not in os.environ if stamp is None else stamp
        self.tag = ""

    def __call__(self, label: str, text: str) -> None:
        # Log lines carry what peers chose (a Unix client's socket name, a TLS library's
        # words about their bytes): control characters are shown, never sent to a terminal
        # or allowed to start a second, forged line.
        line = for_terminal(f"{label}{self.tag} {text}") + "\n"
        if self.stamp:
            line = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + line
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed: serving goes on
            pass


def sd_notify(state: str, env=None) -> bool:
    """Send ``state`` (``READY=1``...) to systemd's NOTIFY_SOCKET; False when not under
    systemd (no socket named) or it cannot be reached."""
    path = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(path)
            sock.sendall(state.encode())
        return True
    except OSError:
        return False


# A pid file holds a number and a line end; anything longer is not one of ours.
_PIDFILE_MAX = 64


def _read_pid(path: str):
    """(pid or None when there is no file or it is empty) of an existing pid file;
    ValueError when ``path`` is not a plain file holding a process id (a symbolic link is
    not followed: a pid file in a shared directory must not become a way to write
    elsewhere)."""
    import errno
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"--pidfile {path}: is a symbolic link; not following it (name the file itself)") \
                from None
        raise ValueError(f"--pidfile {path}: cannot read it: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"--pidfile {path}: is not a regular file; name a file such as /run/netkit-serve.pid")
        text = os.read(fd, _PIDFILE_MAX + 1)
    finally:
        os.close(fd)
    body = text.strip()
    if not body:
        return None
    if len(text) > _PIDFILE_MAX or not body.isdigit():
        raise ValueError(f"--pidfile {path}: holds something other than a process id; not overwriting it "
                         "(remove it, or choose another file)")
    return int(body)


def write_pidfile(path: str):
    """Write our pid to ``path`` atomically (a new file renamed over it); refuse when a
    live process other than us holds it, or when it is not a pid file; replace a stale
    one. Returns what identifies the file written (for :func:`remove_pidfile`)."""
    import tempfile

    old = _read_pid(path)
    if old and old != os.getpid():
        try:
            os.kill(old, 0)
        except ProcessLookupError:
            pass  # stale: its process is gone
        except PermissionError:  # alive, another user's
            raise ValueError(f"--pidfile {path}: process {old} is running (stop it or remove the file)") from None
        else:
            raise ValueError(f"--pidfile {path}: process {old} is running (stop it or remove the file)")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        # mkstemp: O_CREAT|O_EXCL, an unpredictable name, mode 0600 -- nothing to follow
        fd, tmp = tempfile.mkstemp(prefix=".netkit-pid.", dir=directory)
    except OSError as exc:
        raise ValueError(f"--pidfile {path}: cannot write in {directory}: {exc.strerror}") from None
    from netkit.core.fs import LocalError, rename_temp, unlink_temp

    try:
        os.fchmod(fd, 0o644)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        written = os.fstat(fd)
        rename_temp(fd, tmp, path)  # while open, and only while tmp is still the file written
    except (OSError, LocalError) as exc:
        unlink_temp(fd, tmp)
        raise ValueError(f"--pidfile {path}: cannot write it: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        os.close(fd)
    return (written.st_dev, written.st_ino)


def remove_pidfile(path: str, written) -> None:
    """Remove ``path`` if it is still the file :func:`write_pidfile` wrote (``written``)
    and still holds our pid: never a file someone else put there since."""
    try:
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) == tuple(written) and _read_pid(path) == os.getpid():
            os.unlink(path)
    except (OSError, ValueError):
        pass


def drop_privileges(user: str) -> str:
    """Become ``user`` (name or uid) and its primary group, leaving no supplementary
    groups. Returns a description; ValueError when it cannot be done."""
    import pwd

    try:
        entry = pwd.getpwuid(int(user)) if user.isascii() and user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise ValueError(f"--user {user}: no such user (a name from /etc/passwd or a uid)") from None
    if os.geteuid() != 0:
        if os.geteuid() == entry.pw_uid:
            return f"already running as {entry.pw_name}"
        raise ValueError(f"--user {user}: only root can change user (running as uid {os.geteuid()})")
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    return f"running as {entry.pw_name} (uid {entry.pw_uid}, gid {entry.pw_gid})"
