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

from tests.helpers import clean_env, read_pty, run_netkit


def run(*args, cwd=None, env=None, timeout=60, stdin=subprocess.DEVNULL):
    return run_netkit(*args, cwd=cwd, env=env, timeout=timeout, stdin=stdin, text=False)


def run_on_pty(*args, cwd=None, env=None, timeout=60):
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        try:
            if cwd:
                os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "netkit", *map(str, args)], clean_env(env))
        finally:
            os._exit(127)
    seen = read_pty(fd, timeout=timeout)
    pid_done, status = os.waitpid(pid, os.WNOHANG)
    if not pid_done:  # the deadline passed: the child must not outlive the test
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode("utf-8", "replace")
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
