"""Helpers (no fixtures) for the transfer tests: run ``netkit`` with a working directory,
on a pipe or on a pseudo-terminal, and a small tmpfs for a full disk.

``run(*args, cwd=, env=)``          -> (exit code, stdout bytes, stderr text); asserts no traceback
``run_on_pty(*args, cwd=)``         -> (exit code, everything the terminal showed, as text):
                                       stdout and stderr are both the pty, as in a shell
``small_tmpfs(path, size="1m")``    a context manager mounting a tmpfs of that size at path
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import run_netkit


def run(*args, cwd=None, env=None, timeout=60, stdin=subprocess.DEVNULL):
    return run_netkit(*args, cwd=cwd, env=env, timeout=timeout, stdin=stdin, text=False)


def run_on_pty(*args, cwd=None, env=None, timeout=60):
    """``netkit ARGS`` on an 80-column pseudo-terminal (tests.peers.terminal)."""
    from tests.peers.terminal import run_on_terminal

    return run_on_terminal("-m", "netkit", *args, cwd=cwd, env=env, timeout=timeout)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
