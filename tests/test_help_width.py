"""--help fits the terminal: wrapped to COLUMNS or the terminal's width on a terminal, option
rows continued under their text; into a pipe or a file, the text exactly as before."""

import os
import pty
import subprocess
import sys

import pytest

from netkit.cli import get, monitor
from netkit.cli.helptext import wrap_help
from tests.helpers import clean_env, read_pty, run_netkit


def on_terminal(*args, columns=None, rows=40, cols=100):
    """What ``netkit ARGS`` shows on a pseudo-terminal ``cols`` wide (COLUMNS set when given)."""
    import fcntl
    import struct
    import termios

    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = clean_env({"COLUMNS": str(columns)} if columns else {})
    if not columns:
        env.pop("COLUMNS", None)
    proc = subprocess.Popen([sys.executable, "-m", "netkit", *args], stdin=subprocess.DEVNULL, stdout=secondary,
                            stderr=secondary, env=env)
    os.close(secondary)
    try:
        seen = read_pty(main, timeout=30)
    finally:
        os.close(main)
    assert proc.wait(timeout=30) == 0
    return seen.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("argv", [("get", "--help"), ("check", "--help"), ("--help",), ("monitor", "--help")])
def test_help_on_a_terminal_fits_its_width(argv):
    shown = on_terminal(*argv, cols=64)
    lines = shown.splitlines()
    too_long = [line for line in lines if len(line) > 64 and " " in line.strip()]
    assert not too_long
    _, piped, _ = run_netkit(*argv)
    assert shown.split() == piped.split()  # every word, in order
    assert max(map(len, piped.splitlines())) > 64  # there was something to wrap


def test_columns_wins_over_the_terminal():  # and too narrow for the column: the text under the row
    shown = on_terminal("get", "--help", columns=50, cols=120)
    assert max(len(line) for line in shown.splitlines() if " " in line.strip()) <= 50
    assert "\n  -o, --output FILE\n          write to FILE ('-': standard output);\n" in shown
    assert "\n  netkit get -I https://example.com/\n" in shown  # an example a line


def test_help_into_a_pipe_is_unchanged():
    env = {"COLUMNS": "50"}
    code, piped, _ = run_netkit("get", "--help", env=env)
    assert code == 0 and piped == get.help_text()
    code, piped, _ = run_netkit("monitor", "--help", env=env)
    assert code == 0 and piped == monitor.help_text()


def test_wrap_help_rows_paragraphs_and_usage():
    text = ("usage: netkit x run CONFIG [--once [--json]] [--location NAME] [--listen HOST:PORT]\n"
            "       netkit x check CONFIG\n\n"
            "A paragraph of prose that is rather longer than the width it will be wrapped to\n"
            "goes on here.\n\n"
            "run       the monitor in the foreground; SIGTERM drains the checks in\n"
            "          flight, SIGHUP reloads.\n"
            "options:\n"
            "  -o, --output FILE      write to FILE ('-': standard output); repeat for several URLs\n"
            "      --json             JSON\n")
    assert wrap_help(text, 50) == (
        "usage: netkit x run CONFIG [--once [--json]]\n"
        "       [--location NAME] [--listen HOST:PORT]\n"
        "       netkit x check CONFIG\n\n"
        "A paragraph of prose that is rather longer than\n"
        "the width it will be wrapped to goes on here.\n\n"
        "run       the monitor in the foreground; SIGTERM\n"
        "          drains the checks in flight, SIGHUP\n"
        "          reloads.\n"
        "options:\n"
        "  -o, --output FILE      write to FILE ('-':\n"
        "                         standard output); repeat\n"
        "                         for several URLs\n"
        "      --json             JSON\n")
    assert wrap_help(text, 200) == text
