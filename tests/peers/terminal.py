"""What a terminal would show: the bytes a program wrote to a pseudo-terminal, played on
a screen ``width`` columns wide (it wraps a line that reaches the edge, as xterm does), so
tests see the final screen and not the redraws: a progress display that tears leaves
stale rows there; one that works leaves only what it meant to.

``run_on_terminal(*args, columns=80)`` -> (exit code, raw text): ``python ARGS`` with
stdin, stdout and stderr a pseudo-terminal of that size; ``answer=(seen, typed)`` types
``typed`` (b"\x03": Ctrl-C) once ``seen`` has appeared.
``screen(raw, width)`` -> the lines the screen shows, trailing blanks removed.

The control sequences a progress display uses are played: CR, LF, cursor up/down/
column (CSI A, B, G), erase in line (CSI K, 2K) and below (CSI J); colours and the
cursor's visibility change nothing on the text and are skipped.
"""

import fcntl
import os
import re
import struct
import sys
import termios

from tests.helpers import clean_env, read_pty

_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def run_on_terminal(*args, columns=80, rows=24, cwd=None, env=None, timeout=60, answer=None):
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is `columns` wide before netkit starts
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            if cwd:
                os.chdir(cwd)
            # COLUMNS and LINES (pytest-xdist sets them) would override the size, as rich reads them first.
            environ = {k: v for k, v in clean_env(env).items() if k not in ("COLUMNS", "LINES")}
            os.execve(sys.executable, [sys.executable, *map(str, args)], environ)
        finally:
            os._exit(127)
    seen = read_pty(fd, timeout=timeout, answer=answer)
    done, status = os.waitpid(pid, os.WNOHANG)
    if not done:  # the deadline passed: the child must not outlive the test
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode("utf-8", "replace")
    assert "Traceback" not in text, text
    return os.waitstatus_to_exitcode(status), text


def screen(raw: str, width: int) -> list:
    lines = [[]]
    row = col = 0

    def line():
        while len(lines) <= row:
            lines.append([])
        return lines[row]

    pos = 0
    while pos < len(raw):
        match = _CSI.match(raw, pos)
        if match:
            pos = match.end()
            args, op = match.groups()
            n = int(args) if args.isdigit() else None
            if op == "A":
                row = max(0, row - (n or 1))
            elif op == "B":
                row += n or 1
            elif op == "G":
                col = (n or 1) - 1
            elif op == "K":  # 0 (or none): from the cursor on; 1: up to it; 2: the whole line
                text = line()
                if n == 2:
                    text.clear()
                elif n == 1:
                    text[:col + 1] = [" "] * min(len(text), col + 1)
                else:
                    del text[col:]
            elif op == "J":
                del line()[col:]
                del lines[row + 1:]
            continue
        char = raw[pos]
        pos += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
        elif char == "\x1b" or not char.isprintable():
            continue
        else:
            if col >= width:  # the edge: the terminal goes on on the next line
                row, col = row + 1, 0
            text = line()
            text.extend(" " * (col - len(text)))
            text[col:col + 1] = [char]
            col += 1
    shown = ["".join(text).rstrip() for text in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown
