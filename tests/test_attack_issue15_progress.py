"""The red team's attacks on issue 15's progress display (netkit.cli.progress): a row's name
is the peer's (a mirror's listing, get -O's URL). Nothing but the display's own control
sequences may reach the terminal; a row never wraps, however long or wide its name (10,000 characters,
wide CJK, combining marks). Rendered into a rich Console on a fake terminal."""

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from netkit.cli.progress import open_display

# rich's own sequences: SGR colours and cursor show/hide (dropped), erase line and cursor up
# (which start a row: a line boundary, as CR and LF are).
OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]")
ROW_START = re.compile(r"\x1b\[2K|\x1b\[\d*A|[\r\n]")
# What must never reach a terminal raw: C0 (but newline and tab), DEL, C1, bidi overrides.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

NAMES = [
    "\x1b]0;PWNED\x07title.iso",
    "\x1b[2J\x1b[1;1Hclear.bin",
    "\u202eevil\u202dgpj.exe",
    "c1\x9b31mred\x9d0;t\x9c.txt",
    "back\bspace\rline\nfeed.txt",
    "A" * 10_000,
    "\u6f22\u5b57" * 3000,
    "e\u0301" * 5000,
]


@pytest.mark.parametrize("width", [40, 80, 200])
def test_hostile_row_names_reach_the_terminal_escaped_and_never_wrap(width):
    out = io.StringIO()
    display = open_display(None, console=Console(file=out, width=width, force_terminal=True),
                           clock=lambda: 100.0, auto_refresh=False)
    tasks = [display.task(name, 1000) for name in NAMES]
    for task in tasks:
        task(500)
    display.refresh()
    for task in tasks:
        task(1000, final=True)
    display.close()
    rows = ROW_START.split(OWN.sub("", out.getvalue()))
    shown = "\n".join(rows)
    assert not RAW_CONTROLS.search(shown), repr(RAW_CONTROLS.search(shown))
    assert "PWNED" in shown and "\\x1b" in shown
    assert max(cell_len(row) for row in rows) <= width
