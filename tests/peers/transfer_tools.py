"""Helpers (no fixtures) for the transfer tests: run ``netkit`` with a working directory,
on a pipe or on a pseudo-terminal, and a small tmpfs for a full disk.

``run(*args, cwd=, env=)``          -> (exit code, stdout bytes, stderr text); asserts no traceback
``run_on_pty(*args, cwd=)``         -> (exit code, everything the terminal showed, as text):
                                       stdout and stderr are both the pty, as in a shell
``small_tmpfs(path, size="1m")``    a context manager mounting a tmpfs of that size at path
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _env(env):
    full = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    full.update(env or {})
    return full


def run(*args, cwd=None, env=None, timeout=60, stdin=subprocess.DEVNULL):
    proc = subprocess.run([sys.executable, "-m", "netkit", *map(str, args)], capture_output=True, cwd=cwd,
                          env=_env(env), timeout=timeout, stdin=stdin, check=False)
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    return proc.returncode, proc.stdout, err


def run_on_pty(*args, cwd=None, env=None, timeout=60):
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        try:
            if cwd:
                os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "netkit", *map(str, args)], _env(env))
        finally:
            os._exit(127)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "Traceback" not in text, text
    return os.waitstatus_to_exitcode(status), text


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
