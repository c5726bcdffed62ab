"""Running as a system service: systemd readiness, a pid file, dropping privileges, the
log line format."""

import os
import socket
import sys
import time

__all__ = ["Log", "sd_notify", "write_pidfile", "remove_pidfile", "drop_privileges"]


class Log:
    """One line per event, to stderr. A UTC timestamp leads each line unless journald
    (which stamps lines itself) is reading stderr. ``tag`` (``[worker 1, pid 4242]`` in a
    worker of ``--workers``) follows the label: several processes write to one stderr, a
    line at a time (one write each, so lines do not interleave)."""

    def __init__(self, stream=None, stamp: bool | None = None):
        self.stream = stream or sys.stderr
        self.stamp = "JOURNAL_STREAM" not in os.environ if stamp is None else stamp
        self.tag = ""

    def __call__(self, label: str, text: str) -> None:
        line = f"{label}{self.tag} {text}\n"
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


def write_pidfile(path: str) -> None:
    """Write our pid to ``path`` atomically; refuse when a live process holds it."""
    try:
        with open(path, encoding="ascii") as f:
            old = int(f.read().strip() or 0)
    except (OSError, ValueError):
        old = 0
    if old and old != os.getpid():
        try:
            os.kill(old, 0)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise ValueError(f"--pidfile {path}: process {old} is running (stop it or remove the file)") from None
        else:
            raise ValueError(f"--pidfile {path}: process {old} is running (stop it or remove the file)")
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise ValueError(f"--pidfile {path}: cannot write it: {exc.strerror}") from None


def remove_pidfile(path: str) -> None:
    try:
        with open(path, encoding="ascii") as f:
            if f.read().strip() == str(os.getpid()):
                os.unlink(path)
    except OSError:
        pass


def drop_privileges(user: str) -> str:
    """Become ``user`` (name or uid) and its primary group, leaving no supplementary
    groups. Returns a description; ValueError when it cannot be done."""
    import pwd

    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
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
